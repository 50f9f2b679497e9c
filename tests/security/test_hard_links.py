"""A hard link inside a research root to a production file must not read production data.

Issue 13 checked that ``omr.read`` returned a production file's rows through a hard link;
the guard refuses every data file with more than one link, at every entry point, and its
message says to copy the file instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

import omni_research as omr
from omni_research.exceptions import ProductionDataError


def _roots(tmp_path: Path, small_root: Path) -> tuple[Path, Path]:
    prod = tmp_path / "prod"
    shutil.copytree(small_root, prod)
    manifest = prod / "omni-data.toml"
    manifest.write_text(manifest.read_text().replace('tier = "test"', 'tier = "production"'))
    research = tmp_path / "research"
    shutil.copytree(small_root, research)
    manifest = research / "omni-data.toml"
    manifest.write_text(manifest.read_text().replace('tier = "test"', 'tier = "research"'))
    return prod, research


FUNDING = "historical/funding/symbol=BTCUSDT/part-0.parquet"
NEWS = "historical/news/news.jsonl"


@pytest.mark.parametrize("relpath", [FUNDING, NEWS], ids=["parquet", "jsonl"])
@pytest.mark.parametrize(
    "entry",
    ["read", "load", "scan-collect", "verify"],
)
def test_a_hard_link_to_a_production_file_is_refused_with_copy_advice(
    tmp_path: Path, small_root: Path, relpath: str, entry: str
) -> None:
    prod, research = _roots(tmp_path, small_root)
    mine = research / relpath
    mine.unlink()
    os.link(prod / relpath, mine)  # same inode: the production file under a research name
    assert mine.stat().st_nlink == 2
    kind = relpath.split("/")[1]
    catalog = omr.open_catalog(research)
    attempts: dict[str, Callable[[], object]] = {
        "read": lambda: omr.read(mine, kind),
        "load": lambda: catalog.load(kind),
        "scan-collect": lambda: catalog.scan(kind).collect(),
    }
    if entry == "verify":
        problems = catalog.verify().filter(pl.col("file") == relpath)
        problem = problems["problem"].item()
        assert problem.startswith("refused:") and "hard links" in problem
        assert "copy the file instead" in problem
        return
    with pytest.raises(ProductionDataError, match=r"2 hard links.*copy the file instead") as info:
        attempts[entry]()
    assert str(mine) in str(info.value)


def test_a_hard_linked_manifest_is_refused(tmp_path: Path, small_root: Path) -> None:
    _prod, research = _roots(tmp_path, small_root)
    (research / "omni-data.toml").unlink()
    other = tmp_path / "other.toml"
    shutil.copy(small_root / "omni-data.toml", other)
    os.link(other, research / "omni-data.toml")
    with pytest.raises(ProductionDataError, match="hard links"):
        omr.open_catalog(research)


def test_a_copy_reads_where_the_hard_link_was_refused(tmp_path: Path, small_root: Path) -> None:
    prod, research = _roots(tmp_path, small_root)
    mine = research / FUNDING
    mine.unlink()
    os.link(prod / FUNDING, mine)
    with pytest.raises(ProductionDataError):
        omr.read(mine, "funding")
    mine.unlink()
    shutil.copy(prod / FUNDING, mine)  # what the message says to do
    assert omr.read(mine, "funding").equals(pl.read_parquet(prod / FUNDING))
