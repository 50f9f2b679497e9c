"""The ``by=`` fast paths give exactly what ``.over(by)`` gives.

``by=`` on the kernel-backed functions runs one kernel call per group on contiguous slices
(`omni_research._segments.run_segmented`); `add_all_ta_features(by=...)` runs one plain
query per group.
Both must equal the general ``.over`` path bit for bit: on groups of unequal lengths, a
single-row group, groups shorter than the warm-up, nulls inside a group, rows interleaved
by time, several key columns, null keys and an empty frame.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from omni_research import indicators as ind
from omni_research._segments import group_segments
from omni_research.indicators import _all

from .conftest import random_walk_ohlcv


def _params(func: Any) -> set[str]:
    try:
        return set(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        return set()


BY_FUNCTIONS: list[tuple[str, Callable[..., pl.Expr]]] = [
    (name, getattr(ind, name))
    for name in ind.__all__
    if name != "add_all_ta_features" and "by" in _params(getattr(ind, name))
]


def _panel(lengths: dict[str, int], *, with_nulls: bool = True) -> pl.DataFrame:
    parts = []
    for k, (sym, n) in enumerate(lengths.items()):
        part = random_walk_ohlcv(40 + k, n).with_columns(
            pl.lit(sym).alias("symbol"),
            pl.lit(k % 2).alias("venue"),
            pl.int_range(pl.len()).alias("t"),
        )
        parts.append(part)
    panel = pl.concat(parts)
    if with_nulls:
        # a missing close and a missing volume inside the longer groups
        row = pl.int_range(pl.len())
        panel = panel.with_columns(
            pl.when(row.is_in([57, 58, 301])).then(None).otherwise(pl.col("close")).alias("close"),
            pl.when(row == 420).then(None).otherwise(pl.col("volume")).alias("volume"),
        )
    return panel


LENGTHS = {"AAA": 260, "BBB": 1, "CCC": 30, "DDD": 200, "EEE": 2}
EQUAL = {"AAA": 70, "BBB": 70, "CCC": 70}
PANELS = {
    "contiguous": _panel(LENGTHS),
    "interleaved": _panel(LENGTHS).sort("t", "symbol"),
    "no_nulls": _panel(LENGTHS, with_nulls=False).sort("t", "symbol"),
    "empty": _panel(LENGTHS).head(0),
    # every timestamp lists the same symbols in the same order: the strided layout
    "strided": _panel(EQUAL).sort("t", "symbol"),
    # the same with one symbol missing at three timestamps (the row count still divides by
    # the symbol count): the layout check must fail and the general search take over
    "strided_gap": _panel(EQUAL)
    .filter(~((pl.col("symbol") == "BBB") & pl.col("t").is_in([10, 11, 40])))
    .sort("t", "symbol"),
    # the last timestamp lacks a symbol: the row count does not divide
    "strided_short": _panel(EQUAL).sort("t", "symbol").head(-1),
}


@pytest.mark.parametrize("kind", ["eager", "lazy"])
@pytest.mark.parametrize("panel_name", list(PANELS))
@pytest.mark.parametrize(("name", "func"), BY_FUNCTIONS, ids=[n for n, _ in BY_FUNCTIONS])
def test_by_equals_over(
    name: str,
    func: Callable[..., pl.Expr],
    panel_name: str,
    kind: str,
    run_select: Callable[..., pl.DataFrame],
) -> None:
    panel = PANELS[panel_name]
    fast = run_select(panel, [func(by="symbol")], kind)
    general = run_select(panel, [func().over("symbol")], kind)
    assert_frame_equal(fast, general, check_exact=True)
    if panel.height:
        # and it is not the ungrouped result (the groups really restart the kernel)
        assert not fast.equals(panel.select(func()))


@pytest.mark.parametrize("panel_name", ["interleaved", "strided", "strided_gap"])
@pytest.mark.parametrize(("name", "func"), BY_FUNCTIONS, ids=[n for n, _ in BY_FUNCTIONS])
def test_by_integer_keys_equal_over(
    name: str, func: Callable[..., pl.Expr], panel_name: str
) -> None:
    # an integer symbol id takes the integer-code search (strided or counting sort)
    panel = PANELS[panel_name].with_columns(
        pl.col("symbol").rank("dense").cast(pl.Int32).alias("sid") * 1000 - 7
    )
    fast = panel.select(func(by="sid"))
    general = panel.select(func().over("sid"))
    assert_frame_equal(fast, general, check_exact=True)


def test_group_segments_strided_layout_and_its_fallbacks() -> None:
    for name in ("strided", "strided_gap", "strided_short", "interleaved"):
        key = PANELS[name].get_column("symbol")
        order, bounds = group_segments([key])
        assert order is not None
        # a stable permutation listing each symbol's rows in order, symbols by first row
        firsts = list(dict.fromkeys(key.to_list()))
        expected = [i for sym in firsts for i, v in enumerate(key.to_list()) if v == sym]
        assert order.tolist() == expected
        sizes = [key.to_list().count(sym) for sym in firsts]
        assert bounds == [0, *itertools.accumulate(sizes)]


@pytest.mark.parametrize(("name", "func"), BY_FUNCTIONS, ids=[n for n, _ in BY_FUNCTIONS])
def test_by_several_keys_and_null_keys_equal_over(name: str, func: Callable[..., pl.Expr]) -> None:
    panel = PANELS["interleaved"].with_columns(
        pl.when(pl.col("symbol") == "CCC").then(None).otherwise(pl.col("symbol")).alias("symbol")
    )
    for by in (["symbol", "venue"], "symbol", ["venue"]):
        fast = panel.select(func(by=by))
        general = panel.select(func().over(by))
        assert_frame_equal(fast, general, check_exact=True)


def test_by_functions_cover_the_benchmarked_indicators() -> None:
    names = {n for n, _ in BY_FUNCTIONS}
    wanted = {
        "sma_indicator",
        "ema_indicator",
        "rsi",
        "macd",
        "macd_all",
        "macd_signal",
        "macd_diff",
        "bollinger_hband",
        "bollinger_mavg",
        "bollinger_lband",
        "bollinger_bands",
        "average_true_range",
        "adx",
        "adx_all",
        "adx_pos",
        "adx_neg",
        "on_balance_volume",
    }
    assert wanted <= names


def test_group_segments_contiguous_needs_no_permutation() -> None:
    keys = pl.Series(["a", "a", "b", None, None, "c"])
    order, bounds = group_segments([keys])
    assert order is None
    assert bounds == [0, 2, 3, 5, 6]


def test_group_segments_interleaved_is_a_stable_permutation() -> None:
    keys = pl.Series(["a", "b", "a", None, "b", None, "a"])
    order, bounds = group_segments([keys])
    assert order is not None
    assert order.tolist() == [0, 2, 6, 1, 4, 3, 5]  # first-appearance order, rows in order
    assert bounds == [0, 3, 5, 7]


def _each_symbol_alone(panel: pl.DataFrame) -> pl.DataFrame:
    # the reference: every symbol through the ungrouped path, put back in the panel's order
    indexed = panel.with_row_index("row")
    parts = [
        ind.add_all_ta_features(part.drop("row")).with_columns(part["row"])
        for part in indexed.partition_by("symbol", maintain_order=True)
    ]
    return pl.concat(parts).sort("row").drop("row")


@pytest.mark.parametrize("kind", ["eager", "lazy"])
@pytest.mark.parametrize("panel_name", ["contiguous", "interleaved"])
def test_add_all_per_group_slices_equal_each_symbol_alone_and_over(
    panel_name: str, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = PANELS[panel_name]
    frame: pl.DataFrame | pl.LazyFrame = panel if kind == "eager" else panel.lazy()

    def run() -> pl.DataFrame:
        out = ind.add_all_ta_features(frame, by="symbol")
        return out.collect() if isinstance(out, pl.LazyFrame) else out

    monkeypatch.setattr(_all, "_MIN_ROWS_PER_GROUP", 0)  # one query per group
    sliced = run()
    monkeypatch.setattr(_all, "_MIN_ROWS_PER_GROUP", 10**9)  # every feature .over("symbol")
    over = run()
    # bit for bit what each symbol gives alone (rows stay where they were)
    assert_frame_equal(sliced, _each_symbol_alone(panel), check_exact=True)
    # Polars' own rolling sums round differently under .over (by ~1e-14): same nulls, and
    # values equal to 1e-12 of each column's scale
    for col in ind.TA_FEATURE_COLUMNS:
        a, b = sliced[col].fill_nan(None), over[col].fill_nan(None)
        assert a.is_null().equals(b.is_null()), col
        scale = max(float(b.abs().max() or 0.0), 1.0)  # type: ignore[arg-type]
        diff = (a - b).abs().max()
        assert diff is None or float(diff) <= 1e-12 * scale, col  # type: ignore[arg-type]
    # and the groups matter: computed without by, a symbol after another differs
    plain = ind.add_all_ta_features(panel)
    assert not np.array_equal(
        plain["trend_ema_slow"].fill_null(-1.0).to_numpy(),
        sliced["trend_ema_slow"].fill_null(-1.0).to_numpy(),
    )


def test_add_all_by_on_empty_frame_keeps_the_schema() -> None:
    panel = PANELS["empty"]
    out = ind.add_all_ta_features(panel, by="symbol")
    assert out.height == 0
    assert out.columns == [*panel.columns, *ind.TA_FEATURE_COLUMNS]


def test_bollinger_functions_share_one_pass_without_stale_results() -> None:
    # the seven functions reuse one kernel result within a query; a second frame of the same
    # length (and the same frame with other groups) must get its own values
    a = random_walk_ohlcv(7, 300)
    b = random_walk_ohlcv(8, 300)
    names = ["mavg", "hband", "lband", "wband", "pband", "hband_indicator", "lband_indicator"]
    for frame in (a, b, a):
        together = frame.select(getattr(ind, f"bollinger_{n}")() for n in names)
        for n in names:
            alone = frame.select(getattr(ind, f"bollinger_{n}")())
            assert_frame_equal(together.select(f"bollinger_{n}"), alone, check_exact=True)
        bands = frame.select(ind.bollinger_bands().struct.unnest())
        for n in names:
            assert together[f"bollinger_{n}"].equals(bands[n].alias(f"bollinger_{n}"))
    assert not a.select(ind.bollinger_hband()).equals(b.select(ind.bollinger_hband()))
    panel = pl.concat([a.with_columns(symbol=pl.lit("A")), b.with_columns(symbol=pl.lit("B"))])
    regrouped = panel.with_columns(symbol=(pl.int_range(pl.len()) % 2).cast(pl.String))
    for frame in (panel, regrouped, panel):
        fast = frame.select(ind.bollinger_hband(by="symbol"), ind.bollinger_lband(by="symbol"))
        general = frame.select(
            ind.bollinger_hband().over("symbol"), ind.bollinger_lband().over("symbol")
        )
        assert_frame_equal(fast, general, check_exact=True)


def test_shared_bollinger_pass_on_chunked_panels_is_never_stale() -> None:
    # two panels with identical chunk and group sizes but different prices, in turn: each
    # gets its own values (the shared result is keyed by the chunks' buffers)
    def panel(seed: int) -> pl.DataFrame:
        parts = [
            random_walk_ohlcv(seed + k, 150).with_columns(symbol=pl.lit(f"S{k}")) for k in range(3)
        ]
        return pl.concat(parts, rechunk=False)

    p1, p2 = panel(60), panel(70)
    assert p1["close"].n_chunks() == 3
    for frame in (p1, p2, p1, p2.rechunk()):
        for by in ("symbol", None):
            fast = frame.select(
                ind.bollinger_hband(by=by), ind.bollinger_mavg(by=by), ind.bollinger_pband(by=by)
            )
            general = frame.select(
                e.over("symbol")
                for e in (ind.bollinger_hband(), ind.bollinger_mavg(), ind.bollinger_pband())
            )
            if by is None:
                general = frame.select(
                    ind.bollinger_hband(), ind.bollinger_mavg(), ind.bollinger_pband()
                )
            assert_frame_equal(fast, general, check_exact=True)


@pytest.mark.parametrize(("name", "func"), BY_FUNCTIONS, ids=[n for n, _ in BY_FUNCTIONS])
def test_by_with_chunks_straddling_groups_equals_over(
    name: str, func: Callable[..., pl.Expr]
) -> None:
    # groups inside one chunk are read as views, groups spanning chunks from a copy: both
    whole = PANELS["contiguous"].rechunk()
    cuts = [0, 77, 277, 300, 491, whole.height]
    panel = pl.concat([whole.slice(a, b - a) for a, b in itertools.pairwise(cuts)], rechunk=False)
    assert panel["close"].n_chunks() == len(cuts) - 1
    fast = panel.select(func(by="symbol"))
    general = panel.select(func().over("symbol"))
    assert_frame_equal(fast, general, check_exact=True)
