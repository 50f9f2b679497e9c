"""The eager kernels of omni_research.bars (string views, binary-searched time cuts, fused
threshold pass, threads) against the lazy group-by path and plain-Python references."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from omni_research._segments import _bars as seg_bars
from omni_research._segments import _kernels as K
from omni_research._segments import _runs as seg_runs
from omni_research.bars import dollar_bars, resample_ohlcv, tick_bars, time_bars, volume_bars
from omni_research.testing import make_market, make_ohlcv

LONG_A = "PERP-BTC-USDT-LINEAR-2025"  # longer than 12 bytes: not inlined in the view
LONG_B = "PERP-BTC-USDT-LINEAR-2026"  # same 4-byte prefix as LONG_A
BUILDERS: list[tuple[Any, dict[str, Any]]] = [
    (time_bars, {"timeframe": "1m"}),
    (time_bars, {"timeframe": "15m"}),
    (time_bars, {"timeframe": "1w"}),
    (time_bars, {"timeframe": "3d"}),
    (tick_bars, {"ticks": 7}),
    (volume_bars, {"volume": 25.0}),
    (dollar_bars, {"notional": 2e5}),
]
START_US = 1_735_689_600_000_000  # 2025-01-01 00:00 UTC
BUILDER_IDS = ["1m", "15m", "1w", "3d", "tick", "volume", "dollar"]


def _market(symbols: tuple[str, ...] = ("BTCUSDT", "SOLUSDT"), seed: int = 3) -> pl.DataFrame:
    return make_market(symbols=symbols, days=1, seed=seed)["trades"]


def _same(fn: Any, kw: dict[str, Any], trades: pl.DataFrame) -> pl.DataFrame:
    """Eager (kernel) result, after checking it equals the lazy group-by result."""
    eager = fn(trades, **kw)
    lazy = fn(trades.lazy(), **kw).collect()
    assert_frame_equal(eager, lazy, check_exact=False, rel_tol=1e-12, abs_tol=1e-9)
    assert eager["trade_count"].sum() == trades.height
    return eager  # type: ignore[no-any-return]


def _renamed(trades: pl.DataFrame, names: dict[str, str]) -> pl.DataFrame:
    return trades.with_columns(pl.col("symbol").replace_strict(names, return_dtype=pl.String))


# --------------------------------------------------------------------------- string views


@pytest.mark.parametrize(
    "values",
    [
        ["BTCUSDT", "BTCUSDT", "ETH", "", "abcdefghijkl", "abcdefghijklm", LONG_A, LONG_B],
        [LONG_A] * 5 + ["x"],
    ],
)
def test_string_views_encode_length_and_inline_bytes(values: list[str]) -> None:
    col = pl.Series(values)
    for sliced in (col, col.slice(1), pl.concat([col.slice(0, 2), col.slice(2)], rechunk=False)):
        views = seg_runs.string_views(sliced)
        assert views is not None
        assert views.shape == (len(sliced), 2)
        for row, text in zip(views, sliced.to_list(), strict=True):
            raw = row.tobytes()
            data = text.encode()
            assert int.from_bytes(raw[:4], "little") == len(data)
            if len(data) <= 12:
                assert raw[4 : 4 + len(data)] == data
            else:
                assert raw[4:8] == data[:4]  # the prefix; the rest lives in a data buffer


def test_string_views_refuse_nulls_and_other_types() -> None:
    assert seg_runs.string_views(pl.Series(["a", None])) is None
    assert seg_runs.string_views(pl.Series([1, 2])) is None
    assert seg_runs.string_views(pl.Series([], dtype=pl.String)) is None


@pytest.mark.parametrize(
    "sides",
    [
        ["buy", "sell", "Buy", "SELL", "b", "bu", "buyx", "sel", "sells", "", "bux", "sely"],
        ["buy_order_long_text", "sell_order_long_text", "buy", "sell"],  # long, same prefix
    ],
)
def test_side_codes_are_exact_string_equality(sides: list[str]) -> None:
    col = pl.Series(sides * 3)
    code, buy_mask, buy_val, sell_mask, sell_val = seg_bars.side_codes(col)
    code = np.asarray(code, np.uint64)
    buy = (code & np.uint64(buy_mask)) == np.uint64(buy_val)
    sell = (code & np.uint64(sell_mask)) == np.uint64(sell_val)
    assert buy.tolist() == [s == "buy" for s in col.to_list()]
    assert sell.tolist() == [s == "sell" for s in col.to_list()]


@pytest.mark.parametrize("dtype", ["string_nulls", "categorical", "enum", "enum_buy_only"])
def test_side_of_other_types_splits_volume_like_the_lazy_path(dtype: str) -> None:
    trades = _market()
    side = pl.col("side")
    if dtype == "string_nulls":
        side = pl.when(pl.int_range(pl.len()) % 11 == 0).then(None).otherwise(side)
    elif dtype == "categorical":
        side = side.cast(pl.Categorical)
    elif dtype == "enum":
        side = side.cast(pl.Enum(["sell", "buy"]))
    else:  # sells become nulls of an Enum that has no "sell"
        side = side.replace_strict({"buy": "buy"}, default=None).cast(pl.Enum(["buy"]))
    trades = trades.with_columns(side.alias("side"))
    bars = _same(time_bars, {"timeframe": "5m"}, trades)
    is_buy = trades["side"].cast(pl.String) == "buy"
    is_sell = trades["side"].cast(pl.String) == "sell"
    assert bars["buy_volume"].sum() == pytest.approx(trades.filter(is_buy)["size"].sum())
    assert bars["sell_volume"].sum() == pytest.approx(trades.filter(is_sell)["size"].sum())


# --------------------------------------------------------------------------- series runs


def test_runs_of_long_strings_stored_twice_are_confirmed_on_the_text() -> None:
    # separately built Series: the same long text sits at different buffer offsets, so
    # views differ where the strings do not; the runs must still be the text's runs
    parts = [pl.Series([LONG_A] * 3), pl.Series([LONG_A] * 2), pl.Series([LONG_B] * 4)]
    col = pl.concat(parts).rechunk()
    assert seg_runs.series_first_rows(col).tolist() == [0, 5]  # type: ignore[union-attr]
    interleaved = pl.Series([LONG_A, LONG_B, LONG_A])
    assert seg_runs.series_first_rows(interleaved) is None


@pytest.mark.parametrize(
    "codes",
    [
        np.array([1, 1, 1, 2, 2, 3, 3, 3, 3, 1], np.int32),
        np.repeat(np.arange(50, dtype=np.uint32), 97),
        np.zeros(5000, np.int64),
    ],
)
def test_run_starts_match_a_python_loop(codes: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = [0] + [i for i in range(1, len(codes)) if codes[i] != codes[i - 1]]
    assert seg_runs.run_starts(codes, 1).tolist() == expected
    monkeypatch.setattr(seg_runs, "_THREAD_ROWS", 1)
    monkeypatch.setattr(seg_runs, "_WORKERS", 3)  # parts meet inside and at run edges
    assert seg_runs.run_starts(codes, 1).tolist() == expected


@pytest.mark.parametrize(("fn", "kw"), BUILDERS, ids=BUILDER_IDS)
@pytest.mark.parametrize(
    "symbols", ["long_names", "long_names_stored_twice", "categorical", "integer", "one"]
)
def test_symbol_encodings_give_the_lazy_bars(fn: Any, kw: dict[str, Any], symbols: str) -> None:
    trades = _market(("BTCUSDT", "SOLUSDT", "ETHUSDT"))
    if symbols == "long_names":
        trades = _renamed(trades, {"BTCUSDT": LONG_A, "SOLUSDT": LONG_B, "ETHUSDT": "E"})
    elif symbols == "long_names_stored_twice":
        trades = _renamed(trades, {"BTCUSDT": LONG_A, "SOLUSDT": LONG_B, "ETHUSDT": "E"})
        half = trades.height // 3  # inside the first symbol: its text is stored twice
        trades = pl.concat(
            [trades.head(half), trades.tail(trades.height - half).with_columns(
                pl.col("symbol").str.to_lowercase().str.to_uppercase())]
        )  # fmt: skip
    elif symbols == "categorical":
        trades = trades.with_columns(pl.col("symbol").cast(pl.Categorical))
    elif symbols == "integer":
        trades = trades.with_columns(pl.col("symbol").rank("dense").cast(pl.Int16))
    else:
        trades = trades.filter(pl.col("symbol") == "SOLUSDT")
    _same(fn, kw, trades)


@pytest.mark.parametrize(("fn", "kw"), BUILDERS, ids=BUILDER_IDS)
@pytest.mark.parametrize(
    "layout", ["sliced", "chunked", "unsorted_symbols", "threads", "threads_one_symbol"]
)
def test_layouts_give_the_lazy_bars(
    fn: Any, kw: dict[str, Any], layout: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    trades = _market(("BTCUSDT", "SOLUSDT", "ETHUSDT"), seed=5)
    if layout == "sliced":  # Arrow arrays with an offset
        trades = trades.slice(17, trades.height - 40)
    elif layout == "chunked":
        cut = trades.height // 2 + 3
        trades = pl.concat([trades.head(cut), trades.tail(trades.height - cut)], rechunk=False)
        assert trades["side"].n_chunks() > 1
    elif layout == "unsorted_symbols":  # symbols in blocks but not in alphabetical order
        order = {"SOLUSDT": 0, "BTCUSDT": 1, "ETHUSDT": 2}
        trades = trades.sort(pl.col("symbol").replace_strict(order), maintain_order=True)
    else:  # every kernel split over threads, parts ending inside bars and series
        monkeypatch.setattr(seg_runs, "_THREAD_ROWS", 1)
        monkeypatch.setattr(seg_runs, "_WORKERS", 3)
        if layout == "threads_one_symbol":
            trades = trades.filter(pl.col("symbol") == "ETHUSDT")
    _same(fn, kw, trades)


# --------------------------------------------------------------------------- cuts


def _grid_trades(sizes: list[float], prices: list[float] | None = None) -> pl.DataFrame:
    n = len(sizes)
    return pl.DataFrame(
        {
            "timestamp": pl.Series(START_US + np.arange(n) * 1_000_000).cast(
                pl.Datetime("us", "UTC")
            ),
            "symbol": ["X"] * n,
            "side": ["buy", "sell"] * (n // 2) + ["buy"] * (n % 2),
            "price": prices if prices is not None else [1.0] * n,
            "size": sizes,
        }
    )


@pytest.mark.parametrize("threshold", [1.0, 0.3, 0.7, 0.1])
def test_threshold_edges_match_the_lazy_cumulative_rule(threshold: float) -> None:
    """Sums of 0.1, 0.2, 0.3 land on and around bar edges with rounding: the kernel's
    shortcut window must still give floor((cum_sum - x) / threshold) to the bit."""
    rng = np.random.default_rng(11)
    sizes = rng.choice([0.1, 0.2, 0.3, 0.7, 1.0], 3000).tolist()
    trades = _grid_trades(sizes)
    bars = _same(volume_bars, {"volume": threshold}, trades)
    cum, ids = 0.0, []
    for x in sizes:  # the documented rule, in plain Python floats
        cum += x
        ids.append(int(np.floor((cum - x) * (1.0 / threshold))))
    expected = pl.Series(ids).value_counts(sort=False).sort("")
    assert bars["trade_count"].to_list() == expected["count"].to_list()
    assert bars["bar_id"].to_list() == expected[""].to_list()
    prices = rng.choice([0.5, 1.5, 3.0], 3000).tolist()
    _same(dollar_bars, {"notional": threshold}, _grid_trades(sizes, prices))


def test_threshold_kernel_reports_when_its_outputs_are_full() -> None:
    size = np.full(10, 1.0)
    first, key, out = np.empty(2, np.int64), np.empty(2, np.int64), np.empty((2, 8))
    args = (K.MODE_VOLUME, np.zeros(1, np.int64), size, size, np.zeros(10, np.uint8))
    masks = (np.uint64(255), np.uint64(1), np.uint64(255), np.uint64(2))
    assert K.threshold_bars(*args, *masks, 1.0, first, key, out) == -2
    first, key, out = np.empty(10, np.int64), np.empty(10, np.int64), np.empty((10, 8))
    assert K.threshold_bars(*args, *masks, 1.0, first, key, out) == 10
    assert first.tolist() == list(range(10))


@pytest.mark.parametrize("timeframe", ["1m", "1h", "1d", "1w"])
def test_time_cuts_before_1970_sparse_and_with_gaps(timeframe: str) -> None:
    rng = np.random.default_rng(2)
    dense = np.sort(rng.integers(-3 * 86_400_000_000, 3 * 86_400_000_000, 20_000))
    sparse = np.sort(rng.integers(0, 400 * 86_400_000_000, 300))  # edges outnumber rows
    for ts in (dense, sparse):
        trades = pl.DataFrame(
            {
                "timestamp": pl.Series(ts).cast(pl.Datetime("us", "UTC")),
                "symbol": "X",
                "side": np.where(rng.random(len(ts)) < 0.5, "buy", "sell"),
                "price": rng.uniform(1, 2, len(ts)),
                "size": rng.uniform(0, 1, len(ts)),
            }
        )
        bars = _same(time_bars, {"timeframe": timeframe}, trades)
        truncated = trades["timestamp"].dt.truncate(timeframe).unique().sort()
        assert bars["timestamp"].to_list() == truncated.to_list()


def test_time_goes_back_takes_the_lazy_path_for_time_bars_only() -> None:
    trades = _market(("BTCUSDT",))
    swapped = list(range(trades.height))
    swapped[50], swapped[51] = 51, 50
    trades = trades[swapped]
    assert seg_bars.trade_segments(trades, by="symbol", bucket="1m", threshold=None) is None
    # threshold bars follow row order, so the kernel keeps them (and agrees with lazy)
    by_volume = seg_bars.trade_segments(
        trades, by="symbol", bucket=None, threshold=("volume", 10.0)
    )
    assert by_volume is not None
    _same(volume_bars, {"volume": 10.0}, trades)
    _same(time_bars, {"timeframe": "1m"}, trades)


# --------------------------------------------------------------------------- resampling


@pytest.mark.parametrize("timeframe", ["2m", "5m", "1h", "1d", "3d"])
@pytest.mark.parametrize("layout", ["long_names", "categorical", "time_goes_back", "threads"])
def test_resample_kernel_equals_lazy(
    timeframe: str, layout: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    m1 = make_ohlcv(symbols=("BTCUSDT", "ETHUSDT"), n=2 * 1440 + 7, seed=4)
    m1 = m1.filter(pl.int_range(pl.len()).over("symbol") % 53 != 7)  # holes
    if layout == "long_names":
        m1 = _renamed(m1, {"BTCUSDT": LONG_A, "ETHUSDT": LONG_B})
    elif layout == "categorical":
        m1 = m1.with_columns(pl.col("symbol").cast(pl.Categorical))
    elif layout == "time_goes_back":
        order = list(range(m1.height))
        order[30], order[31] = 31, 30
        m1 = m1[order]
        assert seg_bars.ohlcv_segments(m1, by="symbol", every=timeframe) is None
    else:
        monkeypatch.setattr(seg_runs, "_THREAD_ROWS", 1)
        monkeypatch.setattr(seg_runs, "_WORKERS", 3)
    eager = resample_ohlcv(m1, timeframe=timeframe)
    lazy = resample_ohlcv(m1.lazy(), timeframe=timeframe).collect()
    assert_frame_equal(eager, lazy, check_exact=False, rel_tol=1e-12)
    assert eager["volume"].sum() == pytest.approx(m1["volume"].sum())
