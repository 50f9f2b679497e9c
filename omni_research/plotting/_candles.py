"""Candlestick chart with volume, indicator overlays and oscillator panels, trade markers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from omni_research.exceptions import ConfigurationError
from omni_research.plotting._common import (
    collect,
    days,
    display_bucket,
    format_time_axis,
    infer_bar_duration,
    new_figure,
    require_columns,
    to_mpl_dates,
    utc_timestamps,
)
from omni_research.plotting._indicators import (
    IndicatorSpec,
    compute,
    normalise_specs,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

UP_COLOR = "#26a69a"
DOWN_COLOR = "#ef5350"
_OHLC = ("timestamp", "open", "high", "low", "close")


def _one_symbol(df: pl.DataFrame, symbol: str | None, *, what: str) -> tuple[pl.DataFrame, str]:
    if "symbol" not in df.columns:
        return df, symbol or ""
    symbols = df.get_column("symbol").unique().sort().to_list()
    if symbol is None:
        if len(symbols) > 1:
            raise ConfigurationError(
                f"{what}: the bars hold {len(symbols)} symbols {symbols[:10]}; "
                "pass symbol=... to choose the one to draw"
            )
        return df, str(symbols[0]) if symbols else ""
    if symbol not in symbols:
        raise ConfigurationError(f"{what}: unknown symbol {symbol!r}; the bars hold {symbols[:20]}")
    return df.filter(pl.col("symbol") == symbol), symbol


def aggregate_for_display(
    bars: pl.DataFrame | pl.LazyFrame,
    /,
    *,
    max_candles: int = 1500,
    extra_last: Iterable[str] = (),
) -> tuple[pl.DataFrame, timedelta, str]:
    """OHLCV bars merged into at most ``max_candles`` readable buckets for drawing.

    Parameters
    ----------
    bars : DataFrame or LazyFrame
        One symbol's OHLCV bars (``timestamp``, ``open``, ``high``, ``low``, ``close``, and
        optionally ``volume``).
    max_candles : int, default 1500
        Upper bound on the number of candles returned.
    extra_last : iterable of str
        Other columns to carry, taking each bucket's last value (indicator lines).

    Returns
    -------
    (DataFrame, timedelta, str)
        The bucketed bars sorted by time, the bucket width and its name (``"1h"``...).
        Bars already under the limit come back unchanged with their own spacing.

    Examples
    --------
    >>> from omni_research.testing import make_ohlcv
    >>> out, width, name = aggregate_for_display(make_ohlcv(n=6000), max_candles=500)
    >>> name, out.height
    ('15m', 400)
    """
    df = collect(bars, what="aggregate_for_display").sort("timestamp")
    require_columns(df, _OHLC, what="aggregate_for_display")
    ts = utc_timestamps(df, "timestamp", what="aggregate_for_display")
    df = df.with_columns(ts.alias("timestamp"))
    bar = infer_bar_duration(ts)
    if df.height <= max_candles:
        return df, bar, _name_of(bar)
    epoch = ts.dt.epoch("us")
    span_us = int(epoch.max() or 0) - int(epoch.min() or 0)  # type: ignore[arg-type]
    n_span = span_us // int(bar / timedelta(microseconds=1)) + 1
    name, width = display_bucket(max(n_span, df.height), bar, max_candles=max_candles)
    aggs = [
        pl.col("open").first(),
        pl.col("high").max(),
        pl.col("low").min(),
        pl.col("close").last(),
    ]
    if "volume" in df.columns:
        aggs.append(pl.col("volume").sum())
    aggs.extend(pl.col(c).last() for c in extra_last)
    out = df.group_by_dynamic("timestamp", every=timedelta_to_polars(width)).agg(aggs)
    return out, width, name


def timedelta_to_polars(delta: timedelta) -> str:
    """A polars duration string (``"3600000000us"``) for a timedelta."""
    return f"{int(delta / timedelta(microseconds=1))}us"


def _name_of(bar: timedelta) -> str:
    minutes = bar / timedelta(minutes=1)
    if minutes < 1:
        return f"{bar.total_seconds():g}s"
    if minutes < 60:
        return f"{minutes:g}m"
    if minutes < 1440:
        return f"{minutes / 60:g}h"
    return f"{minutes / 1440:g}d"


def _draw_candles(ax: Axes, x: np.ndarray[Any, Any], width: float, df: pl.DataFrame) -> None:
    from matplotlib.collections import LineCollection, PolyCollection

    o = df.get_column("open").to_numpy()
    h = df.get_column("high").to_numpy()
    lo = df.get_column("low").to_numpy()
    c = df.get_column("close").to_numpy()
    up = c >= o
    colors = np.where(up, UP_COLOR, DOWN_COLOR)
    half = width * 0.4
    bottom = np.minimum(o, c)
    top = np.maximum(o, c)
    # One collection per element kind keeps the artist count constant, whatever the bar count.
    bodies = np.stack(
        [
            np.column_stack([x - half, bottom]),
            np.column_stack([x - half, top]),
            np.column_stack([x + half, top]),
            np.column_stack([x + half, bottom]),
        ],
        axis=1,
    )
    wicks = np.stack([np.column_stack([x, lo]), np.column_stack([x, h])], axis=1)
    ax.add_collection(LineCollection(list(wicks), colors=list(colors), linewidths=0.8, gid="wicks"))
    ax.add_collection(
        PolyCollection(
            list(bodies),
            facecolors=list(colors),
            edgecolors=list(colors),
            linewidths=0.5,
            gid="candles",
        )
    )
    ax.autoscale_view()


def _draw_volume(ax: Axes, x: np.ndarray[Any, Any], width: float, df: pl.DataFrame) -> None:
    from matplotlib.collections import PolyCollection

    v = df.get_column("volume").fill_null(0.0).to_numpy()
    up = df.get_column("close").to_numpy() >= df.get_column("open").to_numpy()
    half = width * 0.4
    zeros = np.zeros_like(v)
    rects = np.stack(
        [
            np.column_stack([x - half, zeros]),
            np.column_stack([x - half, v]),
            np.column_stack([x + half, v]),
            np.column_stack([x + half, zeros]),
        ],
        axis=1,
    )
    colors = list(np.where(up, UP_COLOR, DOWN_COLOR))
    ax.add_collection(PolyCollection(list(rects), facecolors=colors, alpha=0.6, gid="volume"))
    ax.autoscale_view()
    ax.set_ylim(bottom=0)
    ax.set_ylabel("volume")


def trade_points(trades: pl.DataFrame, *, symbol: str | None) -> dict[str, pl.DataFrame]:
    """Buy and sell marker points (timestamp, price) from fills/trades or backtest trades.

    Accepted shapes: ``timestamp, side, price`` (fills, trades kinds) or round trips with
    ``entry_time, entry_price, exit_time, exit_price`` and a ``side`` (``buy``/``long``,
    ``sell``/``short``) or a signed ``size``: the entry is drawn on its side, the exit opposite.
    """
    if symbol and "symbol" in trades.columns:
        trades = trades.filter(pl.col("symbol") == symbol)
    if {"entry_time", "exit_time"} <= set(trades.columns):
        if "side" in trades.columns:
            is_long = pl.col("side").cast(pl.String).str.to_lowercase().is_in(["buy", "long"])
        elif "size" in trades.columns:
            is_long = pl.col("size") > 0
        else:
            is_long = pl.lit(True)
        t = trades.with_columns(is_long.alias("_long"))
        entries = t.select(
            pl.col("entry_time").alias("timestamp"),
            pl.col("entry_price").alias("price"),
            pl.col("_long").alias("buy"),
        )
        exits = t.filter(pl.col("exit_time").is_not_null()).select(
            pl.col("exit_time").alias("timestamp"),
            pl.col("exit_price").alias("price"),
            (~pl.col("_long")).alias("buy"),
        )
        points = pl.concat([entries, exits])
    else:
        require_columns(trades, ("timestamp", "side", "price"), what="trade markers")
        points = trades.select(
            "timestamp",
            "price",
            pl.col("side").cast(pl.String).str.to_lowercase().is_in(["buy", "long"]).alias("buy"),
        )
    return {
        "buy": points.filter(pl.col("buy")).drop("buy"),
        "sell": points.filter(~pl.col("buy")).drop("buy"),
    }


def _draw_trades(ax: Axes, trades: pl.DataFrame, *, symbol: str | None) -> None:
    points = trade_points(trades, symbol=symbol)
    style = {"buy": ("^", UP_COLOR), "sell": ("v", DOWN_COLOR)}
    for side, pts in points.items():
        if pts.height == 0:
            continue
        marker, color = style[side]
        ts = utc_timestamps(pts, "timestamp", what="trade markers")
        ax.scatter(
            to_mpl_dates(ts),
            pts.get_column("price").to_numpy(),
            marker=marker,
            s=60,
            color=color,
            edgecolors="black",
            linewidths=0.6,
            zorder=5,
            label=side,
            gid=f"trades-{side}",
        )


def plot_candles(
    bars: pl.DataFrame | pl.LazyFrame,
    /,
    *,
    symbol: str | None = None,
    indicators: Iterable[IndicatorSpec] | Mapping[str, Mapping[str, Any]] | None = None,
    trades: pl.DataFrame | pl.LazyFrame | None = None,
    volume: bool = True,
    max_candles: int = 1500,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Candlestick chart with a volume panel, indicator overlays and oscillator panels.

    Indicators are placed by their registry ``placement``: ``"overlay"`` ones are drawn on
    the price axes, ``"panel"`` ones get a sub-panel each. They are computed on the bars as
    given; when the bars are merged for display (more than ``max_candles``), each line shows
    its value at the close of every bucket.

    Parameters
    ----------
    bars : DataFrame or LazyFrame
        OHLCV bars (docs/data_model.md); one symbol, or several with ``symbol=`` chosen.
    symbol : str, optional
        The symbol to draw when the bars hold several.
    indicators : iterable or mapping, optional
        Registry names, ``Indicator`` objects, ``(name, params)`` pairs or a mapping
        ``{name: params}``.
    trades : DataFrame or LazyFrame, optional
        Trades or fills (``timestamp, side, price``) or backtest round trips
        (``entry_time, entry_price, exit_time, exit_price, side``) drawn as markers.
    volume : bool, default True
        Draw the volume panel (needs a ``volume`` column).
    max_candles : int, default 1500
        Bars are merged into readable buckets (1m -> 1h ...) above this count, so 100,000
        bars draw in well under a second.
    title : str, optional
        Figure title; defaults to the symbol and the candle width.
    figsize : (float, float), optional
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        Axes in order: price, volume (if drawn), then one per panel indicator.

    Examples
    --------
    >>> from omni_research.testing import make_ohlcv
    >>> fig = plot_candles(make_ohlcv(n=300), indicators=[("sma", {"window": 20})])
    >>> [ax.get_ylabel() for ax in fig.axes][:2]
    ['price', 'volume']
    """
    what = "plot_candles"
    df = collect(bars, what=what)
    require_columns(df, _OHLC, what=what)
    df, sym = _one_symbol(df, symbol, what=what)
    if df.height == 0:
        raise ConfigurationError(
            f"{what}: no bars to draw{f' for {sym}' if sym else ''}; widen the date range"
        )
    df = df.with_columns(utc_timestamps(df, "timestamp", what=what).alias("timestamp"))
    df = df.sort("timestamp")
    volume = volume and "volume" in df.columns

    resolved = compute(df, normalise_specs(indicators))
    extra: list[str] = []
    for i, r in enumerate(resolved):
        for out_name, values in r.outputs.items():
            col = f"__ind{i}_{out_name}"
            df = df.with_columns(values.alias(col))
            extra.append(col)
    shown, width, bucket = aggregate_for_display(df, max_candles=max_candles, extra_last=extra)

    panels = [r for r in resolved if r.placement == "panel"]
    overlays = [r for r in resolved if r.placement != "panel"]
    ratios = [4.0] + ([1.2] if volume else []) + [1.6] * len(panels)
    fig = new_figure(figsize=figsize or (12.0, 2.0 + 1.1 * sum(ratios)))
    axes = fig.subplots(len(ratios), 1, sharex=True, squeeze=False, height_ratios=ratios)[:, 0]

    ts = shown.get_column("timestamp")
    w = days(width)
    x = to_mpl_dates(ts) + w / 2  # a candle spans its interval, centred in it
    price_ax = axes[0]
    _draw_candles(price_ax, x, w, shown)
    price_ax.set_ylabel("price")
    for i, r in enumerate(resolved):
        if r.placement == "panel":
            continue
        for out_name in r.outputs:
            label = r.label if len(r.outputs) == 1 else f"{r.label} {out_name}"
            price_ax.plot(
                x,
                shown.get_column(f"__ind{resolved.index(r)}_{out_name}").to_numpy(),
                linewidth=1.1,
                label=label,
                gid=f"overlay-{i}-{out_name}",
            )
    if overlays or trades is not None:
        if trades is not None:
            _draw_trades(price_ax, collect(trades, what=f"{what} trades"), symbol=sym or None)
        if price_ax.get_legend_handles_labels()[0]:
            price_ax.legend(loc="upper left", fontsize=8, ncols=4)
    row = 1
    if volume:
        _draw_volume(axes[row], x, w, shown)
        row += 1
    for r in panels:
        ax = axes[row]
        i = resolved.index(r)
        for out_name in r.outputs:
            label = r.label if len(r.outputs) == 1 else f"{r.label} {out_name}"
            ax.plot(
                x,
                shown.get_column(f"__ind{i}_{out_name}").to_numpy(),
                linewidth=1.0,
                label=label,
                gid=f"panel-{i}-{out_name}",
            )
        ax.set_ylabel(r.indicator.name)
        ax.legend(loc="upper left", fontsize=8, ncols=4)
        row += 1
    for ax in axes:
        ax.grid(True, alpha=0.25)
    format_time_axis(axes[-1])
    price_ax.set_xlim(float(x[0] - w), float(x[-1] + w))
    n_bars = df.height
    detail = f"{bucket} candles" + (f" from {n_bars:,} bars" if shown.height < n_bars else "")
    fig.suptitle(title or " · ".join(p for p in (sym, detail) if p))
    return fig


