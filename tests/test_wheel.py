"""The built wheel, installed into a fresh virtual environment, is a working kit.

The wheel is built from a copy of the checkout (the build writes ``build/`` and
``*.egg-info`` beside its sources; the shared checkout stays clean) with ``uv build
--offline``, then installed with ``--no-deps`` into a new venv. No registry is reachable when
the tests run, so the third-party dependencies come from the project's ``.venv`` through one
``.pth`` line; the kit itself comes only from the wheel, which the test proves
(``omni_research.__file__`` lies in the fresh venv). Every command runs from a folder outside
the checkout, so nothing can fall back on the repository's ``data_test/``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "omni_research", "data_test")

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wheel")]


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def _uv() -> str:
    uv = Path(sys.executable).with_name("uv")
    if uv.exists():
        return str(uv)
    found = shutil.which("uv")
    assert found, "uv is needed to build the wheel (`make install` puts it in .venv/bin)"
    return found


def _expected_datasets() -> dict[str, int]:
    """Rows per dataset summed from the repository's data_test manifest (independent count)."""
    manifest = tomllib.loads((ROOT / "data_test" / "omni-data.toml").read_text())
    rows: Counter[str] = Counter()
    for relpath, record in manifest["files"].items():
        parts = relpath.split("/")
        if parts[0] in ("historical", "test") and len(parts) > 2:
            rows["/".join(parts[:2])] += record["rows"]
    return dict(rows)


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
    }


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Path]:
    """(venv, environment, a working folder outside the checkout) with the wheel installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=skip)
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(path, src / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["OMNI_AUDIT_LOG"] = str(tmp / "audit.jsonl")
    uv = _uv()
    _run([uv, "build", "--offline", "--wheel", "-q", "-o", str(tmp / "dist"), str(src)], tmp, env)
    (wheel,) = (tmp / "dist").glob("omni_research-*.whl")
    venv = tmp / "venv"
    _run([uv, "venv", "--offline", "-q", "--python", sys.executable, str(venv)], tmp, env)
    python = venv / "bin" / "python"
    # uv's default link mode: hard links into its cache where it can (the guard accepts a
    # second name for the files of the test root installed with the package, and only there)
    install = [uv, "pip", "install", "--offline", "-q", "--no-deps"]
    _run([*install, "--python", str(python), str(wheel)], tmp, env)
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(_run([str(python), "-c", purelib], tmp, env).strip())
    # third-party packages only: .pth lines are plain sys.path entries (the editable finder
    # of the project's .venv is a .pth of its own there and is not run)
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    outside = tmp / "elsewhere"
    outside.mkdir()
    return venv, env, outside


def test_wheel_kit_comes_from_the_wheel_with_its_test_root(
    installed: tuple[Path, dict[str, str], Path],
) -> None:
    venv, env, outside = installed
    code = (
        "import json, omni_research as omr; c = omr.open_catalog(); "
        "print(json.dumps({'file': omr.__file__, 'root': str(c.root), 'tier': c.tier}))"
    )
    where = json.loads(_run([str(venv / "bin" / "python"), "-c", code], outside, env))
    package = Path(where["file"]).parent
    assert package.is_relative_to(venv)
    assert Path(where["root"]) == package / "data_test"
    assert where["tier"] == "test"


def test_wheel_open_catalog_lists_the_shipped_datasets_and_reads_them(
    installed: tuple[Path, dict[str, str], Path],
) -> None:
    venv, env, outside = installed
    code = (
        "import json, omni_research as omr; c = omr.open_catalog(); print(c.datasets()); "
        "d = c.datasets(); print(json.dumps({'rows': dict(zip(d['name'], d['rows'])), "
        "'loaded': c.load('historical/funding').height, 'problems': c.verify().height, "
        "'root': str(c.root)}))"
    )
    out = _run([str(venv / "bin" / "python"), "-c", code], outside, env)
    table, result = out.rsplit("\n", 2)[0], json.loads(out.strip().splitlines()[-1])
    expected = _expected_datasets()
    assert result["rows"] == expected
    assert "historical/ohlcv" in table
    # a real read of the installed files, checked against the manifest's sha256 and rows
    assert result["loaded"] == expected["historical/funding"]
    assert result["problems"] == 0


def test_wheel_installed_root_is_only_read(installed: tuple[Path, dict[str, str], Path]) -> None:
    venv, env, outside = installed
    root = next((venv / "lib").glob("python*/site-packages/omni_research/data_test"))
    subprocess.run(["chmod", "-R", "a-w", str(root)], check=True)
    try:
        before = _snapshot(root)
        code = "import omni_research as omr; c = omr.open_catalog(); c.load('ohlcv'); c.verify()"
        _run([str(venv / "bin" / "python"), "-c", code], outside, env)
        _run(["omni-research", "catalog"], outside, env)
        assert _snapshot(root) == before
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(root)], check=True)


def test_wheel_cli_catalog_prints_every_dataset_with_its_rows(
    installed: tuple[Path, dict[str, str], Path],
) -> None:
    venv, env, outside = installed
    out = _run(["omni-research", "catalog"], outside, env)
    assert str(venv) in out.splitlines()[0]
    expected = _expected_datasets()
    rows_by_name = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("┆")]
        if len(cells) > 5 and cells[0] in expected:
            rows_by_name[cells[0]] = int(cells[5])
    assert rows_by_name == expected
