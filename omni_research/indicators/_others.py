"""`ta.others` as Polars expressions: daily return, daily log return, cumulative return."""

from __future__ import annotations

import functools

import polars as pl

from omni_research.indicators._common import ColumnLike, as_float
from omni_research.indicators._registry import register_ta


def daily_return(close: ColumnLike = "close", /) -> pl.Expr:
    """Percent change from the previous row, as ``ta.others.daily_return``.

    Parameters
    ----------
    close
        Close column name or expression.

    Returns
    -------
    pl.Expr
        ``(close / close[-1] - 1) * 100``, null in row 0; named ``daily_return``.

    Examples
    --------
    >>> import polars as pl
    >>> from omni_research.indicators import daily_return
    >>> pl.DataFrame({"close": [100.0, 110.0, 99.0]}).select(daily_return())
    shape: (3, 1)
    ┌──────────────┐
    │ daily_return │
    │ ---          │
    │ f64          │
    ╞══════════════╡
    │ null         │
    │ 10.0         │
    │ -10.0        │
    └──────────────┘
    """
    c = as_float(close)
    return ((c / c.shift(1) - 1) * 100).alias("daily_return")


def daily_log_return(close: ColumnLike = "close", /) -> pl.Expr:
    """Log return from the previous row in percent, as ``ta.others.daily_log_return``.

    Returns
    -------
    pl.Expr
        ``(ln close - ln close[-1]) * 100``, null in row 0; named ``daily_log_return``.
    """
    return (as_float(close).log().diff() * 100).alias("daily_log_return")


def cumulative_return(close: ColumnLike = "close", /) -> pl.Expr:
    """Percent change since the first row, as ``ta.others.cumulative_return``.

    Under ``.over("symbol")`` the first row is each symbol's first row.

    Returns
    -------
    pl.Expr
        ``(close / close[0] - 1) * 100``; named ``cumulative_return``.
    """
    c = as_float(close)
    return ((c / c.first() - 1) * 100).alias("cumulative_return")


_register = functools.partial(register_ta, "others")

_register(
    name="daily_return",
    inputs=("close",),
    params={},
    outputs={"daily_return": daily_return},
    warmup=lambda: 1,
    ta_class="DailyReturnIndicator",
    placement="panel",
    description="Percent change from the previous bar.",
)
_register(
    name="daily_log_return",
    inputs=("close",),
    params={},
    outputs={"daily_log_return": daily_log_return},
    warmup=lambda: 1,
    ta_class="DailyLogReturnIndicator",
    placement="panel",
    description="Log return from the previous bar, in percent.",
)
_register(
    name="cumulative_return",
    inputs=("close",),
    params={},
    outputs={"cumulative_return": cumulative_return},
    warmup=lambda: 0,
    ta_class="CumulativeReturnIndicator",
    placement="panel",
    description="Percent change since the first bar.",
)

__all__ = ["cumulative_return", "daily_log_return", "daily_return"]
