"""`ta.others` as Polars expressions: daily return, daily log return, cumulative return.

Each indicator is declared once (`IndicatorSpec`); its function, registry entry and
`add_all_ta_features` column are generated from that declaration.
"""

from __future__ import annotations

import polars as pl

from omni_research.indicators._common import ColumnLike, as_float
from omni_research.indicators._spec import Feature, IndicatorSpec, Output, define, register_spec


def _daily_return(close: ColumnLike) -> pl.Expr:
    c = as_float(close)
    return (c / c.shift(1) - 1) * 100


def _daily_log_return(close: ColumnLike) -> pl.Expr:
    return as_float(close).log().diff() * 100


def _cumulative_return(close: ColumnLike) -> pl.Expr:
    c = as_float(close)
    return (c / c.first() - 1) * 100


DAILY_RETURN = register_spec(
    IndicatorSpec(
        name="daily_return",
        family="others",
        ta_class="DailyReturnIndicator",
        inputs=("close",),
        params=(),
        outputs=(
            Output(
                key="daily_return",
                function="daily_return",
                build=_daily_return,
                doc="""Percent change from the previous row, as ``ta.others.daily_return``.

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
    """,
            ),
        ),
        warmup=lambda p: 1,
        description="Percent change from the previous bar.",
        features=(Feature("others_dr", "daily_return"),),
    )
)
DAILY_LOG_RETURN = register_spec(
    IndicatorSpec(
        name="daily_log_return",
        family="others",
        ta_class="DailyLogReturnIndicator",
        inputs=("close",),
        params=(),
        outputs=(
            Output(
                key="daily_log_return",
                function="daily_log_return",
                build=_daily_log_return,
                doc="""Log return from the previous row in percent, as
    ``ta.others.daily_log_return``.

    Returns
    -------
    pl.Expr
        ``(ln close - ln close[-1]) * 100``, null in row 0; named ``daily_log_return``.
    """,
            ),
        ),
        warmup=lambda p: 1,
        description="Log return from the previous bar, in percent.",
        features=(Feature("others_dlr", "daily_log_return"),),
    )
)
CUMULATIVE_RETURN = register_spec(
    IndicatorSpec(
        name="cumulative_return",
        family="others",
        ta_class="CumulativeReturnIndicator",
        inputs=("close",),
        params=(),
        outputs=(
            Output(
                key="cumulative_return",
                function="cumulative_return",
                build=_cumulative_return,
                doc="""Percent change since the first row, as ``ta.others.cumulative_return``.

    Under ``.over("symbol")`` the first row is each symbol's first row.

    Returns
    -------
    pl.Expr
        ``(close / close[0] - 1) * 100``; named ``cumulative_return``.
    """,
            ),
        ),
        warmup=lambda p: 0,
        description="Percent change since the first bar.",
        features=(Feature("others_cr", "cumulative_return"),),
    )
)

# Typed ``Callable[..., pl.Expr]`` for mypy; their real signatures come from the specs.
daily_return = define(DAILY_RETURN, "daily_return", globals())
daily_log_return = define(DAILY_LOG_RETURN, "daily_log_return", globals())
cumulative_return = define(CUMULATIVE_RETURN, "cumulative_return", globals())

__all__ = ["cumulative_return", "daily_log_return", "daily_return"]
