"""Trend indicators: every class of ``ta.trend`` (0.11) as Polars expressions.

Each function returns one ``pl.Expr`` for one `ta` output, with the same numbers as `ta`
(to 1e-9 of the column's scale; most are bit-identical) and missing values in the same
rows: `ta`'s NaN is null here, `ta`'s 0.0 warm-up rows (ADX) are 0.0 here too.

Look-ahead in `ta`, not reproduced unless ``ta_compat=True`` (see docs/indicators.md):
``shift(n, fill_value=series.mean())`` in TRIX, KST, DPO, Vortex and the visual Ichimoku
spans fills the first rows with the mean of the *whole* series. Where that value reaches
an output (KST always; DPO for windows <= 2; visual Ichimoku always) the default leaves
those rows null.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

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
from omni_research.indicators._registry import register_ta

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


# --- moving averages ---------------------------------------------------------------------


def sma_indicator(close: ColumnLike = "close", /, *, window: int = 12, by: By = None) -> pl.Expr:
    """Simple moving average (`ta.trend.sma_indicator`), null for the first ``window-1`` rows.

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
    """

    def run(x: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import rolling

        return rolling.rolling_mean(x, window)  # type: ignore[no-any-return]

    # a numba running sum: ~2x faster than Polars' rolling_mean here, same values to 1e-14
    return kernel_expr(run, [as_float(close)], by=by).alias(f"sma_{window}")


def ema_indicator(close: ColumnLike = "close", /, *, window: int = 12, by: By = None) -> pl.Expr:
    """Exponential moving average as `ta.trend.ema_indicator`.

    ``ewm(span=window, adjust=False)`` seeded at the first close (TA-Lib seeds with an SMA),
    null for the first ``window-1`` rows. Runs pandas' EWM loop in numba (about TA-Lib's
    speed; Polars' ``ewm_mean`` gives the same values 2-3x slower).
    """

    def run(x: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import exponential

        return exponential.ewm_gaps(x, 2.0 / (window + 1.0), window)  # type: ignore[no-any-return]

    return kernel_expr(run, [as_float(close)], by=by).alias(f"ema_{window}")


def wma_indicator(close: ColumnLike = "close", /, *, window: int = 9) -> pl.Expr:
    """Linearly weighted moving average (`ta.trend.wma_indicator`), weights ``1..window``."""
    denom = window * (window + 1)
    weights = [i * 2 / denom for i in range(1, window + 1)]
    return as_float(close).rolling_sum(window, weights=weights).alias(f"wma_{window}")


# --- MACD --------------------------------------------------------------------------------

_MACD_FIELDS = ("macd", "macd_signal", "macd_diff")


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

    def run(c: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import exponential

        return exponential.macd(c, window_slow, window_fast, window_sign)  # type: ignore[no-any-return]

    return kernel_expr(run, [as_float(close)], outputs=_MACD_FIELDS, by=by).alias("macd_all")


def macd(
    close: ColumnLike = "close", /, *, window_slow: int = 26, window_fast: int = 12, by: By = None
) -> pl.Expr:
    """MACD line, ``ema(fast) - ema(slow)`` (`ta.trend.macd`)."""
    return (
        macd_all(close, window_slow=window_slow, window_fast=window_fast, by=by)
        .struct.field("macd")
        .alias("macd")
    )


def macd_signal(
    close: ColumnLike = "close",
    /,
    *,
    window_slow: int = 26,
    window_fast: int = 12,
    window_sign: int = 9,
    by: By = None,
) -> pl.Expr:
    """MACD signal line, an EMA of the MACD line (`ta.trend.macd_signal`)."""
    full = macd_all(
        close, window_slow=window_slow, window_fast=window_fast, window_sign=window_sign, by=by
    )
    return full.struct.field("macd_signal").alias("macd_signal")


def macd_diff(
    close: ColumnLike = "close",
    /,
    *,
    window_slow: int = 26,
    window_fast: int = 12,
    window_sign: int = 9,
    by: By = None,
) -> pl.Expr:
    """MACD histogram, line minus signal (`ta.trend.macd_diff`)."""
    full = macd_all(
        close, window_slow=window_slow, window_fast=window_fast, window_sign=window_sign, by=by
    )
    return full.struct.field("macd_diff").alias("macd_diff")


# --- TRIX, Mass Index, DPO, CCI ----------------------------------------------------------


def trix(close: ColumnLike = "close", /, *, window: int = 15, ta_compat: bool = False) -> pl.Expr:
    """TRIX: percent change of a triple EMA (`ta.trend.trix`).

    `ta` fills the shifted first row with the mean of the whole triple EMA; that row is
    already null (the triple EMA is still warming up) so the value never shows, and
    ``ta_compat`` changes nothing here. It is accepted for symmetry.
    """
    e3 = ema(ema(ema(as_float(close), window), window), window)
    prev = shift_fill_mean(e3, 1, ta_compat=ta_compat)
    return ((e3 - prev) / prev * 100).alias("trix")


def mass_index(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    /,
    *,
    window_fast: int = 9,
    window_slow: int = 25,
) -> pl.Expr:
    """Mass Index: rolling sum of ``ema(h-l) / ema(ema(h-l))`` (`ta.trend.mass_index`)."""
    amplitude = as_float(high) - as_float(low)
    e1 = ema(amplitude, window_fast)
    e2 = ema(e1, window_fast)
    return (e1 / e2).rolling_sum(window_slow, min_samples=window_slow).alias("mass_index")


def dpo(close: ColumnLike = "close", /, *, window: int = 20, ta_compat: bool = False) -> pl.Expr:
    """Detrended Price Oscillator (`ta.trend.dpo`): ``close[t - (w//2 + 1)] - sma(close, w)``.

    `ta` fills the first ``int(w/2 + 1)`` shifted closes with the whole-series mean. For
    ``window >= 3`` those rows are null anyway (the SMA is warming up); for smaller windows
    the default leaves them null and ``ta_compat=True`` reproduces `ta`.
    """
    c = as_float(close)
    shifted = shift_fill_mean(c, int(0.5 * window + 1), ta_compat=ta_compat)
    return (shifted - sma(c, window)).alias("dpo")


def cci(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    window: int = 20,
    constant: float = 0.015,
) -> pl.Expr:
    """Commodity Channel Index (`ta.trend.cci`), mean absolute deviation from a numba loop."""
    tp = (as_float(high) + as_float(low) + as_float(close)) / 3.0

    def run(x: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import rolling

        return rolling.rolling_mad(x, window)  # type: ignore[no-any-return]

    mad = kernel_expr(run, [tp])
    return ((tp - sma(tp, window)) / (constant * mad)).alias("cci")


# --- KST ---------------------------------------------------------------------------------


def _kst_line(
    close: ColumnLike,
    rocs: tuple[int, int, int, int],
    windows: tuple[int, int, int, int],
    ta_compat: bool,
) -> pl.Expr:
    c = as_float(close)
    total: pl.Expr | None = None
    for k, (r, w) in enumerate(zip(rocs, windows, strict=True), start=1):
        prev = shift_fill_mean(c, r, ta_compat=ta_compat)
        rocma = ((c - prev) / prev).rolling_mean(w, min_samples=w)
        total = rocma if total is None else total + k * rocma
    assert total is not None
    return 100 * total


def kst(
    close: ColumnLike = "close",
    /,
    *,
    roc1: int = 10,
    roc2: int = 15,
    roc3: int = 20,
    roc4: int = 30,
    window1: int = 10,
    window2: int = 10,
    window3: int = 10,
    window4: int = 15,
    ta_compat: bool = False,
) -> pl.Expr:
    """Know Sure Thing (`ta.trend.kst`).

    `ta` computes each rate of change against ``close.shift(roc, fill_value=close.mean())``,
    so its first ``max(roc_i + window_i) - 1`` values use the mean of the whole series (look
    ahead). By default those rows are null; ``ta_compat=True`` reproduces `ta`.
    """
    line = _kst_line(
        close, (roc1, roc2, roc3, roc4), (window1, window2, window3, window4), ta_compat
    )
    return line.alias("kst")


def kst_sig(
    close: ColumnLike = "close",
    /,
    *,
    roc1: int = 10,
    roc2: int = 15,
    roc3: int = 20,
    roc4: int = 30,
    window1: int = 10,
    window2: int = 10,
    window3: int = 10,
    window4: int = 15,
    nsig: int = 9,
    ta_compat: bool = False,
) -> pl.Expr:
    """KST signal: mean of the last ``nsig`` available KST values (`ta.trend.kst_sig`)."""
    line = _kst_line(
        close, (roc1, roc2, roc3, roc4), (window1, window2, window3, window4), ta_compat
    )
    return line.rolling_mean(nsig, min_samples=1).alias("kst_sig")


def kst_diff(
    close: ColumnLike = "close",
    /,
    *,
    roc1: int = 10,
    roc2: int = 15,
    roc3: int = 20,
    roc4: int = 30,
    window1: int = 10,
    window2: int = 10,
    window3: int = 10,
    window4: int = 15,
    nsig: int = 9,
    ta_compat: bool = False,
) -> pl.Expr:
    """KST minus its signal (`ta.trend.KSTIndicator.kst_diff`)."""
    line = _kst_line(
        close, (roc1, roc2, roc3, roc4), (window1, window2, window3, window4), ta_compat
    )
    return (line - line.rolling_mean(nsig, min_samples=1)).alias("kst_diff")


# --- Ichimoku ----------------------------------------------------------------------------


def _midpoint(high: ColumnLike, low: ColumnLike, window: int, min_samples: int) -> pl.Expr:
    h = as_float(high).rolling_max(window, min_samples=min_samples)
    lo = as_float(low).rolling_min(window, min_samples=min_samples)
    return 0.5 * (h + lo)


def ichimoku_conversion_line(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    /,
    *,
    window1: int = 9,
    window2: int = 26,
    visual: bool = False,
) -> pl.Expr:
    """Tenkan-sen: midpoint of the ``window1`` high/low range (`ta.trend`)."""
    return _midpoint(high, low, window1, window1).alias("ichimoku_conv")


def ichimoku_base_line(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    /,
    *,
    window1: int = 9,
    window2: int = 26,
    visual: bool = False,
) -> pl.Expr:
    """Kijun-sen: midpoint of the ``window2`` high/low range (`ta.trend`)."""
    return _midpoint(high, low, window2, window2).alias("ichimoku_base")


def ichimoku_a(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    /,
    *,
    window1: int = 9,
    window2: int = 26,
    visual: bool = False,
    ta_compat: bool = False,
) -> pl.Expr:
    """Senkou span A, ``(conversion + base) / 2`` (`ta.trend.ichimoku_a`).

    With ``visual=True`` the span is shifted forward by ``window2`` rows, as drawn on a
    chart. `ta` fills those first ``window2`` rows with the mean of the whole span (look
    ahead); here they are null unless ``ta_compat=True``.
    """
    span = 0.5 * (_midpoint(high, low, window1, window1) + _midpoint(high, low, window2, window2))
    if visual:
        span = shift_fill_mean(span, window2, ta_compat=ta_compat)
    return span.alias("ichimoku_a")


def ichimoku_b(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    /,
    *,
    window2: int = 26,
    window3: int = 52,
    visual: bool = False,
    ta_compat: bool = False,
) -> pl.Expr:
    """Senkou span B, midpoint of the ``window3`` range (`ta.trend.ichimoku_b`).

    As in `ta`, the range uses whatever rows exist (``min_periods=0``), so it has a value
    from the first row. ``visual=True`` shifts it by ``window2``; `ta` fills the gap with the
    whole-series mean (look ahead), here null unless ``ta_compat=True``.
    """
    span = _midpoint(high, low, window3, 1)
    if visual:
        span = shift_fill_mean(span, window2, ta_compat=ta_compat)
    return span.alias("ichimoku_b")


# --- Aroon -------------------------------------------------------------------------------


def _aroon(x: ColumnLike, window: int, is_max: bool) -> pl.Expr:
    def run(a: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import rolling

        return rolling.aroon(a, window, is_max)  # type: ignore[no-any-return]

    return kernel_expr(run, [as_float(x)])


def aroon_up(high: ColumnLike = "high", low: ColumnLike = "low", /, *, window: int = 25) -> pl.Expr:
    """Aroon up: ``100 * (position of the high in the last window+1 rows) / window``."""
    return _aroon(high, window, True).alias("aroon_up")


def aroon_down(
    high: ColumnLike = "high", low: ColumnLike = "low", /, *, window: int = 25
) -> pl.Expr:
    """Aroon down, from the position of the lowest low (`ta.trend.aroon_down`)."""
    return _aroon(low, window, False).alias("aroon_down")


def aroon_indicator(
    high: ColumnLike = "high", low: ColumnLike = "low", /, *, window: int = 25
) -> pl.Expr:
    """Aroon up minus Aroon down (`ta.trend.AroonIndicator.aroon_indicator`)."""
    return (_aroon(high, window, True) - _aroon(low, window, False)).alias("aroon_indicator")


# --- ADX ---------------------------------------------------------------------------------

_ADX_FIELDS = ("adx", "adx_pos", "adx_neg")


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
    if window < 1:
        from omni_research.exceptions import ConfigurationError

        raise ConfigurationError(f"adx: window must be >= 1, got {window}")

    def run(h: KernelResult, lo: KernelResult, c: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import wilder

        return wilder.adx(h, lo, c, window)  # type: ignore[no-any-return]

    return kernel_expr(run, [high, low, close], outputs=_ADX_FIELDS, by=by).alias("adx_all")


def adx(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    window: int = 14,
    by: By = None,
) -> pl.Expr:
    """Average Directional Index as `ta.trend.adx`: Wilder sums seeded with a plain sum,
    0.0 (not null) in the first ``2*window - 1`` rows as `ta` writes them."""
    return adx_all(high, low, close, window=window, by=by).struct.field("adx").alias("adx")


def adx_pos(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    window: int = 14,
    by: By = None,
) -> pl.Expr:
    """+DI (`ta.trend.adx_pos`), 0.0 in the first ``window + 1`` rows as in `ta`."""
    return adx_all(high, low, close, window=window, by=by).struct.field("adx_pos").alias("adx_pos")


def adx_neg(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    window: int = 14,
    by: By = None,
) -> pl.Expr:
    """-DI (`ta.trend.adx_neg`), 0.0 in the first ``window + 1`` rows as in `ta`."""
    return adx_all(high, low, close, window=window, by=by).struct.field("adx_neg").alias("adx_neg")


# --- Vortex ------------------------------------------------------------------------------


def _vortex(
    high: ColumnLike, low: ColumnLike, close: ColumnLike, window: int, ta_compat: bool
) -> tuple[pl.Expr, pl.Expr]:
    h, lo, c = as_float(high), as_float(low), as_float(close)
    if ta_compat:
        # ta: true range against close.shift(1, fill_value=close.mean()) (row 0 sees the mean)
        prev = shift_fill_mean(c, 1, ta_compat=True)
        tr = pl.max_horizontal(h - lo, (h - prev).abs(), (lo - prev).abs())
    else:
        tr = true_range(h, lo, c)
    trn = tr.rolling_sum(window, min_samples=window)
    vmp = (h - lo.shift(1)).abs().rolling_sum(window, min_samples=window)
    vmm = (lo - h.shift(1)).abs().rolling_sum(window, min_samples=window)
    return vmp / trn, vmm / trn


def vortex_indicator_pos(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    window: int = 14,
    ta_compat: bool = False,
) -> pl.Expr:
    """Vortex +VI (`ta.trend.vortex_indicator_pos`).

    `ta` uses the whole-series mean as the close before row 0; that true range only enters
    windows that are already null (VM+ has no row 0), so both settings agree.
    """
    return _vortex(high, low, close, window, ta_compat)[0].alias("vortex_indicator_pos")


def vortex_indicator_neg(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    window: int = 14,
    ta_compat: bool = False,
) -> pl.Expr:
    """Vortex -VI (`ta.trend.vortex_indicator_neg`)."""
    return _vortex(high, low, close, window, ta_compat)[1].alias("vortex_indicator_neg")


def vortex_indicator_diff(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    window: int = 14,
    ta_compat: bool = False,
) -> pl.Expr:
    """+VI minus -VI (`ta.trend.VortexIndicator.vortex_indicator_diff`)."""
    pos, neg = _vortex(high, low, close, window, ta_compat)
    return (pos - neg).alias("vortex_indicator_diff")


# --- Parabolic SAR -----------------------------------------------------------------------

_PSAR_FIELDS = ("psar", "psar_up", "psar_down")


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

    def run(h: KernelResult, lo: KernelResult, c: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import psar

        return psar.psar(h, lo, c, float(step), float(max_step))  # type: ignore[no-any-return]

    return kernel_expr(run, [high, low, close], outputs=_PSAR_FIELDS, by=by).alias("psar_all")


def psar(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    step: float = 0.02,
    max_step: float = 0.2,
    by: By = None,
) -> pl.Expr:
    """Parabolic SAR (`ta.trend.PSARIndicator.psar`); the first two rows hold the close."""
    return psar_all(high, low, close, step=step, max_step=max_step, by=by).struct.field("psar")


def psar_up(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    step: float = 0.02,
    max_step: float = 0.2,
    by: By = None,
) -> pl.Expr:
    """PSAR while in an up trend, null otherwise (`ta.trend.psar_up`)."""
    return psar_all(high, low, close, step=step, max_step=max_step, by=by).struct.field("psar_up")


def psar_down(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    step: float = 0.02,
    max_step: float = 0.2,
    by: By = None,
) -> pl.Expr:
    """PSAR while in a down trend, null otherwise (`ta.trend.psar_down`)."""
    return psar_all(high, low, close, step=step, max_step=max_step, by=by).struct.field("psar_down")


def _starts(part: pl.Expr) -> pl.Expr:
    return part.is_not_null() & part.shift(1).is_null()


def psar_up_indicator(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    step: float = 0.02,
    max_step: float = 0.2,
) -> pl.Expr:
    """1.0 on the row an up trend starts, else 0.0 (`ta.trend.psar_up_indicator`).

    `ta` keeps the SAR value where the trend starts and then maps non-zero to 1, so a start
    whose SAR is exactly 0.0 reads 0.0; reproduced.
    """
    up = psar_up(high, low, close, step=step, max_step=max_step)
    return pl.when(_starts(up) & (up != 0.0)).then(1.0).otherwise(0.0).alias("psar_up_indicator")


def psar_down_indicator(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    step: float = 0.02,
    max_step: float = 0.2,
) -> pl.Expr:
    """1.0 on the row a down trend starts, else 0.0 (`ta.trend.psar_down_indicator`)."""
    down = psar_down(high, low, close, step=step, max_step=max_step)
    return pl.when(_starts(down)).then(1.0).otherwise(0.0).alias("psar_down_indicator")


# --- STC ---------------------------------------------------------------------------------


def stc(
    close: ColumnLike = "close",
    /,
    *,
    window_slow: int = 50,
    window_fast: int = 23,
    cycle: int = 10,
    smooth1: int = 3,
    smooth2: int = 3,
) -> pl.Expr:
    """Schaff Trend Cycle (`ta.trend.stc`): a twice-stochastic, twice-smoothed MACD.

    The MACD is a Polars expression; the two stochastic-and-EMA passes run in one numba
    loop (pandas' EMA gap rule included: a flat cycle gives 0/0, which pandas skips).
    """
    c = as_float(close)
    line = ema(c, window_fast) - ema(c, window_slow)

    def run(m: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import exponential

        return exponential.stc(m, cycle, smooth1, smooth2)  # type: ignore[no-any-return]

    return kernel_expr(run, [line]).alias("stc")


# --- registry ----------------------------------------------------------------------------

_HLC = ("high", "low", "close")


def _reg(
    name: str,
    inputs: tuple[str, ...],
    params: dict[str, object],
    outputs: dict[str, Callable[..., pl.Expr]],
    warmup: Callable[..., int],
    ta_class: str,
    placement: Literal["overlay", "panel"] = "panel",
    description: str = "",
) -> None:
    register_ta(
        "trend",
        name=name,
        inputs=inputs,
        params=params,
        outputs=outputs,
        warmup=warmup,
        ta_class=ta_class,
        placement=placement,
        description=description,
    )


_KST_PARAMS: dict[str, object] = {
    "roc1": 10,
    "roc2": 15,
    "roc3": 20,
    "roc4": 30,
    "window1": 10,
    "window2": 10,
    "window3": 10,
    "window4": 15,
    "nsig": 9,
    "ta_compat": False,
}


def _kst_warmup(**p: Any) -> int:
    return max(int(p[f"roc{k}"]) + int(p[f"window{k}"]) for k in range(1, 5)) - 1


# Registry adapters: Indicator.exprs passes every parameter of the indicator to every
# output, so outputs that take fewer parameters drop the ones they do not use.


def _kst_adapter(close: ColumnLike = "close", /, *, nsig: int = 9, **kw: Any) -> pl.Expr:
    return kst(close, **kw)


def _macd_adapter(close: ColumnLike = "close", /, *, window_sign: int = 9, **kw: Any) -> pl.Expr:
    return macd(close, **kw)


def _ichimoku_conv_adapter(
    high: ColumnLike = "high", low: ColumnLike = "low", /, *, window1: int = 9, **_: Any
) -> pl.Expr:
    return ichimoku_conversion_line(high, low, window1=window1)


def _ichimoku_base_adapter(
    high: ColumnLike = "high", low: ColumnLike = "low", /, *, window2: int = 26, **_: Any
) -> pl.Expr:
    return ichimoku_base_line(high, low, window2=window2)


def _ichimoku_a_adapter(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    /,
    *,
    window1: int = 9,
    window2: int = 26,
    visual: bool = False,
    ta_compat: bool = False,
    **_: Any,
) -> pl.Expr:
    return ichimoku_a(
        high, low, window1=window1, window2=window2, visual=visual, ta_compat=ta_compat
    )


def _ichimoku_b_adapter(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    /,
    *,
    window2: int = 26,
    window3: int = 52,
    visual: bool = False,
    ta_compat: bool = False,
    **_: Any,
) -> pl.Expr:
    return ichimoku_b(
        high, low, window2=window2, window3=window3, visual=visual, ta_compat=ta_compat
    )


_reg(
    "adx",
    _HLC,
    {"window": 14},
    {"adx": adx, "pos": adx_pos, "neg": adx_neg},
    lambda window=14, **_: 2 * window - 1,
    "ADXIndicator",
    description="Average Directional Index with +DI/-DI (Wilder); 0.0 in warm-up rows as ta.",
)
_reg(
    "aroon",
    ("high", "low"),
    {"window": 25},
    {"up": aroon_up, "down": aroon_down, "indicator": aroon_indicator},
    lambda window=25, **_: window,
    "AroonIndicator",
    description="Aroon up/down: how recent the window's high/low is, in percent.",
)
_reg(
    "cci",
    _HLC,
    {"window": 20, "constant": 0.015},
    {"cci": cci},
    lambda window=20, **_: window - 1,
    "CCIIndicator",
    description="Commodity Channel Index.",
)
_reg(
    "dpo",
    ("close",),
    {"window": 20, "ta_compat": False},
    {"dpo": dpo},
    lambda window=20, **_: max(window - 1, int(0.5 * window + 1)),
    "DPOIndicator",
    description="Detrended Price Oscillator.",
)
_reg(
    "ema",
    ("close",),
    {"window": 12},
    {"ema_indicator": ema_indicator},
    lambda window=12, **_: window - 1,
    "EMAIndicator",
    placement="overlay",
    description="Exponential moving average seeded at the first close (as ta, not TA-Lib).",
)
_reg(
    "ichimoku",
    ("high", "low"),
    {"window1": 9, "window2": 26, "window3": 52, "visual": False, "ta_compat": False},
    {
        "conversion_line": _ichimoku_conv_adapter,
        "base_line": _ichimoku_base_adapter,
        "a": _ichimoku_a_adapter,
        "b": _ichimoku_b_adapter,
    },
    lambda window1=9, window2=26, visual=False, **_: 2 * window2 - 1 if visual else window2 - 1,
    "IchimokuIndicator",
    placement="overlay",
    description="Ichimoku: conversion/base lines and the two cloud spans.",
)
_reg(
    "kst",
    ("close",),
    dict(_KST_PARAMS),
    {
        "kst": _kst_adapter,
        "sig": kst_sig,
        "diff": kst_diff,
    },
    _kst_warmup,
    "KSTIndicator",
    description="Know Sure Thing: weighted sum of four smoothed rates of change.",
)
_reg(
    "macd",
    ("close",),
    {"window_slow": 26, "window_fast": 12, "window_sign": 9},
    {
        "macd": _macd_adapter,
        "signal": macd_signal,
        "diff": macd_diff,
    },
    lambda window_slow=26, window_sign=9, **_: window_slow + window_sign - 2,
    "MACD",
    description="Moving Average Convergence Divergence (ta's EMA: seeded at the first close).",
)
_reg(
    "mass_index",
    ("high", "low"),
    {"window_fast": 9, "window_slow": 25},
    {"mass_index": mass_index},
    lambda window_fast=9, window_slow=25, **_: 2 * window_fast + window_slow - 3,
    "MassIndex",
    description="Mass Index: sum of the ratio of single to double EMA of the range.",
)
_reg(
    "psar",
    _HLC,
    {"step": 0.02, "max_step": 0.2},
    {
        "psar": psar,
        "up": psar_up,
        "down": psar_down,
        "up_indicator": psar_up_indicator,
        "down_indicator": psar_down_indicator,
    },
    lambda **_: 2,
    "PSARIndicator",
    placement="overlay",
    description="Parabolic Stop and Reverse (Wilder).",
)
_reg(
    "sma",
    ("close",),
    {"window": 12},
    {"sma_indicator": sma_indicator},
    lambda window=12, **_: window - 1,
    "SMAIndicator",
    placement="overlay",
    description="Simple moving average.",
)
_reg(
    "stc",
    ("close",),
    {"window_slow": 50, "window_fast": 23, "cycle": 10, "smooth1": 3, "smooth2": 3},
    {"stc": stc},
    lambda window_slow=50, cycle=10, smooth1=3, smooth2=3, **_: (
        window_slow + 2 * cycle + smooth1 + smooth2 - 5
    ),
    "STCIndicator",
    description="Schaff Trend Cycle.",
)
_reg(
    "trix",
    ("close",),
    {"window": 15, "ta_compat": False},
    {"trix": trix},
    lambda window=15, **_: 3 * window - 2,
    "TRIXIndicator",
    description="TRIX: one-period percent change of a triple EMA.",
)
_reg(
    "vortex",
    _HLC,
    {"window": 14, "ta_compat": False},
    {
        "pos": vortex_indicator_pos,
        "neg": vortex_indicator_neg,
        "diff": vortex_indicator_diff,
    },
    lambda window=14, **_: window,
    "VortexIndicator",
    description="Vortex indicator +VI/-VI.",
)
_reg(
    "wma",
    ("close",),
    {"window": 9},
    {"wma_indicator": wma_indicator},
    lambda window=9, **_: window - 1,
    "WMAIndicator",
    placement="overlay",
    description="Linearly weighted moving average.",
)
