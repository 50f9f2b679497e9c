"""omni_research.bars: hand-computed cases, independent re-computations and properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from omni_research.bars import (
    align_timeframes,
    dollar_bars,
    resample_ohlcv,
    tick_bars,
    time_bars,
    timeframe_duration_us,
    volume_bars,
)
from omni_research.exceptions import ConfigurationError, DataFormatError
from omni_research.testing import make_market, make_ohlcv

T0 = datetime(2025, 1, 6, tzinfo=UTC)
LAZY = pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])


def _run(frame: Any, lazy: bool, fn: Any, **kw: Any) -> pl.DataFrame:
    out = fn(frame.lazy() if lazy else frame, **kw)
    assert isinstance(out, pl.LazyFrame if lazy else pl.DataFrame)
    return out.collect() if lazy else out  # type: ignore[no-any-return]


def _trades(rows: list[tuple[float, str, str, float, float]]) -> pl.DataFrame:
    """rows of (seconds after T0, symbol, side, price, size)."""
    return pl.DataFrame(
        {
            "timestamp": [T0 + timedelta(seconds=r[0]) for r in rows],
            "symbol": [r[1] for r in rows],
            "trade_id": [f"t{i}" for i in range(len(rows))],
            "side": [r[2] for r in rows],
            "price": [r[3] for r in rows],
            "size": [r[4] for r in rows],
        },
        schema_overrides={"timestamp": pl.Datetime("us", "UTC")},
    )


SMALL = _trades(
    [
        (1, "BTC", "buy", 100.0, 1.0),
        (20, "BTC", "sell", 102.0, 2.0),
        (59.999999, "BTC", "buy", 99.0, 3.0),
        (60, "BTC", "sell", 101.0, 4.0),
        (150, "BTC", "buy", 105.0, 1.0),
        (5, "ETH", "sell", 10.0, 10.0),
    ]
)


@LAZY
def test_time_bars_hand_computed(lazy: bool) -> None:
    bars = _run(SMALL, lazy, time_bars, timeframe="1m")
    assert bars.columns == [
        "timestamp", "symbol", "timeframe", "open", "high", "low", "close", "volume",
        "turnover", "trade_count", "vwap", "buy_volume", "sell_volume",
    ]  # fmt: skip
    first = bars.row(0, named=True)
    assert first == {
        "timestamp": T0,
        "symbol": "BTC",
        "timeframe": "1m",
        "open": 100.0,
        "high": 102.0,
        "low": 99.0,
        "close": 99.0,
        "volume": 6.0,
        "turnover": 100.0 + 204.0 + 297.0,
        "trade_count": 3,
        "vwap": 601.0 / 6.0,
        "buy_volume": 4.0,
        "sell_volume": 2.0,
    }
    # the minute 00:01 has one trade at exactly 60 s; 00:02 has one; no bar for empty minutes
    assert bars["timestamp"].to_list() == [
        T0,
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=2),
        T0,
    ]
    assert bars["symbol"].to_list() == ["BTC", "BTC", "BTC", "ETH"]
    assert bars.filter(pl.col("symbol") == "ETH")["sell_volume"].to_list() == [10.0]


def test_time_bars_from_data_test_trades_equal_shipped_1m_bars() -> None:
    import omni_research as omr

    catalog = omr.open_catalog()
    shipped = catalog.load("ohlcv")
    built = time_bars(catalog.scan("trades"), timeframe="1m").collect()
    assert shipped.height > 20_000
    assert_frame_equal(built.select(shipped.columns), shipped, check_exact=False, rel_tol=1e-12)
    # the in-memory kernel and the streaming engine build the same bars
    eager = time_bars(catalog.load("trades"), timeframe="1m")
    assert_frame_equal(eager.select(shipped.columns), shipped, check_exact=False, rel_tol=1e-12)
    streamed = time_bars(catalog.scan("trades"), timeframe="1m").collect(engine="streaming")
    assert_frame_equal(streamed, built, check_exact=False, rel_tol=1e-12)
    # and the extra columns hold together on the real data
    assert_frame_equal(
        built.select((pl.col("buy_volume") + pl.col("sell_volume")).alias("volume")),
        built.select("volume"),
        rel_tol=1e-12,
    )
    assert built.filter(
        (pl.col("vwap") < pl.col("low") * (1 - 1e-12))
        | (pl.col("vwap") > pl.col("high") * (1 + 1e-12))
    ).is_empty()


def _pandas_resample(m1: pl.DataFrame, rule: str) -> pl.DataFrame:
    """The independent way: pandas resample per symbol (weeks anchored on Monday)."""
    pdf = m1.to_pandas()
    out = []
    for symbol, group in pdf.groupby("symbol"):
        g = group.set_index("timestamp")
        kw: dict[str, Any] = {"label": "left", "closed": "left"}
        r = g.resample(rule, **kw).agg(
            {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum",
             "turnover": "sum", "trade_count": "sum"}
        )  # fmt: skip
        r = r[g.resample(rule, **kw)["open"].count() > 0]
        r["symbol"] = symbol
        out.append(r.reset_index())
    df = pl.from_pandas(pd.concat(out))
    return df.with_columns(
        pl.col("timestamp").dt.cast_time_unit("us"), pl.col("trade_count").cast(pl.Int64)
    ).select("timestamp", "symbol", "open", "high", "low", "close", "volume", "turnover",
             "trade_count")  # fmt: skip


@LAZY
@pytest.mark.parametrize(
    ("timeframe", "rule"),
    [("5m", "5min"), ("15m", "15min"), ("1h", "1h"), ("4h", "4h"), ("1d", "1D"), ("1w", "W-MON")],
)
def test_resample_equals_pandas_resample(lazy: bool, timeframe: str, rule: str) -> None:
    m1 = make_ohlcv(symbols=("BTCUSDT", "ETHUSDT"), n=3 * 1440 + 77, seed=3)
    ours = _run(m1, lazy, resample_ohlcv, timeframe=timeframe)
    if rule == "W-MON":
        # pandas' W-MON bins are labelled by their Monday end; aggregate by hand instead:
        # the 3 days from Monday 2025-01-06 make one Monday-started week per symbol
        expected = (
            m1.group_by("symbol", maintain_order=True)
            .agg(
                pl.col("open").first(),
                pl.col("high").max(),
                pl.col("low").min(),
                pl.col("close").last(),
                pl.col("volume").sum(),
                pl.col("turnover").sum(),
                pl.col("trade_count").sum(),
                pl.col("timestamp").min(),
            )
            .select(
                "timestamp",
                "symbol",
                "open",
                "high",
                "low",
                "close",
                "volume",
                "turnover",
                "trade_count",
            )
        )
        # 2025-01-06 is a Monday and 3 days fit in one week: one weekly bar per symbol
        assert expected["timestamp"].to_list() == [T0, T0]
    else:
        expected = _pandas_resample(m1, rule)
    assert_frame_equal(ours.select(expected.columns), expected, check_exact=False, rel_tol=1e-12)
    assert ours["timeframe"].unique().to_list() == [timeframe]


@pytest.mark.parametrize(("n", "flags"), [(90, [False, True]), (120, [False, False])])
def test_resample_flags_partial_last_bar(n: int, flags: list[bool]) -> None:
    out = resample_ohlcv(make_ohlcv(symbols=("BTCUSDT", "SOLUSDT"), n=n), timeframe="1h")
    assert out["is_partial"].to_list() == flags + flags


def test_resample_empty_intervals_absent_or_forward_filled() -> None:
    m1 = make_ohlcv(n=60 * 5)
    holed = m1.filter(~pl.col("timestamp").dt.hour().is_in([1, 2]))  # two empty hours
    absent = resample_ohlcv(holed, timeframe="1h")
    assert absent["timestamp"].dt.hour().to_list() == [0, 3, 4]
    filled = resample_ohlcv(holed.lazy(), timeframe="1h", fill="forward").collect()
    assert filled["timestamp"].dt.hour().to_list() == [0, 1, 2, 3, 4]
    assert filled["is_filled"].to_list() == [False, True, True, False, False]
    prev_close = absent["close"][0]
    for row in filled.filter("is_filled").iter_rows(named=True):
        assert (row["open"], row["high"], row["low"], row["close"]) == (prev_close,) * 4
        assert (row["volume"], row["turnover"], row["trade_count"]) == (0.0, 0.0, 0)
    assert_frame_equal(
        filled.filter(~pl.col("is_filled")).drop("is_filled"), absent.drop("is_filled")
    )


def test_resample_needs_source_timeframe_without_column() -> None:
    with pytest.raises(ConfigurationError, match="source_timeframe"):
        resample_ohlcv(make_ohlcv(n=10).drop("timeframe"), timeframe="1h")
    out = resample_ohlcv(make_ohlcv(n=90).drop("timeframe"), timeframe="1h", source_timeframe="1m")
    assert out["is_partial"].to_list() == [False, True]


def test_bad_timeframe_and_missing_columns_raise() -> None:
    with pytest.raises(ConfigurationError, match="'1mo' is not understood"):
        resample_ohlcv(make_ohlcv(n=10), timeframe="1mo")
    with pytest.raises(DataFormatError, match=r"missing column\(s\) \['side'\]"):
        time_bars(SMALL.drop("side"))
    assert timeframe_duration_us("4h") == 4 * 3600 * 10**6


# --------------------------------------------------------------------------- threshold bars


def _loop_bars(trades: pl.DataFrame, measure: str, threshold: float) -> list[tuple[str, int, int]]:
    """Independent plain-Python loop: (symbol, first row, last row) of each bar.

    A bar ends at the trade after which the cumulative measure crosses the next multiple of
    the threshold (the grid rule); the overshoot stays counted in the cumulative sum.
    """
    out = []
    for symbol in trades["symbol"].unique(maintain_order=True).to_list():
        rows = trades.filter(pl.col("symbol") == symbol).to_dicts()
        start, acc, edge = 0, 0.0, threshold
        for i, r in enumerate(rows):
            acc += {"tick": 1.0, "volume": r["size"], "dollar": r["price"] * r["size"]}[measure]
            if acc >= edge:
                out.append((symbol, start, i))
                start = i + 1
                while edge <= acc:
                    edge += threshold
        if start < len(rows):
            out.append((symbol, start, len(rows) - 1))
    return out


@LAZY
@pytest.mark.parametrize(
    ("fn", "measure", "kw", "threshold"),
    [
        (tick_bars, "tick", "ticks", 7),
        (volume_bars, "volume", "volume", 25.0),
        (dollar_bars, "dollar", "notional", 2_000_000.0),
    ],
)
def test_threshold_bars_match_plain_loop(
    lazy: bool, fn: Any, measure: str, kw: str, threshold: float
) -> None:
    trades = make_market(symbols=("ETHUSDT", "SOLUSDT"), days=1, seed=5)["trades"].head(3000)
    bars = _run(trades, lazy, fn, **{kw: threshold})
    expected = _loop_bars(trades, measure, threshold)
    assert bars.height == len(expected)
    for row, (symbol, lo, hi) in zip(bars.iter_rows(named=True), expected, strict=True):
        chunk = trades.filter(pl.col("symbol") == symbol).slice(lo, hi - lo + 1)
        assert row["symbol"] == symbol
        assert row["trade_count"] == chunk.height
        assert row["open"] == chunk["price"][0] and row["close"] == chunk["price"][-1]
        assert row["timestamp"] == chunk["timestamp"][0]
        assert row["end_timestamp"] == chunk["timestamp"][-1]
        assert row["volume"] == pytest.approx(chunk["size"].sum(), rel=1e-12)
    # sums are preserved per symbol, and only the last bar of a symbol may be short
    per_symbol = bars.group_by("symbol").agg(pl.col("volume").sum(), pl.col("trade_count").sum())
    totals = trades.group_by("symbol").agg(pl.col("size").sum(), pl.len())
    joined = per_symbol.join(totals, on="symbol")
    assert joined.filter((pl.col("volume") - pl.col("size")).abs() > 1e-9).is_empty()
    assert (joined["trade_count"] == joined["len"]).all()
    short = bars.filter(pl.col("is_partial"))
    assert short.group_by("symbol").len()["len"].max() == 1


def test_volume_bars_hand_computed() -> None:
    # sizes 1, 2, 3, 4, 1 with a 4-unit bar: [1, 2, 3] (6 >= 4), [4] (4), [1] partial
    trades = _trades([(i, "X", "buy", 100.0 + i, s) for i, s in enumerate([1.0, 2, 3, 4, 1])])
    bars = volume_bars(trades, volume=4.0)
    assert bars["volume"].to_list() == [6.0, 4.0, 1.0]
    assert bars["bar_id"].to_list() == [0, 1, 2]
    assert bars["is_partial"].to_list() == [False, False, True]
    assert bars["vwap"][0] == pytest.approx((100 * 1 + 101 * 2 + 102 * 3) / 6)


def test_threshold_bars_reject_non_positive_threshold() -> None:
    with pytest.raises(ConfigurationError, match="ticks must be a positive integer"):
        tick_bars(SMALL, ticks=0)
    with pytest.raises(ConfigurationError, match="must be positive"):
        volume_bars(SMALL, volume=-1.0)


# --------------------------------------------------------------------------- alignment


@LAZY
def test_align_hand_computed_close_time_semantics(lazy: bool) -> None:
    m1 = make_ohlcv(symbols=("BTCUSDT", "ETHUSDT"), n=180)
    h1 = resample_ohlcv(m1, timeframe="1h")
    frame = m1.lazy() if lazy else m1
    out = align_timeframes(frame, h1, columns=["close"], higher_timeframe="1h")
    out = out.collect() if isinstance(out, pl.LazyFrame) else out
    assert out.height == m1.height
    assert_frame_equal(out.select(m1.columns), m1)  # original rows, original order
    btc = out.filter(pl.col("symbol") == "BTCUSDT")
    h_btc = h1.filter(pl.col("symbol") == "BTCUSDT")
    # minute 00:58 closes at 00:59: no hourly bar has closed yet
    assert btc["close_1h"][58] is None
    # minute 00:59 closes at 01:00, exactly when the 00:00 hour closes
    assert btc["close_1h"][59] == h_btc["close"][0]
    assert btc["timestamp_1h"][59] == T0
    # minutes 01:00..01:58 still see the 00:00 hour, 01:59 sees the 01:00 hour
    assert btc["close_1h"][60:119].unique().to_list() == [h_btc["close"][0]]
    assert btc["close_1h"][119] == h_btc["close"][1]


def test_align_never_sees_the_still_open_higher_bar() -> None:
    m1 = make_ohlcv(symbols=("BTCUSDT",), n=240, seed=11)
    h1 = resample_ohlcv(m1, timeframe="1h").with_columns(
        sma2=pl.col("close").rolling_mean(2).over("symbol")
    )
    base = align_timeframes(m1, h1, columns=["close", "sma2"], higher_timeframe="1h")
    # change everything about the hour 02:00-03:00 (its bar and its indicator)
    changed_h1 = h1.with_columns(
        pl.when(pl.col("timestamp").dt.hour() == 2)
        .then(pl.col(c) * 10)
        .otherwise(pl.col(c))
        .alias(c)
        for c in ("close", "sma2")
    )
    changed = align_timeframes(m1, changed_h1, columns=["close", "sma2"], higher_timeframe="1h")
    close_of_open_bar = T0 + timedelta(hours=3)
    known_at = pl.col("timestamp") + pl.duration(minutes=1)
    before = base.filter(known_at < close_of_open_bar)
    assert before.height == 179
    assert_frame_equal(changed.filter(known_at < close_of_open_bar), before)
    # the change does show from the moment the bar has closed: the test could fail
    after = changed.filter(known_at >= close_of_open_bar)
    assert not after["close_1h"].equals(base.filter(known_at >= close_of_open_bar)["close_1h"])


def test_align_recomputed_higher_bars_never_leak_lower_future() -> None:
    """Changing minute k changes no attached value on a row known before minute k's hour closes."""
    m1 = make_ohlcv(n=240, seed=2)
    k = 150  # 02:30
    bumped = m1.with_columns(
        pl.when(pl.int_range(pl.len()) == k).then(pl.col(c) * 1.5).otherwise(pl.col(c)).alias(c)
        for c in ("high", "close")
    )
    a = align_timeframes(m1, resample_ohlcv(m1, timeframe="1h"), higher_timeframe="1h")
    b = align_timeframes(bumped, resample_ohlcv(bumped, timeframe="1h"), higher_timeframe="1h")
    attached = [c for c in a.columns if c.endswith("_1h")]
    assert_frame_equal(a[:179].select(attached), b[:179].select(attached))
    assert not a[179:].select(attached).equals(b[179:].select(attached))


