"""Equity curve with drawdown, and the distribution of returns."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from omni_research.exceptions import ConfigurationError
from omni_research.plotting._common import (
    collect,
    format_time_axis,
    new_figure,
    require_columns,
    to_mpl_dates,
    utc_timestamps,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _equity_frame(equity: Any, *, what: str) -> pl.DataFrame:
    # A BacktestResult (or anything with an ``equity`` frame) is accepted as is.
    frame = getattr(equity, "equity", equity)
    df = collect(frame, what=what)
    require_columns(df, ("timestamp", "equity"), what=what)
    df = df.with_columns(utc_timestamps(df, "timestamp", what=what).alias("timestamp"))
    if "symbol" in df.columns and df.get_column("symbol").n_unique() > 1:
        raise ConfigurationError(
            f"{what}: the equity frame holds several symbols; filter one or sum them first"
        )
    df = df.sort("timestamp")
    if "drawdown" not in df.columns:
        df = df.with_columns(
            (pl.col("equity") / pl.col("equity").cum_max() - 1.0).alias("drawdown")
        )
    return df


def decimate_series(df: pl.DataFrame, *, max_points: int) -> pl.DataFrame:
    """At most ``max_points`` rows keeping each bucket's last equity and its worst drawdown."""
    if df.height <= max_points:
        return df
    step = math.ceil(df.height / max_points)
    return (
        df.with_row_index("_i")
        .group_by((pl.col("_i") // step).alias("_b"), maintain_order=True)
        .agg(
            pl.col("timestamp").last(),
            pl.col("equity").last(),
            pl.col("drawdown").min(),
        )
        .drop("_b")
    )


def plot_equity(
    equity: Any,
    /,
    *,
    title: str | None = None,
    max_points: int = 4000,
    figsize: tuple[float, float] = (12.0, 6.0),
) -> Figure:
    """Equity curve over its drawdown (fraction below the running peak, <= 0).

    Parameters
    ----------
    equity : DataFrame, LazyFrame or BacktestResult
        Columns ``timestamp`` and ``equity``; ``drawdown`` is used when present and
        computed as ``equity / cummax(equity) - 1`` otherwise.
    title : str, optional
        Figure title.
    max_points : int, default 4000
        Longer curves are bucketed for display, keeping each bucket's last equity and its
        worst drawdown so the maximum drawdown stays visible.
    figsize : (float, float)
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: equity, drawdown.

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> eq = pl.DataFrame({
    ...     "timestamp": pl.datetime_range(dt.datetime(2025, 1, 6, tzinfo=dt.UTC),
    ...                                    dt.datetime(2025, 1, 6, 0, 3, tzinfo=dt.UTC),
    ...                                    "1m", eager=True),
    ...     "equity": [100.0, 110.0, 99.0, 120.0]})
    >>> fig = plot_equity(eq)
    >>> round(float(fig.axes[1].get_lines()[0].get_ydata().min()), 6)
    -10.0
    """
    what = "plot_equity"
    df = _equity_frame(equity, what=what)
    if df.height == 0:
        raise ConfigurationError(f"{what}: the equity frame is empty; nothing to draw")
    shown = decimate_series(df, max_points=max_points)
    fig = new_figure(figsize=figsize)
    ax_eq, ax_dd = fig.subplots(2, 1, sharex=True, height_ratios=[3.0, 1.4])
    x = to_mpl_dates(shown.get_column("timestamp"))
    eq = shown.get_column("equity").to_numpy()
    dd = shown.get_column("drawdown").to_numpy() * 100.0
    ax_eq.plot(x, eq, color="#1f77b4", linewidth=1.2, label="equity", gid="equity")
    ax_eq.set_ylabel("equity")
    ax_dd.fill_between(x, dd, 0.0, color="#ef5350", alpha=0.35, gid="drawdown-fill")
    ax_dd.plot(x, dd, color="#c62828", linewidth=0.8, label="drawdown %", gid="drawdown")
    ax_dd.set_ylabel("drawdown %")
    worst = int(np.argmin(dd))
    ax_dd.annotate(
        f"max {dd[worst]:.2f}%",
        (x[worst], dd[worst]),
        textcoords="offset points",
        xytext=(5 if worst < len(dd) * 0.7 else -70, 6),
        fontsize=8,
    )
    for ax in (ax_eq, ax_dd):
        ax.grid(True, alpha=0.25)
    format_time_axis(ax_dd)
    start, end = float(eq[0]), float(eq[-1])
    ret = (end / start - 1.0) * 100.0 if start else float("nan")
    fig.suptitle(title or f"equity {start:,.2f} → {end:,.2f} ({ret:+.2f}%)")
    return fig


def _returns_array(returns: Any, *, column: str | None) -> np.ndarray[Any, np.dtype[np.float64]]:
    what = "plot_returns_distribution"
    if isinstance(returns, pl.Series):
        s = returns
    else:
        frame = getattr(returns, "equity", returns)
        df = collect(frame, what=what)
        if column is not None:
            require_columns(df, (column,), what=what)
            s = df.get_column(column)
        elif "returns" in df.columns or "return" in df.columns:
            s = df.get_column("returns" if "returns" in df.columns else "return")
        elif "equity" in df.columns:
            s = (
                df.sort("timestamp").get_column("equity").pct_change()
                if ("timestamp" in df.columns)
                else df.get_column("equity").pct_change()
            )
        else:
            raise ConfigurationError(
                f"{what}: expected a Series, a 'returns' or 'equity' column, or column=...; "
                f"got columns {df.columns}"
            )
    values = s.cast(pl.Float64).drop_nulls().drop_nans().to_numpy()
    return np.asarray(values[np.isfinite(values)], dtype=np.float64)


def plot_returns_distribution(
    returns: Any,
    /,
    *,
    column: str | None = None,
    bins: int = 60,
    title: str | None = None,
    figsize: tuple[float, float] = (9.0, 5.0),
) -> Figure:
    """Histogram of returns with a fitted normal curve, the mean and the 5% quantile (VaR).

    Parameters
    ----------
    returns : Series, DataFrame, LazyFrame or BacktestResult
        Returns directly, a frame with a ``returns``/``return`` column (or ``column=``), or an
        equity frame whose ``equity`` column is turned into simple returns.
    column : str, optional
        The column holding returns.
    bins : int, default 60
        Histogram bins.
    title : str, optional
        Figure title.
    figsize : (float, float)
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import polars as pl
    >>> fig = plot_returns_distribution(pl.Series([0.01, -0.02, 0.005, 0.0, 0.015]))
    """
    r = _returns_array(returns, column=column)
    if r.size == 0:
        raise ConfigurationError("plot_returns_distribution: no finite returns to draw")
    fig = new_figure(figsize=figsize)
    ax = fig.subplots()
    pct = r * 100.0
    ax.hist(
        pct,
        bins=bins,
        density=True,
        histtype="stepfilled",
        alpha=0.55,
        color="#1f77b4",
        gid="histogram",
    )
    mean, std = float(pct.mean()), float(pct.std(ddof=1)) if pct.size > 1 else 0.0
    if std > 0:
        grid = np.linspace(pct.min(), pct.max(), 200)
        pdf = np.exp(-0.5 * ((grid - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))
        ax.plot(grid, pdf, color="black", linewidth=1.0, label="normal fit", gid="normal-fit")
    var5 = float(np.quantile(pct, 0.05))
    ax.axvline(mean, color="#2e7d32", linewidth=1.2, label=f"mean {mean:.3f}%", gid="mean")
    ax.axvline(
        var5,
        color="#c62828",
        linestyle="--",
        linewidth=1.2,
        label=f"5% quantile {var5:.3f}%",
        gid="var5",
    )
    centred = pct - mean
    skew = float((centred**3).mean() / std**3) if std > 0 else float("nan")
    kurt = float((centred**4).mean() / std**4 - 3.0) if std > 0 else float("nan")
    ax.text(
        0.99,
        0.97,
        f"n={pct.size:,}\nstd {std:.3f}%\nskew {skew:.2f}\nexcess kurt {kurt:.2f}",
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=9,
        gid="stats",
    )
    ax.set_xlabel("return %")
    ax.set_ylabel("density")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(True, alpha=0.25)
    fig.suptitle(title or "return distribution")
    return fig
