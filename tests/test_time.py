"""The bottom time layer: timeframe lengths and the one time-range parser (hand-computed)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from omni_research._time import (
    TimeRange,
    duration_expr,
    parse_range,
    parse_time,
    timeframe_duration_us,
)
from omni_research.exceptions import ConfigurationError

UTC = dt.UTC


def at(day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2025, 1, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("timeframe", "us"),
    [
        ("1m", 60 * 10**6),
        ("15m", 15 * 60 * 10**6),
        ("4h", 4 * 3600 * 10**6),
        ("1d", 86_400 * 10**6),
        ("1w", 7 * 86_400 * 10**6),
        (" 2h ", 7200 * 10**6),
    ],
)
def test_timeframe_duration_us_hand_computed(timeframe: str, us: int) -> None:
    assert timeframe_duration_us(timeframe) == us


@pytest.mark.parametrize("bad", ["", "m", "0m", "-1h", "1x", "1.5h", "h1", "1M"])
def test_timeframe_duration_us_rejects_bad_text(bad: str) -> None:
    with pytest.raises(ConfigurationError, match=r"timeframe .* is not understood"):
        timeframe_duration_us(bad)


def test_bars_keeps_public_timeframe_duration_us() -> None:
    from omni_research.bars import timeframe_duration_us as public

    assert public is timeframe_duration_us


def test_duration_expr_fixed_and_per_row() -> None:
    df = pl.DataFrame({"timeframe": ["1m", "4h", "1w", "7m"]})
    per_row = df.select(duration_expr(None).dt.total_minutes().alias("m"))["m"].to_list()
    assert per_row == [1, 240, 7 * 24 * 60, None]  # an unknown timeframe is null
    fixed = df.select(duration_expr("15m").dt.total_minutes().alias("m"))["m"].to_list()
    assert fixed == [15]


@pytest.mark.parametrize(
    ("start", "end", "want"),
    [
        # a bare end date includes its whole day
        ("2025-01-06", "2025-01-08", (at(6), at(9))),
        (dt.date(2025, 1, 6), dt.date(2025, 1, 8), (at(6), at(9))),
        ("2025-01-06", "2025-01-06", (at(6), at(7))),
        # an end with a time of day is exclusive, as given
        ("2025-01-06", "2025-01-08T00:00", (at(6), at(8))),
        ("2025-01-06T12:30", "2025-01-08 06:00:00", (at(6, 12, 30), at(8, 6))),
        (at(6), at(8), (at(6), at(8))),
        # offsets are converted to UTC; text without one is UTC
        ("2025-01-06T02:00+02:00", "2025-01-08T00:00Z", (at(6), at(8))),
        (
            dt.datetime(2025, 1, 6, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))),
            "2025-01-07T23:00-01:00",
            (at(6), at(8)),
        ),
        # open bounds
        (None, "2025-01-08", (None, at(9))),
        ("2025-01-06", None, (at(6), None)),
        (None, None, (None, None)),
        # a start given as a bare date is its midnight (not moved)
        ("20250106", "20250107", (at(6), at(8))),
    ],
)
def test_parse_range_hand_computed(
    start: object, end: object, want: tuple[dt.datetime | None, dt.datetime | None]
) -> None:
    got = parse_range(start, end)  # type: ignore[arg-type]
    assert isinstance(got, TimeRange)
    assert (got.start, got.end) == want
    for bound in (got.start, got.end):
        assert bound is None or bound.utcoffset() == dt.timedelta(0)


def test_parse_range_is_frozen() -> None:
    r = parse_range("2025-01-06", None)
    with pytest.raises(AttributeError):
        r.start = at(7)  # type: ignore[misc]


def test_parse_range_naive_datetime_raises() -> None:
    with pytest.raises(ConfigurationError, match=r"end=.* is a naive datetime"):
        parse_range(at(6), dt.datetime(2025, 1, 8))  # noqa: DTZ001
    with pytest.raises(ConfigurationError, match=r"scan: start=.* is a naive datetime"):
        parse_range(dt.datetime(2025, 1, 8), None, where="scan")  # noqa: DTZ001


@pytest.mark.parametrize("bad", [1736121600, 1736121600.0, True, b"2025-01-06", [2025, 1, 6]])
def test_parse_range_other_types_raise_naming_the_parameter(bad: object) -> None:
    with pytest.raises(ConfigurationError, match=r"^start=.* is a \w+; expected ISO text"):
        parse_range(bad, None)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"^end=.* is a \w+; expected ISO text"):
        parse_range(None, bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["yesterday", "2025-13-01", "2025-01-06T25:00", ""])
def test_parse_range_unreadable_text_raises(bad: str) -> None:
    with pytest.raises(ConfigurationError, match=r"end=.* is not a date or ISO timestamp"):
        parse_range(None, bad)


def test_parse_range_end_before_start_raises() -> None:
    with pytest.raises(ConfigurationError, match=r"end .* is before start"):
        parse_range("2025-01-08", "2025-01-07T23:59")
    # a bare end date on the start's day is not before it: it includes that day
    assert parse_range("2025-01-08T12:00", "2025-01-08").end == at(9)


def test_time_range_contains_filters_half_open() -> None:
    ts = [at(7, 23, 59), at(8), at(8, 23, 59), at(9)]
    df = pl.DataFrame({"timestamp": ts})
    by_day = df.filter(parse_range("2025-01-08", "2025-01-08").contains())
    assert by_day["timestamp"].to_list() == [at(8), at(8, 23, 59)]
    by_time = df.filter(parse_range("2025-01-08", "2025-01-08T23:59").contains())
    assert by_time["timestamp"].to_list() == [at(8)]
    assert df.filter(parse_range(None, None).contains()).height == 4


def test_parse_time_reads_one_bound_without_the_end_rule() -> None:
    assert parse_time("2025-01-08") == at(8)
    assert parse_time(None) is None
    with pytest.raises(ConfigurationError, match="when=3"):
        parse_time(3, name="when")  # type: ignore[arg-type]
