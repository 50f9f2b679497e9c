"""Trend indicators: every class of ``ta.trend`` (0.11) as Polars expressions.

Each function returns one ``pl.Expr`` for one `ta` output, with the same numbers as `ta`
(to 1e-9 of the column's scale; most are bit-identical) and missing values in the same
rows: `ta`'s NaN is null here, `ta`'s 0.0 warm-up rows (ADX) are 0.0 here too. `ta`'s
``fillna`` is accepted with `ta`'s values. Each
indicator is declared once (`IndicatorSpec`); its functions, registry entry, parameter
checks and `add_all_ta_features` columns are generated from that declaration.

Look-ahead in `ta`, not reproduced unless ``ta_compat=True`` (see docs/indicators.md):
``shift(n, fill_value=series.mean())`` in TRIX, KST, DPO, Vortex and the visual Ichimoku
spans fills the first rows with the mean of the *whole* series. Where that value reaches
an output (KST always; DPO for windows <= 2; visual Ichimoku always) the default leaves
those rows null.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import polars as pl

from omni_research.indicators._common import (
    By,
    ColumnLike,
    KernelResult,
    as_float,
    ema,
    kernel_expr,
    shift_fill_mean,
    sma,
    true_range,
)
from omni_research.indicators._spec import (
    TA_COMPAT,
    Feature,
    IndicatorSpec,
    Output,
    define,
    flag,
    number,
    register_spec,
    window,
)

_HLC = ("high", "low", "close")

# --- MACD --------------------------------------------------------------------------------

_MACD_FIELDS = ("macd", "macd_signal", "macd_diff")


def _macd_struct(
    close: ColumnLike,
    window_slow: int,
    window_fast: int,
    window_sign: int,
    by: By,
    fillna: bool = False,
) -> pl.Expr:
    def run(c: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import exponential

        if fillna:  # `ta`'s fillna=True: every EMA from the first close (min_periods=0)
            return exponential.macd_from_start(c, window_slow, window_fast, window_sign)  # type: ignore[no-any-return]
        return exponential.macd(c, window_slow, window_fast, window_sign)  # type: ignore[no-any-return]

    # ``share``: the three outputs selected together (add_all_ta_features) run one pass
    key = ("macd", window_slow, window_fast, window_sign, fillna)
    return kernel_expr(run, [as_float(close)], outputs=_MACD_FIELDS, by=by, share=key)


def _macd_field(field: str) -> Callable[..., pl.Expr]:
    def build(
        close: ColumnLike,
        *,
        window_slow: int,
        window_fast: int,
        window_sign: int = 9,
        fillna: bool,
        by: By,
    ) -> pl.Expr:
        struct = _macd_struct(close, window_slow, window_fast, window_sign, by, fillna)
        return struct.struct.field(field)

    return build


MACD = register_spec(
    IndicatorSpec(
        name="macd",
        family="trend",
        ta_class="MACD",
        inputs=("close",),
        params=(window("window_slow", 26), window("window_fast", 12), window("window_sign", 9)),
        outputs=(
            Output(
                key="macd",
                function="macd",
                build=_macd_field("macd"),
                params=("window_slow", "window_fast"),
                by=True,
                doc="""MACD line, ``ema(fast) - ema(slow)`` (`ta.trend.macd`).""",
            ),
            Output(
                key="signal",
                function="macd_signal",
                build=_macd_field("macd_signal"),
                by=True,
                doc="""MACD signal line, an EMA of the MACD line (`ta.trend.macd_signal`).""",
            ),
            Output(
                key="diff",
                function="macd_diff",
                build=_macd_field("macd_diff"),
                by=True,
                doc="""MACD histogram, line minus signal (`ta.trend.macd_diff`).""",
            ),
        ),
        warmup=lambda p: p["window_slow"] + p["window_sign"] - 2,
        description="Moving Average Convergence Divergence (ta's EMA: seeded at the first close).",
        kernel="_kernels.exponential.macd",
        features=(
            Feature("trend_macd", "macd"),
            Feature("trend_macd_signal", "macd_signal"),
            Feature("trend_macd_diff", "macd_diff"),
        ),
        fillna_inside=True,
    )
)


def macd_all(
    close: ColumnLike = "close",
    /,
    *,
    window_slow: int = 26,
    window_fast: int = 12,
    window_sign: int = 9,
    by: By = None,
) -> pl.Expr:
    """MACD line, signal and histogram as a Struct (fields ``macd``, ``macd_signal``,
    ``macd_diff``) from one numba pass: the three EMAs advance in the same loop."""
    # hand-written (not generated): a struct of every output is not a `ta` function
    p = MACD.checked(window_slow=window_slow, window_fast=window_fast, window_sign=window_sign)
    return _macd_struct(close, by=by, **p).alias("macd_all")


# --- moving averages ---------------------------------------------------------------------


def _sma(close: ColumnLike, *, window: int, fillna: bool, by: By) -> pl.Expr:
    if fillna:  # `ta`'s min_periods=0: the mean of the rows a window holds
        return as_float(close).fill_nan(None).rolling_mean(window, min_samples=1)

    def run(x: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import rolling

        return rolling.rolling_mean(x, window)  # type: ignore[no-any-return]

    # a numba running sum: ~2x faster than Polars' rolling_mean here, same values to 1e-14
    return kernel_expr(run, [as_float(close)], by=by)


SMA = register_spec(
    IndicatorSpec(
        name="sma",
        family="trend",
        ta_class="SMAIndicator",
        inputs=("close",),
        params=(window("window", 12),),
        outputs=(
            Output(
                key="sma_indicator",
                function="sma_indicator",
                fill=None,
                build=_sma,
                by=True,
                alias=lambda window, **_: f"sma_{window}",
                doc="""Simple moving average (`ta.trend.sma_indicator`), null for the first
    ``window-1`` rows.

    Examples
    --------
    >>> import polars as pl
    >>> from omni_research.indicators import sma_indicator
    >>> pl.DataFrame({"close": [1.0, 2.0, 3.0, 4.0]}).select(sma_indicator(window=2))
    shape: (4, 1)
    ┌───────┐
    │ sma_2 │
    │ ---   │
    │ f64   │
    ╞═══════╡
    │ null  │
    │ 1.5   │
    │ 2.5   │
    │ 3.5   │
    └───────┘
    """,
            ),
        ),
        warmup=lambda p: p["window"] - 1,
        placement="overlay",
        description="Simple moving average.",
        kernel="_kernels.rolling.rolling_mean",
        features=(
            Feature("trend_sma_fast", "sma_indicator", {"window": 12}),
            Feature("trend_sma_slow", "sma_indicator", {"window": 26}),
        ),
        fillna_inside=True,
    )
)


def _ema(close: ColumnLike, *, window: int, fillna: bool, by: By) -> pl.Expr:
    first = 0 if fillna else window  # `ta`'s fillna=True: from the first close

    def run(x: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import exponential

        return exponential.ewm_gaps(x, 2.0 / (window + 1.0), first)  # type: ignore[no-any-return]

    return kernel_expr(run, [as_float(close)], by=by)


EMA = register_spec(
    IndicatorSpec(
        name="ema",
        family="trend",
        ta_class="EMAIndicator",
        inputs=("close",),
        params=(window("window", 12),),
        outputs=(
            Output(
                key="ema_indicator",
                function="ema_indicator",
                fill=None,
                build=_ema,
                by=True,
                alias=lambda window, **_: f"ema_{window}",
                doc="""Exponential moving average as `ta.trend.ema_indicator`.

    ``ewm(span=window, adjust=False)`` seeded at the first close (TA-Lib seeds with an SMA),
    null for the first ``window-1`` rows. Runs pandas' EWM loop in numba (about TA-Lib's
    speed; Polars' ``ewm_mean`` gives the same values 2-3x slower).
    """,
            ),
        ),
        warmup=lambda p: p["window"] - 1,
        placement="overlay",
        description="Exponential moving average seeded at the first close (as ta, not TA-Lib).",
        kernel="_kernels.exponential.ewm_gaps",
        features=(
            Feature("trend_ema_fast", "ema_indicator", {"window": 12}),
            Feature("trend_ema_slow", "ema_indicator", {"window": 26}),
        ),
        fillna_inside=True,
    )
)

# --- Vortex ------------------------------------------------------------------------------


def _vortex(
    high: ColumnLike,
    low: ColumnLike,
    close: ColumnLike,
    window: int,
    ta_compat: bool,
    fillna: bool,
) -> tuple[pl.Expr, pl.Expr]:
    h, lo, c = as_float(high), as_float(low), as_float(close)
    if ta_compat:
        # ta: true range against close.shift(1, fill_value=close.mean()) (row 0 sees the mean)
        prev = shift_fill_mean(c, 1, ta_compat=True)
        tr = pl.max_horizontal(h - lo, (h - prev).abs(), (lo - prev).abs())
    else:
        tr = true_range(h, lo, c)

    def wsum(x: pl.Expr) -> pl.Expr:
        if fillna:  # `ta`'s min_periods=0: partial windows, 0.0 for an empty one
            return x.rolling_sum(window, min_samples=1).fill_null(0.0)
        return x.rolling_sum(window, min_samples=window)

    trn = wsum(tr)
    vmp = wsum((h - lo.shift(1)).abs())
    vmm = wsum((lo - h.shift(1)).abs())
    return vmp / trn, vmm / trn


def _vortex_pos(h: ColumnLike, lo: ColumnLike, c: ColumnLike, **p: Any) -> pl.Expr:
    return _vortex(h, lo, c, p["window"], p["ta_compat"], p["fillna"])[0]


def _vortex_neg(h: ColumnLike, lo: ColumnLike, c: ColumnLike, **p: Any) -> pl.Expr:
    return _vortex(h, lo, c, p["window"], p["ta_compat"], p["fillna"])[1]


def _vortex_diff(h: ColumnLike, lo: ColumnLike, c: ColumnLike, **p: Any) -> pl.Expr:
    pos, neg = _vortex(h, lo, c, p["window"], p["ta_compat"], p["fillna"])
    return pos - neg


VORTEX = register_spec(
    IndicatorSpec(
        name="vortex",
        family="trend",
        ta_class="VortexIndicator",
        inputs=_HLC,
        params=(window("window", 14), TA_COMPAT),
        outputs=(
            Output(
                key="pos",
                function="vortex_indicator_pos",
                fill=1.0,
                build=_vortex_pos,
                doc="""Vortex +VI (`ta.trend.vortex_indicator_pos`).

    `ta` uses the whole-series mean as the close before row 0; that true range only enters
    windows that are already null (VM+ has no row 0), so both settings agree.
    """,
            ),
            Output(
                key="neg",
                function="vortex_indicator_neg",
                fill=1.0,
                build=_vortex_neg,
                doc="""Vortex -VI (`ta.trend.vortex_indicator_neg`).""",
            ),
            Output(
                key="diff",
                function="vortex_indicator_diff",
                build=_vortex_diff,
                doc="""+VI minus -VI (`ta.trend.VortexIndicator.vortex_indicator_diff`).""",
            ),
        ),
        warmup=lambda p: p["window"],
        description="Vortex indicator +VI/-VI.",
        features=(
            Feature("trend_vortex_ind_pos", "vortex_indicator_pos"),
            Feature("trend_vortex_ind_neg", "vortex_indicator_neg"),
            Feature("trend_vortex_ind_diff", "vortex_indicator_diff"),
        ),
        fillna_inside=True,
    )
)

# --- TRIX, Mass Index, DPO ---------------------------------------------------------------


def _trix(close: ColumnLike, *, window: int, ta_compat: bool, fillna: bool) -> pl.Expr:
    m = 0 if fillna else None  # `ta`'s fillna=True: EMAs from their first value
    e1 = ema(as_float(close), window, min_samples=m)
    e3 = ema(ema(e1, window, min_samples=m), window, min_samples=m)
    prev = shift_fill_mean(e3, 1, ta_compat=ta_compat)
    return (e3 - prev) / prev * 100


TRIX = register_spec(
    IndicatorSpec(
        name="trix",
        family="trend",
        ta_class="TRIXIndicator",
        inputs=("close",),
        params=(window("window", 15), TA_COMPAT),
        outputs=(
            Output(
                key="trix",
                function="trix",
                build=_trix,
                doc="""TRIX: percent change of a triple EMA (`ta.trend.trix`).

    `ta` fills the shifted first row with the mean of the whole triple EMA; that row is
    already null (the triple EMA is still warming up) so the value never shows, and
    ``ta_compat`` changes nothing here. It is accepted for symmetry.
    """,
            ),
        ),
        warmup=lambda p: 3 * p["window"] - 2,
        description="TRIX: one-period percent change of a triple EMA.",
        features=(Feature("trend_trix", "trix"),),
        fillna_inside=True,
    )
)


def _mass_index(
    high: ColumnLike, low: ColumnLike, *, window_fast: int, window_slow: int, fillna: bool
) -> pl.Expr:
    amplitude = as_float(high) - as_float(low)
    m = 0 if fillna else None  # `ta`'s fillna=True: EMAs and sums from the first row
    e1 = ema(amplitude, window_fast, min_samples=m)
    e2 = ema(e1, window_fast, min_samples=m)
    if fillna:  # pandas' min_periods=0 sum: partial windows, 0.0 for an empty one
        return (e1 / e2).rolling_sum(window_slow, min_samples=1).fill_null(0.0)
    return (e1 / e2).rolling_sum(window_slow, min_samples=window_slow)


MASS_INDEX = register_spec(
    IndicatorSpec(
        name="mass_index",
        family="trend",
        ta_class="MassIndex",
        inputs=("high", "low"),
        params=(window("window_fast", 9), window("window_slow", 25)),
        outputs=(
            Output(
                key="mass_index",
                function="mass_index",
                build=_mass_index,
                doc="""Mass Index: rolling sum of ``ema(h-l) / ema(ema(h-l))``
    (`ta.trend.mass_index`).""",
            ),
        ),
        warmup=lambda p: 2 * p["window_fast"] + p["window_slow"] - 3,
        description="Mass Index: sum of the ratio of single to double EMA of the range.",
        features=(Feature("trend_mass_index", "mass_index"),),
        fillna_inside=True,
    )
)


def _dpo(close: ColumnLike, *, window: int, ta_compat: bool, fillna: bool) -> pl.Expr:
    c = as_float(close)
    shifted = shift_fill_mean(c, int(0.5 * window + 1), ta_compat=ta_compat)
    return shifted - sma(c, window, min_samples=1 if fillna else None)


DPO = register_spec(
    IndicatorSpec(
        name="dpo",
        family="trend",
        ta_class="DPOIndicator",
        inputs=("close",),
        params=(window("window", 20), TA_COMPAT),
        outputs=(
            Output(
                key="dpo",
                function="dpo",
                build=_dpo,
                doc="""Detrended Price Oscillator (`ta.trend.dpo`): ``close[t - (w//2 + 1)] -
    sma(close, w)``.

    `ta` fills the first ``int(w/2 + 1)`` shifted closes with the whole-series mean. For
    ``window >= 3`` those rows are null anyway (the SMA is warming up); for smaller windows
    the default leaves them null and ``ta_compat=True`` reproduces `ta`.
    """,
            ),
        ),
        warmup=lambda p: max(p["window"] - 1, int(0.5 * p["window"] + 1)),
        description="Detrended Price Oscillator.",
        features=(Feature("trend_dpo", "dpo"),),
        fillna_inside=True,
    )
)

# --- KST ---------------------------------------------------------------------------------


def _kst_line(close: ColumnLike, p: Mapping[str, Any]) -> pl.Expr:
    c = as_float(close)
    total: pl.Expr | None = None
    for k in range(1, 5):
        r, w = p[f"roc{k}"], p[f"window{k}"]
        prev = shift_fill_mean(c, r, ta_compat=p["ta_compat"])
        # `ta`'s fillna=True: partial windows (min_periods=0)
        rocma = ((c - prev) / prev).rolling_mean(w, min_samples=1 if p["fillna"] else w)
        total = rocma if total is None else total + k * rocma
    assert total is not None
    return 100 * total


def _kst(close: ColumnLike, **p: Any) -> pl.Expr:
    return _kst_line(close, p)


def _kst_sig(close: ColumnLike, **p: Any) -> pl.Expr:
    return _kst_line(close, p).rolling_mean(p["nsig"], min_samples=1)


def _kst_diff(close: ColumnLike, **p: Any) -> pl.Expr:
    line = _kst_line(close, p)
    return line - line.rolling_mean(p["nsig"], min_samples=1)


_KST_LINE = ("roc1", "roc2", "roc3", "roc4", "window1", "window2", "window3", "window4")

KST = register_spec(
    IndicatorSpec(
        name="kst",
        family="trend",
        ta_class="KSTIndicator",
        inputs=("close",),
        params=(
            window("roc1", 10),
            window("roc2", 15),
            window("roc3", 20),
            window("roc4", 30),
            window("window1", 10),
            window("window2", 10),
            window("window3", 10),
            window("window4", 15),
            window("nsig", 9),
            TA_COMPAT,
        ),
        outputs=(
            Output(
                key="kst",
                function="kst",
                build=_kst,
                params=(*_KST_LINE, "ta_compat"),
                doc="""Know Sure Thing (`ta.trend.kst`).

    `ta` computes each rate of change against ``close.shift(roc, fill_value=close.mean())``,
    so its first ``max(roc_i + window_i) - 1`` values use the mean of the whole series (look
    ahead). By default those rows are null; ``ta_compat=True`` reproduces `ta`.
    """,
            ),
            Output(
                key="sig",
                function="kst_sig",
                build=_kst_sig,
                doc="""KST signal: mean of the last ``nsig`` available KST values
    (`ta.trend.kst_sig`).""",
            ),
            Output(
                key="diff",
                function="kst_diff",
                build=_kst_diff,
                doc="""KST minus its signal (`ta.trend.KSTIndicator.kst_diff`).""",
            ),
        ),
        warmup=lambda p: max(p[f"roc{k}"] + p[f"window{k}"] for k in range(1, 5)) - 1,
        description="Know Sure Thing: weighted sum of four smoothed rates of change.",
        features=(
            Feature("trend_kst", "kst"),
            Feature("trend_kst_sig", "kst_sig"),
            Feature("trend_kst_diff", "kst_diff"),
        ),
        fillna_inside=True,
    )
)

# --- Ichimoku ----------------------------------------------------------------------------


def _midpoint(high: ColumnLike, low: ColumnLike, window: int, min_samples: int) -> pl.Expr:
    h = as_float(high).rolling_max(window, min_samples=min_samples)
    lo = as_float(low).rolling_min(window, min_samples=min_samples)
    return 0.5 * (h + lo)


def _ichimoku_conv(high: ColumnLike, low: ColumnLike, **p: Any) -> pl.Expr:
    # `ta`'s fillna=True: partial windows (min_periods=0)
    return _midpoint(high, low, p["window1"], 1 if p["fillna"] else p["window1"])


def _ichimoku_base(high: ColumnLike, low: ColumnLike, **p: Any) -> pl.Expr:
    return _midpoint(high, low, p["window2"], 1 if p["fillna"] else p["window2"])


def _ichimoku_a(high: ColumnLike, low: ColumnLike, **p: Any) -> pl.Expr:
    w2 = p["window2"]
    span = 0.5 * (_ichimoku_conv(high, low, **p) + _ichimoku_base(high, low, **p))
    if p["visual"]:
        span = shift_fill_mean(span, w2, ta_compat=p["ta_compat"])
    return span


def _ichimoku_b(high: ColumnLike, low: ColumnLike, **p: Any) -> pl.Expr:
    span = _midpoint(high, low, p["window3"], 1)
    if p["visual"]:
        span = shift_fill_mean(span, p["window2"], ta_compat=p["ta_compat"])
    return span


_VISUAL = {"visual": True}

ICHIMOKU = register_spec(
    IndicatorSpec(
        name="ichimoku",
        family="trend",
        ta_class="IchimokuIndicator",
        inputs=("high", "low"),
        params=(
            window("window1", 9),
            window("window2", 26),
            window("window3", 52),
            flag("visual", False),
            TA_COMPAT,
        ),
        outputs=(
            Output(
                key="conversion_line",
                function="ichimoku_conversion_line",
                fill="backfill",
                build=_ichimoku_conv,
                params=("window1", "window2", "visual"),
                alias="ichimoku_conv",
                doc="""Tenkan-sen: midpoint of the ``window1`` high/low range (`ta.trend`).""",
            ),
            Output(
                key="base_line",
                function="ichimoku_base_line",
                fill="backfill",
                build=_ichimoku_base,
                params=("window1", "window2", "visual"),
                alias="ichimoku_base",
                doc="""Kijun-sen: midpoint of the ``window2`` high/low range (`ta.trend`).""",
            ),
            Output(
                key="a",
                function="ichimoku_a",
                fill="backfill",
                build=_ichimoku_a,
                params=("window1", "window2", "visual", "ta_compat"),
                doc="""Senkou span A, ``(conversion + base) / 2`` (`ta.trend.ichimoku_a`).

    With ``visual=True`` the span is shifted forward by ``window2`` rows, as drawn on a
    chart. `ta` fills those first ``window2`` rows with the mean of the whole span (look
    ahead); here they are null unless ``ta_compat=True``.
    """,
            ),
            Output(
                key="b",
                function="ichimoku_b",
                fill="backfill",
                build=_ichimoku_b,
                params=("window2", "window3", "visual", "ta_compat"),
                doc="""Senkou span B, midpoint of the ``window3`` range (`ta.trend.ichimoku_b`).

    As in `ta`, the range uses whatever rows exist (``min_periods=0``), so it has a value
    from the first row. ``visual=True`` shifts it by ``window2``; `ta` fills the gap with the
    whole-series mean (look ahead), here null unless ``ta_compat=True``.
    """,
            ),
        ),
        warmup=lambda p: 2 * p["window2"] - 1 if p["visual"] else p["window2"] - 1,
        placement="overlay",
        description="Ichimoku: conversion/base lines and the two cloud spans.",
        features=(
            Feature("trend_ichimoku_conv", "ichimoku_conversion_line"),
            Feature("trend_ichimoku_base", "ichimoku_base_line"),
            Feature("trend_ichimoku_a", "ichimoku_a"),
            Feature("trend_ichimoku_b", "ichimoku_b"),
            # `ta` adds the visual spans after CCI
            Feature("trend_visual_ichimoku_a", "ichimoku_a", _VISUAL, after="trend_cci"),
            Feature(
                "trend_visual_ichimoku_b", "ichimoku_b", _VISUAL, after="trend_visual_ichimoku_a"
            ),
        ),
        fillna_inside=True,
    )
)

# --- STC ---------------------------------------------------------------------------------


def _stc(
    close: ColumnLike,
    *,
    window_slow: int,
    window_fast: int,
    cycle: int,
    smooth1: int,
    smooth2: int,
    fillna: bool,
) -> pl.Expr:
    c = as_float(close)
    first = 0 if fillna else None  # `ta`'s fillna=True: every EMA from its first value
    line = ema(c, window_fast, min_samples=first) - ema(c, window_slow, min_samples=first)

    def run(m: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import exponential

        return exponential.stc(m, cycle, smooth1, smooth2, fillna)  # type: ignore[no-any-return]

    return kernel_expr(run, [line])


STC = register_spec(
    IndicatorSpec(
        name="stc",
        family="trend",
        ta_class="STCIndicator",
        inputs=("close",),
        params=(
            window("window_slow", 50),
            window("window_fast", 23),
            window("cycle", 10),
            window("smooth1", 3),
            window("smooth2", 3),
        ),
        outputs=(
            Output(
                key="stc",
                function="stc",
                build=_stc,
                doc="""Schaff Trend Cycle (`ta.trend.stc`): a twice-stochastic, twice-smoothed MACD.

    The MACD is a Polars expression; the two stochastic-and-EMA passes run in one numba
    loop (pandas' EMA gap rule included: a flat cycle gives 0/0, which pandas skips).
    """,
            ),
        ),
        warmup=lambda p: p["window_slow"] + 2 * p["cycle"] + p["smooth1"] + p["smooth2"] - 5,
        description="Schaff Trend Cycle.",
        kernel="_kernels.exponential.stc",
        features=(Feature("trend_stc", "stc"),),
        fillna_inside=True,
    )
)

# --- ADX ---------------------------------------------------------------------------------

_ADX_FIELDS = ("adx", "adx_pos", "adx_neg")


def _adx_struct(
    high: ColumnLike, low: ColumnLike, close: ColumnLike, window: int, by: By
) -> pl.Expr:
    def run(h: KernelResult, lo: KernelResult, c: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import wilder

        return wilder.adx(h, lo, c, window)  # type: ignore[no-any-return]

    return kernel_expr(run, [high, low, close], outputs=_ADX_FIELDS, by=by, share=("adx", window))


def _adx_field(field: str) -> Callable[..., pl.Expr]:
    def build(
        high: ColumnLike, low: ColumnLike, close: ColumnLike, *, window: int, by: By
    ) -> pl.Expr:
        return _adx_struct(high, low, close, window, by).struct.field(field)

    return build


ADX = register_spec(
    IndicatorSpec(
        name="adx",
        family="trend",
        ta_class="ADXIndicator",
        inputs=_HLC,
        params=(window("window", 14),),
        outputs=(
            Output(
                key="adx",
                function="adx",
                fill=20.0,
                build=_adx_field("adx"),
                by=True,
                doc="""Average Directional Index as `ta.trend.adx`: Wilder sums seeded with a
    plain sum,
    0.0 (not null) in the first ``2*window - 1`` rows as `ta` writes them.""",
            ),
            Output(
                key="pos",
                function="adx_pos",
                fill=20.0,
                build=_adx_field("adx_pos"),
                by=True,
                doc="""+DI (`ta.trend.adx_pos`), 0.0 in the first ``window + 1`` rows as in
    `ta`.""",
            ),
            Output(
                key="neg",
                function="adx_neg",
                fill=20.0,
                build=_adx_field("adx_neg"),
                by=True,
                doc="""-DI (`ta.trend.adx_neg`), 0.0 in the first ``window + 1`` rows as in
    `ta`.""",
            ),
        ),
        warmup=lambda p: 2 * p["window"] - 1,
        description="Average Directional Index with +DI/-DI (Wilder); 0.0 in warm-up rows as ta.",
        kernel="_kernels.wilder.adx",
        features=(
            Feature("trend_adx", "adx"),
            Feature("trend_adx_pos", "adx_pos"),
            Feature("trend_adx_neg", "adx_neg"),
        ),
    )
)


def adx_all(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    window: int = 14,
    by: By = None,
) -> pl.Expr:
    """ADX, +DI and -DI in one pass, as a Struct with fields ``adx``, ``adx_pos``, ``adx_neg``.

    Use it (``.struct.unnest()``) when you want all three: the single-output functions each
    run the kernel again.
    """
    # hand-written (not generated): a struct of every output is not a `ta` function
    p = ADX.checked(window=window)
    return _adx_struct(high, low, close, p["window"], by).alias("adx_all")


# --- CCI ---------------------------------------------------------------------------------


def _cci(
    high: ColumnLike,
    low: ColumnLike,
    close: ColumnLike,
    *,
    window: int,
    constant: float,
    fillna: bool,
) -> pl.Expr:
    tp = (as_float(high) + as_float(low) + as_float(close)) / 3.0

    def run(x: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import rolling

        # `ta`'s fillna=True: partial windows from the first row (min_periods=0)
        return rolling.rolling_mad(x, window, fillna)  # type: ignore[no-any-return]

    mad = kernel_expr(run, [tp])
    return (tp - sma(tp, window, min_samples=1 if fillna else None)) / (constant * mad)


CCI = register_spec(
    IndicatorSpec(
        name="cci",
        family="trend",
        ta_class="CCIIndicator",
        inputs=_HLC,
        params=(window("window", 20), number("constant", 0.015)),
        outputs=(
            Output(
                key="cci",
                function="cci",
                build=_cci,
                doc="""Commodity Channel Index (`ta.trend.cci`), mean absolute deviation from a
    numba loop.""",
            ),
        ),
        warmup=lambda p: p["window"] - 1,
        description="Commodity Channel Index.",
        kernel="_kernels.rolling.rolling_mad",
        features=(Feature("trend_cci", "cci"),),
        fillna_inside=True,
    )
)

# --- Aroon -------------------------------------------------------------------------------


def _aroon(x: ColumnLike, window: int, is_max: bool, fillna: bool) -> pl.Expr:
    def run(a: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import rolling

        # `ta`'s fillna=True: partial windows from the first row (min_periods=1)
        return rolling.aroon(a, window, is_max, fillna)  # type: ignore[no-any-return]

    return kernel_expr(run, [as_float(x)])


def _aroon_up(high: ColumnLike, low: ColumnLike, *, window: int, fillna: bool) -> pl.Expr:
    return _aroon(high, window, True, fillna)


def _aroon_down(high: ColumnLike, low: ColumnLike, *, window: int, fillna: bool) -> pl.Expr:
    return _aroon(low, window, False, fillna)


def _aroon_indicator(high: ColumnLike, low: ColumnLike, *, window: int, fillna: bool) -> pl.Expr:
    return _aroon(high, window, True, fillna) - _aroon(low, window, False, fillna)


AROON = register_spec(
    IndicatorSpec(
        name="aroon",
        family="trend",
        ta_class="AroonIndicator",
        inputs=("high", "low"),
        params=(window("window", 25),),
        outputs=(
            Output(
                key="up",
                function="aroon_up",
                build=_aroon_up,
                doc="""Aroon up: ``100 * (position of the high in the last window+1 rows) /
    window``.""",
            ),
            Output(
                key="down",
                function="aroon_down",
                build=_aroon_down,
                doc="""Aroon down, from the position of the lowest low (`ta.trend.aroon_down`).""",
            ),
            Output(
                key="indicator",
                function="aroon_indicator",
                build=_aroon_indicator,
                doc="""Aroon up minus Aroon down (`ta.trend.AroonIndicator.aroon_indicator`).""",
            ),
        ),
        warmup=lambda p: p["window"],
        description="Aroon up/down: how recent the window's high/low is, in percent.",
        kernel="_kernels.rolling.aroon",
        features=(
            Feature("trend_aroon_up", "aroon_up"),
            Feature("trend_aroon_down", "aroon_down"),
            Feature("trend_aroon_ind", "aroon_indicator"),
        ),
        fillna_inside=True,
    )
)

# --- Parabolic SAR -----------------------------------------------------------------------

_PSAR_FIELDS = ("psar", "psar_up", "psar_down")


def _psar_struct(
    high: ColumnLike, low: ColumnLike, close: ColumnLike, step: float, max_step: float, by: By
) -> pl.Expr:
    def run(h: KernelResult, lo: KernelResult, c: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import psar

        return psar.psar(h, lo, c, float(step), float(max_step))  # type: ignore[no-any-return]

    key = ("psar", float(step), float(max_step))
    return kernel_expr(run, [high, low, close], outputs=_PSAR_FIELDS, by=by, share=key)


def _psar_field(field: str) -> Callable[..., pl.Expr]:
    def build(
        high: ColumnLike,
        low: ColumnLike,
        close: ColumnLike,
        *,
        step: float,
        max_step: float,
        by: By = None,
    ) -> pl.Expr:
        return _psar_struct(high, low, close, step, max_step, by).struct.field(field)

    return build


def _starts(part: pl.Expr) -> pl.Expr:
    return part.is_not_null() & part.shift(1).is_null()


def _psar_up_indicator(high: ColumnLike, low: ColumnLike, close: ColumnLike, **p: Any) -> pl.Expr:
    up = _psar_field("psar_up")(high, low, close, **p)
    return pl.when(_starts(up) & (up != 0.0)).then(1.0).otherwise(0.0)


def _psar_down_indicator(high: ColumnLike, low: ColumnLike, close: ColumnLike, **p: Any) -> pl.Expr:
    down = _psar_field("psar_down")(high, low, close, **p)
    return pl.when(_starts(down)).then(1.0).otherwise(0.0)


PSAR = register_spec(
    IndicatorSpec(
        name="psar",
        family="trend",
        ta_class="PSARIndicator",
        inputs=_HLC,
        params=(number("step", 0.02), number("max_step", 0.2)),
        outputs=(
            Output(
                key="psar",
                function="psar",
                fill="backfill",
                build=_psar_field("psar"),
                by=True,
                doc="""Parabolic SAR (`ta.trend.PSARIndicator.psar`); the first two rows hold the
    close.""",
            ),
            Output(
                key="up",
                function="psar_up",
                fill="backfill",
                build=_psar_field("psar_up"),
                by=True,
                doc="""PSAR while in an up trend, null otherwise (`ta.trend.psar_up`).""",
            ),
            Output(
                key="down",
                function="psar_down",
                fill="backfill",
                build=_psar_field("psar_down"),
                by=True,
                doc="""PSAR while in a down trend, null otherwise (`ta.trend.psar_down`).""",
            ),
            Output(
                key="up_indicator",
                function="psar_up_indicator",
                fill=None,
                build=_psar_up_indicator,
                doc="""1.0 on the row an up trend starts, else 0.0 (`ta.trend.psar_up_indicator`).

    `ta` keeps the SAR value where the trend starts and then maps non-zero to 1, so a start
    whose SAR is exactly 0.0 reads 0.0; reproduced.
    """,
            ),
            Output(
                key="down_indicator",
                function="psar_down_indicator",
                fill=None,
                build=_psar_down_indicator,
                doc="""1.0 on the row a down trend starts, else 0.0
    (`ta.trend.psar_down_indicator`).""",
            ),
        ),
        warmup=lambda p: 2,
        placement="overlay",
        description="Parabolic Stop and Reverse (Wilder).",
        kernel="_kernels.psar.psar",
        features=(
            Feature("trend_psar_up", "psar_up"),
            Feature("trend_psar_down", "psar_down"),
            Feature("trend_psar_up_indicator", "psar_up_indicator"),
            Feature("trend_psar_down_indicator", "psar_down_indicator"),
        ),
    )
)


def psar_all(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    step: float = 0.02,
    max_step: float = 0.2,
    by: By = None,
) -> pl.Expr:
    """PSAR, its up-trend and down-trend parts as a Struct (fields ``psar``, ``psar_up``,
    ``psar_down``) from one kernel pass."""
    # hand-written (not generated): a struct of every output is not a `ta` function
    p = PSAR.checked(step=step, max_step=max_step)
    return _psar_struct(high, low, close, p["step"], p["max_step"], by).alias("psar_all")


# --- WMA ---------------------------------------------------------------------------------


def _wma(close: ColumnLike, *, window: int) -> pl.Expr:
    denom = window * (window + 1)
    weights = [i * 2 / denom for i in range(1, window + 1)]
    return as_float(close).rolling_sum(window, weights=weights)


WMA = register_spec(
    IndicatorSpec(
        name="wma",
        family="trend",
        ta_class="WMAIndicator",
        inputs=("close",),
        params=(window("window", 9),),
        outputs=(
            Output(
                key="wma_indicator",
                function="wma_indicator",
                build=_wma,
                alias=lambda window, **_: f"wma_{window}",
                doc="""Linearly weighted moving average (`ta.trend.wma_indicator`), weights
    ``1..window``.""",
            ),
        ),
        warmup=lambda p: p["window"] - 1,
        placement="overlay",
        description="Linearly weighted moving average.",
    )
)

# --- functions ---------------------------------------------------------------------------
# Typed ``Callable[..., pl.Expr]`` for mypy; their real signatures come from the specs.

macd = define(MACD, "macd", globals())
macd_signal = define(MACD, "macd_signal", globals())
macd_diff = define(MACD, "macd_diff", globals())
sma_indicator = define(SMA, "sma_indicator", globals())
ema_indicator = define(EMA, "ema_indicator", globals())
wma_indicator = define(WMA, "wma_indicator", globals())
vortex_indicator_pos = define(VORTEX, "vortex_indicator_pos", globals())
vortex_indicator_neg = define(VORTEX, "vortex_indicator_neg", globals())
vortex_indicator_diff = define(VORTEX, "vortex_indicator_diff", globals())
trix = define(TRIX, "trix", globals())
mass_index = define(MASS_INDEX, "mass_index", globals())
dpo = define(DPO, "dpo", globals())
kst = define(KST, "kst", globals())
kst_sig = define(KST, "kst_sig", globals())
kst_diff = define(KST, "kst_diff", globals())
ichimoku_conversion_line = define(ICHIMOKU, "ichimoku_conversion_line", globals())
ichimoku_base_line = define(ICHIMOKU, "ichimoku_base_line", globals())
ichimoku_a = define(ICHIMOKU, "ichimoku_a", globals())
ichimoku_b = define(ICHIMOKU, "ichimoku_b", globals())
stc = define(STC, "stc", globals())
adx = define(ADX, "adx", globals())
adx_pos = define(ADX, "adx_pos", globals())
adx_neg = define(ADX, "adx_neg", globals())
cci = define(CCI, "cci", globals())
aroon_up = define(AROON, "aroon_up", globals())
aroon_down = define(AROON, "aroon_down", globals())
aroon_indicator = define(AROON, "aroon_indicator", globals())
psar = define(PSAR, "psar", globals())
psar_up = define(PSAR, "psar_up", globals())
psar_down = define(PSAR, "psar_down", globals())
psar_up_indicator = define(PSAR, "psar_up_indicator", globals())
psar_down_indicator = define(PSAR, "psar_down_indicator", globals())

__all__ = [
    "adx",
    "adx_all",
    "adx_neg",
    "adx_pos",
    "aroon_down",
    "aroon_indicator",
    "aroon_up",
    "cci",
    "dpo",
    "ema_indicator",
    "ichimoku_a",
    "ichimoku_b",
    "ichimoku_base_line",
    "ichimoku_conversion_line",
    "kst",
    "kst_diff",
    "kst_sig",
    "macd",
    "macd_all",
    "macd_diff",
    "macd_signal",
    "mass_index",
    "psar",
    "psar_all",
    "psar_down",
    "psar_down_indicator",
    "psar_up",
    "psar_up_indicator",
    "sma_indicator",
    "stc",
    "trix",
    "vortex_indicator_diff",
    "vortex_indicator_neg",
    "vortex_indicator_pos",
    "wma_indicator",
]
