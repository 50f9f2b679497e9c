"""Project-level promises: the public API imports, environment.yml matches pyproject.toml."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path
from typing import Any

import pandera.polars as pa
import pytest
import yaml

import omni_research
from omni_research._extras import EXTRAS

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI's
# PyPI names whose import name differs
IMPORT_NAMES = {"pykmip": "kmip"}

CONDA_TO_PYPI = {
    "pandera-polars": "pandera",
    "matplotlib-base": "matplotlib",
    "types-markdown": "types-Markdown",
    "vadersentiment": "vaderSentiment",
    "ray-core": "ray",
}


def _name_and_spec(requirement: str) -> tuple[str, str]:
    match = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$", requirement.strip())
    assert match, requirement
    return match.group(1).lower(), match.group(3).replace(" ", "")


def _requirements(project: dict[str, Any]) -> list[str]:
    """The core's and every extra's requirements, less the extras naming the kit itself."""
    extras = project["optional-dependencies"].values()
    every = project["dependencies"] + [r for reqs in extras for r in reqs]
    return [r for r in every if _name_and_spec(r)[0] != project["name"]]


def test_environment_yml_lists_the_same_dependencies_as_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(_name_and_spec(r) for r in _requirements(project))
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    have = {}
    pip = [d for dep in env["dependencies"] if isinstance(dep, dict) for d in dep.get("pip", [])]
    for dep in [*env["dependencies"], *pip]:
        if not isinstance(dep, str) or dep.startswith(("python", "pip", "-e")):
            continue
        name, spec = _name_and_spec(dep)
        have[CONDA_TO_PYPI.get(name, name).lower()] = spec
    assert have == wanted
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert python.removeprefix("python") == project["requires-python"]


def test_lock_file_pins_every_dependency() -> None:
    lock = (ROOT / "requirements.lock").read_text()
    pinned = {line.split("==")[0].lower() for line in lock.splitlines() if "==" in line}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for req in _requirements(project):
        assert _name_and_spec(req)[0] in pinned, req


def test_extras_table_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    for name, modules in EXTRAS.items():
        # PyPI names are case-insensitive (PEP 503): vaderSentiment is vadersentiment
        wanted = sorted(
            IMPORT_NAMES.get(n, n) for n in (_name_and_spec(r)[0].lower() for r in extras[name])
        )
        assert sorted(m.lower() for m in modules) == wanted, name
    assert extras["all"] == [f"omni-research[{','.join(sorted(EXTRAS))}]"]
    core = {_name_and_spec(r)[0] for r in project["dependencies"]}
    assert core == {"polars", "pyarrow", "pandera", "pandas", "numpy", "numba", "ta"}


@pytest.mark.parametrize(
    ("module", "blocked", "extra"),
    [
        ("omni_research.reports", "markdown", "reports"),
        ("omni_research.reports", "nbconvert", "reports"),
        ("omni_research.plotting", "matplotlib", "reports"),
    ],
)
def test_import_without_its_extra_raises_configuration_error(
    module: str, blocked: str, extra: str
) -> None:
    import subprocess
    import sys

    # None in sys.modules makes `import blocked` fail as if it were not installed
    code = (
        f"import sys; sys.modules[{blocked!r}] = None\n"
        "from omni_research.exceptions import ConfigurationError\n"
        f"try:\n    import {module}\nexcept ConfigurationError as exc:\n    print(exc)\n"
        "else:\n    print('imported')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert f"{module} needs {blocked}, which is not installed" in out.stdout
    assert f"pip install 'omni-research[{extra}]'" in out.stdout


def test_core_modules_import_without_any_extra() -> None:
    import subprocess
    import sys

    blocked = sorted({m for mods in EXTRAS.values() for m in mods})
    code = (
        f"import sys\nfor m in {blocked!r}: sys.modules[m] = None\n"
        "import omni_research as omr\n"
        "for name in ('backtest', 'bars', 'indicators', 'io', 'orderbook', 'pnl', 'quality'):\n"
        "    getattr(omr, name)\n"
        "import omni_research.cli, omni_research.strategies\n"
        "assert omni_research.cli.main(['catalog']) == 0\n"
        "print(omr.open_catalog().load('funding').height)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "historical/ohlcv" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "63"


@pytest.mark.parametrize("name", omni_research.__all__)
def test_every_public_name_imports(name: str) -> None:
    assert getattr(omni_research, name) is not None


SUBPACKAGES = [
    "schemas",
    "testing",
    "indicators",
    "bars",
    "orderbook",
    "quality",
    "backtest",
    "pnl",
    "plotting",
    "widgets",
    "reports",
    "io.bybit",
    "sources",
    "strategies",
]


@pytest.mark.parametrize("module", SUBPACKAGES)
def test_every_subpackage_all_names_exist(module: str) -> None:
    mod = importlib.import_module(f"omni_research.{module}")
    for name in getattr(mod, "__all__", []):
        assert hasattr(mod, name), f"omni_research.{module}.{name}"


def test_import_is_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, omni_research; heavy = [m for m in ('matplotlib', 'ipywidgets', "
        "'nbconvert', 'talib', 'ta') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _public_classes() -> list[tuple[str, str]]:
    """Every class in an ``__all__``, less the Pandera models: Pandera resolves a model's
    annotations in the module its ``__module__`` names, so they keep their defining module
    (and are imported from ``omni_research.schemas``, as the next test checks)."""
    found = []
    for module in ["", *SUBPACKAGES, "exceptions"]:
        path = f"omni_research.{module}" if module else "omni_research"
        mod = importlib.import_module(path)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if isinstance(obj, type) and not issubclass(obj, pa.DataFrameModel):
                found.append((path, name))
    return found


@pytest.mark.parametrize("name", [n for n in omni_research.schemas.__all__ if n[0].isupper()])
def test_schema_models_import_from_schemas(name: str) -> None:
    model = getattr(omni_research.schemas, name)
    if isinstance(model, type):
        assert issubclass(model, pa.DataFrameModel)
        assert model.__module__.startswith("omni_research.schemas.")


@pytest.mark.parametrize(("module", "name"), _public_classes())
def test_public_class_module_is_its_public_path(module: str, name: str) -> None:
    cls = getattr(importlib.import_module(module), name)
    parts = cls.__module__.split(".")
    assert parts[0] == "omni_research"
    assert not any(p.startswith("_") for p in parts), f"{module}.{name}: {cls.__module__}"
    # the path it shows is one a user can import it from
    assert getattr(importlib.import_module(cls.__module__), cls.__qualname__) is cls


def test_public_reprs_show_the_public_path() -> None:
    catalog = omni_research.open_catalog()
    datafile = catalog.files("funding")[0]
    dataset = catalog.dataset("funding")
    assert repr(catalog).startswith("omni_research.Catalog(root=")
    assert repr(datafile).startswith("omni_research.DataFile(path=")
    assert repr(dataset).startswith("omni_research.Dataset(name='historical/funding'")
    # the generated field list is kept: every field shows, in order
    assert repr(datafile).endswith(f"partitions={datafile.partitions!r})")
    assert str(omni_research.Catalog) == "<class 'omni_research.Catalog'>"
    assert repr(omni_research.backtest.Fees()).startswith("omni_research.backtest.Fees(maker=")
    report = omni_research.reports.Report("r")
    assert repr(report) == (
        "omni_research.reports.Report(title='r', slug='r', blocks=0, lineage=False)"
    )
