"""Helpers shared by the momentum, volume, volatility and others modules."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import polars as pl

from omni_research.exceptions import ConfigurationError
from omni_research.indicators._common import (
    By,
    ColumnLike,
    KernelResult,
    by_columns,
    run_segmented,
    to_expr,
)


def check_window(indicator: str, name: str, value: object, *, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``, or ConfigurationError naming the indicator.

    Polars only rejects a bad window when the query runs, deep inside ``collect``; checking
    when the expression is built names the indicator and the parameter instead.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(
            f"{indicator}: parameter {name!r} must be an integer >= {minimum}, got {value!r}; "
            f"pass e.g. {name}={max(minimum, 14)}"
        )
    return value


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
