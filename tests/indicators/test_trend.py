"""Parity of every `ta.trend` output with `ta` itself, plus hand-computed cases."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
import ta

from omni_research import indicators as ind
from omni_research.exceptions import ConfigurationError

from .conftest import DATASETS, Ours, Ref, load_dataset, ta_reference

# (id, our expression, ta's value). ta_compat=True where ta looks ahead: those must match
# ta exactly; the defaults are checked against ta outside the look-ahead rows below.
CASES: list[tuple[str, Ours, Ref]] = [
    ("sma", lambda: ind.sma_indicator(), lambda p: ta.trend.sma_indicator(p.close)),
    ("sma_5", lambda: ind.sma_indicator(window=5), lambda p: ta.trend.sma_indicator(p.close, 5)),
    ("ema", lambda: ind.ema_indicator(), lambda p: ta.trend.ema_indicator(p.close)),
    (
        "ema_class_default",
        lambda: ind.ema_indicator(window=14),
        lambda p: ta.trend.EMAIndicator(p.close).ema_indicator(),
    ),
    ("wma", lambda: ind.wma_indicator(), lambda p: ta.trend.wma_indicator(p.close)),
    ("wma_4", lambda: ind.wma_indicator(window=4), lambda p: ta.trend.wma_indicator(p.close, 4)),
    ("macd", lambda: ind.macd(), lambda p: ta.trend.macd(p.close)),
    ("macd_signal", lambda: ind.macd_signal(), lambda p: ta.trend.macd_signal(p.close)),
    ("macd_diff", lambda: ind.macd_diff(), lambda p: ta.trend.macd_diff(p.close)),
    (
        "macd_diff_5_35_5",
        lambda: ind.macd_diff(window_fast=5, window_slow=35, window_sign=5),
        lambda p: ta.trend.macd_diff(p.close, 35, 5, 5),
    ),
    ("trix", lambda: ind.trix(), lambda p: ta.trend.trix(p.close)),
    ("trix_compat", lambda: ind.trix(ta_compat=True), lambda p: ta.trend.trix(p.close)),
    ("trix_9", lambda: ind.trix(window=9), lambda p: ta.trend.trix(p.close, 9)),
    ("mass_index", lambda: ind.mass_index(), lambda p: ta.trend.mass_index(p.high, p.low)),
    (
        "mass_index_5_20",
        lambda: ind.mass_index(window_fast=5, window_slow=20),
        lambda p: ta.trend.mass_index(p.high, p.low, 5, 20),
    ),
    ("dpo", lambda: ind.dpo(), lambda p: ta.trend.dpo(p.close)),
    ("dpo_7", lambda: ind.dpo(window=7), lambda p: ta.trend.dpo(p.close, 7)),
    (
        "dpo_2_compat",
        lambda: ind.dpo(window=2, ta_compat=True),
        lambda p: ta.trend.dpo(p.close, 2),
    ),
    ("cci", lambda: ind.cci(), lambda p: ta.trend.cci(p.high, p.low, p.close)),
    (
        "cci_14_002",
        lambda: ind.cci(window=14, constant=0.02),
        lambda p: ta.trend.cci(p.high, p.low, p.close, 14, 0.02),
    ),
    ("kst_compat", lambda: ind.kst(ta_compat=True), lambda p: ta.trend.kst(p.close)),
    ("kst_sig_compat", lambda: ind.kst_sig(ta_compat=True), lambda p: ta.trend.kst_sig(p.close)),
    (
        "kst_diff_compat",
        lambda: ind.kst_diff(ta_compat=True),
        lambda p: ta.trend.KSTIndicator(p.close).kst_diff(),
    ),
    (
        "kst_sig_small_compat",
        lambda: ind.kst_sig(
            roc1=3,
            roc2=4,
            roc3=5,
            roc4=6,
            window1=2,
            window2=3,
            window3=4,
            window4=5,
            nsig=4,
            ta_compat=True,
        ),
        lambda p: ta.trend.kst_sig(p.close, 3, 4, 5, 6, 2, 3, 4, 5, 4),
    ),
    (
        "ichimoku_conv",
        lambda: ind.ichimoku_conversion_line(),
        lambda p: ta.trend.ichimoku_conversion_line(p.high, p.low),
    ),
    (
        "ichimoku_base",
        lambda: ind.ichimoku_base_line(),
        lambda p: ta.trend.ichimoku_base_line(p.high, p.low),
    ),
    ("ichimoku_a", lambda: ind.ichimoku_a(), lambda p: ta.trend.ichimoku_a(p.high, p.low)),
    ("ichimoku_b", lambda: ind.ichimoku_b(), lambda p: ta.trend.ichimoku_b(p.high, p.low)),
    (
        "ichimoku_a_7_22",
        lambda: ind.ichimoku_a(window1=7, window2=22),
        lambda p: ta.trend.ichimoku_a(p.high, p.low, 7, 22),
    ),
    (
        "ichimoku_b_22_44",
        lambda: ind.ichimoku_b(window2=22, window3=44),
        lambda p: ta.trend.ichimoku_b(p.high, p.low, 22, 44),
    ),
    (
        "visual_ichimoku_a_compat",
        lambda: ind.ichimoku_a(visual=True, ta_compat=True),
        lambda p: ta.trend.ichimoku_a(p.high, p.low, visual=True),
    ),
    (
        "visual_ichimoku_b_compat",
        lambda: ind.ichimoku_b(visual=True, ta_compat=True),
        lambda p: ta.trend.ichimoku_b(p.high, p.low, visual=True),
    ),
    ("aroon_up", lambda: ind.aroon_up(), lambda p: ta.trend.aroon_up(p.high, p.low)),
    ("aroon_down", lambda: ind.aroon_down(), lambda p: ta.trend.aroon_down(p.high, p.low)),
    (
        "aroon_indicator",
        lambda: ind.aroon_indicator(),
        lambda p: ta.trend.AroonIndicator(p.high, p.low).aroon_indicator(),
    ),
    (
        "aroon_up_10",
        lambda: ind.aroon_up(window=10),
        lambda p: ta.trend.aroon_up(p.high, p.low, 10),
    ),
    ("adx", lambda: ind.adx(), lambda p: ta.trend.adx(p.high, p.low, p.close)),
    ("adx_pos", lambda: ind.adx_pos(), lambda p: ta.trend.adx_pos(p.high, p.low, p.close)),
    ("adx_neg", lambda: ind.adx_neg(), lambda p: ta.trend.adx_neg(p.high, p.low, p.close)),
    ("adx_7", lambda: ind.adx(window=7), lambda p: ta.trend.adx(p.high, p.low, p.close, 7)),
    (
        "adx_pos_7",
        lambda: ind.adx_pos(window=7),
        lambda p: ta.trend.adx_pos(p.high, p.low, p.close, 7),
    ),
    (
        "vortex_pos",
        lambda: ind.vortex_indicator_pos(),
        lambda p: ta.trend.vortex_indicator_pos(p.high, p.low, p.close),
    ),
    (
        "vortex_neg",
        lambda: ind.vortex_indicator_neg(),
        lambda p: ta.trend.vortex_indicator_neg(p.high, p.low, p.close),
    ),
    (
        "vortex_diff",
        lambda: ind.vortex_indicator_diff(),
        lambda p: ta.trend.VortexIndicator(p.high, p.low, p.close).vortex_indicator_diff(),
    ),
    (
        "vortex_diff_compat_5",
        lambda: ind.vortex_indicator_diff(window=5, ta_compat=True),
        lambda p: ta.trend.VortexIndicator(p.high, p.low, p.close, 5).vortex_indicator_diff(),
    ),
    ("psar", lambda: ind.psar(), lambda p: ta.trend.PSARIndicator(p.high, p.low, p.close).psar()),
    ("psar_up", lambda: ind.psar_up(), lambda p: ta.trend.psar_up(p.high, p.low, p.close)),
    ("psar_down", lambda: ind.psar_down(), lambda p: ta.trend.psar_down(p.high, p.low, p.close)),
    (
        "psar_up_indicator",
        lambda: ind.psar_up_indicator(),
        lambda p: ta.trend.psar_up_indicator(p.high, p.low, p.close),
    ),
    (
        "psar_down_indicator",
        lambda: ind.psar_down_indicator(),
        lambda p: ta.trend.psar_down_indicator(p.high, p.low, p.close),
    ),
    (
        "psar_down_03",
        lambda: ind.psar_down(step=0.03, max_step=0.3),
        lambda p: ta.trend.psar_down(p.high, p.low, p.close, 0.03, 0.3),
    ),
    ("stc", lambda: ind.stc(), lambda p: ta.trend.stc(p.close)),
    (
        "stc_small",
        lambda: ind.stc(window_slow=20, window_fast=8, cycle=5, smooth1=2, smooth2=4),
        lambda p: ta.trend.stc(p.close, 20, 8, 5, 2, 4),
    ),
]


@pytest.mark.parametrize("kind", ["eager", "lazy"])
@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize(("case_id", "ours", "ref"), CASES, ids=[c[0] for c in CASES])
def test_trend_output_matches_ta(
    case_id: str,
    ours: Ours,
    ref: Ref,
    dataset: str,
    kind: str,
    assert_parity: Callable[..., None],
    run_select: Callable[..., pl.DataFrame],
) -> None:
    got = run_select(load_dataset(dataset), ours(), kind).to_series()
    assert_parity(got, ta_reference(dataset, ref), name=f"{dataset}/{case_id}")


# --- the look-ahead rows: default null there, equal to ta everywhere else ----------------

# (id, ours, ta, rows null by default, first row from which ta's value is look-ahead free:
# KST's signal averages the last 9 KST values, so ta's look-ahead reaches 8 rows further)
LOOK_AHEAD: list[tuple[str, Ours, Ref, int, int]] = [
    ("kst", lambda: ind.kst(), lambda p: ta.trend.kst(p.close), 44, 44),
    ("kst_sig", lambda: ind.kst_sig(), lambda p: ta.trend.kst_sig(p.close), 44, 52),
    (
        "kst_diff",
        lambda: ind.kst_diff(),
        lambda p: ta.trend.KSTIndicator(p.close).kst_diff(),
        44,
        52,
    ),
    (
        "visual_ichimoku_a",
        lambda: ind.ichimoku_a(visual=True),
        lambda p: ta.trend.ichimoku_a(p.high, p.low, visual=True),
        26,
        26,
    ),
    (
        "visual_ichimoku_b",
        lambda: ind.ichimoku_b(visual=True),
        lambda p: ta.trend.ichimoku_b(p.high, p.low, visual=True),
        26,
        26,
    ),
    ("dpo_2", lambda: ind.dpo(window=2), lambda p: ta.trend.dpo(p.close, 2), 2, 2),
]


@pytest.mark.parametrize("dataset", ["rw1", "GOOG"])
@pytest.mark.parametrize(
    ("case_id", "ours", "ref", "n_null", "clean_from"),
    LOOK_AHEAD,
    ids=[c[0] for c in LOOK_AHEAD],
)
def test_look_ahead_rows_are_null_by_default_and_equal_ta_elsewhere(
    case_id: str,
    ours: Ours,
    ref: Ref,
    n_null: int,
    clean_from: int,
    dataset: str,
    assert_parity: Callable[..., None],
) -> None:
    got = load_dataset(dataset).select(ours()).to_series()
    theirs = ta_reference(dataset, ref)
    assert got.head(n_null).null_count() == n_null
    # ta has values in (some of) those rows: exactly the look-ahead we refuse
    assert theirs.head(n_null).notna().any()
    assert got.tail(len(got) - n_null).null_count() < len(got) - n_null
    assert_parity(got.tail(len(got) - clean_from), theirs.iloc[clean_from:], name=case_id)
    if clean_from > n_null:  # in between, ta's value still carries the whole-series mean
        assert not np.allclose(got[n_null:clean_from].to_numpy(), theirs.iloc[n_null:clean_from])


# --- hand-computed cases -----------------------------------------------------------------


def test_wma_hand_computed() -> None:
    df = pl.DataFrame({"close": [1.0, 2.0, 4.0, 8.0]})
    got = df.select(ind.wma_indicator(window=3)).to_series().to_list()
    # weights 1, 2, 3 over 6
    assert got[:2] == [None, None]
    assert got[2] == pytest.approx((1 * 1 + 2 * 2 + 3 * 4) / 6)
    assert got[3] == pytest.approx((1 * 2 + 2 * 4 + 3 * 8) / 6)


def test_aroon_hand_computed_first_occurrence_on_ties() -> None:
    high = [1.0, 3.0, 3.0, 2.0, 1.0]
    df = pl.DataFrame({"high": high, "low": [0.0, 0.0, 0.0, 0.0, -1.0]})
    out = df.select(ind.aroon_up(window=3), ind.aroon_down(window=3))
    # windows of 4 rows; highest high first at offset 1 in rows 0..3, offset 0 in rows 1..4
    assert out["aroon_up"].to_list() == [None, None, None, 1.0 / 3 * 100, 0.0]
    assert out["aroon_down"].to_list() == [None, None, None, 0.0, 100.0]


def test_psar_hand_computed_start() -> None:
    df = pl.DataFrame(
        {
            "high": [10.0, 11.0, 12.0, 13.0],
            "low": [9.0, 10.0, 11.0, 12.0],
            "close": [9.5, 10.5, 11.5, 12.5],
        }
    )
    got = df.select(ind.psar()).to_series().to_list()
    # rows 0-1 keep the close; row 2: 10.5 + 0.02 * (10 - 10.5) = 10.49, capped by low[0]=9
    assert got[:2] == [9.5, 10.5]
    assert got[2] == pytest.approx(9.0)
    # row 3: af grew to 0.04 with the new high 12: 9 + 0.04 * (12 - 9), capped by low[1]=10
    assert got[3] == pytest.approx(9.0 + 0.04 * 3.0)


def test_stc_with_flat_stretch_matches_ta(assert_parity: Callable[..., None]) -> None:
    # a flat stretch makes the stochastic 0/0 (NaN in pandas): both must skip it the same way
    close = np.concatenate(
        [np.linspace(100, 120, 80), np.full(40, 120.0), np.linspace(120, 90, 80)]
    )
    df = pl.DataFrame({"close": close})
    ref = ta.trend.stc(pd.Series(close), 20, 8, 5, 2, 4)
    assert_parity(
        df.select(
            ind.stc(window_slow=20, window_fast=8, cycle=5, smooth1=2, smooth2=4)
        ).to_series(),
        ref,
    )


def test_adx_warmup_zeros_as_ta() -> None:
    out = load_dataset("rw0").select(ind.adx(), ind.adx_pos())
    assert (out["adx"].head(27) == 0.0).all() and out["adx"][27] > 0
    assert (out["adx_pos"].head(15) == 0.0).all() and out["adx_pos"][15] > 0


def test_adx_window_zero_raises_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="window must be >= 1"):
        ind.adx(window=0)


def test_struct_outputs_equal_single_outputs() -> None:
    df = load_dataset("rw2")
    both = df.select(ind.adx_all().struct.unnest(), ind.psar_all().struct.unnest())
    single = df.select(
        ind.adx(), ind.adx_pos(), ind.adx_neg(), ind.psar(), ind.psar_up(), ind.psar_down()
    )
    for name in single.columns:
        assert both[name].equals(single[name], check_names=False), name


def test_integer_columns_are_accepted(assert_parity: Callable[..., None]) -> None:
    df = load_dataset("ticks").with_columns((pl.col("close") * 2).round().cast(pl.Int64))
    ref = ta.trend.macd(df["close"].cast(pl.Float64).to_pandas())
    assert_parity(df.select(ind.macd()).to_series(), ref)


# --- registry ----------------------------------------------------------------------------


def _trend_entries() -> list[Any]:
    return [i for i in ind.registry().values() if i.family == "trend"]


@pytest.mark.parametrize("entry", _trend_entries(), ids=lambda e: e.name)
def test_registry_entry_params_exprs_and_warmup(entry: Any) -> None:
    cls = getattr(ta.trend, entry.ta_reference.removeprefix("ta.trend."))
    sig = inspect.signature(cls)
    for param, default in entry.params.items():
        if param == "ta_compat":
            continue
        assert param in sig.parameters, (entry.name, param)
        ta_default = sig.parameters[param].default
        # SMA has no class default and ta's functions default EMA/SMA to 12: we follow those
        if ta_default is not inspect.Parameter.empty and entry.name not in ("ema", "sma"):
            assert default == ta_default, (entry.name, param)
    df = load_dataset("rw0")
    out = df.select(entry.exprs(**{"ta_compat": False} if "ta_compat" in entry.params else {}))
    assert out.width == len(entry.outputs)
    # warm-up: every output has a value from row `warm` on, and some output lacks one
    # (null, or ta's 0.0 for ADX) at row warm - 1. PSAR's up/down parts are null by design in the
    # other trend and its flags are 0/1, so only its up/down parts together count.
    warm = entry.warmup(**entry.params)
    if entry.name == "psar":  # the SAR proper starts at row 2 (ta keeps the close before)
        out = out.select(pl.coalesce("psar_up", "psar_down").alias("psar"))
    names = out.columns
    zero_is_warmup = entry.name == "adx"
    valid = out.select(
        [
            pl.col(n).is_not_null()
            & pl.col(n).is_not_nan()
            & ((pl.col(n) != 0.0) | (not zero_is_warmup))
            for n in names
        ]
    )
    assert valid.slice(warm, 100).to_numpy().all(), (entry.name, warm)
    if warm > 0:
        assert valid.row(warm - 1) != (True,) * len(names), (entry.name, warm)


@pytest.mark.parametrize("span", [3, 4, 10, 27])
@pytest.mark.parametrize("gap_share", [0.0, 0.2, 0.5])
def test_ema_with_interior_nulls_matches_pandas_gap_rule(
    span: int, gap_share: float, assert_parity: Callable[..., None]
) -> None:
    # the rule STC relies on when a flat cycle makes its stochastic 0/0
    from omni_research.indicators._common import ema, wilder_ewm

    rng = np.random.default_rng(span)
    x = rng.normal(size=2000)
    x[rng.random(2000) < gap_share] = np.nan
    x[:5] = np.nan
    df = pl.DataFrame({"x": x}).with_columns(pl.col("x").fill_nan(None))
    got = df.select(
        ema("x", span, interior_nulls=True).alias("e"),
        wilder_ewm("x", span, interior_nulls=True).alias("w"),
    )
    s = pd.Series(x)
    assert_parity(got["e"], s.ewm(span=span, adjust=False, min_periods=span).mean())
    assert_parity(got["w"], s.ewm(alpha=1 / span, adjust=False, min_periods=span).mean())
