"""The catalog: discovery, pruning, lazy scans, validated loads, lineage, audit, verify."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import polars as pl
import pytest

import omni_research as omr
from omni_research.exceptions import ConfigurationError, DataFormatError, DataValidationError
from omni_research.io._atomic import write_parquet_atomic

UTC = dt.UTC


def test_datasets_lists_every_kind_with_contract_columns(small_root: Path) -> None:
    datasets = omr.open_catalog(small_root).datasets()
    assert {"name", "kind", "tier", "path", "format"} <= set(datasets.columns)
    assert set(datasets["kind"]) == set(omr.schemas.MODELS)
    assert set(datasets["tier"]) == {"test"}
    formats = dict(datasets.select("kind", "format").iter_rows())
    assert formats["ohlcv"] == "parquet"
    assert formats["news"] == "jsonl"
    assert formats["sentiment"] == "csv"
    assert formats["agent_metrics"] == "csv.gz"
    assert formats["coins"] == "json"


def test_open_catalog_none_is_the_shipped_data_test() -> None:
    catalog = omr.open_catalog()
    assert catalog.root.name == "data_test"
    assert catalog.tier == "test"


def test_scan_is_lazy_and_filters_exactly(small_root: Path) -> None:
    catalog = omr.open_catalog(small_root)
    start = dt.datetime(2025, 1, 6, 10, 0, tzinfo=UTC)
    end = dt.datetime(2025, 1, 6, 10, 30, tzinfo=UTC)
    lf = catalog.scan("ohlcv", symbols=["ETHUSDT"], start=start, end=end, timeframe="1m")
    assert isinstance(lf, pl.LazyFrame)
    df = lf.collect()
    assert df.height == 30
    assert df["timestamp"].min() == start
    assert df["timestamp"].max() == end - dt.timedelta(minutes=1)
    assert set(df["symbol"]) == {"ETHUSDT"}
    # the same rows as filtering the whole dataset by hand
    everything = catalog.load("ohlcv")
    by_hand = everything.filter(
        (pl.col("symbol") == "ETHUSDT") & pl.col("timestamp").is_between(start, end, closed="left")
    )
    assert df.equals(by_hand)


def test_scan_never_opens_files_outside_the_range(small_root: Path) -> None:
    catalog = omr.open_catalog(small_root)
    outside = [
        f.path
        for f in catalog.dataset("trades").files
        if f.partitions["symbol"] != "BTCUSDT" or f.partitions["date"] != "2025-01-07"
    ]
    for path in outside:  # any attempt to open these would fail loudly
        path.write_bytes(b"not parquet at all")
    df = catalog.scan("trades", symbols="BTCUSDT", start="2025-01-07", end="2025-01-08").collect()
    assert df.height > 0
    assert df["timestamp"].dt.date().unique().to_list() == [dt.date(2025, 1, 7)]
    with pytest.raises(DataFormatError):
        catalog.scan("trades", symbols="BTCUSDT").collect()


def test_scan_plan_pushes_predicates_down(small_root: Path) -> None:
    catalog = omr.open_catalog(small_root)
    plan = catalog.scan("ohlcv", start="2025-01-06T12:00Z", end="2025-01-06T13:00Z").explain()
    assert "SELECTION" in plan.upper() or "FILTER" in plan.upper()
    scan_line = plan[plan.upper().index("PARQUET") :]
    assert "timestamp" in scan_line


def test_load_validates_and_records_lineage(small_root: Path) -> None:
    catalog = omr.open_catalog(small_root)
    df = catalog.load("funding", symbols=["BTCUSDT"])
    assert df.height == 6  # 2 days x 3 settlements
    record = catalog.reads[-1]
    assert record.dataset == "historical/funding"
    assert record.rows == 6
    assert record.files == ("historical/funding/symbol=BTCUSDT/part-0.parquet",)
    assert record.sha256[0] == catalog.manifest.files[record.files[0]].sha256


def test_load_appends_to_the_audit_log(small_root: Path) -> None:
    catalog = omr.open_catalog(small_root)
    catalog.load("pnl", symbols="SOLUSDT")
    log = Path(os.environ["OMNI_AUDIT_LOG"]).read_text().splitlines()
    entry = json.loads(log[-1])
    assert entry["dataset"] == "test/pnl"
    assert entry["tier"] == "test"
    assert entry["rows"] == 4  # 2 accounts x 2 days
    assert entry["root"] == str(small_root.resolve())
    assert {"user", "time", "files"} <= set(entry)


def test_audit_log_inside_the_root_is_refused(
    small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNI_AUDIT_LOG", str(small_root / "logs" / "audit.jsonl"))
    with pytest.raises(ConfigurationError, match="outside every data root"):
        omr.open_catalog(small_root).load("funding")


def test_load_detects_changed_file_by_checksum(small_root: Path) -> None:
    catalog = omr.open_catalog(small_root)
    target = catalog.dataset("funding").files[0].path
    df = pl.read_parquet(target).with_columns(pl.col("funding_rate") * 2)
    write_parquet_atomic(df, target)  # still valid data, but not what the manifest recorded
    with pytest.raises(DataFormatError, match="sha256 differs from the manifest"):
        catalog.load("funding")


def test_load_reports_rule_failures_with_file_and_rows(small_root: Path) -> None:
    catalog = omr.open_catalog(small_root)
    target = catalog.dataset("ohlcv").files[0].path
    df = pl.read_parquet(target)
    df = pl.concat([df.head(5), df.slice(4)])  # duplicate timestamp
    write_parquet_atomic(df, target)
    (small_root / "omni-data.toml").write_text(
        "\n".join(
            line
            for line in (small_root / "omni-data.toml").read_text().splitlines()
            if not line.startswith("[")
        ).split("\nsha256")[0]  # drop checksums: exercise validation itself
        + "\n"
    )
    catalog = omr.open_catalog(small_root)
    with pytest.raises(
        DataValidationError,
        match=r"(?s)date=2025-01-06/part-0.parquet: 1 failure.*rows fails 'unique and sorted"
        r".*2025-01-06 00:04:00 UTC",
    ):
        catalog.load("ohlcv", symbols="BTCUSDT")


def test_scan_mixed_time_zones_across_files_names_the_file(small_root: Path) -> None:
    catalog = omr.open_catalog(small_root)
    files = catalog.dataset("funding").files
    bad = files[1].path
    df = pl.read_parquet(bad).with_columns(pl.col("timestamp").dt.convert_time_zone("Asia/Tokyo"))
    write_parquet_atomic(df, bad)
    with pytest.raises(DataValidationError, match=rf"{bad.parent.name}.*column 'timestamp'"):
        catalog.scan("funding")


def test_research_tier_pseudonymises_account_ids(
    small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = small_root / "omni-data.toml"
    manifest.write_text(manifest.read_text().replace('tier = "test"', 'tier = "research"'))
    monkeypatch.delenv("OMNI_PSEUDONYM_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="OMNI_PSEUDONYM_KEY"):
        omr.open_catalog(small_root).load("fills")
    monkeypatch.setenv("OMNI_PSEUDONYM_KEY", "k1")
    first = omr.open_catalog(small_root).load("fills")
    monkeypatch.setenv("OMNI_PSEUDONYM_KEY", "k2")
    second = omr.open_catalog(small_root).load("fills")
    raw = pl.concat(
        [pl.read_parquet(f.path) for f in omr.open_catalog(small_root).dataset("fills").files]
    )
    assert not set(first["account_id"]) & set(raw["account_id"])
    assert first["account_id"].n_unique() == raw["account_id"].n_unique()
    assert set(first["account_id"]) != set(second["account_id"])  # keyed: another key, other ids
    # same account, same pseudonym: the grouping survives
    pairs = pl.DataFrame(
        {"raw": raw.sort("fill_id")["account_id"], "pseudo": first.sort("fill_id")["account_id"]}
    ).unique()
    assert pairs.height == raw["account_id"].n_unique()


@pytest.mark.parametrize("which", ["parquet", "jsonl", "csv", "manifest-missing"])
def test_verify_detects_a_single_flipped_byte(small_root: Path, which: str) -> None:
    catalog = omr.open_catalog(small_root)
    assert catalog.verify().is_empty()
    if which == "manifest-missing":
        target = catalog.dataset("positions").files[0].path
        target.unlink()
        problems = omr.open_catalog(small_root).verify()
        assert problems.rows() == [
            (
                target.relative_to(small_root).as_posix(),
                "missing",
                catalog.manifest.files[target.relative_to(small_root).as_posix()].sha256,
            )
        ]
        return
    kind = {"parquet": "orderbook", "jsonl": "news", "csv": "sentiment"}[which]
    target = catalog.dataset(kind).files[0].path
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    problems = omr.open_catalog(small_root).verify()
    assert problems["file"].to_list() == [target.relative_to(small_root).as_posix()]
    assert problems["problem"].to_list() == ["sha256 mismatch"]


def test_unknown_dataset_lists_what_exists(small_root: Path) -> None:
    catalog = omr.open_catalog(small_root)
    with pytest.raises(omr.UnknownKindError, match="unknown data kind 'candles'"):
        catalog.scan("candles")


def test_naive_datetime_bounds_are_refused(small_root: Path) -> None:
    with pytest.raises(ConfigurationError, match="naive datetime"):
        omr.open_catalog(small_root).scan("ohlcv", start=dt.datetime(2025, 1, 6))  # noqa: DTZ001


def test_daily_kinds_filter_by_calendar_day(small_root: Path) -> None:
    catalog = omr.open_catalog(small_root)
    everything = catalog.load("pnl")
    day = everything["date"].min()
    assert day is not None
    start = dt.datetime.combine(day, dt.time(), UTC)
    only_first = catalog.load("pnl", start=start, end=start + dt.timedelta(days=1))
    assert only_first.equals(everything.filter(pl.col("date") == day))
    assert catalog.load("pnl", start=start + dt.timedelta(days=1)).height == (
        everything.height - only_first.height
    )


def test_a_bare_end_date_includes_its_day_and_a_timestamp_end_excludes_itself(
    small_root: Path,
) -> None:
    catalog = omr.open_catalog(small_root)
    days = catalog.load("ohlcv", symbols="BTCUSDT", start="2025-01-06", end="2025-01-06")
    assert days["timestamp"].dt.date().unique().to_list() == [dt.date(2025, 1, 6)]
    assert days.height == 1440  # the whole first day of 1-minute bars
    cut = catalog.load("ohlcv", symbols="BTCUSDT", start="2025-01-06", end="2025-01-06T00:10Z")
    assert cut["timestamp"].max() == dt.datetime(2025, 1, 6, 0, 9, tzinfo=UTC)
    pnl = catalog.load("pnl", start="2025-01-07", end=dt.date(2025, 1, 7))
    assert pnl["date"].unique().to_list() == [dt.date(2025, 1, 7)]
