"""Issue 15: what a catalog read opens, checks and audits (every read, lazy or eager)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import omni_research as omr
from omni_research._manifest import record_files
from omni_research.exceptions import (
    ConfigurationError,
    DataFormatError,
    DataValidationError,
    ProductionDataError,
)
from omni_research.io._atomic import write_parquet_atomic


def _production_root(tmp_path: Path, small_root: Path) -> Path:
    prod = tmp_path / "prod_data"
    shutil.copytree(small_root, prod)
    manifest = prod / "omni-data.toml"
    manifest.write_text(manifest.read_text().replace('tier = "test"', 'tier = "production"'))
    return prod


def _audit_lines() -> list[dict[str, object]]:
    log = Path(os.environ["OMNI_AUDIT_LOG"])
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_file_swapped_for_a_symlink_between_scan_and_collect_is_refused(
    tmp_path: Path, small_root: Path
) -> None:
    prod = _production_root(tmp_path, small_root)
    catalog = omr.open_catalog(small_root)
    lazy = catalog.scan("funding", symbols="BTCUSDT")
    mine = catalog.files("funding", symbols="BTCUSDT")[0].path
    secret = prod / mine.relative_to(small_root)
    mine.unlink()
    mine.symlink_to(secret)
    with pytest.raises(ProductionDataError, match="declares tier production"):
        lazy.collect()


def test_scan_collect_checks_checksums_and_writes_an_audit_line(small_root: Path) -> None:
    catalog = omr.open_catalog(small_root)
    before = len(_audit_lines())
    df = catalog.scan("funding", symbols="ETHUSDT").collect()
    lines = _audit_lines()
    assert len(lines) == before + 1
    assert lines[-1]["dataset"] == "historical/funding"
    assert lines[-1]["rows"] == df.height == 6
    target = catalog.files("funding", symbols="ETHUSDT")[0].path
    write_parquet_atomic(pl.read_parquet(target).with_columns(pl.col("funding_rate") * 2), target)
    with pytest.raises(DataFormatError, match="sha256 differs from the manifest"):
        catalog.scan("funding", symbols="ETHUSDT").collect()


def test_an_unwritable_audit_log_stops_the_read_before_any_file_is_opened(
    tmp_path: Path, small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")
    monkeypatch.setenv("OMNI_AUDIT_LOG", str(blocker / "audit.jsonl"))
    catalog = omr.open_catalog(small_root)
    target = catalog.files("funding")[0].path
    target.write_bytes(b"garbage that would fail loudly if opened")
    with pytest.raises(ConfigurationError, match="cannot be written"):
        catalog.load("funding")
    with pytest.raises(ConfigurationError, match="cannot be written"):
        omr.read(target, "funding")


def test_verify_never_hashes_a_file_the_guard_refuses(tmp_path: Path, small_root: Path) -> None:
    prod = _production_root(tmp_path, small_root)
    catalog = omr.open_catalog(small_root)
    mine = catalog.files("funding", symbols="BTCUSDT")[0]
    mine.path.unlink()
    mine.path.symlink_to(prod / mine.relpath)
    problems = omr.open_catalog(small_root).verify()
    row = problems.filter(pl.col("file") == mine.relpath).row(0, named=True)
    assert row["problem"].startswith("refused:")
    assert "declares tier production" in row["problem"]


def test_verify_and_load_check_manifest_row_counts(small_root: Path) -> None:
    manifest = small_root / "omni-data.toml"
    name = "historical/funding/symbol=BTCUSDT/part-0.parquet"
    text = manifest.read_text()
    start = text.index(f'[files."{name}"]')
    rows_at = text.index("rows = ", start)
    end = text.index("\n", rows_at)
    manifest.write_text(text[:rows_at] + "rows = 7" + text[end:])
    catalog = omr.open_catalog(small_root)
    problems = catalog.verify()
    assert problems.filter(pl.col("file") == name)["problem"].to_list() == [
        "rows mismatch: manifest 7, file 6"
    ]
    with pytest.raises(DataFormatError, match="holds 6 rows, the manifest says 7"):
        catalog.load("funding", symbols="BTCUSDT")


@pytest.mark.parametrize("key", ["symbol", "date"])
def test_rows_that_do_not_match_their_partition_folder_are_reported(
    small_root: Path, key: str
) -> None:
    catalog = omr.open_catalog(small_root)
    f = catalog.files("trades", symbols="BTCUSDT", start="2025-01-06", end="2025-01-07")[0]
    df = pl.read_parquet(f.path)
    if key == "symbol":
        df = df.with_columns(symbol=pl.lit("ETHUSDT"))
    else:
        df = df.with_columns(pl.col("timestamp") + dt.timedelta(days=1))
    write_parquet_atomic(df, f.path)
    record_files(small_root, [f.path])
    column = "symbol" if key == "symbol" else "timestamp"
    with pytest.raises(DataValidationError, match=rf"{f.relpath}.*{column}"):
        omr.open_catalog(small_root).load("trades")


def test_a_date_folder_that_is_not_a_date_is_a_format_error(small_root: Path) -> None:
    f = omr.open_catalog(small_root).files("trades")[0].path
    bad = f.parent.parent / "date=yesterday"
    bad.mkdir()
    shutil.copy(f, bad / f.name)
    with pytest.raises(DataFormatError, match="'date=yesterday' is not a valid date partition"):
        omr.open_catalog(small_root)


def test_parts_are_read_in_number_order(small_root: Path) -> None:
    catalog = omr.open_catalog(small_root)
    f = catalog.files("funding", symbols="BTCUSDT")[0]
    df = pl.read_parquet(f.path)
    write_parquet_atomic(df.head(2), f.path.with_name("part-2.parquet"))
    write_parquet_atomic(df.slice(2), f.path.with_name("part-10.parquet"))
    f.path.unlink()
    manifest = small_root / "omni-data.toml"
    text = manifest.read_text()
    start = text.index(f'[files."{f.relpath}"]')
    manifest.write_text(text[:start] + text[text.index("rows = ", start) :].split("\n", 1)[1])
    record_files(
        small_root, [f.path.with_name("part-2.parquet"), f.path.with_name("part-10.parquet")]
    )
    loaded = omr.open_catalog(small_root).load("funding", symbols="BTCUSDT")
    assert loaded.equals(df)


@pytest.mark.parametrize(
    "symbols",
    [
        pytest.param(lambda: (s for s in ["BTCUSDT"]), id="generator"),
        pytest.param(lambda: np.array(["BTCUSDT"]), id="numpy"),
        pytest.param(lambda: {"BTCUSDT"}, id="set"),
    ],
)
def test_symbols_as_any_iterable_of_strings(small_root: Path, symbols: object) -> None:
    catalog = omr.open_catalog(small_root)
    df = catalog.load("funding", symbols=symbols())  # type: ignore[operator]
    assert df["symbol"].unique().to_list() == ["BTCUSDT"]
    assert df.height == 6


def test_symbols_empty_list_selects_nothing(small_root: Path) -> None:
    catalog = omr.open_catalog(small_root)
    assert catalog.files("funding", symbols=[]) == []
    assert catalog.load("funding", symbols=[]).height == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"symbols": 5}, "symbols=5 is a int"),
        ({"symbols": [b"BTCUSDT"]}, "expected symbol strings"),
        ({"start": 5}, "start=5 is a int"),
        ({"end": 1.5}, "end=1.5 is a float"),
    ],
)
def test_bad_read_options_raise_configuration_errors(
    small_root: Path, options: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        omr.open_catalog(small_root).load("funding", **options)  # type: ignore[arg-type]
