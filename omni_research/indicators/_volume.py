"""`ta.volume` as Polars expressions.

Every function mirrors the `ta` function of the same name (same inputs, parameters and
defaults, `ta`'s ``fillna`` and VPT's ``dropnans`` included; without ``fillna`` warm-up
rows are null). Inputs are cast to Float64, so integer volumes work. Each
indicator is declared once (`IndicatorSpec`); its functions, registry entry, parameter
checks and `add_all_ta_features` columns are generated from that declaration.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from omni_research.indicators._common import (
    By,
    ColumnLike,
    KernelResult,
    as_float,
    ema,
    gt,
    kernel_expr,
    kernel_expr_nan,
    sma,
)
from omni_research.indicators._spec import (
    Feature,
    IndicatorSpec,
    Output,
    Param,
    define,
    flag,
    register_spec,
    window,
)

_HLCV = ("high", "low", "close", "volume")


def _clv(high: ColumnLike, low: ColumnLike, close: ColumnLike) -> pl.Expr:
    h, lo, c = as_float(high), as_float(low), as_float(close)
    # `ta` fills the 0/0 of a bar with high == low with 0.0 (``fillna(0.0)``); a
    # division of a non-zero by zero stays infinite, as in `ta`.
    return (((c - lo) - (h - c)) / (h - lo)).fill_nan(0.0).fill_null(0.0)


def _rolling_ratio(num: pl.Expr, den: pl.Expr, window: int, fillna: bool = False) -> pl.Expr:
    """``sum(num) / sum(den)`` over ``window`` rows, with pandas' results where a sliding
    sum would differ: 0/0 = NaN for a window of zero volume (a sliding sum leaves residue
    and gives +-inf), NaN for a window holding an infinity."""

    def run(a: KernelResult, b: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import rolling

        # `ta`'s fillna=True sums partial windows from the first row (min_periods=0)
        return rolling.rolling_ratio(a, b, window, 0 if fillna else -1)  # type: ignore[no-any-return]

    return kernel_expr_nan(run, [num, den], null_rows=0 if fillna else window - 1)


def _adi(
    high: ColumnLike, low: ColumnLike, close: ColumnLike, volume: ColumnLike, *, by: By
) -> pl.Expr:
    # one numba pass: the location value, its 0/0 fill and pandas' NaN-skipping cumsum
    def run(h: KernelResult, lo: KernelResult, c: KernelResult, v: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import volume

        return volume.acc_dist_index(h, lo, c, v)  # type: ignore[no-any-return]

    return kernel_expr_nan(run, [high, low, close, volume], null_rows=0, by=by)


ACC_DIST_INDEX = register_spec(
    IndicatorSpec(
        name="acc_dist_index",
        family="volume",
        ta_class="AccDistIndexIndicator",
        inputs=_HLCV,
        params=(),
        outputs=(
            Output(
                key="acc_dist_index",
                function="acc_dist_index",
                build=_adi,
                by=True,
                doc="""Accumulation/Distribution Index, as ``ta.volume.acc_dist_index``.

    Parameters
    ----------
    high, low, close, volume
        Column names or expressions.

    Returns
    -------
    pl.Expr
        Cumulative sum of the close location value times volume; named ``acc_dist_index``.

    Examples
    --------
    >>> import polars as pl
    >>> from omni_research.indicators import acc_dist_index
    >>> df = pl.DataFrame(
    ...     {"high": [2.0, 3.0], "low": [1.0, 1.0], "close": [2.0, 1.5], "volume": [10, 20]}
    ... )
    >>> df.select(acc_dist_index())
    shape: (2, 1)
    ┌────────────────┐
    │ acc_dist_index │
    │ ---            │
    │ f64            │
    ╞════════════════╡
    │ 10.0           │
    │ 0.0            │
    └────────────────┘
    """,
            ),
        ),
        warmup=lambda p: 0,
        description="Accumulation/Distribution Index.",
        kernel="_kernels.volume.acc_dist_index",
        features=(Feature("volume_adi", "acc_dist_index"),),
    )
)


def _obv(close: ColumnLike, volume: ColumnLike, *, by: By) -> pl.Expr:
    # one numba pass (the sign rule and pandas' NaN-skipping cumsum): ~2x faster than the
    # signed volume as an expression, and ``by=`` needs the previous close inside the kernel
    def run(c: KernelResult, v: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import volume

        return volume.on_balance_volume(c, v)  # type: ignore[no-any-return]

    return kernel_expr_nan(run, [close, volume], null_rows=0, by=by)


ON_BALANCE_VOLUME = register_spec(
    IndicatorSpec(
        name="on_balance_volume",
        family="volume",
        ta_class="OnBalanceVolumeIndicator",
        inputs=("close", "volume"),
        params=(),
        outputs=(
            Output(
                key="on_balance_volume",
                function="on_balance_volume",
                build=_obv,
                by=True,
                doc="""On-Balance Volume, as ``ta.volume.on_balance_volume``.

    `ta`'s rule: volume is subtracted when the close falls and **added otherwise**, so an
    unchanged close (and row 0) adds volume (TA-Lib leaves the total unchanged on ties).

    Returns
    -------
    pl.Expr
        Named ``on_balance_volume``.
    """,
            ),
        ),
        warmup=lambda p: 0,
        description="On-Balance Volume (ties add volume, as in ta).",
        kernel="_kernels.volume.on_balance_volume",
        features=(Feature("volume_obv", "on_balance_volume"),),
    )
)


def _cmf(
    high: ColumnLike,
    low: ColumnLike,
    close: ColumnLike,
    volume: ColumnLike,
    *,
    window: int,
    fillna: bool,
) -> pl.Expr:
    v = as_float(volume)
    return _rolling_ratio(_clv(high, low, close) * v, v, window, fillna)


CHAIKIN_MONEY_FLOW = register_spec(
    IndicatorSpec(
        name="chaikin_money_flow",
        family="volume",
        ta_class="ChaikinMoneyFlowIndicator",
        inputs=_HLCV,
        params=(window("window", 20),),
        outputs=(
            Output(
                key="chaikin_money_flow",
                function="chaikin_money_flow",
                build=_cmf,
                doc="""Chaikin Money Flow, as ``ta.volume.chaikin_money_flow``.

    Returns
    -------
    pl.Expr
        ``sum(clv * volume) / sum(volume)`` over ``window`` rows (null before row
        ``window - 1``); named ``chaikin_money_flow``.
    """,
            ),
        ),
        warmup=lambda p: p["window"] - 1,
        description="Chaikin Money Flow.",
        kernel="_kernels.rolling.rolling_ratio",
        features=(Feature("volume_cmf", "chaikin_money_flow"),),
        fillna_inside=True,
    )
)


def _force_index(close: ColumnLike, volume: ColumnLike, *, window: int, fillna: bool) -> pl.Expr:
    c = as_float(close)
    # a NaN price or volume mid-series: pandas' EWM carries the mean over it
    fi = ((c - c.shift(1)) * as_float(volume)).fill_nan(None)
    return ema(fi, window, min_samples=0 if fillna else None, interior_nulls=True)


FORCE_INDEX = register_spec(
    IndicatorSpec(
        name="force_index",
        family="volume",
        ta_class="ForceIndexIndicator",
        inputs=("close", "volume"),
        params=(window("window", 13),),
        outputs=(
            Output(
                key="force_index",
                function="force_index",
                build=_force_index,
                doc="""Force Index, as ``ta.volume.force_index``: EMA of ``(close - close[-1]) *
    volume``.

    The EMA is pandas' ``ewm(span=window, adjust=False)`` seeded at row 1 (row 0 has no
    difference), so the first ``window`` rows are null.

    Returns
    -------
    pl.Expr
        Named ``force_index``.
    """,
            ),
        ),
        warmup=lambda p: p["window"],
        description="Force Index: EMA of price change times volume.",
        features=(Feature("volume_fi", "force_index"),),
        fillna_inside=True,
    )
)


def _emv(high: ColumnLike, low: ColumnLike, volume: ColumnLike) -> pl.Expr:
    h, lo = as_float(high), as_float(low)
    return (h.diff() + lo.diff()) * (h - lo) / (2 * as_float(volume)) * 100000000


def _ease_of_movement(
    high: ColumnLike, low: ColumnLike, volume: ColumnLike, *, window: int, fillna: bool
) -> pl.Expr:
    return _emv(high, low, volume)


def _sma_ease_of_movement(
    high: ColumnLike, low: ColumnLike, volume: ColumnLike, *, window: int, fillna: bool
) -> pl.Expr:
    # a zero volume makes EMV infinite; pandas' rolling mean turns a window holding an
    # infinity into NaN (Polars keeps inf), so the window sums run in a kernel
    def run(x: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import rolling

        if not fillna:
            return rolling.rolling_sum_exact(x, window, True) / window  # type: ignore[no-any-return]
        # `ta`'s fillna=True: the mean of the values each (partial) window holds
        held = np.cumsum(~np.isnan(x))
        held[window:] -= held[:-window].copy()
        with np.errstate(divide="ignore", invalid="ignore"):
            return rolling.rolling_sum_exact(x, window, True, 0) / held  # type: ignore[no-any-return]

    return kernel_expr_nan(run, [_emv(high, low, volume)], null_rows=0 if fillna else window)


EASE_OF_MOVEMENT = register_spec(
    IndicatorSpec(
        name="ease_of_movement",
        family="volume",
        ta_class="EaseOfMovementIndicator",
        inputs=("high", "low", "volume"),
        params=(window("window", 14),),
        outputs=(
            Output(
                key="ease_of_movement",
                function="ease_of_movement",
                build=_ease_of_movement,
                doc="""Ease of Movement, as ``ta.volume.ease_of_movement`` (``window`` is unused,
    as in `ta`).

    Returns
    -------
    pl.Expr
        ``(dH + dL) * (H - L) / (2 V) * 1e8``, null in row 0; named ``ease_of_movement``.
    """,
            ),
            Output(
                key="sma_ease_of_movement",
                function="sma_ease_of_movement",
                build=_sma_ease_of_movement,
                doc="""Simple moving average of Ease of Movement, as
    ``ta.volume.sma_ease_of_movement``.

    Returns
    -------
    pl.Expr
        Null in the first ``window`` rows; named ``sma_ease_of_movement``.
    """,
            ),
        ),
        warmup=lambda p: p["window"],
        description="Ease of Movement and its simple moving average.",
        kernel="_kernels.rolling.rolling_sum_exact",
        features=(
            Feature("volume_em", "ease_of_movement"),
            Feature("volume_sma_em", "sma_ease_of_movement"),
        ),
        fillna_inside=True,
    )
)


def _cumsum(x: pl.Expr) -> pl.Expr:
    # pandas' cumsum skips NaN (a missing price or volume): one numba pass
    def run(a: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import volume

        return volume.nan_cumsum(a)  # type: ignore[no-any-return]

    return kernel_expr_nan(run, [x], null_rows=0)


def _vpt(
    close: ColumnLike,
    volume: ColumnLike,
    *,
    smoothing_factor: int | None,
    dropnans: bool,
    fillna: bool,
) -> pl.Expr:
    c = as_float(close)
    vpt = _cumsum((c / c.shift(1) - 1) * as_float(volume))
    if smoothing_factor:
        if fillna:  # `ta`'s min_periods=0: the mean of the values a window holds
            vpt = vpt.fill_nan(None).rolling_mean(smoothing_factor, min_samples=1)
        else:
            vpt = sma(vpt, smoothing_factor)
    # `ta` drops the missing rows (a shorter result: use it in ``select``, not
    # ``with_columns``)
    return vpt.fill_nan(None).drop_nulls() if dropnans else vpt


VOLUME_PRICE_TREND = register_spec(
    IndicatorSpec(
        name="volume_price_trend",
        family="volume",
        ta_class="VolumePriceTrendIndicator",
        inputs=("close", "volume"),
        params=(Param("smoothing_factor", None, "optional_window"), flag("dropnans", False)),
        outputs=(
            Output(
                key="volume_price_trend",
                function="volume_price_trend",
                build=_vpt,
                doc="""Volume-Price Trend, as ``ta.volume.volume_price_trend``.

    Parameters
    ----------
    smoothing_factor
        If given, a simple moving average of that many rows is applied, as in `ta`.
    dropnans
        Drop the missing rows, as `ta` does: the result is then shorter than the frame, so
        use it in ``select`` (``with_columns`` needs the frame's length).
    fillna
        As in `ta`: the smoothing starts from the first row, infinities become missing,
        missing values take the previous value, and leading ones 0.

    Returns
    -------
    pl.Expr
        Cumulative sum of ``pct_change(close) * volume``, null in row 0; named
        ``volume_price_trend``.
    """,
            ),
        ),
        warmup=lambda p: p["smoothing_factor"] or 1,
        description="Volume-Price Trend.",
        fillna_inside=True,
        kernel="_kernels.volume.nan_cumsum",
        features=(Feature("volume_vpt", "volume_price_trend"),),
    )
)


def _vwap(
    high: ColumnLike,
    low: ColumnLike,
    close: ColumnLike,
    volume: ColumnLike,
    *,
    window: int,
    fillna: bool,
) -> pl.Expr:
    v = as_float(volume)
    tp = (as_float(high) + as_float(low) + as_float(close)) / 3.0
    return _rolling_ratio(tp * v, v, window, fillna)


VOLUME_WEIGHTED_AVERAGE_PRICE = register_spec(
    IndicatorSpec(
        name="volume_weighted_average_price",
        family="volume",
        ta_class="VolumeWeightedAveragePrice",
        inputs=_HLCV,
        params=(window("window", 14),),
        outputs=(
            Output(
                key="volume_weighted_average_price",
                function="volume_weighted_average_price",
                build=_vwap,
                doc="""Rolling Volume-Weighted Average Price, as
    ``ta.volume.volume_weighted_average_price``.

    Returns
    -------
    pl.Expr
        ``sum(typical price * volume) / sum(volume)`` over ``window`` rows; named
        ``volume_weighted_average_price``.
    """,
            ),
        ),
        warmup=lambda p: p["window"] - 1,
        placement="overlay",
        description="Rolling volume-weighted average of the typical price.",
        kernel="_kernels.rolling.rolling_ratio",
        features=(Feature("volume_vwap", "volume_weighted_average_price"),),
        fillna_inside=True,
    )
)


def _mfi(
    high: ColumnLike,
    low: ColumnLike,
    close: ColumnLike,
    volume: ColumnLike,
    *,
    window: int,
    fillna: bool,
    by: By,
) -> pl.Expr:
    def run(h: KernelResult, lo: KernelResult, c: KernelResult, v: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import volume

        # `ta`'s fillna=True sums partial windows from the first row (min_periods=0)
        return volume.mfi(h, lo, c, v, window, 0 if fillna else -1)  # type: ignore[no-any-return]

    return kernel_expr(run, [high, low, close, volume], by=by)


MONEY_FLOW_INDEX = register_spec(
    IndicatorSpec(
        name="money_flow_index",
        family="volume",
        ta_class="MFIIndicator",
        inputs=_HLCV,
        params=(window("window", 14),),
        outputs=(
            Output(
                key="money_flow_index",
                fill=50.0,
                function="money_flow_index",
                build=_mfi,
                by=True,
                doc="""Money Flow Index, as ``ta.volume.money_flow_index``.

    Typical-price flows of rows whose typical price rose against those that fell, each
    window summed afresh in a numba kernel (exact, and typical prices compared exactly as
    `ta` computes them; see `_kernels.volume.mfi`).

    Returns
    -------
    pl.Expr
        Null before row ``window - 1``; named ``money_flow_index``.
    """,
            ),
        ),
        warmup=lambda p: p["window"] - 1,
        description="Money Flow Index (0-100).",
        kernel="_kernels.volume.mfi",
        features=(Feature("volume_mfi", "money_flow_index"),),
        fillna_inside=True,
    )
)


def _nvi(close: ColumnLike, volume: ColumnLike) -> pl.Expr:
    c, v = as_float(close), as_float(volume)
    vol_decrease = gt(v.shift(1), v)
    factor = pl.when(vol_decrease).then(1.0 + (c / c.shift(1) - 1)).otherwise(1.0)
    return factor.cum_prod() * 1000.0


NEGATIVE_VOLUME_INDEX = register_spec(
    IndicatorSpec(
        name="negative_volume_index",
        family="volume",
        ta_class="NegativeVolumeIndexIndicator",
        inputs=("close", "volume"),
        params=(),
        outputs=(
            Output(
                key="negative_volume_index",
                fill=1000.0,
                function="negative_volume_index",
                build=_nvi,
                doc="""Negative Volume Index, as ``ta.volume.negative_volume_index``.

    Starts at 1000 and compounds the close's percent change on rows whose volume fell.
    `ta`'s Python loop is a cumulative product, which Polars computes natively.

    Returns
    -------
    pl.Expr
        Named ``negative_volume_index``.
    """,
            ),
        ),
        warmup=lambda p: 0,
        description="Negative Volume Index, starting at 1000.",
        features=(Feature("volume_nvi", "negative_volume_index"),),
    )
)

# --------------------------------------------------------------------------- functions
# Typed ``Callable[..., pl.Expr]`` for mypy; their real signatures come from the specs.

acc_dist_index = define(ACC_DIST_INDEX, "acc_dist_index", globals())
on_balance_volume = define(ON_BALANCE_VOLUME, "on_balance_volume", globals())
chaikin_money_flow = define(CHAIKIN_MONEY_FLOW, "chaikin_money_flow", globals())
force_index = define(FORCE_INDEX, "force_index", globals())
ease_of_movement = define(EASE_OF_MOVEMENT, "ease_of_movement", globals())
sma_ease_of_movement = define(EASE_OF_MOVEMENT, "sma_ease_of_movement", globals())
volume_price_trend = define(VOLUME_PRICE_TREND, "volume_price_trend", globals())
volume_weighted_average_price = define(
    VOLUME_WEIGHTED_AVERAGE_PRICE, "volume_weighted_average_price", globals()
)
money_flow_index = define(MONEY_FLOW_INDEX, "money_flow_index", globals())
negative_volume_index = define(NEGATIVE_VOLUME_INDEX, "negative_volume_index", globals())

__all__ = [
    "acc_dist_index",
    "chaikin_money_flow",
    "ease_of_movement",
    "force_index",
    "money_flow_index",
    "negative_volume_index",
    "on_balance_volume",
    "sma_ease_of_movement",
    "volume_price_trend",
    "volume_weighted_average_price",
]
