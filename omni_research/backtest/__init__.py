"""Backtests: signals in, trades, equity, positions and metrics out.

`run` backtests target exposures (one or several symbols sharing a cash balance), `sweep`
runs a parameter grid in one compiled pass, `lookahead_check` proves a strategy does not
peek at the future, `monte_carlo` bootstraps trade returns, `signal_stats` summarises the
forward returns of the bars where an indicator rule holds. Conventions: docs/backtest.md.
The named strategies these run live in `omni_research.strategies`.
"""

from omni_research._public import publish
from omni_research.backtest._engine import BacktestResult, Fees, run
from omni_research.backtest._lookahead import LookaheadReport, lookahead_check
from omni_research.backtest._montecarlo import monte_carlo
from omni_research.backtest._signals import RULES as SIGNAL_RULES
from omni_research.backtest._signals import signal_mask, signal_onsets, signal_stats
from omni_research.backtest._sweep import sweep

publish(__name__, BacktestResult, Fees, LookaheadReport)

__all__ = [
    "SIGNAL_RULES",
    "BacktestResult",
    "Fees",
    "LookaheadReport",
    "lookahead_check",
    "monte_carlo",
    "run",
    "signal_mask",
    "signal_onsets",
    "signal_stats",
    "sweep",
]
