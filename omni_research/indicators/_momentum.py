"""`ta.momentum` as Polars expressions.

Every public function mirrors the `ta` function of the same name (same inputs, parameters
and defaults, `ta`'s ``fillna`` included; without it warm-up rows are null). EMAs are pandas'
``ewm(adjust=False)`` seeded at the first value, as in `ta` (TA-Lib seeds with an SMA).
Each indicator is declared once (`IndicatorSpec`); its functions, registry entry,
parameter checks and `add_all_ta_features` columns are generated from that declaration.
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
    kernel_expr,
    kernel_expr_nan,
    sma,
)
from omni_research.indicators._spec import (
    Feature,
    IndicatorSpec,
    Output,
    define,
    number,
    register_spec,
    ta_fill,
    window,
)

# --------------------------------------------------------------------------- RSI family


def _rsi(close: ColumnLike, *, window: int, fillna: bool, by: By) -> pl.Expr:
    def run(c: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import wilder

        # `ta`'s fillna=True shows the Wilder averages from row 0 (min_periods=0)
        return wilder.rsi(c, window, 0 if fillna else -1)  # type: ignore[no-any-return]

    return kernel_expr(run, [close], by=by)


RSI = register_spec(
    IndicatorSpec(
        name="rsi",
        family="momentum",
        ta_class="RSIIndicator",
        inputs=("close",),
        params=(window("window", 14),),
        outputs=(
            Output(
                key="rsi",
                function="rsi",
                fill=50.0,
                build=_rsi,
                by=True,
                doc="""Relative Strength Index, as ``ta.momentum.rsi``.

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
    """,
            ),
        ),
        warmup=lambda p: p["window"] - 1,
        description="Relative Strength Index (0-100).",
        kernel="_kernels.wilder.rsi",
        features=(Feature("momentum_rsi", "rsi"),),
        fillna_inside=True,
    )
)


def _stochrsi_line(close: ColumnLike, window: int, fillna: bool) -> pl.Expr:
    r = _rsi(close, window=window, fillna=fillna, by=None)
    if fillna:
        r = ta_fill(r, 50.0)  # `ta` runs the filled RSI
    lowest = r.rolling_min(window)
    return (r - lowest) / (r.rolling_max(window) - lowest)


def _stochrsi(
    close: ColumnLike, *, window: int, smooth1: int, smooth2: int, fillna: bool
) -> pl.Expr:
    return _stochrsi_line(close, window, fillna)


def _stochrsi_k(
    close: ColumnLike, *, window: int, smooth1: int, smooth2: int, fillna: bool
) -> pl.Expr:
    return _stochrsi_line(close, window, fillna).rolling_mean(smooth1)


def _stochrsi_d(
    close: ColumnLike, *, window: int, smooth1: int, smooth2: int, fillna: bool
) -> pl.Expr:
    return _stochrsi_line(close, window, fillna).rolling_mean(smooth1).rolling_mean(smooth2)


STOCHRSI = register_spec(
    IndicatorSpec(
        name="stochrsi",
        family="momentum",
        ta_class="StochRSIIndicator",
        inputs=("close",),
        params=(window("window", 14), window("smooth1", 3), window("smooth2", 3)),
        outputs=(
            Output(
                key="stochrsi",
                function="stochrsi",
                build=_stochrsi,
                doc="""Stochastic RSI on a 0-1 scale (as `ta`; TA-Lib's STOCHRSI is 0-100).

    Returns
    -------
    pl.Expr
        ``(rsi - min(rsi)) / (max(rsi) - min(rsi))`` over ``window`` rows, null before row
        ``2 * window - 2``; named ``stochrsi``.
    """,
            ),
            Output(
                key="k",
                function="stochrsi_k",
                build=_stochrsi_k,
                doc="""%K of the Stochastic RSI: SMA(``smooth1``) of :func:`stochrsi`, as ``ta``.

    Returns
    -------
    pl.Expr
        Named ``stochrsi_k``.
    """,
            ),
            Output(
                key="d",
                function="stochrsi_d",
                build=_stochrsi_d,
                doc="""%D of the Stochastic RSI: SMA(``smooth2``) of :func:`stochrsi_k`, as ``ta``.

    Returns
    -------
    pl.Expr
        Named ``stochrsi_d``.
    """,
            ),
        ),
        warmup=lambda p: 2 * p["window"] - 2 + p["smooth1"] - 1 + p["smooth2"] - 1,
        description="Stochastic RSI (0-1) with %K and %D.",
        features=(
            Feature("momentum_stoch_rsi", "stochrsi"),
            Feature("momentum_stoch_rsi_k", "stochrsi_k"),
            Feature("momentum_stoch_rsi_d", "stochrsi_d"),
        ),
        fillna_inside=True,
    )
)

# --------------------------------------------------------------------------- TSI, UO


def _tsi(close: ColumnLike, *, window_slow: int, window_fast: int, fillna: bool) -> pl.Expr:
    # four EWMs in one numba pass, with pandas' NaN handling (see `_po`)
    def run(c: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import exponential

        return exponential.tsi(c, window_slow, window_fast, fillna)  # type: ignore[no-any-return]

    warm = 0 if fillna else window_slow + window_fast - 1
    return kernel_expr_nan(run, [close], null_rows=warm)


TSI = register_spec(
    IndicatorSpec(
        name="tsi",
        family="momentum",
        ta_class="TSIIndicator",
        inputs=("close",),
        params=(window("window_slow", 25), window("window_fast", 13)),
        outputs=(
            Output(
                key="tsi",
                function="tsi",
                build=_tsi,
                doc="""True Strength Index, as ``ta.momentum.tsi``: double-smoothed momentum ratio
    * 100.

    Returns
    -------
    pl.Expr
        Null before row ``window_slow + window_fast - 1``; named ``tsi``.
    """,
            ),
        ),
        warmup=lambda p: p["window_slow"] + p["window_fast"] - 1,
        description="True Strength Index.",
        kernel="_kernels.exponential.tsi",
        features=(Feature("momentum_tsi", "tsi"),),
        fillna_inside=True,
    )
)


def _ultimate_oscillator(
    high: ColumnLike,
    low: ColumnLike,
    close: ColumnLike,
    *,
    window1: int,
    window2: int,
    window3: int,
    weight1: float,
    weight2: float,
    weight3: float,
    fillna: bool,
) -> pl.Expr:
    k1, k2, k3 = float(weight1), float(weight2), float(weight3)
    # `ta`'s fillna=True sums partial windows from the first row (min_periods=0)
    first = 0 if fillna else -1

    # one numba pass instead of six rolling sums over two derived columns (~20x faster)
    def run(h: KernelResult, lo: KernelResult, c: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import rolling

        return rolling.ultimate_oscillator(  # type: ignore[no-any-return]
            h, lo, c, window1, window2, window3, k1, k2, k3, first
        )

    warm = 0 if fillna else max(window1, window2, window3)
    return kernel_expr_nan(run, [high, low, close], null_rows=warm)


ULTIMATE_OSCILLATOR = register_spec(
    IndicatorSpec(
        name="ultimate_oscillator",
        family="momentum",
        ta_class="UltimateOscillator",
        inputs=("high", "low", "close"),
        params=(
            window("window1", 7),
            window("window2", 14),
            window("window3", 28),
            number("weight1", 4.0),
            number("weight2", 2.0),
            number("weight3", 1.0),
        ),
        outputs=(
            Output(
                key="ultimate_oscillator",
                function="ultimate_oscillator",
                fill=50.0,
                build=_ultimate_oscillator,
                doc="""Ultimate Oscillator, as ``ta.momentum.ultimate_oscillator``.

    Buying pressure is missing in row 0 (`ta` takes ``min(low, prev close)`` without
    skipping NaN) while the true range of row 0 is ``high - low``, so the first value is
    at row ``max(window1, window2, window3)``.

    Returns
    -------
    pl.Expr
        Named ``ultimate_oscillator``.
    """,
            ),
        ),
        warmup=lambda p: max(p["window1"], p["window2"], p["window3"]),
        description="Ultimate Oscillator (0-100).",
        kernel="_kernels.rolling.ultimate_oscillator",
        features=(Feature("momentum_uo", "ultimate_oscillator"),),
        fillna_inside=True,
    )
)

# --------------------------------------------------------------------------- Stochastic


def _extremes(high: ColumnLike, low: ColumnLike, window: int, fillna: bool = False) -> pl.Expr:
    """Struct ``{hh, ll}``: rolling max of the high and min of the low, one numba pass
    (with `ta`'s ``fillna=True``, windows from the first row: pandas' ``min_periods=0``)."""
    if fillna:
        return pl.struct(
            as_float(high).fill_nan(None).rolling_max(window, min_samples=1).alias("hh"),
            as_float(low).fill_nan(None).rolling_min(window, min_samples=1).alias("ll"),
        )

    def run(h: KernelResult, lo: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import rolling

        return rolling.rolling_max_min(h, lo, window)  # type: ignore[no-any-return]

    return kernel_expr(run, [high, low], outputs=("hh", "ll"))


def _stoch_k(
    high: ColumnLike, low: ColumnLike, close: ColumnLike, window: int, fillna: bool
) -> pl.Expr:
    hh, ll = pl.field("hh"), pl.field("ll")
    k = 100 * (as_float(close) - ll) / (hh - ll)
    return _extremes(high, low, window, fillna).struct.with_fields(_k=k).struct.field("_k")


def _stoch(
    high: ColumnLike,
    low: ColumnLike,
    close: ColumnLike,
    *,
    window: int,
    smooth_window: int,
    fillna: bool,
) -> pl.Expr:
    return _stoch_k(high, low, close, window, fillna)


def _stoch_signal(
    high: ColumnLike,
    low: ColumnLike,
    close: ColumnLike,
    *,
    window: int,
    smooth_window: int,
    fillna: bool,
) -> pl.Expr:
    k = _stoch_k(high, low, close, window, fillna)
    if fillna:
        return k.fill_nan(None).rolling_mean(smooth_window, min_samples=1)
    return sma(k, smooth_window)


STOCH = register_spec(
    IndicatorSpec(
        name="stoch",
        family="momentum",
        ta_class="StochasticOscillator",
        inputs=("high", "low", "close"),
        params=(window("window", 14), window("smooth_window", 3)),
        outputs=(
            Output(
                key="stoch",
                function="stoch",
                fill=50.0,
                build=_stoch,
                doc="""Stochastic oscillator %K, as ``ta.momentum.stoch`` (unsmoothed, 0-100).

    Returns
    -------
    pl.Expr
        Null before row ``window - 1``; named ``stoch``.
    """,
            ),
            Output(
                key="signal",
                function="stoch_signal",
                fill=50.0,
                build=_stoch_signal,
                doc="""Stochastic oscillator %D: SMA(``smooth_window``) of %K, as
    ``ta.momentum.stoch_signal``.

    Returns
    -------
    pl.Expr
        Named ``stoch_signal``.
    """,
            ),
        ),
        warmup=lambda p: p["window"] + p["smooth_window"] - 2,
        description="Stochastic oscillator %K and %D (0-100).",
        kernel="_kernels.rolling.rolling_max_min",
        features=(
            Feature("momentum_stoch", "stoch"),
            Feature("momentum_stoch_signal", "stoch_signal"),
        ),
        fillna_inside=True,
    )
)


def _williams_r(
    high: ColumnLike, low: ColumnLike, close: ColumnLike, *, lbp: int, fillna: bool
) -> pl.Expr:
    hh, ll = pl.field("hh"), pl.field("ll")
    wr = -100 * (hh - as_float(close)) / (hh - ll)
    return _extremes(high, low, lbp, fillna).struct.with_fields(_wr=wr).struct.field("_wr")


WILLIAMS_R = register_spec(
    IndicatorSpec(
        name="williams_r",
        family="momentum",
        ta_class="WilliamsRIndicator",
        inputs=("high", "low", "close"),
        params=(window("lbp", 14),),
        outputs=(
            Output(
                key="williams_r",
                function="williams_r",
                fill=-50.0,
                build=_williams_r,
                doc="""Williams %R, as ``ta.momentum.williams_r`` (-100 to 0).

    Returns
    -------
    pl.Expr
        Null before row ``lbp - 1``; named ``williams_r``.
    """,
            ),
        ),
        warmup=lambda p: p["lbp"] - 1,
        description="Williams %R (-100-0).",
        kernel="_kernels.rolling.rolling_max_min",
        features=(Feature("momentum_wr", "williams_r"),),
        fillna_inside=True,
    )
)


def _awesome_oscillator(
    high: ColumnLike, low: ColumnLike, *, window1: int, window2: int, fillna: bool
) -> pl.Expr:
    median = 0.5 * (as_float(high) + as_float(low))
    if fillna:  # `ta`'s min_periods=0: the mean of the rows a window holds
        m = median.fill_nan(None)
        return m.rolling_mean(window1, min_samples=1) - m.rolling_mean(window2, min_samples=1)
    return sma(median, window1) - sma(median, window2)


AWESOME_OSCILLATOR = register_spec(
    IndicatorSpec(
        name="awesome_oscillator",
        family="momentum",
        ta_class="AwesomeOscillatorIndicator",
        inputs=("high", "low"),
        params=(window("window1", 5), window("window2", 34)),
        outputs=(
            Output(
                key="awesome_oscillator",
                function="awesome_oscillator",
                build=_awesome_oscillator,
                doc="""Awesome Oscillator, as ``ta.momentum.awesome_oscillator``: SMA5 - SMA34 of
    the median.

    Returns
    -------
    pl.Expr
        Named ``awesome_oscillator``.
    """,
            ),
        ),
        warmup=lambda p: max(p["window1"], p["window2"]) - 1,
        description="Awesome Oscillator: SMA5 - SMA34 of the median price.",
        features=(Feature("momentum_ao", "awesome_oscillator"),),
        fillna_inside=True,
    )
)

# --------------------------------------------------------------------------- ROC


def _roc(close: ColumnLike, *, window: int) -> pl.Expr:
    c = as_float(close)
    prev = c.shift(window)
    return (c - prev) / prev * 100


ROC = register_spec(
    IndicatorSpec(
        name="roc",
        family="momentum",
        ta_class="ROCIndicator",
        inputs=("close",),
        params=(window("window", 12),),
        outputs=(
            Output(
                key="roc",
                function="roc",
                build=_roc,
                doc="""Rate of Change in percent, as ``ta.momentum.roc``.

    Returns
    -------
    pl.Expr
        ``(close - close[-window]) / close[-window] * 100``; named ``roc``.
    """,
            ),
        ),
        warmup=lambda p: p["window"],
        description="Rate of Change in percent.",
        features=(Feature("momentum_roc", "roc"),),
    )
)

# --------------------------------------------------------------------------- PPO, PVO


def _po(
    x: ColumnLike, window_slow: int, window_fast: int, window_sign: int, row: int, fillna: bool
) -> pl.Expr:
    """Row ``row`` (0 line, 1 signal, 2 histogram) of the fused PPO/PVO kernel.

    One numba call with pandas' EWM rule: Polars' ``ewm_mean`` propagates a NaN (a missing
    price, or the PVO line's 0/0 on zero volume) where pandas carries the mean, and three
    separate gap-aware EWM expressions recompute shared inputs (~4x slower).
    """

    def run(v: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import exponential

        return exponential.percentage_oscillator(  # type: ignore[no-any-return]
            v, window_slow, window_fast, window_sign, fillna
        )[row]

    warm = max(window_slow, window_fast) - 1 + (window_sign - 1 if row > 0 else 0)
    warm = 0 if fillna else warm
    return kernel_expr_nan(run, [x], null_rows=warm)


def _po_output(row: int) -> Callable[..., pl.Expr]:
    def build(
        x: ColumnLike, *, window_slow: int, window_fast: int, window_sign: int, fillna: bool
    ) -> pl.Expr:
        return _po(x, window_slow, window_fast, window_sign, row, fillna)

    return build


_PO_PARAMS = (window("window_slow", 26), window("window_fast", 12), window("window_sign", 9))


def _po_warmup(p: Mapping[str, Any]) -> int:
    return int(max(p["window_slow"], p["window_fast"]) + p["window_sign"] - 2)


PPO = register_spec(
    IndicatorSpec(
        name="ppo",
        family="momentum",
        ta_class="PercentagePriceOscillator",
        inputs=("close",),
        params=_PO_PARAMS,
        outputs=(
            Output(
                key="ppo",
                function="ppo",
                build=_po_output(0),
                doc="""Percentage Price Oscillator ``(EMA_fast - EMA_slow) / EMA_slow * 100``, as
    ``ta``.

    Returns
    -------
    pl.Expr
        Named ``ppo``.
    """,
            ),
            Output(
                key="signal",
                function="ppo_signal",
                build=_po_output(1),
                doc="""EMA(``window_sign``) of :func:`ppo`, as ``ta.momentum.ppo_signal``.

    Returns
    -------
    pl.Expr
        Named ``ppo_signal``.
    """,
            ),
            Output(
                key="hist",
                function="ppo_hist",
                build=_po_output(2),
                doc="""PPO minus its signal, as ``ta.momentum.ppo_hist``.

    Returns
    -------
    pl.Expr
        Named ``ppo_hist``.
    """,
            ),
        ),
        warmup=_po_warmup,
        description="Percentage Price Oscillator, signal and histogram.",
        kernel="_kernels.exponential.percentage_oscillator",
        features=(
            Feature("momentum_ppo", "ppo"),
            Feature("momentum_ppo_signal", "ppo_signal"),
            Feature("momentum_ppo_hist", "ppo_hist"),
        ),
        fillna_inside=True,
    )
)

PVO = register_spec(
    IndicatorSpec(
        name="pvo",
        family="momentum",
        ta_class="PercentageVolumeOscillator",
        inputs=("volume",),
        params=_PO_PARAMS,
        outputs=(
            Output(
                key="pvo",
                function="pvo",
                build=_po_output(0),
                doc="""Percentage Volume Oscillator (PPO of the volume), as ``ta.momentum.pvo``.

    Returns
    -------
    pl.Expr
        Named ``pvo``.
    """,
            ),
            Output(
                key="signal",
                function="pvo_signal",
                build=_po_output(1),
                doc="""EMA(``window_sign``) of :func:`pvo`, as ``ta.momentum.pvo_signal``.

    Returns
    -------
    pl.Expr
        Named ``pvo_signal``.
    """,
            ),
            Output(
                key="hist",
                function="pvo_hist",
                build=_po_output(2),
                doc="""PVO minus its signal, as ``ta.momentum.pvo_hist``.

    Returns
    -------
    pl.Expr
        Named ``pvo_hist``.
    """,
            ),
        ),
        warmup=_po_warmup,
        description="Percentage Volume Oscillator, signal and histogram.",
        kernel="_kernels.exponential.percentage_oscillator",
        features=(
            Feature("momentum_pvo", "pvo"),
            Feature("momentum_pvo_signal", "pvo_signal"),
            Feature("momentum_pvo_hist", "pvo_hist"),
        ),
        fillna_inside=True,
    )
)

# --------------------------------------------------------------------------- KAMA


def _kama(close: ColumnLike, *, window: int, pow1: int, pow2: int, by: By) -> pl.Expr:
    def run(c: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import exponential

        return exponential.kama(c, window, float(pow1), float(pow2))  # type: ignore[no-any-return]

    return kernel_expr(run, [close], by=by)


KAMA = register_spec(
    IndicatorSpec(
        name="kama",
        family="momentum",
        ta_class="KAMAIndicator",
        inputs=("close",),
        params=(window("window", 10), window("pow1", 2), window("pow2", 30)),
        outputs=(
            Output(
                key="kama",
                function="kama",
                fill="close",
                build=_kama,
                by=True,
                doc="""Kaufman's Adaptive Moving Average, as ``ta.momentum.kama``.

    Starts at the close of row ``window - 1`` (TA-Lib starts one row later from the
    previous close). The recursion runs in a numba kernel.

    Returns
    -------
    pl.Expr
        Null before row ``window - 1``; named ``kama``.
    """,
            ),
        ),
        warmup=lambda p: p["window"] - 1,
        placement="overlay",
        description="Kaufman's Adaptive Moving Average.",
        kernel="_kernels.exponential.kama",
        features=(Feature("momentum_kama", "kama"),),
    )
)

# --------------------------------------------------------------------------- functions
# Typed ``Callable[..., pl.Expr]`` for mypy; their real signatures come from the specs.

rsi = define(RSI, "rsi", globals())
stochrsi = define(STOCHRSI, "stochrsi", globals())
stochrsi_k = define(STOCHRSI, "stochrsi_k", globals())
stochrsi_d = define(STOCHRSI, "stochrsi_d", globals())
tsi = define(TSI, "tsi", globals())
ultimate_oscillator = define(ULTIMATE_OSCILLATOR, "ultimate_oscillator", globals())
stoch = define(STOCH, "stoch", globals())
stoch_signal = define(STOCH, "stoch_signal", globals())
williams_r = define(WILLIAMS_R, "williams_r", globals())
awesome_oscillator = define(AWESOME_OSCILLATOR, "awesome_oscillator", globals())
roc = define(ROC, "roc", globals())
ppo = define(PPO, "ppo", globals())
ppo_signal = define(PPO, "ppo_signal", globals())
ppo_hist = define(PPO, "ppo_hist", globals())
pvo = define(PVO, "pvo", globals())
pvo_signal = define(PVO, "pvo_signal", globals())
pvo_hist = define(PVO, "pvo_hist", globals())
kama = define(KAMA, "kama", globals())

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
