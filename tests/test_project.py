"""Project-level promises: the public API imports, environment.yml matches pyproject.toml."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

import pytest
import yaml

import omni_research

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


def test_environment_yml_lists_the_same_dependencies_as_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(
        _name_and_spec(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]
    )
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
    for req in project["dependencies"] + project["optional-dependencies"]["dev"]:
        assert _name_and_spec(req)[0] in pinned, req


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
