"""Rules that stop silently wrong data: uniqueness keys, NaN in nullable floats, bar alignment."""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
import pytest

import omni_research as omr
from omni_research._typing import KINDS
from omni_research.exceptions import DataValidationError
from omni_research.schemas import _rules
from omni_research.schemas._validate import MODELS, _all_rules_pass
from omni_research.testing import make_ohlcv

UTC = dt.UTC

# The rule that names each kind's uniqueness key in the error.
KEY_RULES: dict[str, str] = {
    "ohlcv": "unique and sorted by (symbol, timeframe, timestamp)",
    "trades": "column 'trade_id' fails 'field_uniqueness'",
    "orderbook": "unique and sorted by (symbol, timestamp)",
    "funding": "unique and sorted by (symbol, timestamp)",
    "open_interest": "unique and sorted by (symbol, interval, timestamp)",
    "instruments": "unique (category, symbol, timestamp)",
    "coins": "unique (coin_id, timestamp)",
    "news": "column 'article_id' fails 'field_uniqueness'",
    "sentiment": "unique (symbol, source, timestamp)",
    "posts": "unique (post_id, symbol)",
    "orders": "column 'order_id' fails 'field_uniqueness'",
    "fills": "column 'fill_id' fails 'field_uniqueness'",
    "positions": "unique (symbol, account_id, timestamp)",
    "pnl": "unique (symbol, account_id, date)",
    "agent_metrics": "unique (agent_id, metric, timestamp)",
    "decisions": "unique (agent_id, symbol, timestamp)",
}


def _shipped(kind: str, rows: int = 200) -> pl.DataFrame:
    return omr.open_catalog().scan(kind).head(rows).collect()


def _set(df: pl.DataFrame, column: str, row: int, value: object) -> pl.DataFrame:
    at = pl.int_range(pl.len()) == row
    new = pl.when(at).then(pl.lit(value, df.schema[column])).otherwise(pl.col(column))
    return df.with_columns(new.alias(column))


def test_every_kind_has_a_uniqueness_rule() -> None:
    assert set(KEY_RULES) == set(KINDS)


@pytest.mark.parametrize("copy", ["row", "partition"])
@pytest.mark.parametrize("kind", KINDS)
def test_validate_stray_duplicate_raises_naming_key_rule(kind: str, copy: str) -> None:
    base = _shipped(kind)
    assert base.height >= 6
    omr.validate(base, kind)  # the shipped rows themselves are valid
    # row: a copy of row 5 right after it, where sorted rules see it too; partition: a stray
    # copy of the whole file appended
    parts = [base.head(6), base.slice(5)] if copy == "row" else [base, base]
    bad = pl.concat(parts)
    assert not _all_rules_pass(MODELS[kind], bad)  # the fast path agrees with Pandera
    with pytest.raises(DataValidationError, match=re.escape(KEY_RULES[kind])):
        omr.validate(bad, kind)


def _nullable_floats() -> list[tuple[str, str]]:
    return [
        (kind, name)
        for kind, model in MODELS.items()
        for name, col in model.to_schema().columns.items()
        if col.nullable and col.dtype.type.is_float()
    ]


def test_every_float_column_has_a_finite_rule() -> None:
    missing = [
        (kind, name)
        for kind, model in MODELS.items()
        for name, col in model.to_schema().columns.items()
        if col.dtype.type.is_float() and not any(c.name == "finite" for c in col.checks)
    ]
    assert missing == []


def test_nullable_float_inventory_includes_the_reported_columns() -> None:
    assert {("orders", "price"), ("positions", "avg_entry_price")} <= set(_nullable_floats())


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=str)
@pytest.mark.parametrize(("kind", "column"), _nullable_floats())
def test_validate_nan_or_inf_in_nullable_float_raises(kind: str, column: str, value: float) -> None:
    base = _shipped(kind)
    if kind == "positions":  # the shipped accounts are never flat: make row 0 flat (null price)
        base = _set(_set(base, "size", 0, 0.0), "avg_entry_price", 0, None)
    assert base[column].null_count() > 0  # nulls are present and valid
    omr.validate(base, kind)
    row = int(base[column].is_not_null().arg_true()[0])
    bad = _set(base, column, row, value)
    assert not _all_rules_pass(MODELS[kind], bad)
    with pytest.raises(
        DataValidationError,
        match=rf"column '{column}' fails 'finite' in 1 row\(s\) \(first at row {row}",
    ):
        omr.validate(bad, kind)


# --------------------------------------------------------------------------- bar alignment

ALIGNED = re.escape("'timestamp aligned to timeframe (weeks start Monday 00:00 UTC)'")
MONDAY = dt.datetime(2024, 12, 30, tzinfo=UTC)  # the open of Bybit's W kline 1735516800000


def test_monday_fixture_is_bybits_weekly_open() -> None:
    assert MONDAY.weekday() == 0
    assert int(MONDAY.timestamp() * 1000) == 1735516800000


