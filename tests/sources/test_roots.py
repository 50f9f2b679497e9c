"""Research roots: init_root's layout and refusals, and the guard before any download."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import omni_research as omr
from omni_research.exceptions import ConfigurationError, ProductionDataError
from omni_research.sources import ROOT_FOLDERS, init_root
from omni_research.sources._roots import research_root
from omni_research.testing import make_test_data


def test_init_root_makes_the_layout_and_a_research_manifest(tmp_path: Path) -> None:
    root = init_root(tmp_path / "new" / "root")
    names = sorted(p.name for p in root.iterdir())
    assert names == sorted([*ROOT_FOLDERS, "omni-data.toml"])
    assert "real_time" not in names
    manifest = tomllib.loads((root / "omni-data.toml").read_text())
    assert manifest["tier"] == "research" and manifest["created_by"] == "omni-research init-root"
    assert omr.open_catalog(root).tier == "research"


def test_init_root_twice_keeps_the_root(tmp_path: Path) -> None:
    root = init_root(tmp_path / "r")
    before = (root / "omni-data.toml").read_bytes()
    (root / "cache").rmdir()
    assert init_root(root) == root
    assert (root / "omni-data.toml").read_bytes() == before
    assert (root / "cache").is_dir()


def test_init_root_refuses_a_folder_that_is_not_a_root(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigurationError, match=r"not empty \(1 entries: notes.txt\)"):
        init_root(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_init_root_refuses_a_root_of_another_tier(tmp_path: Path) -> None:
    make_test_data(tmp_path / "t", days=1)
    with pytest.raises(ConfigurationError, match='declares tier = "test"'):
        init_root(tmp_path / "t")


def test_init_root_refuses_a_production_tier(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="research or test roots only"):
        init_root(tmp_path / "p", tier="production")  # type: ignore[arg-type]
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("where", ["real_time", "prefix", "production_root"])
def test_init_root_refuses_production_places_before_creating_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    if where == "real_time":
        target = tmp_path / "data" / "real_time" / "r"
    elif where == "prefix":
        monkeypatch.setenv("OMNI_PRODUCTION_PATHS", str(tmp_path / "prod"))
        target = tmp_path / "prod" / "r"
    else:
        (tmp_path / "omni-data.toml").write_text('tier = "production"\n')
        target = tmp_path / "r"
    with pytest.raises(ProductionDataError):
        init_root(target)
    assert not target.exists()


def test_research_root_refuses_a_test_root_and_a_plain_folder(tmp_path: Path) -> None:
    make_test_data(tmp_path / "t", days=1)
    with pytest.raises(ConfigurationError, match="'test'-tier root; downloads write only"):
        research_root(tmp_path / "t")
    with pytest.raises(ConfigurationError, match="not a data root"):
        research_root(tmp_path)


def test_init_root_expands_the_home_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    root = init_root("~/data")
    assert root == tmp_path / "data" and (root / "omni-data.toml").is_file()
    assert not (tmp_path / "~").exists()
    assert research_root("~/data") == root


def test_download_summary_pickles_and_prints(tmp_path: Path) -> None:
    import pickle

    from omni_research.sources import DownloadSummary

    summary = DownloadSummary(
        source="bybit", root=tmp_path, requests=3, rows={"ohlcv": 5}, gaps=("a gap",)
    )
    assert pickle.loads(pickle.dumps(summary)) == summary
    assert str(summary).startswith(f"bybit download into {tmp_path}: 3 request(s), 0 retried;")
    assert "rows ohlcv 5;" in str(summary) and "  gap: a gap" in str(summary)
