"""Project-level promises: the public API imports, environment.yml matches pyproject.toml."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

import omni_research
from omni_research._extras import EXTRAS

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI's
CONDA_TO_PYPI = {
    "pandera-polars": "pandera",
    "matplotlib-base": "matplotlib",
    "types-markdown": "types-Markdown",
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
    for dep in env["dependencies"]:
        if not isinstance(dep, str) or dep.startswith(("python", "pip")):
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
        assert sorted(modules) == sorted(_name_and_spec(r)[0] for r in extras[name]), name
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
        "print(omr.open_catalog().load('funding').height)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "63"


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
