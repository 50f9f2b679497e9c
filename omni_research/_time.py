"""Time, the bottom layer: bar timeframes and their lengths, and the one time-range parser.

Every module that reads a timeframe (``"1m"``, ``"4h"``, ``"1w"``) or a ``start``/``end``
pair goes through here, so the kit gives them one meaning. This module imports nothing
of the kit but its exceptions and typing aliases.

Time ranges (:func:`parse_range`), the meaning a quant expects:

* ``start`` is inclusive;
* an ``end`` with a time of day (``"2025-01-08T12:00"``, a ``datetime``) is exclusive;
* an ``end`` given as a bare date (``"2025-01-08"``, a ``datetime.date``) includes that
  whole day, as a pandas date slice does: the range stops at midnight of the next day;
* text without an offset is UTC; a naive ``datetime`` is refused (a bug, not a default);
* either bound may be ``None`` (open).

Examples
--------
>>> from omni_research._time import parse_range, timeframe_duration_us
>>> r = parse_range("2025-01-06", "2025-01-08")
>>> r.start.isoformat(), r.end.isoformat()
('2025-01-06T00:00:00+00:00', '2025-01-09T00:00:00+00:00')
>>> timeframe_duration_us("4h")
14400000000
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from omni_research._typing import TIMEFRAMES
from omni_research.exceptions import ConfigurationError

__all__ = [
    "MONDAY_US",
    "UNIT_US",
    "TimeRange",
    "duration_expr",
    "known_timeframes",
    "parse_range",
    "parse_time",
    "timeframe_duration_us",
]

UNIT_US = {"m": 60_000_000, "h": 3_600_000_000, "d": 86_400_000_000, "w": 604_800_000_000}
"""Microseconds per timeframe unit: minutes, hours, days, weeks."""

MONDAY_US = 4 * UNIT_US["d"]
"""Offset of the first Monday from the epoch: 1970-01-01 was a Thursday, weeks start on
Monday 00:00 UTC (Bybit's and Polars' ``dt.truncate``'s weeks)."""


# --------------------------------------------------------------------------- timeframes


def timeframe_duration_us(timeframe: str) -> int:
    """Length of a bar timeframe (``"1m"``, ``"15m"``, ``"4h"``, ``"1d"``, ``"1w"``) in µs.

    Parameters
    ----------
    timeframe
        A number followed by ``m`` (minutes), ``h``, ``d`` or ``w``.

    Returns
    -------
    int
        The duration in microseconds.

    Raises
    ------
    ConfigurationError
        If the text is not a positive number followed by one of those units.

    Examples
    --------
    >>> timeframe_duration_us("4h")
    14400000000
    """
    text = str(timeframe).strip()
    number, unit = text[:-1], text[-1:]
    if unit not in UNIT_US or not number.isdigit() or int(number) <= 0:
        raise ConfigurationError(
            f"timeframe {timeframe!r} is not understood; expected a positive number followed "
            "by m, h, d or w (for example '1m', '15m', '4h', '1d', '1w')"
        )
    return int(number) * UNIT_US[unit]


def known_timeframes() -> tuple[str, ...]:
    """The timeframes a ``timeframe`` column may hold: the kit's own and Bybit's others."""
    return (*TIMEFRAMES, "2m", "10m", "8h", "3d")


def duration_expr(timeframe: str | None, column: str = "timeframe") -> pl.Expr:
    """Bar length as a Duration expression: a fixed one, or read per row from ``column``.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"timeframe": ["1m", "1h"]})
    >>> df.select(duration_expr(None).dt.total_minutes())["literal"].to_list()
    [1, 60]
    """
    if timeframe is not None:
        return pl.duration(microseconds=timeframe_duration_us(timeframe), time_unit="us")
    mapping = {tf: timeframe_duration_us(tf) for tf in known_timeframes()}
    us = pl.col(column).replace_strict(mapping, default=None, return_dtype=pl.Int64)
    return pl.duration(microseconds=us, time_unit="us")


# --------------------------------------------------------------------------- time ranges

TimeLike = str | dt.date | dt.datetime | None
"""What ``start``/``end`` accept: ISO text, a date, an aware datetime, or None (open)."""


@dataclass(frozen=True, kw_only=True)
class TimeRange:
    """A half-open UTC interval ``[start, end)``; a ``None`` bound is open.

    Build it with :func:`parse_range`, which gives ``start`` and ``end`` the kit's one
    meaning.
    """

    start: dt.datetime | None
    end: dt.datetime | None

    def contains(self, column: str | pl.Expr = "timestamp") -> pl.Expr:
        """A boolean expression: ``start <= column < end`` (open bounds always hold).

        Examples
        --------
        >>> import datetime as dt
        >>> import polars as pl
        >>> ts = [dt.datetime(2025, 1, d, tzinfo=dt.UTC) for d in (7, 8, 9)]
        >>> df = pl.DataFrame({"timestamp": ts})
        >>> df.filter(parse_range(None, "2025-01-08").contains()).height
        2
        """
        col = pl.col(column) if isinstance(column, str) else column
        cond = pl.lit(True)
        if self.start is not None:
            cond = cond & (col >= self.start)
        if self.end is not None:
            cond = cond & (col < self.end)
        return cond


def parse_time(value: TimeLike, *, name: str = "start", where: str = "") -> dt.datetime | None:
    """One bound as an aware UTC datetime, without the bare-date rule of an end.

    A bare date (text or ``datetime.date``) is its midnight UTC. See :func:`parse_range`
    for the accepted values and errors.
    """
    parsed, _ = _parse_bound(value, name, where)
    return parsed


def parse_range(start: TimeLike, end: TimeLike, *, where: str = "") -> TimeRange:
    """Read a ``start``/``end`` pair the one way the kit reads them.

    Parameters
    ----------
    start
        Inclusive. ISO text (``"2025-01-06"``, ``"2025-01-06T12:00"``,
        ``"2025-01-06T12:00+02:00"``, ``"...Z"``), a ``datetime.date``, a timezone-aware
        ``datetime``, or ``None`` for no lower bound.
    end
        Exclusive when it has a time of day; a bare date (text or ``datetime.date``)
        includes that whole day. Same types as ``start``.
    where
        Who is asking (``"Catalog.scan"``), to prefix error messages.

    Returns
    -------
    TimeRange
        ``start`` and ``end`` as aware UTC datetimes (``end`` exclusive), or ``None``.

    Raises
    ------
    ConfigurationError
        For text that is not ISO 8601, a naive datetime, a value of another type (an int,
        a float...), or an end before the start.

    Examples
    --------
    >>> r = parse_range("2025-01-06T12:00", "2025-01-08T06:00+02:00")
    >>> r.start.isoformat(), r.end.isoformat()
    ('2025-01-06T12:00:00+00:00', '2025-01-08T04:00:00+00:00')
    >>> parse_range(None, "2025-01-08").end.isoformat()
    '2025-01-09T00:00:00+00:00'
    """
    t0, _ = _parse_bound(start, "start", where)
    t1, bare = _parse_bound(end, "end", where)
    if t1 is not None and bare:
        t1 = t1 + dt.timedelta(days=1)  # a bare end date includes its whole day
    if t0 is not None and t1 is not None and t1 < t0:
        raise ConfigurationError(
            f"{_prefix(where)}end {end!r} is before start {start!r}; expected start <= end "
            "(a bare end date includes its whole day)"
        )
    return TimeRange(start=t0, end=t1)


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def _parse_bound(value: TimeLike, name: str, where: str) -> tuple[dt.datetime | None, bool]:
    """(aware UTC datetime or None, whether the value was a bare date)."""
    if value is None:
        return None, False
    if isinstance(value, dt.datetime):  # before date: a datetime is a date
        if value.tzinfo is None or value.utcoffset() is None:
            raise ConfigurationError(
                f"{_prefix(where)}{name}={value!r} is a naive datetime; expected a "
                "timezone-aware UTC datetime (e.g. datetime(2025, 1, 6, tzinfo=UTC))"
            )
        return value.astimezone(dt.UTC), False
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC), True
    if not isinstance(value, str):
        raise ConfigurationError(
            f"{_prefix(where)}{name}={value!r} is a {type(value).__name__}; expected ISO text "
            "('2025-01-06' or '2025-01-06T12:00Z'), a datetime.date, an aware datetime or None"
        )
    text = value.strip()
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC), True
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise ConfigurationError(
            f"{_prefix(where)}{name}={value!r} is not a date or ISO timestamp; expected e.g. "
            "2025-01-06 or 2025-01-06T12:00Z"
        ) from exc
    # text without an offset is read as UTC, the only zone the kit speaks
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC), False
    return parsed.astimezone(dt.UTC), False
