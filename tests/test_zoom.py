"""ZoomIndex: every level and every window equals an independent Polars aggregation."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from omni_research._time import timeframe_duration_us
from omni_research._zoom import LADDER, ZoomIndex
from omni_research.exceptions import ConfigurationError, DataFormatError, DataValidationError

UTC = dt.UTC


def _bars(step: str, n: int, start: dt.datetime, seed: int) -> pl.DataFrame:
    """Random-walk OHLCV with random missing bars and a few long gaps (outages)."""
    rng = np.random.default_rng(seed)
    every = dt.timedelta(microseconds=timeframe_duration_us(step))
    ts = pl.datetime_range(start, start + every * (n - 1), every, time_zone="UTC", eager=True)
    close = 100.0 + np.cumsum(rng.normal(0, 0.5, n))
    open_ = np.r_[100.0, close[:-1]] + rng.normal(0, 0.05, n)
    high = np.maximum(open_, close) + rng.exponential(0.2, n)
    low = np.minimum(open_, close) - rng.exponential(0.2, n)
    keep = rng.random(n) > 0.05
    for g in rng.integers(0, n - 500, 4):  # outages of a few hundred bars
        keep[g : g + int(rng.integers(50, 400))] = False
    return pl.DataFrame(
        {
            "timestamp": ts,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": rng.exponential(10.0, n),
            "signal": rng.normal(0, 1, n),
        }
    ).filter(pl.Series(keep))


# 1-minute bars (30 days, starting on a Thursday) and 1-hour bars (3 years, starting on a
# Wednesday afternoon), both with gaps: together they exercise every ladder level.
DATASETS = {
    "1m": ("1m", 30 * 1440, dt.datetime(2025, 1, 2, 13, 7, tzinfo=UTC), 1),
    "1h": ("1h", 3 * 365 * 24, dt.datetime(2021, 3, 3, 15, tzinfo=UTC), 2),
}


@pytest.fixture(scope="module", params=sorted(DATASETS))
def case(request: pytest.FixtureRequest) -> tuple[pl.DataFrame, ZoomIndex, dict[str, pl.DataFrame]]:
    step, n, start, seed = DATASETS[request.param]
    bars = _bars(step, n, start, seed)
    index = ZoomIndex(bars, extra=["signal"])
    # The reference: Polars' own group_by_dynamic, one level at a time, from the raw bars.
    refs = {
        lv.label: bars.group_by_dynamic("timestamp", every=lv.label).agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col("volume").sum(),
            pl.col("signal").last(),
        )
        for lv in index.levels
    }
    return bars, index, refs


def _assert_same(got: pl.DataFrame, ref: pl.DataFrame) -> None:
    assert got["timestamp"].to_list() == ref["timestamp"].to_list()
    for c in ("open", "high", "low", "close", "signal"):  # picked values: bit-exact
        np.testing.assert_array_equal(got[c].to_numpy(), ref[c].to_numpy(), err_msg=c)
    np.testing.assert_allclose(got["volume"].to_numpy(), ref["volume"].to_numpy(), rtol=1e-12)


def test_levels_follow_the_ladder_from_the_bar_spacing(
    case: tuple[pl.DataFrame, ZoomIndex, dict[str, pl.DataFrame]],
) -> None:
    bars, index, _ = case
    labels = [lv.label for lv in index.levels]
    base = labels[0]
    step = timeframe_duration_us(base)
    assert index.bars == bars.height
    assert labels[1:] == [
        tf
        for tf in LADDER
        if timeframe_duration_us(tf) > step and timeframe_duration_us(tf) % step == 0
    ]
    assert "1w" in labels and "52w" in labels
    for lv in index.levels:  # every level strictly coarser, sorted, no empty bucket
        assert np.all(np.diff(lv.ts) > 0)
    sizes = [lv.size for lv in index.levels]
    assert sizes == sorted(sizes, reverse=True)


def test_every_level_equals_polars_group_by_dynamic(
    case: tuple[pl.DataFrame, ZoomIndex, dict[str, pl.DataFrame]],
) -> None:
    _, index, refs = case
    for lv in index.levels:
        _assert_same(index.frame(lv, 0, lv.size), refs[lv.label])
        # weeks start on Monday 00:00 UTC
        if lv.label.endswith("w"):
            days = (lv.ts // 86_400_000_000 + 3) % 7  # 0 = Monday
            assert set(days.tolist()) == {0}


@pytest.mark.parametrize("max_candles", [7, 60, 400, 1500])
def test_random_windows_are_exact_whole_and_as_fine_as_allowed(
    case: tuple[pl.DataFrame, ZoomIndex, dict[str, pl.DataFrame]], max_candles: int
) -> None:
    bars, index, refs = case
    rng = np.random.default_rng(max_candles)
    t0, t1 = index.start_us, index.end_us
    span = t1 - t0
    order = [lv.label for lv in index.levels]
    raw_ts = bars["timestamp"].dt.epoch("us").to_numpy()
    for _ in range(60):
        # ranges from a few bars to more than the data, partly outside it
        width = int(span * 10 ** rng.uniform(-4.5, 0.1))
        start = int(rng.integers(t0 - span // 10, t1))
        end = start + max(width, 1)
        got = index.window(start, end, max_candles=max_candles)
        if got.height == 0:  # a range outside the data: no bar starts in it
            assert not ((raw_ts >= start) & (raw_ts < end)).any()
            continue
        label = got["timeframe"][0]
        dur = timeframe_duration_us(label)
        ref = refs[label]
        ref_us = ref["timestamp"].dt.epoch("us")
        overlapping = ref.filter((ref_us < end) & (ref_us + dur > start))
        _assert_same(got.drop("timeframe"), overlapping)
        assert got.height <= max_candles or label == order[-1]
        assert got["timeframe"].n_unique() <= 1
        # the finest level that fits: the next finer one would draw too many candles
        k = order.index(label)
        if k > 0:
            finer = refs[order[k - 1]]
            fd = timeframe_duration_us(order[k - 1])
            f_us = finer["timestamp"].dt.epoch("us")
            assert finer.filter((f_us < end) & (f_us + fd > start)).height > max_candles
        # the whole visible range is covered: every bar in it lies in a drawn bucket
        inside = raw_ts[(raw_ts >= start) & (raw_ts < end)]
        if label != order[0]:
            offset = 4 * 86_400_000_000 if label.endswith("w") else 0
            inside = (inside - offset) // dur * dur + offset
        drawn = got["timestamp"].dt.epoch("us").to_numpy()
        assert np.isin(inside, drawn).all()


def test_window_accepts_datetimes_and_text(
    case: tuple[pl.DataFrame, ZoomIndex, dict[str, pl.DataFrame]],
) -> None:
    _, index, _ = case
    a = index.levels[0].ts[100]
    b = index.levels[0].ts[400]
    epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
    da, db = epoch + dt.timedelta(microseconds=int(a)), epoch + dt.timedelta(microseconds=int(b))
    by_int = index.window(int(a), int(b))
    assert by_int.equals(index.window(da, db))
    assert by_int.equals(index.window(da.isoformat(), db.isoformat()))
    assert by_int.height == 300 and by_int["timeframe"][0] == index.levels[0].label


def test_irregular_unaligned_bars_group_by_their_timestamps() -> None:
    start = dt.datetime(2025, 1, 1, 0, 3, 30, tzinfo=UTC)
    bars = _bars("1m", 5000, start, 7).with_columns(
        pl.col("timestamp") + pl.duration(seconds=pl.int_range(pl.len()) % 3)
    )
    index = ZoomIndex(bars, extra=["signal"])
    assert index.levels[0].label == "58s"  # the smallest spacing
    for lv in index.levels[1:]:
        ref = bars.group_by_dynamic("timestamp", every=lv.label).agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col("volume").sum(),
            pl.col("signal").last(),
        )
        _assert_same(index.frame(lv, 0, lv.size), ref)


def _one(**overrides: object) -> pl.DataFrame:
    base = {
        "timestamp": [
            dt.datetime(2025, 1, 1, tzinfo=UTC),
            dt.datetime(2025, 1, 1, 0, 1, tzinfo=UTC),
        ],
        "open": [1.0, 2.0],
        "high": [2.0, 3.0],
        "low": [0.5, 1.5],
        "close": [1.5, 2.5],
        "volume": [1.0, 1.0],
    }
    base.update(overrides)  # type: ignore[arg-type]
    return pl.DataFrame(base)


@pytest.mark.parametrize(
    ("frame", "error", "words"),
    [
        (_one().drop("volume"), DataFormatError, "lack column(s) ['volume']"),
        (
            _one().with_columns(pl.col("timestamp").dt.replace_time_zone(None)),
            DataFormatError,
            "time zone aware",
        ),
        (_one(close=[1.0, None]), DataValidationError, "null values in column(s) ['close']"),
        (_one(symbol=["A", "B"]), DataValidationError, "2 symbols"),
        (
            _one(timestamp=[dt.datetime(2025, 1, 1, tzinfo=UTC)] * 2),
            DataValidationError,
            "duplicate timestamp 2025-01-01 00:00:00 UTC",
        ),
        (_one(open=["a", "b"]), DataFormatError, "column 'open' has type String"),
        (_one().clear(), DataValidationError, "no bars"),
    ],
    ids=["missing", "naive", "nulls", "symbols", "duplicates", "text", "empty"],
)
def test_bad_bars_raise_the_kits_errors(
    frame: pl.DataFrame, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match="ZoomIndex") as info:
        ZoomIndex(frame)
    assert words in str(info.value)


def test_empty_range_and_bad_max_candles_are_configuration_errors() -> None:
    index = ZoomIndex(_one().lazy())
    with pytest.raises(ConfigurationError, match="empty visible range"):
        index.window(10, 10)
    with pytest.raises(ConfigurationError, match="max_candles=0"):
        index.window(0, 10, max_candles=0)
    with pytest.raises(ConfigurationError, match="naive"):
        index.window(dt.datetime(2025, 1, 1), "2025-01-02")  # noqa: DTZ001
