"""Building blocks shared by every indicator family (`ta`'s conventions, as Polars expressions).

Conventions (both families follow them):

* `ta` returns NaN in warm-up rows; these helpers return **null** there (Polars' missing
  value), so ``is_null()``/``drop_nulls()`` work. A genuine 0/0 stays NaN, as in `ta`.
* Every helper takes a column name or an expression and returns an expression, so it
  composes inside ``select``/``with_columns``, on LazyFrames and under ``.over(...)``.
* Helpers that recurse on their own output run a numba kernel from `_kernels`
  (see that module for why) through :func:`kernel_expr`, which is group-aware.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import polars as pl

ColumnLike: TypeAlias = str | pl.Expr
"""A column name or any expression evaluating to one float column."""

KernelResult: TypeAlias = npt.NDArray[np.float64]


def to_expr(x: ColumnLike) -> pl.Expr:
    """``pl.col(x)`` for a name, the expression itself otherwise."""
    return pl.col(x) if isinstance(x, str) else x


def as_float(x: ColumnLike) -> pl.Expr:
    """The column as Float64 (integer volumes, decimals...)."""
    return to_expr(x).cast(pl.Float64)


def sma(x: ColumnLike, window: int, *, min_samples: int | None = None) -> pl.Expr:
    """`ta`'s ``_sma``: ``rolling(window, min_periods=window).mean()`` (null before)."""
    return to_expr(x).rolling_mean(
        window, min_samples=window if min_samples is None else min_samples
    )


def ema(
    x: ColumnLike,
    window: int,
    *,
    min_samples: int | None = None,
    interior_nulls: bool = False,
) -> pl.Expr:
    """`ta`'s ``_ema``: ``ewm(span=window, adjust=False, min_periods=window).mean()``.

    Seeded at the first non-null value (not at an SMA as TA-Lib does); leading nulls (the
    warm-up of an inner indicator) are skipped and do not count towards ``min_samples``,
    exactly as pandas does. Pass ``interior_nulls=True`` when the input can also be null
    *after* its first value (e.g. a 0/0 turned null): pandas then carries the mean through
    the gap and, at the next value, weighs it as if the gap had held that value; Polars'
    ``ewm_mean`` does neither, so that case runs a numba loop instead.
    """
    ms = window if min_samples is None else min_samples
    if interior_nulls:
        return _ewm_with_gaps(x, 2.0 / (window + 1.0), ms)
    return to_expr(x).ewm_mean(span=window, adjust=False, min_samples=ms)


def _ewm_with_gaps(x: ColumnLike, alpha: float, min_samples: int) -> pl.Expr:
    # pandas' ewm (adjust=False, ignore_na=False) carries the mean through missing values and,
    # after a gap, weighs the next value as if the gap had held it; Polars' ewm_mean gives
    # null in the gap and weighs differently. A numba loop does pandas' rule in one pass.
    def run(a: KernelResult) -> KernelResult:
        from omni_research.indicators import _kernels

        return _kernels.ewm_gaps(a, alpha, min_samples)  # type: ignore[no-any-return]

    return kernel_expr(run, [x])


def wilder_ewm(
    x: ColumnLike,
    window: int,
    *,
    min_samples: int | None = None,
    interior_nulls: bool = False,
) -> pl.Expr:
    """`ta`'s RSI smoothing: ``ewm(alpha=1/window, adjust=False, min_periods=window).mean()``.

    ``interior_nulls`` as in :func:`ema`.
    """
    ms = window if min_samples is None else min_samples
    if interior_nulls:
        return _ewm_with_gaps(x, 1.0 / window, ms)
    return to_expr(x).ewm_mean(alpha=1.0 / window, adjust=False, min_samples=ms)


