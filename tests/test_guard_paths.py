"""Property: the guard's verdict on a path equals the verdict on the file the OS opens.

A tree of research files, a production root, a ``real_time`` folder and an
``OMNI_PRODUCTION_PATHS`` folder, joined by symlinked folders (into production, back up,
named ``x:`` so that ``x://`` appears in paths, in other letter cases, in unicode). Hypothesis
walks it with ``..``, ``.``, doubled separators and those names. For every path that opens,
the kit's verdict (refuse, or read the same file) must agree with where the kernel actually
went, which the test asks the kernel itself (``/proc/self/fd``), independently of the guard.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omni_research import _guard
from omni_research.exceptions import ConfigurationError, DataFormatError, ProductionDataError

FOLDERS = ["res", "prod", "envprod", "Real_Time", "É", "lnk", "x:", "up", "PROD", "~", "sub"]
PARTS = [*FOLDERS, "..", ".", ""]
FILES = ["f.parquet", "F.parquet"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("guardtree")
    for folder in ("res", "res/sub", "res/É", "res/~", "prod/sub", "envprod/sub", "Real_Time"):
        (base / folder).mkdir(parents=True, exist_ok=True)
    (base / "prod" / "omni-data.toml").write_text('tier = "production"\n')
    (base / "res" / "omni-data.toml").write_text('tier = "research"\n')
    links = {
        "res/lnk": "prod/sub",
        "res/x:": "prod",
        "res/up": "..",
        "res/sub/PROD": "../../prod",
        "res/É/lnk": "../../envprod/sub",
        "res/~/x:": "../../Real_Time",
    }
    for name, target in links.items():
        (base / name).symlink_to(target, target_is_directory=True)
    for folder in [p for p in base.rglob("*") if p.is_dir() and not p.is_symlink()] + [base]:
        for name in FILES:
            (folder / name).write_bytes(b"x")
    yield base


def _os_opened(path: str) -> str | None:
    """Where the kernel goes for ``path`` (None if it cannot open a regular file there)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if not os.path.isfile(f"/proc/self/fd/{fd}"):
            return None
        return os.readlink(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def _is_production(opened: str, base: Path) -> bool:
    rel = Path(opened).relative_to(base) if Path(opened).is_relative_to(base) else None
    if rel is None:
        return False
    top = rel.parts[0].casefold() if rel.parts else ""
    return top in ("prod", "envprod", "real_time")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(st.sampled_from(PARTS), min_size=0, max_size=6),
    name=st.sampled_from(FILES),
)
def test_guard_verdict_equals_the_verdict_on_the_opened_file(
    tree: Path, parts: list[str], name: str
) -> None:
    path = "/".join([str(tree / "res"), *parts, name])
    opened = _os_opened(path)
    old = os.environ.get("OMNI_PRODUCTION_PATHS")
    os.environ["OMNI_PRODUCTION_PATHS"] = str(tree / "EnvProd")  # other case: still refused
    try:
        try:
            checked: Path | None = _guard.check_path(path)
            refused = False
        except ProductionDataError:
            checked, refused = None, True
        except ConfigurationError:
            return  # not a path the kit reads (no verdict to compare)
        if opened is None:
            return
        assert refused == _is_production(opened, tree), (path, opened)
        if not refused:
            assert str(checked) == opened
            try:
                with _guard.open_guarded(path) as handle:
                    assert os.readlink(f"/proc/self/fd/{handle.fileno()}") == opened
            except DataFormatError:
                pytest.fail(f"{path}: the OS opens {opened} but the kit could not")
    finally:
        if old is None:
            del os.environ["OMNI_PRODUCTION_PATHS"]
        else:
            os.environ["OMNI_PRODUCTION_PATHS"] = old
