"""Backtests: signals in, trades, equity, positions and metrics out.

`run` backtests target exposures (one or several symbols sharing a cash balance), `sweep`
runs a parameter grid in one compiled pass, `lookahead_check` proves a strategy does not
peek at the future, `monte_carlo` bootstraps trade returns. Conventions: docs/backtest.md.
"""

from omni_research.backtest._engine import BacktestResult, Fees, run
from omni_research.backtest._lookahead import LookaheadReport, lookahead_check
from omni_research.backtest._montecarlo import monte_carlo
from omni_research.backtest._sweep import sweep

__all__ = [
    "BacktestResult",
    "Fees",
    "LookaheadReport",
    "lookahead_check",
    "monte_carlo",
    "run",
    "sweep",
]