def test_align_trades_see_bars_closed_at_or_before_them() -> None:
    m1 = make_ohlcv(n=120)
    h1 = resample_ohlcv(m1, timeframe="1h")
    events = pl.DataFrame(
        {
            "timestamp": [T0 + timedelta(minutes=59, seconds=59), T0 + timedelta(hours=1)],
            "symbol": ["BTCUSDT", "BTCUSDT"],
        },
        schema_overrides={"timestamp": pl.Datetime("us", "UTC")},
    )
    out = align_timeframes(events, h1, columns=["close"], higher_timeframe="1h", suffix="_h")
    assert out["close_h"].to_list() == [None, h1["close"][0]]


def test_align_without_higher_timeframe_raises() -> None:
    m1 = make_ohlcv(n=60)
    with pytest.raises(ConfigurationError, match="higher_timeframe"):
        align_timeframes(m1, m1.drop("timeframe"))


# --------------------------------------------------------------------------- fast path


@pytest.mark.parametrize("layout", ["by_symbol", "interleaved", "time_goes_back"])
@pytest.mark.parametrize(
    ("fn", "kw"),
    [
        (time_bars, {"timeframe": "1m"}),
        (time_bars, {"timeframe": "1w"}),
        (time_bars, {"timeframe": "3d"}),
        (tick_bars, {"ticks": 13}),
        (volume_bars, {"volume": 40.0}),
        (dollar_bars, {"notional": 5e5}),
    ],
)
def test_eager_fast_path_equals_lazy_group_by(fn: Any, kw: dict[str, Any], layout: str) -> None:
    """The in-memory kernel and the streaming-friendly group-by give the same bars."""
    trades = make_market(symbols=("BTCUSDT", "SOLUSDT"), days=2, seed=9)["trades"]
    if layout == "interleaved":  # sorted by time across symbols: the kernel must step aside
        trades = trades.sort("timestamp", maintain_order=True)
    if layout == "time_goes_back":  # two rows swapped inside a symbol: not the catalog order
        order = list(range(trades.height))
        order[100], order[101] = 101, 100
        trades = trades[order]
    eager = fn(trades, **kw)
    lazy = fn(trades.lazy(), **kw).collect()
    assert_frame_equal(eager, lazy, check_exact=False, rel_tol=1e-12)
    assert eager["trade_count"].sum() == trades.height


@pytest.mark.parametrize("timeframe", ["5m", "1h", "1d", "1w", "3d"])
def test_resample_fast_path_equals_lazy_group_by(timeframe: str) -> None:
    m1 = make_ohlcv(symbols=("BTCUSDT", "ETHUSDT"), n=4 * 1440 + 13, seed=8)
    m1 = m1.filter(pl.int_range(pl.len()).over("symbol") % 97 != 5)  # holes
    eager = resample_ohlcv(m1, timeframe=timeframe)
    lazy = resample_ohlcv(m1.lazy(), timeframe=timeframe).collect()
    assert_frame_equal(eager, lazy, check_exact=False, rel_tol=1e-12)


def test_empty_inputs_give_empty_frames_with_the_columns() -> None:
    trades = SMALL.head(0)
    assert time_bars(trades).columns == time_bars(SMALL).columns
    assert volume_bars(trades, volume=1.0).height == 0
    empty_m1 = make_ohlcv(n=10).head(0)
    out = resample_ohlcv(empty_m1, timeframe="1h", fill="forward")
    assert out.height == 0
    assert out.columns == resample_ohlcv(make_ohlcv(n=10), timeframe="1h").columns
