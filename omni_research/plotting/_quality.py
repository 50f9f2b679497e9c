"""Data-quality timeline: each finding as a span on a UTC time axis."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from omni_research.exceptions import ConfigurationError
from omni_research.plotting._common import (
    collect,
    days,
    format_time_axis,
    new_figure,
    require_columns,
    to_mpl_dates,
    utc_timestamps,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SEVERITY_COLORS = {"info": "#42a5f5", "warning": "#ffa726", "error": "#e53935"}
_FIRST = ("first_timestamp", "first_ts", "first", "start")
_LAST = ("last_timestamp", "last_ts", "last", "end")


def finding_bounds(findings: pl.DataFrame) -> tuple[str, str]:
    """The names of the first- and last-timestamp columns of a quality findings frame."""
    first = next((c for c in _FIRST if c in findings.columns), None)
    last = next((c for c in _LAST if c in findings.columns), first)
    if first is None or last is None:
        raise ConfigurationError(
            f"quality timeline: expected a first-timestamp column (one of {list(_FIRST)}); "
            f"got {findings.columns}"
        )
    return first, last


def plot_quality_timeline(
    findings: pl.DataFrame | pl.LazyFrame,
    /,
    *,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Each quality finding as a bar from its first to its last timestamp, one row per
    (dataset, symbol, check), coloured by severity.

    Parameters
    ----------
    findings : DataFrame or LazyFrame
        ``omni_research.quality.quality_report`` output: ``dataset``, ``symbol``, ``check``,
        ``severity``, ``first_timestamp``, ``last_timestamp`` (``count`` optional).
    title : str, optional
        Figure title.
    figsize : (float, float), optional
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        Spans are one collection (gid ``"findings"``); rows are the y tick labels.

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> t = dt.datetime(2025, 1, 6, tzinfo=dt.UTC)
    >>> f = pl.DataFrame({"dataset": ["historical/ohlcv"], "symbol": ["SOLUSDT"],
    ...                   "check": ["gaps"], "severity": ["warning"],
    ...                   "first_timestamp": [t], "last_timestamp": [t], "count": [3]})
    >>> [t.get_text() for t in plot_quality_timeline(f).axes[0].get_yticklabels()]
    ['historical/ohlcv SOLUSDT gaps']
    """
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch

    what = "plot_quality_timeline"
    df = collect(findings, what=what)
    require_columns(df, ("check", "severity"), what=what)
    first, last = finding_bounds(df)
    df = df.filter(pl.col(first).is_not_null())
    fig = new_figure(figsize=figsize or (12.0, 1.5 + 0.35 * max(df.height, 1)))
    ax = fig.subplots()
    if df.height == 0:
        ax.text(0.5, 0.5, "no findings", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
        fig.suptitle(title or "data quality: no findings")
        return fig
    keys = [c for c in ("dataset", "symbol", "check") if c in df.columns]
    df = df.with_columns(
        pl.concat_str(
            [pl.col(k).cast(pl.String).fill_null("-") for k in keys], separator=" "
        ).alias("_row"),
        utc_timestamps(df, first, what=what).alias("_first"),
        utc_timestamps(df, last, what=what).alias("_last"),
    )
    rows = df.get_column("_row").unique().sort(descending=True).to_list()
    index = {r: i for i, r in enumerate(rows)}
    x0 = to_mpl_dates(df.get_column("_first"))
    x1 = to_mpl_dates(df.get_column("_last"))
    span = max(float(x1.max() - x0.min()), days(timedelta(hours=1)))
    # A single-instant finding still needs a visible width: 0.4% of the shown range.
    x1 = np.maximum(x1, x0 + span * 0.004)
    y = np.array([index[r] for r in df.get_column("_row").to_list()], dtype=float)
    polys = [
        [(a, b - 0.35), (a, b + 0.35), (c, b + 0.35), (c, b - 0.35)]
        for a, c, b in zip(x0, x1, y, strict=True)
    ]
    sev = df.get_column("severity").cast(pl.String).to_list()
    colors = [SEVERITY_COLORS.get(s, "#9e9e9e") for s in sev]
    ax.add_collection(
        PolyCollection(polys, facecolors=colors, edgecolors="black", linewidths=0.4, gid="findings")
    )
    ax.autoscale_view()
    ax.set_yticks(range(len(rows)), rows)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.grid(True, axis="x", alpha=0.25)
    present = [s for s in SEVERITY_COLORS if s in set(sev)]
    ax.legend(
        handles=[Patch(color=SEVERITY_COLORS[s], label=s) for s in present],
        loc="upper right",
        fontsize=8,
    )
    format_time_axis(ax)
    fig.suptitle(title or f"data quality: {df.height} finding(s)")
    return fig
