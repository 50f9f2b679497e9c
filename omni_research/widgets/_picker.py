"""Symbol / timeframe / date-range pickers over a catalog's OHLCV, shared by the widgets.

The dates mean what ``start``/``end`` mean everywhere in the kit (``_time.parse_range``):
the "from" day is included from its midnight, the "to (incl.)" day is included whole (a
bare end date), so the range loaded is ``[from 00:00, to + 1 day 00:00)`` UTC.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from omni_research._time import TimeLike, TimeRange, parse_range
from omni_research._typing import TIMEFRAMES
from omni_research.exceptions import ConfigurationError, OmniDataError


def _duration_us(timeframe: str) -> int | None:
    try:
        from omni_research._time import timeframe_duration_us

        return timeframe_duration_us(timeframe)
    except (ImportError, OmniDataError):
        return None


class MarketPicker:
    """The OHLCV a catalog holds, and controls choosing a slice of it.

    Facts about the data (symbols, source timeframe, first and last day) are read once, from
    the catalog's partition list and one small aggregate scan.
    """

    def __init__(
        self,
        catalog: Any,
        *,
        kind: str = "ohlcv",
        symbol: str | None = None,
        timeframe: str | None = None,
        start: TimeLike = None,
        end: TimeLike = None,
    ) -> None:
        import ipywidgets as w

        self.catalog = catalog
        self.kind = kind
        self.notes: list[str] = []
        self._cache: tuple[tuple[Any, ...], pl.DataFrame] | None = None
        summary = (
            catalog.scan(kind)
            .group_by("symbol")
            .agg(
                pl.col("timestamp").min().alias("first"),
                pl.col("timestamp").max().alias("last"),
                pl.col("timeframe").first().alias("timeframe"),
            )
            .sort("symbol")
            .collect()
        )
        if summary.height == 0:
            raise ConfigurationError(
                f"the catalog at {getattr(catalog, 'root', '?')} has no {kind} rows to explore"
            )
        self.summary = summary
        self.symbols: list[str] = summary["symbol"].to_list()
        self.source_timeframe: str = str(summary["timeframe"][0] or "1m")
        first = summary["first"].min()
        last = summary["last"].max()
        assert isinstance(first, dt.datetime) and isinstance(last, dt.datetime)
        self.first_day, self.last_day = first.date(), last.date()
        src = _duration_us(self.source_timeframe) or 60_000_000
        self.timeframes: list[str] = [
            tf for tf in TIMEFRAMES if (_duration_us(tf) or 0) >= src and tf in _SENSIBLE
        ] or [self.source_timeframe]
        if symbol is not None and symbol not in self.symbols:
            self.notes.append(
                f"unknown symbol {symbol!r}; the catalog's {kind} holds {self.symbols}. "
                f"Showing {self.symbols[0]} instead"
            )
            symbol = None
        if timeframe is not None and timeframe not in self.timeframes:
            self.notes.append(
                f"timeframe {timeframe!r} is not offered; expected one of {self.timeframes}"
            )
            timeframe = None
        style = {"description_width": "initial"}
        self.symbol = w.Dropdown(
            options=self.symbols,
            value=symbol or self.symbols[0],
            description="symbol",
            style=style,
        )
        self.timeframe = w.Dropdown(
            options=self.timeframes,
            value=timeframe or _default_timeframe(self.timeframes),
            description="timeframe",
            style=style,
        )
        # A start/end with a time of day is kept exactly until a date picker is touched; the
        # pickers show the days it touches.
        self._exact: TimeRange | None = None
        first_day, last_day = self.first_day, self.last_day
        try:
            span = parse_range(start, end, where="date range")
        except ConfigurationError as exc:
            self.notes.append(f"{exc}; showing the whole data instead")
        else:
            if span.start is not None:
                first_day = span.start.date()
            if span.end is not None:
                # The last day the range touches: an end is exclusive.
                last_day = (span.end - dt.timedelta(microseconds=1)).date()
            if not (_midnight(span.start) and _midnight(span.end)):
                self._exact = span
        self.start = w.DatePicker(value=first_day, description="from", style=style)
        self.end = w.DatePicker(value=last_day, description="to (incl.)", style=style)
        for picker in (self.start, self.end):
            picker.observe(self._drop_exact, names="value")
        self.controls = [self.symbol, self.timeframe, self.start, self.end]
        self.box = w.HBox(self.controls)

    def _drop_exact(self, _change: Any) -> None:
        self._exact = None

    def time_range(self) -> TimeRange:
        """The UTC ``[start, end)`` chosen, read by the kit's one parser.

        Raises
        ------
        ConfigurationError
            When a date is missing or the end day is before the start day.
        """
        if self._exact is not None:
            return self._exact
        start, end = self.start.value, self.end.value
        if start is None or end is None:
            raise ConfigurationError("choose both a start and an end date")
        if start > end:
            raise ConfigurationError(
                f"empty date range: start {start} is after end {end}; "
                "pick an end date on or after the start date"
            )
        return parse_range(start, end, where="date range")

    def selection(self) -> dict[str, Any]:
        """symbol, timeframe, and the UTC [start, end) the dates cover (end exclusive)."""
        if self._exact is not None:
            t0, t1 = self._exact.start, self._exact.end
        else:
            # Each bound on its own, so a half-edited range (end before start) still reads.
            t0 = parse_range(self.start.value, None).start
            t1 = parse_range(None, self.end.value).end
        return {
            "symbol": self.symbol.value,
            "timeframe": self.timeframe.value,
            "start": t0,
            "end": t1,
        }

    def load(self) -> pl.DataFrame:
        """The chosen bars, validated by the catalog and resampled to the chosen timeframe."""
        span = self.time_range()
        sel = {**self.selection(), "start": span.start, "end": span.end}
        key = (sel["symbol"], sel["start"], sel["end"])
        if self._cache is not None and self._cache[0] == key:
            bars = self._cache[1]
        else:
            # Parameter tweaks redraw often; the validated load is the slow part, so the last
            # one is kept.
            bars = self.catalog.load(
                self.kind, symbols=sel["symbol"], start=sel["start"], end=sel["end"]
            )
            self._cache = (key, bars)
        if bars.height == 0:
            row = self.summary.filter(pl.col("symbol") == sel["symbol"])
            raise ConfigurationError(
                f"no {self.kind} bars for {sel['symbol']} from {self.start.value} to "
                f"{self.end.value}; the data covers {row['first'][0]:%Y-%m-%d %H:%M} to "
                f"{row['last'][0]:%Y-%m-%d %H:%M} UTC"
            )
        if sel["timeframe"] != self.source_timeframe:
            from omni_research.bars import resample_ohlcv

            bars = resample_ohlcv(bars, timeframe=sel["timeframe"]).drop("is_partial", "is_filled")
        out: pl.DataFrame = bars.sort("timestamp")
        return out


def _midnight(t: dt.datetime | None) -> bool:
    return t is None or t.time() == dt.time(0)


_SENSIBLE = {"1m", "5m", "15m", "30m", "1h", "4h", "12h", "1d"}


def _default_timeframe(options: list[str]) -> str:
    for tf in ("15m", "1h"):
        if tf in options:
            return tf
    return options[0]
