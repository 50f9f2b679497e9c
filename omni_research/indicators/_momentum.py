"""`ta.momentum` as Polars expressions.

Every function mirrors the `ta` function of the same name (same inputs, parameters and
defaults; `ta`'s ``fillna`` is left out: warm-up rows are null). EMAs are pandas'
``ewm(adjust=False)`` seeded at the first value, as in `ta` (TA-Lib seeds with an SMA).
"""

from __future__ import annotations

import functools
from typing import Any

import polars as pl

from omni_research.indicators._checks import check_window
from omni_research.indicators._common import (
    By,
    ColumnLike,
    KernelResult,
    as_float,
    kernel_expr,
    kernel_expr_nan,
    sma,
)
from omni_research.indicators._registry import register_ta

# --------------------------------------------------------------------------- RSI family


def rsi(close: ColumnLike = "close", /, *, window: int = 14, by: By = None) -> pl.Expr:
    """Relative Strength Index, as ``ta.momentum.rsi``.

    Wilder averages (``ewm(alpha=1/window, adjust=False)``) of gains and losses, started
    at row 0 (a 0.0 change); 100 where the average loss is 0. Runs one fused numba pass.

    Returns
    -------
    pl.Expr
        Null before row ``window - 1``; named ``rsi``.

    Examples
    --------
    >>> import polars as pl
    >>> from omni_research.indicators import rsi
    >>> pl.DataFrame({"close": [1.0, 2.0, 1.0, 3.0]}).select(rsi(window=2))
    shape: (4, 1)
    ┌───────────┐
    │ rsi       │
    │ ---       │
    │ f64       │
    ╞═══════════╡
    │ null      │
    │ 100.0     │
    │ 33.333333 │
    │ 81.818182 │
    └───────────┘
    """
    w = check_window("rsi", "window", window)

    def run(c: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import wilder

        return wilder.rsi(c, w)  # type: ignore[no-any-return]

    return kernel_expr(run, [close], by=by).alias("rsi")


def _stochrsi(close: ColumnLike, window: int) -> pl.Expr:
    w = check_window("stochrsi", "window", window)
    r = rsi(close, window=w)
    lowest = r.rolling_min(w)
    return (r - lowest) / (r.rolling_max(w) - lowest)


def stochrsi(
    close: ColumnLike = "close", /, *, window: int = 14, smooth1: int = 3, smooth2: int = 3
) -> pl.Expr:
    """Stochastic RSI on a 0-1 scale (as `ta`; TA-Lib's STOCHRSI is 0-100).

    Returns
    -------
    pl.Expr
        ``(rsi - min(rsi)) / (max(rsi) - min(rsi))`` over ``window`` rows, null before row
        ``2 * window - 2``; named ``stochrsi``.
    """
    return _stochrsi(close, window).alias("stochrsi")


def stochrsi_k(
    close: ColumnLike = "close", /, *, window: int = 14, smooth1: int = 3, smooth2: int = 3
) -> pl.Expr:
    """%K of the Stochastic RSI: SMA(``smooth1``) of :func:`stochrsi`, as ``ta``.

    Returns
    -------
    pl.Expr
        Named ``stochrsi_k``.
    """
    s1 = check_window("stochrsi_k", "smooth1", smooth1)
    return _stochrsi(close, window).rolling_mean(s1).alias("stochrsi_k")


def stochrsi_d(
    close: ColumnLike = "close", /, *, window: int = 14, smooth1: int = 3, smooth2: int = 3
) -> pl.Expr:
    """%D of the Stochastic RSI: SMA(``smooth2``) of :func:`stochrsi_k`, as ``ta``.

    Returns
    -------
    pl.Expr
        Named ``stochrsi_d``.
    """
    s1 = check_window("stochrsi_d", "smooth1", smooth1)
    s2 = check_window("stochrsi_d", "smooth2", smooth2)
    k = _stochrsi(close, window).rolling_mean(s1)
    return k.rolling_mean(s2).alias("stochrsi_d")


# --------------------------------------------------------------------------- TSI, UO


def tsi(close: ColumnLike = "close", /, *, window_slow: int = 25, window_fast: int = 13) -> pl.Expr:
    """True Strength Index, as ``ta.momentum.tsi``: double-smoothed momentum ratio * 100.

    Returns
    -------
    pl.Expr
        Null before row ``window_slow + window_fast - 1``; named ``tsi``.
    """
    ws = check_window("tsi", "window_slow", window_slow)
    wf = check_window("tsi", "window_fast", window_fast)

    # four EWMs in one numba pass, with pandas' NaN handling (see `_po`)
    def run(c: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import exponential

        return exponential.tsi(c, ws, wf)  # type: ignore[no-any-return]

    return kernel_expr_nan(run, [close], null_rows=ws + wf - 1).alias("tsi")


def ultimate_oscillator(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    window1: int = 7,
    window2: int = 14,
    window3: int = 28,
    weight1: float = 4.0,
    weight2: float = 2.0,
    weight3: float = 1.0,
) -> pl.Expr:
    """Ultimate Oscillator, as ``ta.momentum.ultimate_oscillator``.

    Buying pressure is missing in row 0 (`ta` takes ``min(low, prev close)`` without
    skipping NaN) while the true range of row 0 is ``high - low``, so the first value is
    at row ``max(window1, window2, window3)``.

    Returns
    -------
    pl.Expr
        Named ``ultimate_oscillator``.
    """
    w1 = check_window("ultimate_oscillator", "window1", window1)
    w2 = check_window("ultimate_oscillator", "window2", window2)
    w3 = check_window("ultimate_oscillator", "window3", window3)
    k1, k2, k3 = float(weight1), float(weight2), float(weight3)

    # one numba pass instead of six rolling sums over two derived columns (~20x faster)
    def run(h: KernelResult, lo: KernelResult, c: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import rolling

        return rolling.ultimate_oscillator(  # type: ignore[no-any-return]
            h, lo, c, w1, w2, w3, k1, k2, k3
        )

    uo = kernel_expr_nan(run, [high, low, close], null_rows=max(w1, w2, w3))
    return uo.alias("ultimate_oscillator")


# --------------------------------------------------------------------------- Stochastic


def _extremes(high: ColumnLike, low: ColumnLike, window: int, what: str) -> pl.Expr:
    """Struct ``{hh, ll}``: rolling max of the high and min of the low, one numba pass."""
    w = check_window(what, "lbp" if what == "williams_r" else "window", window)

    def run(h: KernelResult, lo: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import rolling

        return rolling.rolling_max_min(h, lo, w)  # type: ignore[no-any-return]

    return kernel_expr(run, [high, low], outputs=("hh", "ll"))


def _stoch_k(high: ColumnLike, low: ColumnLike, close: ColumnLike, window: int) -> pl.Expr:
    hh, ll = pl.field("hh"), pl.field("ll")
    k = 100 * (as_float(close) - ll) / (hh - ll)
    ext = _extremes(high, low, window, "stoch")
    return ext.struct.with_fields(_k=k).struct.field("_k")


def stoch(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    window: int = 14,
    smooth_window: int = 3,
) -> pl.Expr:
    """Stochastic oscillator %K, as ``ta.momentum.stoch`` (unsmoothed, 0-100).

    Returns
    -------
    pl.Expr
        Null before row ``window - 1``; named ``stoch``.
    """
    return _stoch_k(high, low, close, window).alias("stoch")


def stoch_signal(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    window: int = 14,
    smooth_window: int = 3,
) -> pl.Expr:
    """Stochastic oscillator %D: SMA(``smooth_window``) of %K, as ``ta.momentum.stoch_signal``.

    Returns
    -------
    pl.Expr
        Named ``stoch_signal``.
    """
    sw = check_window("stoch_signal", "smooth_window", smooth_window)
    return sma(_stoch_k(high, low, close, window), sw).alias("stoch_signal")


def williams_r(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    lbp: int = 14,
) -> pl.Expr:
    """Williams %R, as ``ta.momentum.williams_r`` (-100 to 0).

    Returns
    -------
    pl.Expr
        Null before row ``lbp - 1``; named ``williams_r``.
    """
    hh, ll = pl.field("hh"), pl.field("ll")
    wr = -100 * (hh - as_float(close)) / (hh - ll)
    ext = _extremes(high, low, lbp, "williams_r")
    return ext.struct.with_fields(_wr=wr).struct.field("_wr").alias("williams_r")


def awesome_oscillator(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    /,
    *,
    window1: int = 5,
    window2: int = 34,
) -> pl.Expr:
    """Awesome Oscillator, as ``ta.momentum.awesome_oscillator``: SMA5 - SMA34 of the median.

    Returns
    -------
    pl.Expr
        Named ``awesome_oscillator``.
    """
    w1 = check_window("awesome_oscillator", "window1", window1)
    w2 = check_window("awesome_oscillator", "window2", window2)
    median = 0.5 * (as_float(high) + as_float(low))
    return (sma(median, w1) - sma(median, w2)).alias("awesome_oscillator")


# --------------------------------------------------------------------------- KAMA, ROC


def kama(
    close: ColumnLike = "close",
    /,
    *,
    window: int = 10,
    pow1: int = 2,
    pow2: int = 30,
    by: By = None,
) -> pl.Expr:
    """Kaufman's Adaptive Moving Average, as ``ta.momentum.kama``.

    Starts at the close of row ``window - 1`` (TA-Lib starts one row later from the
    previous close). The recursion runs in a numba kernel.

    Returns
    -------
    pl.Expr
        Null before row ``window - 1``; named ``kama``.
    """
    w = check_window("kama", "window", window)
    p1 = check_window("kama", "pow1", pow1)
    p2 = check_window("kama", "pow2", pow2)

    def run(c: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import exponential

        return exponential.kama(c, w, float(p1), float(p2))  # type: ignore[no-any-return]

    return kernel_expr(run, [close], by=by).alias("kama")


def roc(close: ColumnLike = "close", /, *, window: int = 12) -> pl.Expr:
    """Rate of Change in percent, as ``ta.momentum.roc``.

    Returns
    -------
    pl.Expr
        ``(close - close[-window]) / close[-window] * 100``; named ``roc``.
    """
    w = check_window("roc", "window", window)
    c = as_float(close)
    prev = c.shift(w)
    return ((c - prev) / prev * 100).alias("roc")


# --------------------------------------------------------------------------- PPO, PVO


def _po(
    x: ColumnLike, window_slow: int, window_fast: int, window_sign: int, what: str, row: int
) -> pl.Expr:
    """Row ``row`` (0 line, 1 signal, 2 histogram) of the fused PPO/PVO kernel.

    One numba call with pandas' EWM rule: Polars' ``ewm_mean`` propagates a NaN (a missing
    price, or the PVO line's 0/0 on zero volume) where pandas carries the mean, and three
    separate gap-aware EWM expressions recompute shared inputs (~4x slower).
    """
    ws = check_window(what, "window_slow", window_slow)
    wf = check_window(what, "window_fast", window_fast)
    wsg = check_window(what, "window_sign", window_sign)

    def run(v: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import exponential

        return exponential.percentage_oscillator(v, ws, wf, wsg)[row]  # type: ignore[no-any-return]

    warm = max(ws, wf) - 1 + (wsg - 1 if row > 0 else 0)
    return kernel_expr_nan(run, [x], null_rows=warm)


def ppo(
    close: ColumnLike = "close",
    /,
    *,
    window_slow: int = 26,
    window_fast: int = 12,
    window_sign: int = 9,
) -> pl.Expr:
    """Percentage Price Oscillator ``(EMA_fast - EMA_slow) / EMA_slow * 100``, as ``ta``.

    Returns
    -------
    pl.Expr
        Named ``ppo``.
    """
    return _po(close, window_slow, window_fast, window_sign, "ppo", 0).alias("ppo")


def ppo_signal(
    close: ColumnLike = "close",
    /,
    *,
    window_slow: int = 26,
    window_fast: int = 12,
    window_sign: int = 9,
) -> pl.Expr:
    """EMA(``window_sign``) of :func:`ppo`, as ``ta.momentum.ppo_signal``.

    Returns
    -------
    pl.Expr
        Named ``ppo_signal``.
    """
    return _po(close, window_slow, window_fast, window_sign, "ppo", 1).alias("ppo_signal")


def ppo_hist(
    close: ColumnLike = "close",
    /,
    *,
    window_slow: int = 26,
    window_fast: int = 12,
    window_sign: int = 9,
) -> pl.Expr:
    """PPO minus its signal, as ``ta.momentum.ppo_hist``.

    Returns
    -------
    pl.Expr
        Named ``ppo_hist``.
    """
    return _po(close, window_slow, window_fast, window_sign, "ppo", 2).alias("ppo_hist")


def pvo(
    volume: ColumnLike = "volume",
    /,
    *,
    window_slow: int = 26,
    window_fast: int = 12,
    window_sign: int = 9,
) -> pl.Expr:
    """Percentage Volume Oscillator (PPO of the volume), as ``ta.momentum.pvo``.

    Returns
    -------
    pl.Expr
        Named ``pvo``.
    """
    return _po(volume, window_slow, window_fast, window_sign, "pvo", 0).alias("pvo")


def pvo_signal(
    volume: ColumnLike = "volume",
    /,
    *,
    window_slow: int = 26,
    window_fast: int = 12,
    window_sign: int = 9,
) -> pl.Expr:
    """EMA(``window_sign``) of :func:`pvo`, as ``ta.momentum.pvo_signal``.

    Returns
    -------
    pl.Expr
        Named ``pvo_signal``.
    """
    return _po(volume, window_slow, window_fast, window_sign, "pvo", 1).alias("pvo_signal")


def pvo_hist(
    volume: ColumnLike = "volume",
    /,
    *,
    window_slow: int = 26,
    window_fast: int = 12,
    window_sign: int = 9,
) -> pl.Expr:
    """PVO minus its signal, as ``ta.momentum.pvo_hist``.

    Returns
    -------
    pl.Expr
        Named ``pvo_hist``.
    """
    return _po(volume, window_slow, window_fast, window_sign, "pvo", 2).alias("pvo_hist")


# --------------------------------------------------------------------------- registry


def _p(**params: Any) -> dict[str, Any]:
    return params


_register = functools.partial(register_ta, "momentum")

_register(
    name="rsi",
    inputs=("close",),
    params=_p(window=14),
    outputs={"rsi": rsi},
    warmup=lambda window=14: window - 1,
    ta_class="RSIIndicator",
    placement="panel",
    description="Relative Strength Index (0-100).",
)
_register(
    name="stochrsi",
    inputs=("close",),
    params=_p(window=14, smooth1=3, smooth2=3),
    outputs={"stochrsi": stochrsi, "k": stochrsi_k, "d": stochrsi_d},
    warmup=lambda window=14, smooth1=3, smooth2=3: 2 * window - 2 + smooth1 - 1 + smooth2 - 1,
    ta_class="StochRSIIndicator",
    placement="panel",
    description="Stochastic RSI (0-1) with %K and %D.",
)
_register(
    name="tsi",
    inputs=("close",),
    params=_p(window_slow=25, window_fast=13),
    outputs={"tsi": tsi},
    warmup=lambda window_slow=25, window_fast=13: window_slow + window_fast - 1,
    ta_class="TSIIndicator",
    placement="panel",
    description="True Strength Index.",
)
_register(
    name="ultimate_oscillator",
    inputs=("high", "low", "close"),
    params=_p(window1=7, window2=14, window3=28, weight1=4.0, weight2=2.0, weight3=1.0),
    outputs={"ultimate_oscillator": ultimate_oscillator},
    warmup=lambda window1=7, window2=14, window3=28, **_: max(window1, window2, window3),
    ta_class="UltimateOscillator",
    placement="panel",
    description="Ultimate Oscillator (0-100).",
)
_register(
    name="stoch",
    inputs=("high", "low", "close"),
    params=_p(window=14, smooth_window=3),
    outputs={"stoch": stoch, "signal": stoch_signal},
    warmup=lambda window=14, smooth_window=3: window + smooth_window - 2,
    ta_class="StochasticOscillator",
    placement="panel",
    description="Stochastic oscillator %K and %D (0-100).",
)
_register(
    name="williams_r",
    inputs=("high", "low", "close"),
    params=_p(lbp=14),
    outputs={"williams_r": williams_r},
    warmup=lambda lbp=14: lbp - 1,
    ta_class="WilliamsRIndicator",
    placement="panel",
    description="Williams %R (-100-0).",
)
_register(
    name="awesome_oscillator",
    inputs=("high", "low"),
    params=_p(window1=5, window2=34),
    outputs={"awesome_oscillator": awesome_oscillator},
    warmup=lambda window1=5, window2=34: max(window1, window2) - 1,
    ta_class="AwesomeOscillatorIndicator",
    placement="panel",
    description="Awesome Oscillator: SMA5 - SMA34 of the median price.",
)
_register(
    name="kama",
    inputs=("close",),
    params=_p(window=10, pow1=2, pow2=30),
    outputs={"kama": kama},
    warmup=lambda window=10, pow1=2, pow2=30: window - 1,
    ta_class="KAMAIndicator",
    placement="overlay",
    description="Kaufman's Adaptive Moving Average.",
)
_register(
    name="roc",
    inputs=("close",),
    params=_p(window=12),
    outputs={"roc": roc},
    warmup=lambda window=12: window,
    ta_class="ROCIndicator",
    placement="panel",
    description="Rate of Change in percent.",
)
_register(
    name="ppo",
    inputs=("close",),
    params=_p(window_slow=26, window_fast=12, window_sign=9),
    outputs={"ppo": ppo, "signal": ppo_signal, "hist": ppo_hist},
    warmup=lambda window_slow=26, window_fast=12, window_sign=9: (
        max(window_slow, window_fast) + window_sign - 2
    ),
    ta_class="PercentagePriceOscillator",
    placement="panel",
    description="Percentage Price Oscillator, signal and histogram.",
)
_register(
    name="pvo",
    inputs=("volume",),
    params=_p(window_slow=26, window_fast=12, window_sign=9),
    outputs={"pvo": pvo, "signal": pvo_signal, "hist": pvo_hist},
    warmup=lambda window_slow=26, window_fast=12, window_sign=9: (
        max(window_slow, window_fast) + window_sign - 2
    ),
    ta_class="PercentageVolumeOscillator",
    placement="panel",
    description="Percentage Volume Oscillator, signal and histogram.",
)

__all__ = [
    "awesome_oscillator",
    "kama",
    "ppo",
    "ppo_hist",
    "ppo_signal",
    "pvo",
    "pvo_hist",
    "pvo_signal",
    "roc",
    "rsi",
    "stoch",
    "stoch_signal",
    "stochrsi",
    "stochrsi_d",
    "stochrsi_k",
    "tsi",
    "ultimate_oscillator",
    "williams_r",
]