def plot_trades(
    bars: pl.DataFrame | pl.LazyFrame,
    trades: pl.DataFrame | pl.LazyFrame,
    /,
    *,
    symbol: str | None = None,
    indicators: Iterable[IndicatorSpec] | Mapping[str, Mapping[str, Any]] | None = None,
    max_candles: int = 1500,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Candles with buy (▲) and sell (▼) markers at each trade's time and price.

    Parameters
    ----------
    bars : DataFrame or LazyFrame
        OHLCV bars of the symbol.
    trades : DataFrame or LazyFrame
        ``timestamp, side, price`` rows (trades, fills) or backtest round trips with
        ``entry_time, entry_price, exit_time, exit_price`` and ``side`` or signed ``size``.
    symbol, indicators, max_candles, title, figsize
        As in :func:`plot_candles`.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import polars as pl
    >>> from omni_research.testing import make_ohlcv
    >>> bars = make_ohlcv(n=60)
    >>> fills = bars.head(1).select("timestamp", pl.lit("buy").alias("side"),
    ...                             pl.col("close").alias("price"))
    >>> fig = plot_trades(bars, fills)
    """
    return plot_candles(
        bars,
        symbol=symbol,
        indicators=indicators,
        trades=trades,
        max_candles=max_candles,
        title=title,
        figsize=figsize,
    )
