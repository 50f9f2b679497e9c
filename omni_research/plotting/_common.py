"""Shared helpers of the plotting package: frames in, UTC time axis, display decimation."""

from __future__ import annotations

import io
import math
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from omni_research.exceptions import ConfigurationError, DataFormatError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

UTC_LABEL = "time (UTC)"

# Bucket sizes a trader reads at a glance; the display aggregation picks the smallest one that
# keeps the candle count under the limit, so 100,000 one-minute bars become hourly candles.
_NICE_BUCKETS: tuple[tuple[str, timedelta], ...] = (
    ("1m", timedelta(minutes=1)),
    ("2m", timedelta(minutes=2)),
    ("3m", timedelta(minutes=3)),
    ("5m", timedelta(minutes=5)),
    ("10m", timedelta(minutes=10)),
    ("15m", timedelta(minutes=15)),
    ("30m", timedelta(minutes=30)),
    ("1h", timedelta(hours=1)),
    ("2h", timedelta(hours=2)),
    ("4h", timedelta(hours=4)),
    ("6h", timedelta(hours=6)),
    ("8h", timedelta(hours=8)),
    ("12h", timedelta(hours=12)),
    ("1d", timedelta(days=1)),
    ("2d", timedelta(days=2)),
    ("3d", timedelta(days=3)),
    ("1w", timedelta(weeks=1)),
)

_US_PER_DAY = 86_400_000_000


def collect(frame: Any, *, what: str) -> pl.DataFrame:
    """An eager frame from a DataFrame or LazyFrame; anything else is a ConfigurationError."""
    if isinstance(frame, pl.LazyFrame):
        try:
            return frame.collect()
        except pl.exceptions.PolarsError as exc:
            raise DataFormatError(f"{what}: could not collect the LazyFrame: {exc}") from exc
    if isinstance(frame, pl.DataFrame):
        return frame
    raise ConfigurationError(
        f"{what}: expected a polars DataFrame or LazyFrame, got {type(frame).__name__}"
    )


def require_columns(df: pl.DataFrame, columns: tuple[str, ...], *, what: str) -> None:
    """Raise DataFormatError naming every missing column."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataFormatError(
            f"{what}: missing column(s) {missing}; expected {list(columns)}, "
            f"got {df.columns}. See docs/data_model.md for the column names of each kind."
        )


def utc_timestamps(df: pl.DataFrame, column: str, *, what: str) -> pl.Series:
    """The column as Datetime('us', 'UTC'); naive timestamps are rejected, not guessed."""
    s = df.get_column(column)
    if not isinstance(s.dtype, pl.Datetime):
        raise DataFormatError(
            f"{what}: column {column!r} has type {s.dtype}; expected Datetime('us', 'UTC')"
        )
    if s.dtype.time_zone is None:
        raise DataFormatError(
            f"{what}: column {column!r} is a naive datetime; expected Datetime('us', 'UTC'). "
            "Attach the zone with .dt.replace_time_zone('UTC') if the values are UTC."
        )
    return s.dt.convert_time_zone("UTC").dt.cast_time_unit("us")


def to_mpl_dates(ts: pl.Series) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Matplotlib date numbers (days since matplotlib's epoch) of a UTC timestamp series."""
    import matplotlib.dates as mdates

    epoch_offset = float(mdates.date2num(np.datetime64("1970-01-01T00:00:00", "us")))  # type: ignore[no-untyped-call]
    us = ts.dt.epoch("us").cast(pl.Float64).to_numpy()
    return np.asarray(us / _US_PER_DAY + epoch_offset, dtype=np.float64)


def days(delta: timedelta) -> float:
    """A duration in matplotlib date units (days)."""
    return delta / timedelta(days=1)


def format_time_axis(ax: Axes) -> None:
    """A concise date axis in UTC, labelled as such."""
    import matplotlib.dates as mdates
    from matplotlib.dates import UTC as MPL_UTC

    locator = mdates.AutoDateLocator(tz=MPL_UTC, minticks=4, maxticks=10)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=MPL_UTC))  # type: ignore[no-untyped-call]
    ax.set_xlabel(UTC_LABEL)


def infer_bar_duration(ts: pl.Series) -> timedelta:
    """The bar spacing: the most common gap between consecutive timestamps (1 minute if unknown)."""
    if ts.len() < 2:
        return timedelta(minutes=1)
    gaps = ts.diff().drop_nulls()
    gaps = gaps.filter(gaps > timedelta(0))
    if gaps.len() == 0:
        return timedelta(minutes=1)
    mode = gaps.mode().sort()
    value = mode[0]
    return value if isinstance(value, timedelta) else timedelta(minutes=1)


def display_bucket(n_span: int, bar: timedelta, *, max_candles: int) -> tuple[str, timedelta]:
    """The smallest readable bucket that shows ``n_span`` bars of ``bar`` in <= max_candles."""
    if max_candles < 1:
        raise ConfigurationError(f"max_candles must be >= 1, got {max_candles}")
    needed = bar * math.ceil(n_span / max_candles)
    for name, size in _NICE_BUCKETS:
        # Bucket count after truncation can exceed span/size by one; keep that margin.
        if size >= needed and size >= bar and n_span * bar / size + 1 <= max_candles:
            return name, size
    weeks = math.ceil((n_span * bar) / timedelta(weeks=1) / max(max_candles - 1, 1))
    return f"{weeks}w", timedelta(weeks=weeks)


def figure_to_png(fig: Figure, /, *, dpi: int = 100) -> bytes:
    """The figure rendered as PNG bytes (Agg), for widgets and reports.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        A figure returned by one of the plotting functions.
    dpi : int, default 100
        Resolution of the image.

    Returns
    -------
    bytes
        The PNG file's bytes.

    Examples
    --------
    >>> from omni_research.plotting import figure_to_png, plot_equity
    >>> import polars as pl, datetime as dt
    >>> eq = pl.DataFrame({"timestamp": [dt.datetime(2025, 1, 6, tzinfo=dt.UTC)],
    ...                    "equity": [100.0]})
    >>> figure_to_png(plot_equity(eq))[:4]
    b'\\x89PNG'
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def new_figure(*, figsize: tuple[float, float]) -> Figure:
    """A figure detached from pyplot (no global state, nothing to close), drawn by Agg."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    _register_notebook_display(Figure)
    return fig


_DISPLAY_REGISTERED = False


def _register_notebook_display(figure_class: type) -> None:
    """Show Figures as PNG in IPython/Jupyter even when pyplot was never imported.

    IPython learns to render a Figure only when a pyplot backend registers it, and these
    figures never touch pyplot; so, inside an IPython shell, register the PNG formatter once
    (a pyplot backend loaded later replaces it with its own, which is fine).
    """
    global _DISPLAY_REGISTERED
    if _DISPLAY_REGISTERED:
        return
    ipython_module = sys.modules.get("IPython")
    shell = ipython_module.get_ipython() if ipython_module is not None else None
    if shell is None:
        return
    formatter = shell.display_formatter.formatters["image/png"]
    if not _has_type(formatter, figure_class):
        formatter.for_type(figure_class, lambda fig: figure_to_png(fig))
    _DISPLAY_REGISTERED = True


def _has_type(formatter: Any, cls: type) -> bool:
    try:
        formatter.lookup_by_type(cls)
    except KeyError:
        return False
    return True
