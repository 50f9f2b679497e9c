"""Notebook widgets, one line each, fed by the catalog, the indicator registry and the
backtest engine (ipywidgets is imported only in this package).

Every widget shows itself when it is the last expression of a cell, and exposes its current
selection as ``.value`` and its outcome as ``.result`` (plain Python values and Polars
frames), so a notebook can continue from what was chosen. Bad choices (an empty date range,
an unknown symbol or indicator) show a message inside the widget instead of a traceback.

Price charts are :class:`CandleChart`: an exact, zoomable candlestick chart (anywidget and a
canvas renderer bundled in the package), re-aggregated from the bars at every zoom.

Widgets only bind controls: the strategies come from ``omni_research.strategies`` (re-exported
here as ``STRATEGIES``, ``Strategy``, ``strategy_signal``), the signal statistics from
``omni_research.backtest`` (``RULES``, ``signal_stats``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from omni_research._extras import require_extra
from omni_research._public import publish

require_extra("notebook", "omni_research.widgets")


from omni_research.backtest import SIGNAL_RULES as RULES
from omni_research.backtest import signal_stats
from omni_research.strategies import STRATEGIES, Strategy, strategy_signal
from omni_research.widgets._backtest import BacktestPanel
from omni_research.widgets._explorer import MarketExplorer
from omni_research.widgets._lab import IndicatorLab, parse_expression
from omni_research.widgets._quality import QualityPanel

publish(__name__, BacktestPanel, IndicatorLab, MarketExplorer, QualityPanel)

__all__ = [
    "RULES",
    "STRATEGIES",
    "BacktestPanel",
    "CandleChart",
    "IndicatorLab",
    "MarketExplorer",
    "QualityPanel",
    "Strategy",
    "parse_expression",
    "signal_stats",
    "strategy_signal",
]

if TYPE_CHECKING:
    from omni_research.widgets._chart import CandleChart


def __getattr__(name: str) -> Any:
    # CandleChart imports anywidget, which imports ipywidgets: only when it is first used,
    # so importing this package stays light (the widgets import it inside their methods).
    if name == "CandleChart":
        from omni_research.widgets._chart import CandleChart

        publish(__name__, CandleChart)
        globals()["CandleChart"] = CandleChart
        return CandleChart
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
