"""The materialized ``indicators`` dataset read through the catalog like ``ohlcv``: guarded,
checked against the manifest (sha256, rows, the columns its ``[indicators.<tf>]`` table
records), validated, audited, and behind the root's roles."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import omni_research as omr
from omni_research import _guard
from omni_research._manifest import read_manifest, record_files, write_manifest
from omni_research.exceptions import (
    AccessDeniedError,
    ConfigurationError,
    DataFormatError,
    DataValidationError,
)
from omni_research.indicators import materialize
from omni_research.io._atomic import write_parquet_atomic
from tests.indicators.test_materialize import _write_root

INDICATORS = ["rsi", "sma"]
BASE = "historical/indicators"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = _write_root(tmp_path_factory.mktemp("inds") / "root", days=3)
    materialize(omr.open_catalog(root), INDICATORS, engine="serial", warmup=50)
    return root


@pytest.fixture
def root(template: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "root"
    shutil.copytree(template, copy)
    return copy


def _reference(root: Path, symbol: str, start: str, end: str) -> pl.DataFrame:
    """pl.read_parquet of the files on disk, concatenated and filtered by hand."""
    files = sorted((root / BASE / f"symbol={symbol}").rglob("*.parquet"))
    lo = pl.lit(start).str.to_datetime(time_zone="UTC", time_unit="us")
    hi = pl.lit(end).str.to_datetime(time_zone="UTC", time_unit="us")
    return (
        pl.concat(pl.read_parquet(f) for f in files)
        .filter(pl.col("timestamp") >= lo, pl.col("timestamp") < hi)
        .sort("timestamp")
    )


def _audit() -> list[dict[str, Any]]:
    log = Path(os.environ["OMNI_AUDIT_LOG"])
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_load_equals_the_files_read_directly_and_is_audited(root: Path) -> None:
    catalog = omr.open_catalog(root)
    before = len(_audit())
    got = catalog.load(
        "indicators", symbols="ETHUSDT", start="2025-01-25T12:00Z", end="2025-01-26T06:00Z"
    )
    expected = _reference(root, "ETHUSDT", "2025-01-25T12:00:00Z", "2025-01-26T06:00:00Z")
    assert got.height == 18 * 60  # 12 h of the 25th and 6 h of the 26th, 1m bars
    assert_frame_equal(got, expected)  # same columns, dtypes and values (NaN warm-up too)
    assert got.columns == read_manifest(root).tables["indicators"]["1m"]["columns"]
    assert got.columns[:3] == ["timestamp", "symbol", "timeframe"]
    assert all(got.schema[c] == pl.Float64 for c in got.columns[3:])
    lines = _audit()[before:]
    assert len(lines) == 1
    assert lines[0]["dataset"] == "historical/indicators"
    assert lines[0]["rows"] == got.height
    listing = catalog.datasets().filter(pl.col("kind") == "indicators")
    assert listing.select("name", "files", "rows", "symbols").rows() == [
        ("historical/indicators", 6, 6 * 1440, ["BTCUSDT", "ETHUSDT"])
    ]
    assert catalog.verify().height == 0


def test_pruning_by_symbol_opens_only_that_symbols_files(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = omr.open_catalog(root)
    chosen = catalog.files("indicators", symbols="BTCUSDT", start="2025-01-26")
    assert [f.relpath for f in chosen] == [
        f"{BASE}/symbol=BTCUSDT/timeframe=1m/date=2025-01-{d}/part-0.parquet" for d in (26, 27)
    ]
    opened: list[str] = []
    real = _guard.read_guarded

    def note(path: Any) -> bytes:
        opened.append(Path(path).relative_to(root).as_posix())
        return real(path)

    monkeypatch.setattr(_guard, "read_guarded", note)
    df = catalog.scan("indicators", symbols="BTCUSDT", start="2025-01-26").collect()
    assert opened == [f.relpath for f in chosen]
    assert df["symbol"].unique().to_list() == ["BTCUSDT"]
    assert df.height == 2 * 1440


def test_a_flipped_byte_fails_the_load_and_shows_in_verify(root: Path) -> None:
    victim = root / BASE / "symbol=BTCUSDT/timeframe=1m/date=2025-01-26/part-0.parquet"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    catalog = omr.open_catalog(root)
    with pytest.raises(DataFormatError, match=r"date=2025-01-26/part-0.parquet: sha256 differs"):
        catalog.load("indicators", symbols="BTCUSDT")
    # the other symbol's files are untouched and still read
    assert catalog.load("indicators", symbols="ETHUSDT").height == 3 * 1440
    found = catalog.verify()
    assert found.select("file", "problem").rows() == [
        (victim.relative_to(root).as_posix(), "sha256 mismatch")
    ]


def test_a_file_whose_columns_differ_from_the_table_is_a_format_error(root: Path) -> None:
    manifest = read_manifest(root)
    tables = json.loads(json.dumps(manifest.tables))
    columns = tables["indicators"]["1m"]["columns"]
    assert "rsi" in columns
    columns[columns.index("rsi")] = "rsi_21"  # the table now promises another column
    write_manifest(root, dataclasses.replace(manifest, tables=tables))
    with pytest.raises(DataFormatError, match=r"part-0\.parquet.*column 'rsi_21'.*missing"):
        omr.open_catalog(root).scan("indicators", symbols="ETHUSDT", start="2025-01-27")


@pytest.mark.parametrize(
    ("roles", "allowed"),
    [(["agent", "trading"], False), (["market"], True), (["indicators"], True)],
)
def test_roles_cover_indicators_through_the_market_family(
    root: Path, roles: list[str], allowed: bool
) -> None:
    import pwd

    me = pwd.getpwuid(os.geteuid()).pw_name
    manifest = read_manifest(root)
    access = {"roles": {"reader": roles}, "users": {me: ["reader"]}}
    write_manifest(
        root, dataclasses.replace(manifest, tables={**manifest.tables, "access": access})
    )
    catalog = omr.open_catalog(root)
    if allowed:
        assert catalog.load("indicators", symbols="BTCUSDT", start="2025-01-27").height == 1440
        return
    before = len(_audit())
    with pytest.raises(AccessDeniedError, match=f"user '{me}'.* may not read 'indicators'"):
        catalog.load("indicators", symbols="BTCUSDT")
    lines = _audit()[before:]
    assert len(lines) == 1 and lines[0]["kind"] == "indicators"


def test_timeframes_with_other_columns_must_be_read_one_at_a_time(root: Path) -> None:
    src = root / BASE / "symbol=BTCUSDT/timeframe=1m/date=2025-01-27/part-0.parquet"
    other = root / BASE / "symbol=BTCUSDT/timeframe=5m/date=2025-01-27/part-0.parquet"
    other.parent.mkdir(parents=True)
    shutil.copyfile(src, other)
    manifest = read_manifest(root)
    tables = json.loads(json.dumps(manifest.tables))
    write_manifest(root, dataclasses.replace(manifest, tables=tables))
    catalog = omr.open_catalog(root)
    with pytest.raises(DataFormatError, match=r"\[indicators\.5m\] table does not list"):
        catalog.scan("indicators", symbols="BTCUSDT")
    tables["indicators"]["5m"] = {"columns": ["timestamp", "symbol", "timeframe", "rsi"]}
    write_manifest(root, dataclasses.replace(manifest, tables=tables))
    catalog = omr.open_catalog(root)
    with pytest.raises(ConfigurationError, match=r"different columns .*pass timeframe="):
        catalog.scan("indicators", symbols="BTCUSDT")
    assert catalog.load("indicators", symbols="BTCUSDT", timeframe="1m").height == 3 * 1440


def test_load_validates_rows_and_names_the_file_that_breaks_a_rule(root: Path) -> None:
    victim = root / BASE / "symbol=ETHUSDT/timeframe=1m/date=2025-01-26/part-0.parquet"
    df = pl.read_parquet(victim)
    write_parquet_atomic(pl.concat([df.head(10), df.slice(9)]), victim)  # row 9 twice
    record_files(root, [victim])  # the manifest agrees: only the rule can catch it
    catalog = omr.open_catalog(root)
    with pytest.raises(DataValidationError, match="unique and sorted by") as info:
        catalog.load("indicators", symbols="ETHUSDT")
    assert str(victim) in str(info.value)
    assert info.value.failure_cases["file"].unique().to_list() == [
        victim.relative_to(root).as_posix()
    ]
