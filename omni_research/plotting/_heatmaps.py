"""Parameter-sweep heatmap."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl

from omni_research.exceptions import ConfigurationError
from omni_research.plotting._common import collect, new_figure, require_columns

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def sweep_grid(
    sweep: pl.DataFrame | pl.LazyFrame,
    /,
    *,
    x: str,
    y: str,
    metric: str,
    agg: Literal["max", "min", "mean"] = "max",
) -> tuple[list[object], list[object], np.ndarray[tuple[int, int], np.dtype[np.float64]]]:
    """The metric as a (len(y), len(x)) matrix over the sorted x and y parameter values.

    Other parameter columns are folded with ``agg`` (the best value over them by default);
    a missing combination is NaN.
    """
    df = collect(sweep, what="sweep heatmap")
    require_columns(df, (x, y, metric), what="sweep heatmap")
    if x == y:
        raise ConfigurationError(f"sweep heatmap: x and y must differ, both are {x!r}")
    fold = {"max": pl.col(metric).max(), "min": pl.col(metric).min(), "mean": pl.col(metric).mean()}
    if agg not in fold:
        raise ConfigurationError(f"sweep heatmap: agg must be max, min or mean, got {agg!r}")
    cells = (
        df.with_columns(pl.col(metric).cast(pl.Float64).fill_nan(None))
        .group_by(x, y)
        .agg(fold[agg].alias("_v"))
    )
    xs = cells.get_column(x).unique().sort().to_list()
    ys = cells.get_column(y).unique().sort().to_list()
    grid = np.full((len(ys), len(xs)), np.nan)
    xi = {v: i for i, v in enumerate(xs)}
    yi = {v: i for i, v in enumerate(ys)}
    for xv, yv, v in cells.iter_rows():
        if v is not None:
            grid[yi[yv], xi[xv]] = v
    return xs, ys, grid


def plot_sweep_heatmap(
    sweep: pl.DataFrame | pl.LazyFrame,
    /,
    *,
    x: str,
    y: str,
    metric: str,
    agg: Literal["max", "min", "mean"] = "max",
    annotate: bool | None = None,
    cmap: str = "RdYlGn",
    title: str | None = None,
    figsize: tuple[float, float] = (8.0, 6.0),
) -> Figure:
    """Heatmap of one metric of a parameter sweep over two parameters.

    Parameters
    ----------
    sweep : DataFrame or LazyFrame
        One row per parameter combination (``omni_research.backtest.sweep``'s output).
    x, y : str
        Parameter columns on the horizontal and vertical axes.
    metric : str
        The column to colour by (e.g. ``"sharpe"``, ``"total_return"``).
    agg : {"max", "min", "mean"}, default "max"
        How rows sharing (x, y) — other parameters varying — are folded into one cell.
    annotate : bool, optional
        Write each cell's value; by default when the grid has at most 400 cells.
    cmap : str, default "RdYlGn"
        Matplotlib colour map.
    title : str, optional
        Figure title.
    figsize : (float, float)
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        The image is ``fig.axes[0].images[0]``; its array is the grid (y rows, x columns).

    Examples
    --------
    >>> import polars as pl
    >>> res = pl.DataFrame({"fast": [5, 5, 10, 10], "slow": [20, 50, 20, 50],
    ...                     "sharpe": [0.1, 0.4, -0.2, 0.3]})
    >>> fig = plot_sweep_heatmap(res, x="fast", y="slow", metric="sharpe")
    >>> fig.axes[0].images[0].get_array().shape
    (2, 2)
    """
    xs, ys, grid = sweep_grid(sweep, x=x, y=y, metric=metric, agg=agg)
    if grid.size == 0:
        raise ConfigurationError("sweep heatmap: the sweep has no rows to draw")
    fig = new_figure(figsize=figsize)
    ax = fig.subplots()
    masked = np.ma.masked_invalid(grid)
    image = ax.imshow(masked, origin="lower", aspect="auto", cmap=cmap, interpolation="nearest")
    fig.colorbar(image, ax=ax, label=metric)
    ax.set_xticks(range(len(xs)), [str(v) for v in xs], rotation=45 if len(xs) > 12 else 0)
    ax.set_yticks(range(len(ys)), [str(v) for v in ys])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if annotate if annotate is not None else grid.size <= 400:
        for (r, c), v in np.ndenumerate(grid):
            if np.isfinite(v):
                ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=7)
    if np.isfinite(grid).any():
        r, c = np.unravel_index(np.nanargmax(grid), grid.shape)
        ax.scatter(
            [c], [r], marker="*", s=160, color="white", edgecolors="black", zorder=3, gid="best"
        )
        best = f"best {metric} {grid[r, c]:.3f} at {x}={xs[c]}, {y}={ys[r]}"
    else:
        best = "no finite values"
    fig.suptitle(title or f"sweep: {metric} ({best})")
    return fig
