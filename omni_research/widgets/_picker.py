"""Symbol / timeframe / date-range pickers over a catalog's OHLCV, shared by the widgets."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from omni_research._typing import TIMEFRAMES
from omni_research.exceptions import ConfigurationError, OmniDataError
from omni_research.widgets._base import utc_day_start


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
        start: dt.date | None = None,
        end: dt.date | None = None,
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
        self.start = w.DatePicker(value=start or self.first_day, description="from", style=style)
        self.end = w.DatePicker(value=end or self.last_day, description="to (incl.)", style=style)
        self.controls = [self.symbol, self.timeframe, self.start, self.end]
        self.box = w.HBox(self.controls)

    def selection(self) -> dict[str, Any]:
        """symbol, timeframe, and the UTC [start, end) the dates cover."""
        start, end = self.start.value, self.end.value
        return {
            "symbol": self.symbol.value,
            "timeframe": self.timeframe.value,
            "start": utc_day_start(start) if start else None,
            "end": utc_day_start(end) + dt.timedelta(days=1) if end else None,
        }

    def load(self) -> pl.DataFrame:
        """The chosen bars, validated by the catalog and resampled to the chosen timeframe."""
        sel = self.selection()
        if sel["start"] is None or sel["end"] is None:
            raise ConfigurationError("choose both a start and an end date")
        if sel["start"] >= sel["end"]:
            raise ConfigurationError(
                f"empty date range: start {self.start.value} is after end {self.end.value}; "
                "pick an end date on or after the start date"
            )
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


_SENSIBLE = {"1m", "5m", "15m", "30m", "1h", "4h", "12h", "1d"}


def _default_timeframe(options: list[str]) -> str:
    for tf in ("15m", "1h"):
        if tf in options:
            return tf
    return options[0]
