"""Exact zoom levels of one symbol's bars: the aggregation core of the interactive chart.

:class:`ZoomIndex` builds, once, a pyramid of OHLCV levels over a fixed ladder of timeframes
(``LADDER``), each bucket aligned to a UTC epoch boundary (weeks start on Monday, as in
:mod:`omni_research._time` and Polars' ``group_by_dynamic``) and each level aggregated
exactly from a finer level whose buckets nest in it (open = first, high = max, low = min,
close = last, volume = sum). :meth:`ZoomIndex.window` then answers a visible range in a few
microseconds: the finest level with at most ``max_candles`` buckets in the range, sliced with
``searchsorted``, whole buckets only. Every drawn candle is therefore the exact aggregate of
the bars it covers, at every zoom.

Extra columns (indicator values) are carried by their value at each bucket's last bar, the
value a chart shows at the candle's close.

Only numpy and Polars are imported here (no widgets, no matplotlib).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from omni_research._time import MONDAY_US, TimeLike, parse_time, timeframe_duration_us
from omni_research.exceptions import ConfigurationError, DataFormatError, DataValidationError

__all__ = ["LADDER", "ZoomIndex", "ZoomLevel", "timeframe_label"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

LADDER: tuple[str, ...] = (
    "1m",
    "3m",
    "5m",
    "15m",
    "30m",
    "1h",
    "2h",
    "4h",
    "6h",
    "12h",
    "1d",
    "3d",
    "1w",
    "4w",
    "13w",
    "52w",
)
"""The timeframes a chart zooms through, finest first. Minutes to days are aligned to the
epoch (1970-01-01 00:00 UTC), weeks and multiples of weeks to Monday 1970-01-05."""

OHLCV = ("open", "high", "low", "close", "volume")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def timeframe_label(duration_us: int) -> str:
    """``"15m"``, ``"4h"``, ``"1w"``, ... for a bucket length in microseconds."""
    for unit, size in (("w", 604_800_000_000), ("d", 86_400_000_000), ("h", 3_600_000_000)):
        if duration_us % size == 0:
            return f"{duration_us // size}{unit}"
    if duration_us % 60_000_000 == 0:
        return f"{duration_us // 60_000_000}m"
    if duration_us % 1_000_000 == 0:
        return f"{duration_us // 1_000_000}s"
    return f"{duration_us}us"


def _offset_us(label: str) -> int:
    return MONDAY_US if label.endswith("w") else 0


@dataclass(frozen=True, eq=False)
class ZoomLevel:
    """One level of the pyramid: bucket starts (µs since the epoch, UTC) and their OHLCV.

    ``last`` holds, per bucket, the row of the source bars that closes it (None on the base
    level, where a bucket is a bar); extra columns are read through it.
    """

    label: str
    duration_us: int
    offset_us: int
    ts: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    last: I64 | None

    @property
    def size(self) -> int:
        return int(self.ts.shape[0])

    def span(self, start_us: int, end_us: int) -> tuple[int, int]:
        """Row slice of the buckets overlapping ``[start_us, end_us)``."""
        lo = int(np.searchsorted(self.ts, start_us - self.duration_us, side="right"))
        hi = int(np.searchsorted(self.ts, end_us, side="left"))
        return lo, max(lo, hi)

    def last_rows(self, lo: int, hi: int) -> I64:
        """Source-bar rows closing the buckets ``lo:hi``."""
        if self.last is None:
            return np.arange(lo, hi, dtype=np.int64)
        return self.last[lo:hi]


def _aggregate(src: ZoomLevel, label: str, duration_us: int, offset_us: int) -> ZoomLevel:
    """Buckets of ``duration_us`` (aligned at ``offset_us``) aggregated from ``src``."""
    key = (src.ts - offset_us) // duration_us
    n = key.shape[0]
    new = np.empty(n, dtype=bool)
    new[:1] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:] - 1
    ends[-1:] = n - 1
    last = ends if src.last is None else src.last[ends]
    return ZoomLevel(
        label=label,
        duration_us=duration_us,
        offset_us=offset_us,
        ts=key[starts] * duration_us + offset_us,
        open=src.open[starts],
        high=np.maximum.reduceat(src.high, starts),
        low=np.minimum.reduceat(src.low, starts),
        close=src.close[ends],
        volume=np.add.reduceat(src.volume, starts),
        last=np.ascontiguousarray(last, dtype=np.int64),
    )


def _nests(inner: ZoomLevel, duration_us: int, offset_us: int, base: ZoomLevel) -> bool:
    """Whether every bucket of ``inner`` lies inside one bucket of the new level."""
    if inner is base:
        return True  # bars are grouped by their own timestamp
    return duration_us % inner.duration_us == 0 and (
        (offset_us - inner.offset_us) % inner.duration_us == 0
    )


class ZoomIndex:
    """The zoom pyramid of one symbol's OHLCV bars, built once.

    Parameters
    ----------
    bars : DataFrame or LazyFrame
        ``timestamp`` (Datetime, time zone aware), ``open``, ``high``, ``low``, ``close``,
        ``volume``; one symbol; any bar timeframe (the base level is the bars themselves,
        the ladder's coarser timeframes that are multiples of the bar spacing follow).
    extra : sequence of str, optional
        Further numeric columns (indicator values) carried to every level by their value at
        the bucket's last bar.
    what : str, optional
        Names the caller in error messages.

    Raises
    ------
    DataFormatError
        A column is missing or has the wrong type, or the timestamps are naive.
    DataValidationError
        Nulls in OHLCV, duplicate timestamps, or several symbols.

    Examples
    --------
    >>> import datetime as dt, polars as pl
    >>> t0 = dt.datetime(2025, 1, 6, tzinfo=dt.UTC)
    >>> bars = pl.DataFrame({
    ...     "timestamp": pl.datetime_range(t0, t0 + dt.timedelta(minutes=9), "1m",
    ...                                    time_zone="UTC", eager=True),
    ...     "open": range(10), "high": range(1, 11), "low": range(10),
    ...     "close": range(1, 11), "volume": [1.0] * 10,
    ... }).with_columns(pl.exclude("timestamp").cast(pl.Float64))
    >>> idx = ZoomIndex(bars)
    >>> w = idx.window(t0, t0 + dt.timedelta(minutes=10), max_candles=2)
    >>> w.select("timestamp", "open", "high", "volume", "timeframe").rows()[0][1:]
    (0.0, 5.0, 5.0, '5m')
    """

    def __init__(
        self,
        bars: pl.DataFrame | pl.LazyFrame,
        /,
        *,
        extra: Sequence[str] = (),
        what: str = "ZoomIndex",
    ) -> None:
        df = bars.collect() if isinstance(bars, pl.LazyFrame) else bars
        self.what = what
        missing = [c for c in ("timestamp", *OHLCV, *extra) if c not in df.columns]
        if missing:
            raise DataFormatError(
                f"{what}: the bars lack column(s) {missing}; expected timestamp, open, high, "
                f"low, close, volume{' and ' + ', '.join(extra) if extra else ''}"
            )
        if "symbol" in df.columns and df.get_column("symbol").n_unique() > 1:
            raise DataValidationError(
                f"{what}: column 'symbol' holds {df.get_column('symbol').n_unique()} symbols; "
                "a chart shows one: filter the bars to one symbol first"
            )
        ts_col = df.get_column("timestamp")
        if not isinstance(ts_col.dtype, pl.Datetime) or ts_col.dtype.time_zone is None:
            raise DataFormatError(
                f"{what}: column 'timestamp' has type {ts_col.dtype}; expected a time zone "
                "aware Datetime (attach UTC with .dt.replace_time_zone('UTC'))"
            )
        for c in (*OHLCV, *extra):
            dtype = df.schema[c]
            if not dtype.is_numeric():
                raise DataFormatError(f"{what}: column {c!r} has type {dtype}; expected numbers")
        nulls = [c for c in ("timestamp", *OHLCV) if df.get_column(c).null_count()]
        if nulls:
            raise DataValidationError(
                f"{what}: null values in column(s) {nulls}; drop or fill those bars first"
            )
        if df.height == 0:
            raise DataValidationError(f"{what}: no bars to index; widen the date range")
        df = df.select(
            ts_col.dt.convert_time_zone("UTC").dt.epoch("us").alias("timestamp"),
            *[pl.col(c).cast(pl.Float64) for c in (*OHLCV, *extra)],
        ).sort("timestamp")
        ts = df.get_column("timestamp").to_numpy()
        steps = np.diff(ts)
        if steps.size and int(steps.min()) == 0:
            dup = _EPOCH + dt.timedelta(microseconds=int(ts[int(np.argmin(steps))]))
            raise DataValidationError(
                f"{what}: duplicate timestamp {dup:%Y-%m-%d %H:%M:%S} UTC in column "
                "'timestamp'; deduplicate the bars first"
            )
        step = int(steps.min()) if steps.size else 60_000_000

        def arr(c: str) -> F64:
            return np.ascontiguousarray(df.get_column(c).to_numpy(), dtype=np.float64)

        base = ZoomLevel(
            label=timeframe_label(step),
            duration_us=step,
            offset_us=0,
            ts=np.ascontiguousarray(ts, dtype=np.int64),
            open=arr("open"),
            high=arr("high"),
            low=arr("low"),
            close=arr("close"),
            volume=arr("volume"),
            last=None,
        )
        self.extra: dict[str, F64] = {c: arr(c) for c in extra}
        levels = [base]
        for label in LADDER:
            duration = timeframe_duration_us(label)
            if duration <= step or duration % step:
                continue
            offset = _offset_us(label)
            src = next(lv for lv in reversed(levels) if _nests(lv, duration, offset, base))
            levels.append(_aggregate(src, label, duration, offset))
        self.levels: tuple[ZoomLevel, ...] = tuple(levels)

    # -- the data's extent ---------------------------------------------------------------
    @property
    def start_us(self) -> int:
        """First bar's timestamp (µs since the epoch)."""
        return int(self.levels[0].ts[0])

    @property
    def end_us(self) -> int:
        """End of the last bar (its timestamp plus the bar spacing), exclusive."""
        base = self.levels[0]
        return int(base.ts[-1]) + base.duration_us

    @property
    def bars(self) -> int:
        """Number of source bars."""
        return self.levels[0].size

    # -- windows ---------------------------------------------------------------------------
    def choose(self, start_us: int, end_us: int, max_candles: int) -> tuple[ZoomLevel, int, int]:
        """The finest level with at most ``max_candles`` buckets overlapping the range, and
        the row slice of those buckets (the coarsest level if none is small enough)."""
        if end_us <= start_us:
            raise ConfigurationError(
                f"{self.what}: empty visible range (end {end_us} <= start {start_us} µs); "
                "the end must come after the start"
            )
        if max_candles < 1:
            raise ConfigurationError(f"{self.what}: max_candles={max_candles}; expected >= 1")
        for level in self.levels:
            lo, hi = level.span(start_us, end_us)
            if hi - lo <= max_candles:
                return level, lo, hi
        return level, lo, hi

    def frame(self, level: ZoomLevel, lo: int, hi: int) -> pl.DataFrame:
        """Rows ``lo:hi`` of a level as a frame (timestamp, OHLCV, timeframe, extras)."""
        rows = level.last_rows(lo, hi)
        return pl.DataFrame(
            {
                "timestamp": pl.Series(level.ts[lo:hi]).cast(pl.Datetime("us", "UTC")),
                "open": level.open[lo:hi],
                "high": level.high[lo:hi],
                "low": level.low[lo:hi],
                "close": level.close[lo:hi],
                "volume": level.volume[lo:hi],
                "timeframe": pl.Series([level.label], dtype=pl.String).extend_constant(
                    level.label, hi - lo - 1
                )
                if hi > lo
                else pl.Series([], dtype=pl.String),
                **{name: values[rows] for name, values in self.extra.items()},
            }
        )

    def window(
        self, start: TimeLike | int, end: TimeLike | int, /, *, max_candles: int = 1500
    ) -> pl.DataFrame:
        """The candles of the visible range ``[start, end)``.

        Parameters
        ----------
        start, end : aware datetime, ISO text or int
            The range (an int is µs since the epoch, UTC); ``end`` exclusive.
        max_candles : int, default 1500
            At most this many candles: the finest ladder timeframe that fits is used.

        Returns
        -------
        polars.DataFrame
            ``timestamp`` (bucket start, UTC), ``open``, ``high``, ``low``, ``close``,
            ``volume``, ``timeframe`` (the level's label, one value) and the extra columns;
            every bucket that overlaps the range, whole.
        """
        level, lo, hi = self.choose(_us(start, "start"), _us(end, "end"), max_candles)
        return self.frame(level, lo, hi)


def _us(value: Any, name: str) -> int:
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    parsed = parse_time(value, name=name, where="ZoomIndex.window")
    if parsed is None:
        raise ConfigurationError(f"ZoomIndex.window: {name} is required")
    return (parsed - _EPOCH) // dt.timedelta(microseconds=1)
