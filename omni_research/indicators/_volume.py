"""`ta.volume` as Polars expressions.

Every function mirrors the `ta` function of the same name (same inputs, parameters and
defaults; `ta`'s ``fillna`` is left out: warm-up rows are null, fill them with
``fill_null`` if wanted). Inputs are cast to Float64, so integer volumes work.
"""

from __future__ import annotations

import functools

import polars as pl

from omni_research.indicators._checks import check_window
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
from omni_research.indicators._registry import register_ta


def _clv(high: ColumnLike, low: ColumnLike, close: ColumnLike) -> pl.Expr:
    h, lo, c = as_float(high), as_float(low), as_float(close)
    # `ta` fills the 0/0 of a bar with high == low with 0.0 (``fillna(0.0)``); a
    # division of a non-zero by zero stays infinite, as in `ta`.
    return (((c - lo) - (h - c)) / (h - lo)).fill_nan(0.0).fill_null(0.0)


def _cumsum(x: pl.Expr, *, by: By = None) -> pl.Expr:
    # pandas' cumsum skips NaN (a missing price or volume): one numba pass
    def run(a: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import volume

        return volume.nan_cumsum(a)  # type: ignore[no-any-return]

    return kernel_expr_nan(run, [x], null_rows=0, by=by)


def _rolling_ratio(num: pl.Expr, den: pl.Expr, window: int) -> pl.Expr:
    """``sum(num) / sum(den)`` over ``window`` rows, with pandas' results where a sliding
    sum would differ: 0/0 = NaN for a window of zero volume (a sliding sum leaves residue
    and gives +-inf), NaN for a window holding an infinity."""

    def run(a: KernelResult, b: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import rolling

        return rolling.rolling_ratio(a, b, window)  # type: ignore[no-any-return]

    return kernel_expr_nan(run, [num, den], null_rows=window - 1)


def acc_dist_index(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    volume: ColumnLike = "volume",
    /,
    by: By = None,
) -> pl.Expr:
    """Accumulation/Distribution Index, as ``ta.volume.acc_dist_index``.

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
    """

    # one numba pass: the location value, its 0/0 fill and pandas' NaN-skipping cumsum
    def run(h: KernelResult, lo: KernelResult, c: KernelResult, v: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import volume

        return volume.acc_dist_index(h, lo, c, v)  # type: ignore[no-any-return]

    return kernel_expr_nan(run, [high, low, close, volume], null_rows=0, by=by).alias(
        "acc_dist_index"
    )


def on_balance_volume(
    close: ColumnLike = "close", volume: ColumnLike = "volume", /, *, by: By = None
) -> pl.Expr:
    """On-Balance Volume, as ``ta.volume.on_balance_volume``.

    `ta`'s rule: volume is subtracted when the close falls and **added otherwise**, so an
    unchanged close (and row 0) adds volume (TA-Lib leaves the total unchanged on ties).

    Returns
    -------
    pl.Expr
        Named ``on_balance_volume``.
    """

    # one numba pass (the sign rule and pandas' NaN-skipping cumsum): ~2x faster than the
    # signed volume as an expression, and ``by=`` needs the previous close inside the kernel
    def run(c: KernelResult, v: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import volume

        return volume.on_balance_volume(c, v)  # type: ignore[no-any-return]

    return kernel_expr_nan(run, [close, volume], null_rows=0, by=by).alias("on_balance_volume")


def chaikin_money_flow(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    volume: ColumnLike = "volume",
    /,
    *,
    window: int = 20,
) -> pl.Expr:
    """Chaikin Money Flow, as ``ta.volume.chaikin_money_flow``.

    Returns
    -------
    pl.Expr
        ``sum(clv * volume) / sum(volume)`` over ``window`` rows (null before row
        ``window - 1``); named ``chaikin_money_flow``.
    """
    w = check_window("chaikin_money_flow", "window", window)
    v = as_float(volume)
    return _rolling_ratio(_clv(high, low, close) * v, v, w).alias("chaikin_money_flow")


def force_index(
    close: ColumnLike = "close", volume: ColumnLike = "volume", /, *, window: int = 13
) -> pl.Expr:
    """Force Index, as ``ta.volume.force_index``: EMA of ``(close - close[-1]) * volume``.

    The EMA is pandas' ``ewm(span=window, adjust=False)`` seeded at row 1 (row 0 has no
    difference), so the first ``window`` rows are null.

    Returns
    -------
    pl.Expr
        Named ``force_index``.
    """
    w = check_window("force_index", "window", window)
    c = as_float(close)
    # a NaN price or volume mid-series: pandas' EWM carries the mean over it
    fi = ema(((c - c.shift(1)) * as_float(volume)).fill_nan(None), w, interior_nulls=True)
    return fi.alias("force_index")


def _emv(high: ColumnLike, low: ColumnLike, volume: ColumnLike) -> pl.Expr:
    h, lo = as_float(high), as_float(low)
    return (h.diff() + lo.diff()) * (h - lo) / (2 * as_float(volume)) * 100000000


def ease_of_movement(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    volume: ColumnLike = "volume",
    /,
    *,
    window: int = 14,
) -> pl.Expr:
    """Ease of Movement, as ``ta.volume.ease_of_movement`` (``window`` is unused, as in `ta`).

    Returns
    -------
    pl.Expr
        ``(dH + dL) * (H - L) / (2 V) * 1e8``, null in row 0; named ``ease_of_movement``.
    """
    check_window("ease_of_movement", "window", window)
    return _emv(high, low, volume).alias("ease_of_movement")


def sma_ease_of_movement(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    volume: ColumnLike = "volume",
    /,
    *,
    window: int = 14,
) -> pl.Expr:
    """Simple moving average of Ease of Movement, as ``ta.volume.sma_ease_of_movement``.

    Returns
    -------
    pl.Expr
        Null in the first ``window`` rows; named ``sma_ease_of_movement``.
    """
    w = check_window("sma_ease_of_movement", "window", window)

    # a zero volume makes EMV infinite; pandas' rolling mean turns a window holding an
    # infinity into NaN (Polars keeps inf), so the window sums run in a kernel
    def run(x: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import rolling

        return rolling.rolling_sum_exact(x, w, True) / w  # type: ignore[no-any-return]

    sma_emv = kernel_expr_nan(run, [_emv(high, low, volume)], null_rows=w)
    return sma_emv.alias("sma_ease_of_movement")


def volume_price_trend(
    close: ColumnLike = "close",
    volume: ColumnLike = "volume",
    /,
    *,
    smoothing_factor: int | None = None,
) -> pl.Expr:
    """Volume-Price Trend, as ``ta.volume.volume_price_trend``.

    `ta`'s ``dropnans`` option (which shortens the series) is not offered: an expression
    keeps the frame's length; use ``drop_nulls`` on the result instead.

    Parameters
    ----------
    smoothing_factor
        If given, a simple moving average of that many rows is applied, as in `ta`.

    Returns
    -------
    pl.Expr
        Cumulative sum of ``pct_change(close) * volume``, null in row 0; named
        ``volume_price_trend``.
    """
    c = as_float(close)
    vpt = _cumsum((c / c.shift(1) - 1) * as_float(volume))
    if smoothing_factor:
        sf = check_window("volume_price_trend", "smoothing_factor", smoothing_factor)
        vpt = sma(vpt, sf)
    return vpt.alias("volume_price_trend")


def negative_volume_index(close: ColumnLike = "close", volume: ColumnLike = "volume", /) -> pl.Expr:
    """Negative Volume Index, as ``ta.volume.negative_volume_index``.

    Starts at 1000 and compounds the close's percent change on rows whose volume fell.
    `ta`'s Python loop is a cumulative product, which Polars computes natively.

    Returns
    -------
    pl.Expr
        Named ``negative_volume_index``.
    """
    c, v = as_float(close), as_float(volume)
    vol_decrease = gt(v.shift(1), v)
    factor = pl.when(vol_decrease).then(1.0 + (c / c.shift(1) - 1)).otherwise(1.0)
    return (factor.cum_prod() * 1000.0).alias("negative_volume_index")


def money_flow_index(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    volume: ColumnLike = "volume",
    /,
    *,
    window: int = 14,
    by: By = None,
) -> pl.Expr:
    """Money Flow Index, as ``ta.volume.money_flow_index``.

    Typical-price flows of rows whose typical price rose against those that fell, each
    window summed afresh in a numba kernel (exact, and typical prices compared exactly as
    `ta` computes them; see `_kernels.volume.mfi`).

    Returns
    -------
    pl.Expr
        Null before row ``window - 1``; named ``money_flow_index``.
    """
    w = check_window("money_flow_index", "window", window)

    def run(h: KernelResult, lo: KernelResult, c: KernelResult, v: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import volume

        return volume.mfi(h, lo, c, v, w)  # type: ignore[no-any-return]

    return kernel_expr(run, [high, low, close, volume], by=by).alias("money_flow_index")


def volume_weighted_average_price(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    volume: ColumnLike = "volume",
    /,
    *,
    window: int = 14,
) -> pl.Expr:
    """Rolling Volume-Weighted Average Price, as ``ta.volume.volume_weighted_average_price``.

    Returns
    -------
    pl.Expr
        ``sum(typical price * volume) / sum(volume)`` over ``window`` rows; named
        ``volume_weighted_average_price``.
    """
    w = check_window("volume_weighted_average_price", "window", window)
    v = as_float(volume)
    tp = (as_float(high) + as_float(low) + as_float(close)) / 3.0
    return _rolling_ratio(tp * v, v, w).alias("volume_weighted_average_price")


def _vpt_warmup(smoothing_factor: int | None = None) -> int:
    return smoothing_factor if smoothing_factor else 1


_register = functools.partial(register_ta, "volume")

_register(
    name="acc_dist_index",
    inputs=("high", "low", "close", "volume"),
    params={},
    outputs={"acc_dist_index": acc_dist_index},
    warmup=lambda: 0,
    ta_class="AccDistIndexIndicator",
    placement="panel",
    description="Accumulation/Distribution Index.",
)
_register(
    name="on_balance_volume",
    inputs=("close", "volume"),
    params={},
    outputs={"on_balance_volume": on_balance_volume},
    warmup=lambda: 0,
    ta_class="OnBalanceVolumeIndicator",
    placement="panel",
    description="On-Balance Volume (ties add volume, as in ta).",
)
_register(
    name="chaikin_money_flow",
    inputs=("high", "low", "close", "volume"),
    params={"window": 20},
    outputs={"chaikin_money_flow": chaikin_money_flow},
    warmup=lambda window=20: window - 1,
    ta_class="ChaikinMoneyFlowIndicator",
    placement="panel",
    description="Chaikin Money Flow.",
)
_register(
    name="force_index",
    inputs=("close", "volume"),
    params={"window": 13},
    outputs={"force_index": force_index},
    warmup=lambda window=13: window,
    ta_class="ForceIndexIndicator",
    placement="panel",
    description="Force Index: EMA of price change times volume.",
)
_register(
    name="ease_of_movement",
    inputs=("high", "low", "volume"),
    params={"window": 14},
    outputs={
        "ease_of_movement": ease_of_movement,
        "sma_ease_of_movement": sma_ease_of_movement,
    },
    warmup=lambda window=14: window,
    ta_class="EaseOfMovementIndicator",
    placement="panel",
    description="Ease of Movement and its simple moving average.",
)
_register(
    name="volume_price_trend",
    inputs=("close", "volume"),
    params={"smoothing_factor": None},
    outputs={"volume_price_trend": volume_price_trend},
    warmup=_vpt_warmup,
    ta_class="VolumePriceTrendIndicator",
    placement="panel",
    description="Volume-Price Trend.",
)
_register(
    name="negative_volume_index",
    inputs=("close", "volume"),
    params={},
    outputs={"negative_volume_index": negative_volume_index},
    warmup=lambda: 0,
    ta_class="NegativeVolumeIndexIndicator",
    placement="panel",
    description="Negative Volume Index, starting at 1000.",
)
_register(
    name="money_flow_index",
    inputs=("high", "low", "close", "volume"),
    params={"window": 14},
    outputs={"money_flow_index": money_flow_index},
    warmup=lambda window=14: window - 1,
    ta_class="MFIIndicator",
    placement="panel",
    description="Money Flow Index (0-100).",
)
_register(
    name="volume_weighted_average_price",
    inputs=("high", "low", "close", "volume"),
    params={"window": 14},
    outputs={"volume_weighted_average_price": volume_weighted_average_price},
    warmup=lambda window=14: window - 1,
    ta_class="VolumeWeightedAveragePrice",
    placement="overlay",
    description="Rolling volume-weighted average of the typical price.",
)

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
