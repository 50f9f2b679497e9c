"""Layouts shared by the compiled loops and their callers (kept free of numba, so importing
the backtest package does not import it)."""

from __future__ import annotations

# Column order of the trade buffer written by `simulate`.
T_SYM, T_ENTRY, T_EXIT, T_EPX, T_XPX, T_SIZE, T_FEES, T_FUND, T_PNL, T_RET, T_OPEN = range(11)
N_TRADE_FIELDS = 11

# Order of the scalars returned by `simulate` next to the number of trades.
A_TRADED, A_FEES, A_FUNDING, A_EXPOSED = range(4)

# Order of the metrics returned by `metrics`.
STAT_NAMES = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "max_drawdown_duration_bars",
    "win_rate",
    "profit_factor",
    "expectancy",
    "avg_trade_return",
    "exposure",
    "turnover",
    "n_trades",
    "final_equity",
    "fees",
    "funding",
)
N_STATS = len(STAT_NAMES)
