"""Charts that read like a trading terminal (matplotlib; every function returns the Figure).

Time axes are UTC and labelled so. Long inputs are merged or decimated before drawing, so a
chart of 100,000 bars has a bounded number of artists and draws in well under a second.
Figures are detached from pyplot (nothing to close); :func:`figure_to_png` renders one.
"""

from __future__ import annotations

from omni_research._extras import require_extra

require_extra("reports", "omni_research.plotting", modules=("matplotlib",))

from omni_research.plotting._candles import (
    aggregate_for_display,
    plot_candles,
    plot_trades,
    trade_points,
)
from omni_research.plotting._common import figure_to_png
from omni_research.plotting._equity import plot_equity, plot_returns_distribution
from omni_research.plotting._heatmaps import plot_sweep_heatmap, sweep_grid
from omni_research.plotting._quality import plot_quality_timeline

__all__ = [
    "aggregate_for_display",
    "figure_to_png",
    "plot_candles",
    "plot_equity",
    "plot_quality_timeline",
    "plot_returns_distribution",
    "plot_sweep_heatmap",
    "plot_trades",
    "sweep_grid",
    "trade_points",
]
