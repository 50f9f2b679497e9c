"""The production guard: nothing gets around it, and it runs before any byte is read."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import omni_research as omr
from omni_research import _guard
from omni_research.exceptions import ProductionDataError


def _production_root(tmp_path: Path, small_root: Path) -> Path:
    prod = tmp_path / "prod_data"
    shutil.copytree(small_root, prod)
    manifest = prod / "omni-data.toml"
    manifest.write_text(manifest.read_text().replace('tier = "test"', 'tier = "production"'))
    return prod


def test_open_catalog_on_production_tier_raises(tmp_path: Path, small_root: Path) -> None:
    prod = _production_root(tmp_path, small_root)
    with pytest.raises(ProductionDataError, match="declares tier production"):
        omr.open_catalog(prod)


def test_read_file_below_production_root_raises(tmp_path: Path, small_root: Path) -> None:
    prod = _production_root(tmp_path, small_root)
    target = next((prod / "historical" / "funding").rglob("*.parquet"))
    with pytest.raises(ProductionDataError):
        omr.read(target, "funding")


@pytest.mark.parametrize("trick", ["symlink", "dotdot", "relative", "case"])
def test_guard_tricks_do_not_get_around_production(
    tmp_path: Path, small_root: Path, monkeypatch: pytest.MonkeyPatch, trick: str
) -> None:
    prod = _production_root(tmp_path, small_root)
    target = next((prod / "historical" / "funding").rglob("*.parquet"))
    if trick == "symlink":
        link = tmp_path / "innocent"
        link.symlink_to(target.parent, target_is_directory=True)
        path: str | Path = link / target.name
    elif trick == "dotdot":
        path = str(tmp_path / "elsewhere" / ".." / "prod_data" / target.relative_to(prod))
    elif trick == "relative":
        monkeypatch.chdir(prod / "historical")
        path = os.path.relpath(target, prod / "historical")
    else:
        monkeypatch.setenv("OMNI_PRODUCTION_PATHS", str(tmp_path / "PROD_DATA"))
        (prod / "omni-data.toml").write_text('tier = "research"\nschema_version = "1.0"\n')
        path = target
    with pytest.raises(ProductionDataError):
        omr.read(path, "funding")


def test_real_time_folder_is_refused_in_any_case(small_root: Path) -> None:
    folder = small_root / "Real_Time" / "ohlcv"
    folder.mkdir(parents=True)
    src = next((small_root / "historical" / "funding").rglob("*.parquet"))
    shutil.copy(src, folder / "x.parquet")
    with pytest.raises(ProductionDataError, match="real_time"):
        omr.read(folder / "x.parquet", "funding")


def test_production_paths_env_refuses_prefix_and_uri(
    small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNI_PRODUCTION_PATHS", f"s3://omni-prod,{small_root / 'historical'}")
    with pytest.raises(ProductionDataError, match="OMNI_PRODUCTION_PATHS"):
        _guard.check_path("S3://omni-prod/ohlcv/part-0.parquet")
    with pytest.raises(ProductionDataError, match="OMNI_PRODUCTION_PATHS"):
        omr.open_catalog(small_root).load("ohlcv")
    _guard.check_path(small_root / "test")  # a sibling folder stays readable


def test_guard_runs_before_the_file_is_opened(
    tmp_path: Path, small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prod = _production_root(tmp_path, small_root)
    target = next((prod / "historical" / "funding").rglob("*.parquet"))
    opened: list[str] = []
    real_open = open

    def spy(file: object, *args: object, **kwargs: object) -> object:
        if str(file).endswith(".parquet"):
            opened.append(str(file))
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", spy)
    with pytest.raises(ProductionDataError):
        omr.read(target, "funding")
    assert opened == []


def test_guard_has_no_switch() -> None:
    import inspect

    # the guard's entry points take the path and nothing else: no option can turn them off
    for entry in (_guard.check_path, _guard.open_guarded, _guard.read_guarded):
        assert list(inspect.signature(entry).parameters) == ["path"]
    assert not [name for name in dir(_guard) if "disable" in name.lower() or "skip" in name.lower()]