def wilder_sma_seeded(x: ColumnLike, window: int, *, warmup_value: float | None = None) -> pl.Expr:
    """`ta`'s ATR recursion: ``out[w-1] = mean(x[:w])``, ``out[i] = (out[i-1]*(w-1) + x[i])/w``.

    Rows before ``w-1`` are null, or ``warmup_value`` (`ta`'s ATR writes 0.0 there). Runs a
    numba kernel (Polars' ``ewm_mean`` cannot be seeded with a window mean).
    """
    fill = np.nan if warmup_value is None else float(warmup_value)

    def run(x_: KernelResult) -> KernelResult:
        from omni_research.indicators import _kernels

        return _kernels.wilder_sma_seeded(x_, window, fill)  # type: ignore[no-any-return]

    return kernel_expr(run, [x])


def true_range(high: ColumnLike, low: ColumnLike, close: ColumnLike) -> pl.Expr:
    """`ta`'s true range against the previous close: ``max(h-l, |h-c[-1]|, |l-c[-1]|)``.

    Row 0 has no previous close; `ta` takes the row-wise max skipping NaN, so row 0 is
    ``high - low``. Polars' ``max_horizontal`` skips nulls the same way.
    """
    h, lo = to_expr(high), to_expr(low)
    prev_close = to_expr(close).shift(1)
    return pl.max_horizontal(h - lo, (h - prev_close).abs(), (lo - prev_close).abs())


def shift_fill_mean(x: ColumnLike, n: int, *, ta_compat: bool) -> pl.Expr:
    """``x.shift(n)`` with the first ``n`` rows null, or, with ``ta_compat=True``, filled with
    the mean of the **whole** column as `ta` does (``shift(n, fill_value=x.mean())``).

    The `ta` form looks ahead (the mean includes every future row); use it only to reproduce
    `ta`. Under ``.over(...)`` the mean is the group's mean, as `ta` per symbol would give.
    """
    e = to_expr(x)
    shifted = e.shift(n)
    if ta_compat and n > 0:
        # only the n rows the shift vacates get the mean; nulls shifted in from the input's
        # own warm-up stay null, as in pandas
        return pl.when(pl.int_range(pl.len()) < n).then(e.mean()).otherwise(shifted)
    return shifted


def _to_numpy(s: pl.Series) -> KernelResult:
    # zero-copy for a null-free Float64 column; nulls become NaN, which the kernels propagate
    arr = s.cast(pl.Float64).to_numpy()
    return np.ascontiguousarray(arr, dtype=np.float64)


def kernel_expr(
    kernel: Callable[..., KernelResult],
    inputs: Sequence[ColumnLike],
    *,
    outputs: Sequence[str] | None = None,
) -> pl.Expr:
    """Run ``kernel`` on the input columns as numpy float64 arrays, as one expression.

    Parameters
    ----------
    kernel
        ``kernel(*arrays) -> ndarray``: a 1-D array of the input length (single output), or a
        2-D ``(len(outputs), n)`` array. NaN in the result becomes null. Bind parameters with
        a closure or ``functools.partial``; import numba kernels *inside* that closure so the
        package imports fast.
    inputs
        Column names or expressions, passed in this order.
    outputs
        Names of the rows of a 2-D result; the expression is then a Struct with these fields
        (take one with ``.struct.field(name)``).

    Notes
    -----
    Built on ``pl.map_batches`` (not elementwise), so under ``.over("symbol")`` the kernel
    runs once per group and recursion never crosses symbols; on a LazyFrame it runs at
    ``collect``.
    """
    exprs = [to_expr(i) for i in inputs]

    def run(series: Sequence[pl.Series]) -> pl.Series:
        arrays = [_to_numpy(s) for s in series]
        res = kernel(*arrays)
        if outputs is None:
            return pl.Series("", res, dtype=pl.Float64, nan_to_null=True)
        cols = {
            name: pl.Series(name, res[k], dtype=pl.Float64, nan_to_null=True)
            for k, name in enumerate(outputs)
        }
        return pl.DataFrame(cols).to_struct("")

    dtype: Any = (
        pl.Float64 if outputs is None else pl.Struct({name: pl.Float64 for name in outputs})
    )
    return pl.map_batches(exprs, run, return_dtype=dtype)