def test_validate_monday_aligned_weekly_bars_pass() -> None:
    bars = make_ohlcv(n=5, timeframe="1w", start=MONDAY, seed=3)
    assert bars["timestamp"].dt.weekday().to_list() == [1] * 5  # Polars: Monday is 1
    assert omr.validate(bars, "ohlcv").equals(bars)
    assert _all_rules_pass(MODELS["ohlcv"], bars)


def test_validate_weekly_bars_built_by_resample_pass() -> None:
    minutes = make_ohlcv(n=3 * 7 * 1440, start=dt.datetime(2025, 1, 2, tzinfo=UTC), seed=4)
    weekly = omr.bars.resample_ohlcv(minutes, timeframe="1w").select(
        omr.schemas.polars_schema("ohlcv").names()
    )
    assert weekly["timestamp"][0] == dt.datetime(2024, 12, 30, tzinfo=UTC)
    omr.validate(weekly, "ohlcv")


@pytest.mark.parametrize(
    ("start", "where"),
    [
        (dt.datetime(2025, 1, 2, tzinfo=UTC), "Thursday weeks, as counted from 1970-01-01"),
        (MONDAY + dt.timedelta(hours=12), "Monday noon"),
        (MONDAY + dt.timedelta(days=3), "inside the week"),
    ],
    ids=["thursday", "monday-noon", "mid-week"],
)
def test_validate_misaligned_weekly_bars_raise(start: dt.datetime, where: str) -> None:
    bars = make_ohlcv(n=4, timeframe="1w", start=start, seed=3)
    assert not _all_rules_pass(MODELS["ohlcv"], bars), where
    with pytest.raises(DataValidationError, match=ALIGNED + r" in 4 row\(s\) \(first at row 0"):
        omr.validate(bars, "ohlcv")


def test_validate_one_misaligned_weekly_timestamp_is_named() -> None:
    bars = make_ohlcv(n=4, timeframe="1w", start=MONDAY, seed=3)
    shifted = dt.datetime(2025, 1, 13, 0, 0, 1, tzinfo=UTC)  # a Monday, one second late
    bad = _set(bars, "timestamp", 2, shifted)
    with pytest.raises(
        DataValidationError,
        match=ALIGNED + r" in 1 row\(s\) \(first at row 2, 2025-01-13 00:00:01 UTC\)",
    ):
        omr.validate(bad, "ohlcv")


@pytest.mark.parametrize(
    ("timeframe", "stamp", "ok"),
    [
        ("1m", "2025-01-06T00:01:00", True),
        ("1m", "2025-01-06T00:01:30", False),
        ("4h", "2025-01-06T08:00:00", True),
        ("4h", "2025-01-06T02:00:00", False),
        ("1d", "2025-01-09T00:00:00", True),  # a Thursday: days do count from 1970-01-01
        ("1d", "2025-01-09T12:00:00", False),
        ("1w", "1970-01-05T00:00:00", True),
        ("1w", "1970-01-01T00:00:00", False),
        ("1w", "1969-12-29T00:00:00", True),  # before the epoch, still a Monday
    ],
)
def test_bar_aligned_fixed_timeframes(timeframe: str, stamp: str, ok: bool) -> None:
    frame = pl.DataFrame({"timestamp": [stamp], "timeframe": [timeframe]}).with_columns(
        pl.col("timestamp").str.to_datetime(time_unit="us", time_zone="UTC")
    )
    assert frame.select(_rules.bar_aligned()).item() is ok


@pytest.mark.parametrize(
    ("timeframe", "stamp", "ok"),
    [
        ("1M", "2025-02-01T00:00:00", True),
        ("1M", "1970-01-01T00:00:00", True),
        ("1M", "2025-02-02T00:00:00", False),
        ("1M", "2025-02-01T00:00:00.000001", False),
        ("1M", "2025-01-27T00:00:00", False),  # a Monday, not the 1st
        ("3M", "2025-04-01T00:00:00", True),
        ("3M", "2025-02-01T00:00:00", False),
    ],
)
def test_bar_aligned_months_start_on_the_first(timeframe: str, stamp: str, ok: bool) -> None:
    # "1M" is not yet a Timeframe (bars' duration parsing needs fixed lengths); the rule is
    # ready for it and is checked here on its own.
    frame = pl.DataFrame({"timestamp": [stamp], "timeframe": [timeframe]}).with_columns(
        pl.col("timestamp").str.to_datetime(time_unit="us", time_zone="UTC")
    )
    assert frame.select(_rules.bar_aligned(("1w", "1M", "3M"))).item() is ok


def test_bar_aligned_leaves_unknown_timeframes_to_the_isin_rule() -> None:
    bars = make_ohlcv(n=3, timeframe="1m", seed=2).with_columns(timeframe=pl.lit("7m"))
    assert bars.select(_rules.bar_aligned().all()).item() is True
    with pytest.raises(
        DataValidationError, match=r"column 'timeframe' fails \"isin\(\['1m'"
    ) as info:
        omr.validate(bars, "ohlcv")
    assert "aligned" not in str(info.value)


def test_bar_aligned_rejects_a_malformed_timeframe_list() -> None:
    with pytest.raises(ValueError, match=r"timeframe '1y' is not a number followed by m, h, d, w"):
        _rules.bar_aligned(("1y",))
