"""`ta.volatility` as Polars expressions: ATR, Bollinger, Keltner, Donchian, Ulcer Index.

Every function mirrors the `ta` function of the same name (same inputs, parameters and
defaults, including `ta`'s functional defaults of ``window=10`` for the Donchian middle,
width and percent bands; `ta`'s ``fillna`` is left out). Warm-up rows are null where `ta`
has NaN, and 0.0 where `ta` writes 0.0 (ATR, the band-crossing indicators).
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
    ema,
    gt,
    kernel_expr,
    lt,
)
from omni_research.indicators._registry import register_ta

# --------------------------------------------------------------------------- ATR


def average_true_range(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    window: int = 14,
    by: By = None,
) -> pl.Expr:
    """Average True Range, as ``ta.volatility.average_true_range``.

    Wilder's average of the true range, seeded with the mean of the first ``window`` true
    ranges (TA-Lib seeds the same way but skips row 0, see docs). Rows before
    ``window - 1`` are **0.0**, as `ta` writes them. Runs one fused numba pass.

    Returns
    -------
    pl.Expr
        Named ``average_true_range``.

    Examples
    --------
    >>> import polars as pl
    >>> from omni_research.indicators import average_true_range
    >>> df = pl.DataFrame({"high": [3.0, 4, 5], "low": [1.0, 2, 2], "close": [2.0, 3, 4]})
    >>> df.select(average_true_range(window=2))
    shape: (3, 1)
    ┌────────────────────┐
    │ average_true_range │
    │ ---                │
    │ f64                │
    ╞════════════════════╡
    │ 0.0                │
    │ 2.0                │
    │ 2.5                │
    └────────────────────┘
    """
    w = check_window("average_true_range", "window", window)

    def run(h: KernelResult, lo: KernelResult, c: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import wilder

        return wilder.atr(h, lo, c, w)  # type: ignore[no-any-return]

    return kernel_expr(run, [high, low, close], by=by).alias("average_true_range")


# --------------------------------------------------------------------------- Bollinger


def _mean_std(close: ColumnLike, window: int, *, by: By = None) -> pl.Expr:
    """Struct ``{mavg, std}`` of the close from one numba pass.

    Polars' rolling_mean + rolling_std take ~8x TA-Lib's time, and pandas' running sums
    (what `ta` uses) drift on long series; the kernel is exact and one pass. Polars does not
    share a Python UDF's result between expressions, so every output is derived inside this
    struct (``with_fields``), never from two references to the kernel.
    """
    w = check_window("bollinger", "window", window)

    def run(x: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import rolling

        return rolling.rolling_mean_std(x, w)  # type: ignore[no-any-return]

    return kernel_expr(run, [close], outputs=("mavg", "std"), by=by, share=("bollinger", w))


def _bollinger_fields(close: ColumnLike, window_dev: float) -> dict[str, pl.Expr]:
    """Each Bollinger output in terms of the ``mavg``/``std`` struct fields."""
    c = as_float(close)
    mavg, mstd = pl.field("mavg"), pl.field("std")
    h = mavg + window_dev * mstd
    lo = mavg - window_dev * mstd
    return {
        "hband": h,
        "lband": lo,
        "wband": (h - lo) / mavg * 100,
        "pband": (c - lo) / pl.when(h != lo).then(h - lo).otherwise(float("nan")),
        # `ta` compares with NaN bands in warm-up rows: 0.0 there, not missing
        "hband_indicator": gt(c, h).cast(pl.Float64),
        "lband_indicator": lt(c, lo).cast(pl.Float64),
    }


def _bollinger(
    close: ColumnLike, window: int, window_dev: float, field: tuple[str], *, by: By = None
) -> pl.Expr:
    ms = _mean_std(close, window, by=by)
    if field[0] == "mavg":
        return ms.struct.field("mavg")
    out = _bollinger_fields(close, window_dev)[field[0]]
    return ms.struct.with_fields(_out=out).struct.field("_out")


def bollinger_bands(
    close: ColumnLike = "close", /, *, window: int = 20, window_dev: float = 2, by: By = None
) -> pl.Expr:
    """All seven Bollinger outputs as one struct, computed in a single pass.

    Faster than selecting the seven ``bollinger_*`` functions (each runs its own pass).

    Returns
    -------
    pl.Expr
        A struct with fields ``mavg``, ``std`` (the rolling population std), ``hband``,
        ``lband``, ``wband``, ``pband``, ``hband_indicator``, ``lband_indicator``; named
        ``bollinger``. Use ``.struct.unnest()`` to get columns.
    """
    return (
        _mean_std(close, window, by=by)
        .struct.with_fields(**_bollinger_fields(close, window_dev))
        .alias("bollinger")
    )


def bollinger_mavg(
    close: ColumnLike = "close", /, *, window: int = 20, window_dev: float = 2, by: By = None
) -> pl.Expr:
    """Bollinger middle band (simple moving average), as ``ta.volatility.bollinger_mavg``.

    Returns
    -------
    pl.Expr
        Null before row ``window - 1``; named ``bollinger_mavg``.

    Examples
    --------
    >>> import polars as pl
    >>> from omni_research.indicators import bollinger_hband, bollinger_mavg
    >>> df = pl.DataFrame({"close": [1.0, 2.0, 3.0, 5.0]})
    >>> df.select(bollinger_mavg(window=2), bollinger_hband(window=2))
    shape: (4, 2)
    ┌────────────────┬─────────────────┐
    │ bollinger_mavg ┆ bollinger_hband │
    │ ---            ┆ ---             │
    │ f64            ┆ f64             │
    ╞════════════════╪═════════════════╡
    │ null           ┆ null            │
    │ 1.5            ┆ 2.5             │
    │ 2.5            ┆ 3.5             │
    │ 4.0            ┆ 6.0             │
    └────────────────┴─────────────────┘
    """
    return _bollinger(close, window, window_dev, ("mavg",), by=by).alias("bollinger_mavg")


def bollinger_hband(
    close: ColumnLike = "close", /, *, window: int = 20, window_dev: float = 2, by: By = None
) -> pl.Expr:
    """Upper Bollinger band ``mavg + window_dev * std`` (population std), as ``ta``.

    Returns
    -------
    pl.Expr
        Named ``bollinger_hband``.
    """
    return _bollinger(close, window, window_dev, ("hband",), by=by).alias("bollinger_hband")


def bollinger_lband(
    close: ColumnLike = "close", /, *, window: int = 20, window_dev: float = 2, by: By = None
) -> pl.Expr:
    """Lower Bollinger band ``mavg - window_dev * std``, as ``ta.volatility.bollinger_lband``.

    Returns
    -------
    pl.Expr
        Named ``bollinger_lband``.
    """
    return _bollinger(close, window, window_dev, ("lband",), by=by).alias("bollinger_lband")


def bollinger_wband(
    close: ColumnLike = "close", /, *, window: int = 20, window_dev: float = 2, by: By = None
) -> pl.Expr:
    """Bollinger band width ``(hband - lband) / mavg * 100``, as ``ta``.

    Returns
    -------
    pl.Expr
        Named ``bollinger_wband``.
    """
    return _bollinger(close, window, window_dev, ("wband",), by=by).alias("bollinger_wband")


def bollinger_pband(
    close: ColumnLike = "close", /, *, window: int = 20, window_dev: float = 2, by: By = None
) -> pl.Expr:
    """Bollinger percent band ``(close - lband) / (hband - lband)``, as ``ta``.

    NaN where the bands coincide (a flat window), as in `ta`.

    Returns
    -------
    pl.Expr
        Named ``bollinger_pband``.
    """
    return _bollinger(close, window, window_dev, ("pband",), by=by).alias("bollinger_pband")


def bollinger_hband_indicator(
    close: ColumnLike = "close", /, *, window: int = 20, window_dev: float = 2, by: By = None
) -> pl.Expr:
    """1.0 where the close is above the upper band, else 0.0 (also in warm-up rows, as `ta`).

    Returns
    -------
    pl.Expr
        Named ``bollinger_hband_indicator``.
    """
    out = _bollinger(close, window, window_dev, ("hband_indicator",), by=by)
    return out.alias("bollinger_hband_indicator")


def bollinger_lband_indicator(
    close: ColumnLike = "close", /, *, window: int = 20, window_dev: float = 2, by: By = None
) -> pl.Expr:
    """1.0 where the close is below the lower band, else 0.0 (also in warm-up rows, as `ta`).

    Returns
    -------
    pl.Expr
        Named ``bollinger_lband_indicator``.
    """
    out = _bollinger(close, window, window_dev, ("lband_indicator",), by=by)
    return out.alias("bollinger_lband_indicator")


# --------------------------------------------------------------------------- Keltner


def _keltner(
    high: ColumnLike,
    low: ColumnLike,
    close: ColumnLike,
    window: int,
    window_atr: int,
    original_version: bool,
    multiplier: float,
    out: str,
) -> pl.Expr:
    """One Keltner output.

    Original version: one numba pass reproduces pandas' rolling means bit for bit, so the
    band flags (close above/below a band) decide exactly as `ta`, even where the close sits
    on a band (tick prices, flat stretches); the other outputs derive from its struct.
    """
    w = check_window("keltner_channel", "window", window)
    c = as_float(close)
    if original_version:

        def run(h_: KernelResult, lo_: KernelResult, c_: KernelResult) -> KernelResult:
            from omni_research.indicators._kernels import rolling

            return rolling.keltner_original(h_, lo_, c_, w)  # type: ignore[no-any-return]

        bands = kernel_expr(run, [high, low, close], outputs=("mband", "hband", "lband"))
        mid, upper, lower = pl.field("mband"), pl.field("hband"), pl.field("lband")
    else:
        wa = check_window("keltner_channel", "window_atr", window_atr)
        mid = ema(c.fill_nan(None), w, interior_nulls=True)
        atr = average_true_range(high, low, close, window=wa)
        upper = mid + multiplier * atr
        lower = mid - multiplier * atr
    exprs = {
        "mband": mid,
        "hband": upper,
        "lband": lower,
        "wband": (upper - lower) / mid * 100,
        "pband": (c - lower) / (upper - lower),
        # `ta` compares with NaN bands in warm-up rows: 0.0 there, not missing
        "hband_indicator": gt(c, upper).cast(pl.Float64),
        "lband_indicator": lt(c, lower).cast(pl.Float64),
    }
    if not original_version:
        return exprs[out]
    if out in ("mband", "hband", "lband"):
        return bands.struct.field(out)
    return bands.struct.with_fields(_out=exprs[out]).struct.field("_out")


def keltner_channel_mband(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    window: int = 20,
    window_atr: int = 10,
    original_version: bool = True,
    multiplier: float = 2,
) -> pl.Expr:
    """Keltner channel middle line, as ``ta.volatility.keltner_channel_mband``.

    ``original_version=True``: SMA of the typical price; otherwise an EMA of the close.

    Returns
    -------
    pl.Expr
        Named ``keltner_channel_mband``.
    """
    args = (window, window_atr, original_version, multiplier)
    return _keltner(high, low, close, *args, "mband").alias("keltner_channel_mband")


def keltner_channel_hband(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    window: int = 20,
    window_atr: int = 10,
    original_version: bool = True,
    multiplier: float = 2,
) -> pl.Expr:
    """Keltner channel upper band, as ``ta.volatility.keltner_channel_hband``.

    Original version: SMA of ``(4H - 2L + C) / 3`` with no warm-up (`ta`'s
    ``min_periods=0``); otherwise ``EMA + multiplier * ATR(window_atr)``.

    Returns
    -------
    pl.Expr
        Named ``keltner_channel_hband``.
    """
    args = (window, window_atr, original_version, multiplier)
    return _keltner(high, low, close, *args, "hband").alias("keltner_channel_hband")


def keltner_channel_lband(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    window: int = 20,
    window_atr: int = 10,
    original_version: bool = True,
    multiplier: float = 2,
) -> pl.Expr:
    """Keltner channel lower band, as ``ta.volatility.keltner_channel_lband``.

    Returns
    -------
    pl.Expr
        Named ``keltner_channel_lband``.
    """
    args = (window, window_atr, original_version, multiplier)
    return _keltner(high, low, close, *args, "lband").alias("keltner_channel_lband")


def keltner_channel_wband(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    window: int = 20,
    window_atr: int = 10,
    original_version: bool = True,
    multiplier: float = 2,
) -> pl.Expr:
    """Keltner channel width ``(hband - lband) / mband * 100``, as `ta`.

    Returns
    -------
    pl.Expr
        Named ``keltner_channel_wband``.
    """
    args = (window, window_atr, original_version, multiplier)
    return _keltner(high, low, close, *args, "wband").alias("keltner_channel_wband")


def keltner_channel_pband(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    window: int = 20,
    window_atr: int = 10,
    original_version: bool = True,
    multiplier: float = 2,
) -> pl.Expr:
    """Keltner channel percent band ``(close - lband) / (hband - lband)``, as `ta`.

    Returns
    -------
    pl.Expr
        Named ``keltner_channel_pband``.
    """
    args = (window, window_atr, original_version, multiplier)
    return _keltner(high, low, close, *args, "pband").alias("keltner_channel_pband")


def keltner_channel_hband_indicator(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    window: int = 20,
    window_atr: int = 10,
    original_version: bool = True,
    multiplier: float = 2,
) -> pl.Expr:
    """1.0 where the close is above the upper Keltner band, else 0.0, as `ta`.

    Returns
    -------
    pl.Expr
        Named ``keltner_channel_hband_indicator``.
    """
    args = (window, window_atr, original_version, multiplier)
    return _keltner(high, low, close, *args, "hband_indicator").alias(
        "keltner_channel_hband_indicator"
    )


def keltner_channel_lband_indicator(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    window: int = 20,
    window_atr: int = 10,
    original_version: bool = True,
    multiplier: float = 2,
) -> pl.Expr:
    """1.0 where the close is below the lower Keltner band, else 0.0, as `ta`.

    Returns
    -------
    pl.Expr
        Named ``keltner_channel_lband_indicator``.
    """
    args = (window, window_atr, original_version, multiplier)
    return _keltner(high, low, close, *args, "lband_indicator").alias(
        "keltner_channel_lband_indicator"
    )


# --------------------------------------------------------------------------- Donchian


def _donchian(
    high: ColumnLike, low: ColumnLike, window: int, field: str, expr: pl.Expr | None = None
) -> pl.Expr:
    """One Donchian output from the ``{hh, ll}`` struct of a single numba pass (rolling max
    and min together, ~5x faster than Polars' two rolling passes)."""
    w = check_window("donchian_channel", "window", window)

    def run(h: KernelResult, lo: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import rolling

        return rolling.rolling_max_min(h, lo, w)  # type: ignore[no-any-return]

    ext = kernel_expr(run, [high, low], outputs=("hh", "ll"))
    if expr is None:
        return ext.struct.field(field)
    return ext.struct.with_fields(_out=expr).struct.field("_out")


def _offset(x: pl.Expr, offset: int) -> pl.Expr:
    if isinstance(offset, bool) or not isinstance(offset, int):
        check_window("donchian_channel", "offset", offset, minimum=0)
    # a negative offset shifts future values back (look-ahead), as `ta` allows; 0 is the default
    return x.shift(offset) if offset != 0 else x


def donchian_channel_hband(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    window: int = 20,
    offset: int = 0,
) -> pl.Expr:
    """Donchian upper band (rolling max of the high), as ``ta.volatility.donchian_channel_hband``.

    Returns
    -------
    pl.Expr
        Shifted by ``offset`` rows; named ``donchian_channel_hband``.
    """
    return _offset(_donchian(high, low, window, "hh"), offset).alias("donchian_channel_hband")


def donchian_channel_lband(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    window: int = 20,
    offset: int = 0,
) -> pl.Expr:
    """Donchian lower band (rolling min of the low), as ``ta.volatility.donchian_channel_lband``.

    Returns
    -------
    pl.Expr
        Named ``donchian_channel_lband``.
    """
    return _offset(_donchian(high, low, window, "ll"), offset).alias("donchian_channel_lband")


def donchian_channel_mband(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    window: int = 10,
    offset: int = 0,
) -> pl.Expr:
    """Donchian middle band ``(hband - lband) / 2 + lband``, as `ta` (default ``window=10``,
    `ta`'s functional default; its class uses 20).

    Returns
    -------
    pl.Expr
        Named ``donchian_channel_mband``.
    """
    h, lo = pl.field("hh"), pl.field("ll")
    mband = _donchian(high, low, window, "", (h - lo) / 2.0 + lo)
    return _offset(mband, offset).alias("donchian_channel_mband")


def donchian_channel_wband(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    window: int = 10,
    offset: int = 0,
) -> pl.Expr:
    """Donchian width ``(hband - lband) / SMA(close) * 100``, as `ta` (default ``window=10``).

    Returns
    -------
    pl.Expr
        Named ``donchian_channel_wband``.
    """
    h, lo = pl.field("hh"), pl.field("ll")
    mavg = as_float(close).rolling_mean(window)
    wband = _donchian(high, low, window, "", (h - lo) / mavg * 100)
    return _offset(wband, offset).alias("donchian_channel_wband")


def donchian_channel_pband(
    high: ColumnLike = "high",
    low: ColumnLike = "low",
    close: ColumnLike = "close",
    /,
    *,
    window: int = 10,
    offset: int = 0,
) -> pl.Expr:
    """Donchian percent band ``(close - lband) / (hband - lband)``, as `ta` (default 10).

    Returns
    -------
    pl.Expr
        Named ``donchian_channel_pband``.
    """
    h, lo = pl.field("hh"), pl.field("ll")
    pband = _donchian(high, low, window, "", (as_float(close) - lo) / (h - lo))
    return _offset(pband, offset).alias("donchian_channel_pband")


# --------------------------------------------------------------------------- Ulcer


def ulcer_index(close: ColumnLike = "close", /, *, window: int = 14, by: By = None) -> pl.Expr:
    """Ulcer Index, as ``ta.volatility.ulcer_index``.

    Root mean square of the percent drawdown from the running ``window``-row maximum, in
    one numba pass. Windows of zero drawdown give exactly 0 as in `ta` (which sums each
    window afresh): a sliding sum's residue, magnified by the square root, would not.

    Returns
    -------
    pl.Expr
        Null before row ``window - 1``; named ``ulcer_index``.
    """
    w = check_window("ulcer_index", "window", window)

    def run(x: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import rolling

        return rolling.ulcer_index(x, w)  # type: ignore[no-any-return]

    return kernel_expr(run, [close], by=by).alias("ulcer_index")


# --------------------------------------------------------------------------- registry


def _p(**params: Any) -> dict[str, Any]:
    return params


_register = functools.partial(register_ta, "volatility")

_register(
    name="average_true_range",
    inputs=("high", "low", "close"),
    params=_p(window=14),
    outputs={"average_true_range": average_true_range},
    warmup=lambda window=14: window - 1,
    ta_class="AverageTrueRange",
    placement="panel",
    description="Average True Range (0.0 in warm-up rows, as ta).",
)
_register(
    name="bollinger",
    inputs=("close",),
    params=_p(window=20, window_dev=2),
    outputs={
        "mavg": bollinger_mavg,
        "hband": bollinger_hband,
        "lband": bollinger_lband,
        "wband": bollinger_wband,
        "pband": bollinger_pband,
        "hband_indicator": bollinger_hband_indicator,
        "lband_indicator": bollinger_lband_indicator,
    },
    warmup=lambda window=20, window_dev=2: window - 1,
    ta_class="BollingerBands",
    placement="overlay",
    description="Bollinger Bands: SMA +/- window_dev population standard deviations.",
)
_register(
    name="keltner_channel",
    inputs=("high", "low", "close"),
    params=_p(window=20, window_atr=10, original_version=True, multiplier=2),
    outputs={
        "mband": keltner_channel_mband,
        "hband": keltner_channel_hband,
        "lband": keltner_channel_lband,
        "wband": keltner_channel_wband,
        "pband": keltner_channel_pband,
        "hband_indicator": keltner_channel_hband_indicator,
        "lband_indicator": keltner_channel_lband_indicator,
    },
    warmup=lambda window=20, window_atr=10, original_version=True, multiplier=2: (
        window - 1 if original_version else max(window, window_atr) - 1
    ),
    ta_class="KeltnerChannel",
    placement="overlay",
    description="Keltner Channel (ta's original typical-price version by default).",
)
_register(
    name="donchian_channel",
    inputs=("high", "low", "close"),
    params=_p(window=20, offset=0),
    outputs={
        "hband": donchian_channel_hband,
        "lband": donchian_channel_lband,
        "mband": donchian_channel_mband,
        "wband": donchian_channel_wband,
        "pband": donchian_channel_pband,
    },
    warmup=lambda window=20, offset=0: window - 1 + max(offset, 0),
    ta_class="DonchianChannel",
    placement="overlay",
    description="Donchian Channel: rolling high/low range.",
)
_register(
    name="ulcer_index",
    inputs=("close",),
    params=_p(window=14),
    outputs={"ulcer_index": ulcer_index},
    warmup=lambda window=14: window - 1,
    ta_class="UlcerIndex",
    placement="panel",
    description="Ulcer Index: RMS drawdown from the rolling maximum.",
)

__all__ = [
    "average_true_range",
    "bollinger_bands",
    "bollinger_hband",
    "bollinger_hband_indicator",
    "bollinger_lband",
    "bollinger_lband_indicator",
    "bollinger_mavg",
    "bollinger_pband",
    "bollinger_wband",
    "donchian_channel_hband",
    "donchian_channel_lband",
    "donchian_channel_mband",
    "donchian_channel_pband",
    "donchian_channel_wband",
    "keltner_channel_hband",
    "keltner_channel_hband_indicator",
    "keltner_channel_lband",
    "keltner_channel_lband_indicator",
    "keltner_channel_mband",
    "keltner_channel_pband",
    "keltner_channel_wband",
    "ulcer_index",
]
