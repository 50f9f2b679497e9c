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

from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import polars as pl

# the group search, chunk views, per-group kernel runs and the one cache of shared results
# live in the bottom layer (bars use them too)
from omni_research._segments import (
    SEGMENTS,
    as_series,
    run_segmented,
    series_ident,
    to_numpy,
)

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
        from omni_research.indicators._kernels import exponential

        return exponential.ewm_gaps(a, alpha, min_samples)  # type: ignore[no-any-return]

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


By: TypeAlias = str | Sequence[str] | None
"""Group columns for a kernel's ``by=`` option (``None``: the whole column is one series)."""


def by_columns(by: By) -> list[str]:
    """``by`` as a list of column names (empty for ``None``)."""
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def clear_shared() -> None:
    """Forget the shared kernel results and the kept segmentations (benchmarks call it so
    every query runs cold): ``omni_research._segments.SEGMENTS.clear()``."""
    SEGMENTS.clear()


def kernel_expr(
    kernel: Callable[..., KernelResult],
    inputs: Sequence[ColumnLike],
    *,
    outputs: Sequence[str] | None = None,
    by: By = None,
    share: Hashable | None = None,
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
    by
        Group columns: the kernel restarts at every group (see `run_segmented`), giving
        what ``.over(by)`` gives, in one expression call instead of one per group.
    share
        A hashable key naming the kernel and its parameters (e.g. ``("bollinger", 20)``):
        expressions with the same key on the same input reuse one result within a query
        instead of each running the kernel (``SEGMENTS.shared_run``).

    Notes
    -----
    Built on ``pl.map_batches`` (not elementwise), so under ``.over("symbol")`` the kernel
    runs once per group and recursion never crosses symbols; on a LazyFrame it runs at
    ``collect``.
    """
    exprs = [to_expr(i) for i in inputs]
    keys = by_columns(by)
    n_in = len(exprs)

    def run(series: Sequence[pl.Series]) -> pl.Series:
        key_series = list(series[n_in:])
        inputs_ident = None if share is None else series_ident(series[:n_in])
        ident = None if inputs_ident is None else (share, inputs_ident)
        hold = list(series[:n_in])  # kept with a shared result: ``SEGMENTS.shared_run``

        if key_series:
            n_out = None if outputs is None else len(outputs)
            # the inputs go as Series: run_segmented slices their chunks without a copy
            parts = run_segmented(
                kernel, list(series[:n_in]), key_series, n_outputs=n_out, share=ident, hold=hold
            )
            if outputs is None:
                return parts[0]
            return pl.DataFrame(
                {name: c.alias(name) for name, c in zip(outputs, parts, strict=True)}
            ).to_struct("")
        arrays = [to_numpy(s) for s in series[:n_in]]
        if ident is None:
            return as_series(kernel(*arrays), outputs)
        res = SEGMENTS.shared_run(ident, hold, lambda: kernel(*arrays))
        return SEGMENTS.shared_series(res, outputs)

    dtype: Any = (
        pl.Float64 if outputs is None else pl.Struct({name: pl.Float64 for name in outputs})
    )
    return pl.map_batches([*exprs, *(pl.col(k) for k in keys)], run, return_dtype=dtype)


def kernel_expr_nan(
    kernel: Callable[..., KernelResult],
    inputs: Sequence[ColumnLike],
    *,
    null_rows: int,
    by: By = None,
) -> pl.Expr:
    """Like `_common.kernel_expr` for one output, but only the first ``null_rows`` rows (the
    warm-up) become null: a NaN further on is a genuine 0/0, which `ta` keeps as NaN. With
    ``by``, the kernel and the warm-up restart at every group (`_common.run_segmented`)."""
    exprs = [to_expr(i) for i in inputs]
    keys = by_columns(by)
    n_in = len(exprs)

    def run(series: Sequence[pl.Series]) -> pl.Series:
        if keys:
            return run_segmented(
                kernel, list(series[:n_in]), series[n_in:], null_rows=null_rows, nan_to_null=False
            )[0]
        arrays = [np.ascontiguousarray(s.cast(pl.Float64).to_numpy()) for s in series[:n_in]]
        res = np.asarray(kernel(*arrays), dtype=np.float64)
        out = pl.Series("", res, dtype=pl.Float64)
        k = min(null_rows, out.len())
        if k == 0:
            return out
        return pl.concat([pl.Series("", [None] * k, dtype=pl.Float64), out.slice(k)])

    return pl.map_batches([*exprs, *(pl.col(k) for k in keys)], run, return_dtype=pl.Float64)


def gt(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """``a > b`` as pandas/numpy compare: False where either side is NaN or null (Polars
    orders NaN above every number, so its ``NaN > x`` is True)."""
    return ((a > b) & a.is_not_nan() & b.is_not_nan()).fill_null(False)


def lt(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """``a < b`` as pandas/numpy compare: False where either side is NaN or null."""
    return ((a < b) & a.is_not_nan() & b.is_not_nan()).fill_null(False)
