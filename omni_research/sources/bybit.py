"""Bybit v5 REST downloads into a research root: klines, funding, open interest, instruments.

What each kind fetches (Bybit's public v5 market endpoints, no key needed):

* ``ohlcv`` from ``/v5/market/kline`` (rows newest first, at most 1,000 a page), plus
  ``/v5/market/mark-price-kline`` and ``/v5/market/index-price-kline`` for derivatives.
  Mark and index klines are stored as ``ohlcv`` of the pseudo-symbols ``<SYMBOL>_MARK``
  and ``<SYMBOL>_INDEX`` (Bybit publishes no volume for them: ``volume`` and ``turnover``
  are 0, ``trade_count`` null), so the ``ohlcv`` schema, the catalog's symbol filter and
  every bar function work on them unchanged.
* ``funding`` from ``/v5/market/funding/history`` (no cursor: pages move backwards by
  ``endTime``). ``mark_price`` is the mark price at settlement: the open of the hourly
  mark-price kline starting at the settlement time (else the last close before it). The
  interval between settlements is measured from the data, and every change is reported.
* ``open_interest`` from ``/v5/market/open-interest`` (cursor paging, ``nextPageCursor``).
* ``instruments`` from ``/v5/market/instruments-info``: a snapshot of the whole category
  taken now, every status (``Trading``, ``PreLaunch``, ``Delivering`` and ``Closed``, i.e.
  delisted, queried one by one since Bybit returns only ``Trading`` by default), cursor
  paging.

Every range is paged exactly: a page that comes back full is split into the part before
its oldest row and the part after its newest, so nothing is missed and nothing fetched
twice whichever end Bybit serves first. Units are whole UTC days (instruments: one
snapshot per category and day); a day that has not ended yet is left for a later run.
A response that differs from the documented shape raises
:class:`~omni_research.exceptions.SourceError` naming the URL and what differed; the unit
is then not written.
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import polars as pl

from omni_research import _layout
from omni_research._time import parse_range
from omni_research.exceptions import ConfigurationError, SourceError
from omni_research.io._readers import read_file
from omni_research.io.bybit import BYBIT_INTERVALS
from omni_research.schemas import polars_schema
from omni_research.sources import _bybit_dumps
from omni_research.sources._http import (
    LIMITS,
    HttpSession,
    RetryPolicy,
    shape_error,
    source_settings,
)
from omni_research.sources._resume import Run, Unit, bybit_symbols, ended_days, pending
from omni_research.sources._roots import research_root
from omni_research.sources._summary import DownloadSummary, Progress

__all__ = ["CATEGORIES", "KINDS", "KLINE_PATHS", "download"]

log = logging.getLogger(__name__)

Category = Literal["linear", "inverse", "spot"]
CATEGORIES: tuple[str, ...] = ("linear", "inverse", "spot")
KINDS: tuple[str, ...] = ("ohlcv", "funding", "open_interest", "instruments")
"""The kinds :func:`download` fetches from the v5 REST API."""
KLINE_PATHS: dict[str, str] = {
    "last": "/v5/market/kline",
    "mark": "/v5/market/mark-price-kline",
    "index": "/v5/market/index-price-kline",
}
"""Kline endpoint per price type; ``mark`` and ``index`` exist for derivatives only."""
PRICE_SUFFIX: dict[str, str] = {"last": "", "mark": "_MARK", "index": "_INDEX"}
OPEN_INTEREST_INTERVALS: dict[str, int] = {
    "5min": 300_000,
    "15min": 900_000,
    "30min": 1_800_000,
    "1h": 3_600_000,
    "4h": 14_400_000,
    "1d": 86_400_000,
}
INSTRUMENT_STATUSES = ("PreLaunch", "Trading", "Delivering", "Closed")

KLINE_PAGE = 1000
FUNDING_PAGE = 200
OPEN_INTEREST_PAGE = 200
INSTRUMENTS_PAGE = 1000
_MAX_PAGES = 10_000
DAY_MS = 86_400_000
_HOUR_MS = 3_600_000


# --------------------------------------------------------------------------- response shape


def _shape_error(url: str, what: str) -> SourceError:
    return shape_error(
        url, what, source="Bybit", documentation="the v5 documentation", module=__name__
    )


def _result(data: Any, url: str, *, symbol: str | None = None) -> Mapping[str, Any]:
    result = data.get("result") if isinstance(data, Mapping) else None
    if not isinstance(result, Mapping):
        raise _shape_error(url, "'result' is missing or not an object")
    if not isinstance(result.get("list"), list):
        raise _shape_error(url, "'result.list' is missing or not an array")
    got = result.get("symbol")
    if symbol is not None and got not in (None, "", symbol):
        raise _shape_error(url, f"'result.symbol' is {got!r}, the request asked for {symbol!r}")
    return result


def _ms(value: Any, url: str, what: str) -> int:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise _shape_error(url, f"{what} is {value!r}; expected a string of epoch milliseconds")


def _number(value: Any, url: str, what: str) -> float:
    if isinstance(value, str):
        try:
            out = float(value)
        except ValueError:
            pass
        else:
            if out == out and abs(out) != float("inf"):
                return out
    raise _shape_error(url, f"{what} is {value!r}; expected a decimal number as a string")


# --------------------------------------------------------------------------- exact paging


def _page_range(
    fetch: Callable[[int, int], tuple[list[tuple[int, Any]], int]],
    start_ms: int,
    end_ms: int,
    *,
    url: Callable[[int, int], str],
    step: int = 1,
) -> dict[int, Any]:
    """Every row with a timestamp in ``[start_ms, end_ms]`` (both inclusive), exactly once.

    ``fetch(a, b)`` returns one page of ``(timestamp, row)`` for ``[a, b]`` and the page
    limit. A full page leaves the parts of ``[a, b]`` before its oldest and after its
    newest row to fetch; a short page covers its interval. ``step`` is the smallest
    distance between two timestamps (a kline's length), so no request is spent on a
    remainder that cannot hold a row.
    """
    rows: dict[int, Any] = {}
    todo = [(start_ms, end_ms)]
    pages = 0
    while todo:
        a, b = todo.pop()
        pages += 1
        if pages > _MAX_PAGES:
            raise _shape_error(url(a, b), f"more than {_MAX_PAGES} pages for one day")
        page, limit = fetch(a, b)
        if not page:
            continue
        stamps = [ts for ts, _ in page]
        if stamps != sorted(stamps, reverse=True) or len(set(stamps)) != len(stamps):
            raise _shape_error(url(a, b), "rows are not sorted newest first without repeats")
        if stamps[-1] < a or stamps[0] > b:
            raise _shape_error(
                url(a, b), f"rows from {stamps[-1]} to {stamps[0]} lie outside [{a}, {b}]"
            )
        repeated = [ts for ts in stamps if ts in rows]
        if repeated:
            raise _shape_error(url(a, b), f"row {repeated[0]} came twice across pages")
        rows.update(page)
        if len(page) >= limit:
            if stamps[-1] > a:
                todo.append((a, stamps[-1] - 1))
            if stamps[0] + step <= b:
                todo.append((stamps[0] + step, b))
    return rows


# --------------------------------------------------------------------------- kinds


def _klines(
    http: HttpSession,
    unit: Unit,
    *,
    category: str,
    interval: str,
    timeframe: str,
) -> tuple[pl.DataFrame, list[str]]:
    assert unit.symbol is not None and unit.day is not None
    path = KLINE_PATHS[unit.variant]
    width = 7 if unit.variant == "last" else 5
    start_ms = int(unit.start.timestamp() * 1000)
    step = _interval_ms(interval)

    def params(a: int, b: int) -> dict[str, Any]:
        return {"category": category, "symbol": unit.symbol, "interval": interval,
                "start": a, "end": b, "limit": KLINE_PAGE}  # fmt: skip

    def fetch(a: int, b: int) -> tuple[list[tuple[int, Any]], int]:
        shown = http.url(path, params(a, b))
        result = _result(http.get_json(path, params(a, b)), shown, symbol=unit.symbol)
        page = []
        for i, item in enumerate(result["list"]):
            if not isinstance(item, list) or len(item) != width:
                raise _shape_error(
                    shown, f"result.list[{i}] is {str(item)[:80]}; expected {width} strings"
                )
            ts = _ms(item[0], shown, f"result.list[{i}][0] (startTime)")
            values = [
                _number(x, shown, f"result.list[{i}][{k + 1}]") for k, x in enumerate(item[1:])
            ]
            page.append((ts, values))
        return page, KLINE_PAGE

    rows = _page_range(
        fetch,
        start_ms,
        start_ms + DAY_MS - 1,
        url=lambda a, b: http.url(path, params(a, b)),
        step=step,
    )
    stamps = sorted(rows)
    off_grid = [ts for ts in stamps if (ts - start_ms) % step]
    if off_grid:
        raise _shape_error(
            http.url(path, params(start_ms, start_ms + DAY_MS - 1)),
            f"bar start {off_grid[0]} is not on the {timeframe} grid",
        )
    values = [rows[ts] for ts in stamps]

    def column(k: int) -> list[float]:
        return [v[k] for v in values] if width == 7 or k < 4 else [0.0] * len(values)

    frame = pl.DataFrame(
        {
            "timestamp": pl.Series(stamps, dtype=pl.Int64),
            # typed columns: an empty day (before a listing) is a valid, empty file
            "symbol": pl.Series(
                [unit.symbol + PRICE_SUFFIX[unit.variant]] * len(stamps), dtype=pl.String
            ),
            "timeframe": pl.Series([timeframe] * len(stamps), dtype=pl.String),
            "open": pl.Series(column(0), dtype=pl.Float64),
            "high": pl.Series(column(1), dtype=pl.Float64),
            "low": pl.Series(column(2), dtype=pl.Float64),
            "close": pl.Series(column(3), dtype=pl.Float64),
            "volume": pl.Series(column(4), dtype=pl.Float64),
            "turnover": pl.Series(column(5), dtype=pl.Float64),
            "trade_count": pl.Series([None] * len(stamps), dtype=pl.Int64),
        }
    ).with_columns(_utc("timestamp"))
    expected = DAY_MS // step
    gaps = []
    if len(stamps) < expected:
        have = set(stamps)
        missing = [ts for ts in range(start_ms, start_ms + DAY_MS, step) if ts not in have]
        first = dt.datetime.fromtimestamp(missing[0] / 1000, dt.UTC)
        gaps.append(
            f"{unit.label}: {len(missing)} of {expected} {timeframe} bars missing "
            f"(first at {first:%Y-%m-%d %H:%M} UTC)"
        )
    return frame.select(polars_schema("ohlcv").names()), gaps


def _funding(http: HttpSession, unit: Unit, *, category: str) -> tuple[pl.DataFrame, list[str]]:
    assert unit.symbol is not None
    path = "/v5/market/funding/history"
    start_ms = int(unit.start.timestamp() * 1000)
    end_ms = start_ms + DAY_MS - 1

    def params(a: int, b: int) -> dict[str, Any]:
        # no cursor: Bybit pages this endpoint backwards by endTime
        return {"category": category, "symbol": unit.symbol, "startTime": a, "endTime": b,
                "limit": FUNDING_PAGE}  # fmt: skip

    def fetch(a: int, b: int) -> tuple[list[tuple[int, Any]], int]:
        shown = http.url(path, params(a, b))
        result = _result(http.get_json(path, params(a, b)), shown)
        page = []
        for i, item in enumerate(result["list"]):
            if not isinstance(item, Mapping):
                raise _shape_error(shown, f"result.list[{i}] is not an object")
            missing = {"symbol", "fundingRate", "fundingRateTimestamp"} - set(item)
            if missing:
                raise _shape_error(shown, f"result.list[{i}] lacks {sorted(missing)}")
            if item["symbol"] != unit.symbol:
                raise _shape_error(shown, f"result.list[{i}].symbol is {item['symbol']!r}")
            ts = _ms(item["fundingRateTimestamp"], shown, f"result.list[{i}].fundingRateTimestamp")
            page.append((ts, _number(item["fundingRate"], shown, f"result.list[{i}].fundingRate")))
        return page, FUNDING_PAGE

    rows = _page_range(fetch, start_ms, end_ms, url=lambda a, b: http.url(path, params(a, b)))
    stamps = sorted(rows)
    marks = _mark_prices(http, unit, category=category, stamps=stamps) if stamps else {}
    gaps = [
        f"{unit.label}: no mark price at or before the settlement at {ts} ms; row left out"
        for ts in stamps
        if ts not in marks
    ]
    kept = [ts for ts in stamps if ts in marks]
    frame = pl.DataFrame(
        {
            "timestamp": pl.Series(kept, dtype=pl.Int64),
            "symbol": pl.Series([unit.symbol] * len(kept), dtype=pl.String),
            "funding_rate": pl.Series([rows[ts] for ts in kept], dtype=pl.Float64),
            "mark_price": pl.Series([marks[ts] for ts in kept], dtype=pl.Float64),
        }
    ).with_columns(_utc("timestamp"))
    if not kept:
        gaps.append(f"{unit.label}: no funding settlements on this day")
    return frame.select(polars_schema("funding").names()), gaps


def _mark_prices(
    http: HttpSession, unit: Unit, *, category: str, stamps: Sequence[int]
) -> dict[int, float]:
    """Mark price at each settlement: the open of the hourly mark kline starting then, else
    the close of the last hourly mark kline that started before it (same day)."""
    hourly = Unit(kind="ohlcv", path=unit.path, label=f"{unit.label} mark price",
                  symbol=unit.symbol, day=unit.day, variant="mark")  # fmt: skip
    frame, _ = _klines(http, hourly, category=category, interval="60", timeframe="1h")
    starts = [int(t.timestamp() * 1000) for t in frame["timestamp"]]
    opens, closes = frame["open"].to_list(), frame["close"].to_list()
    out: dict[int, float] = {}
    for ts in stamps:
        k = bisect.bisect_right(starts, ts) - 1
        if k < 0:
            continue
        out[ts] = opens[k] if starts[k] == ts else closes[k]
    return out


def _open_interest(
    http: HttpSession, unit: Unit, *, category: str, interval: str
) -> tuple[pl.DataFrame, list[str]]:
    assert unit.symbol is not None
    path = "/v5/market/open-interest"
    start_ms = int(unit.start.timestamp() * 1000)
    first, last = start_ms, start_ms + DAY_MS - 1
    base: dict[str, Any] = {"category": category, "symbol": unit.symbol, "intervalTime": interval,
            "startTime": start_ms, "endTime": start_ms + DAY_MS - 1,
            "limit": OPEN_INTEREST_PAGE}  # fmt: skip
    rows: dict[int, float] = {}
    cursor = ""
    seen_cursors: set[str] = set()
    for _page in range(_MAX_PAGES):
        params = {**base, "cursor": cursor or None}
        shown = http.url(path, params)
        result = _result(http.get_json(path, params), shown, symbol=unit.symbol)
        for i, item in enumerate(result["list"]):
            if not isinstance(item, Mapping) or {"openInterest", "timestamp"} - set(item):
                raise _shape_error(shown, f"result.list[{i}] lacks openInterest or timestamp")
            ts = _ms(item["timestamp"], shown, f"result.list[{i}].timestamp")
            if not first <= ts <= last:
                raise _shape_error(shown, f"row {ts} lies outside the requested day")
            if ts in rows:
                raise _shape_error(shown, f"row {ts} came twice across cursor pages")
            rows[ts] = _number(item["openInterest"], shown, f"result.list[{i}].openInterest")
        cursor = result.get("nextPageCursor") or ""
        if not isinstance(cursor, str):
            raise _shape_error(shown, "'result.nextPageCursor' is not a string")
        if not cursor or not result["list"]:
            break
        if cursor in seen_cursors:
            raise _shape_error(shown, f"nextPageCursor {cursor!r} repeated: paging would loop")
        seen_cursors.add(cursor)
    stamps = sorted(rows)
    frame = pl.DataFrame(
        {
            "timestamp": pl.Series(stamps, dtype=pl.Int64),
            "symbol": pl.Series([unit.symbol] * len(stamps), dtype=pl.String),
            "interval": pl.Series([interval] * len(stamps), dtype=pl.String),
            "open_interest": pl.Series([rows[ts] for ts in stamps], dtype=pl.Float64),
        }
    ).with_columns(_utc("timestamp"))
    expected = DAY_MS // OPEN_INTEREST_INTERVALS[interval]
    gaps = []
    if len(stamps) < expected:
        gaps.append(
            f"{unit.label}: {expected - len(stamps)} of {expected} {interval} values missing"
        )
    return frame.select(polars_schema("open_interest").names()), gaps


def _instruments(http: HttpSession, unit: Unit, *, category: str) -> tuple[pl.DataFrame, list[str]]:
    path = "/v5/market/instruments-info"
    statuses = ("Trading",) if category == "spot" else INSTRUMENT_STATUSES
    records: dict[str, dict[str, Any]] = {}
    snapshot_ms: int | None = None
    for status in statuses:
        cursor = ""
        seen: set[str] = set()
        for _page in range(_MAX_PAGES):
            params: dict[str, Any] = {"category": category, "status": status}
            if category != "spot":  # spot does not page: limit and cursor are invalid there
                params.update(limit=INSTRUMENTS_PAGE, cursor=cursor or None)
            shown = http.url(path, params)
            data = http.get_json(path, params)
            result = _result(data, shown)
            if snapshot_ms is None:
                snapshot_ms = _ms(str(data.get("time", "")), shown, "'time'")
            for i, item in enumerate(result["list"]):
                record = _instrument(item, shown, f"result.list[{i}]", category)
                records.setdefault(record["symbol"], record)
            cursor = result.get("nextPageCursor") or ""
            if category == "spot" or not cursor or not result["list"]:
                break
            if cursor in seen:
                raise _shape_error(shown, f"nextPageCursor {cursor!r} repeated: paging would loop")
            seen.add(cursor)
    assert snapshot_ms is not None
    rows = sorted(records.values(), key=lambda r: str(r["symbol"]))
    schema = polars_schema("instruments")
    frame = pl.DataFrame(
        [{**r, "timestamp": snapshot_ms, "category": category} for r in rows],
        schema={
            **{name: dtype for name, dtype in schema.items()},
            "timestamp": pl.Int64,
            "launch_time": pl.Int64,
            "delivery_time": pl.Int64,
        },
        orient="row",
    ).with_columns(_utc("timestamp"), _utc("launch_time"), _utc("delivery_time"))
    return frame.select(schema.names()), []


def _instrument(item: Any, url: str, where: str, category: str) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise _shape_error(url, f"{where} is not an object")
    required = {"symbol", "status", "baseCoin", "quoteCoin", "priceFilter", "lotSizeFilter"}
    if category != "spot":
        required |= {"contractType", "settleCoin", "launchTime", "deliveryTime"}
    missing = required - set(item)
    if missing:
        raise _shape_error(url, f"{where} lacks {sorted(missing)}")
    price, lot = item["priceFilter"], item["lotSizeFilter"]
    if not isinstance(price, Mapping) or not isinstance(lot, Mapping):
        raise _shape_error(url, f"{where}.priceFilter or .lotSizeFilter is not an object")
    step_key = "basePrecision" if category == "spot" else "qtyStep"
    for key, table in (("tickSize", price), (step_key, lot), ("minOrderQty", lot)):
        if key not in table:
            raise _shape_error(url, f"{where} lacks {key}")

    def opt_ms(key: str) -> int | None:
        raw = item.get(key)
        value = _ms(raw, url, f"{where}.{key}") if raw not in (None, "") else 0
        return value or None  # Bybit writes "0" for "none"

    funding = item.get("fundingInterval")
    if funding is not None and (not isinstance(funding, int) or isinstance(funding, bool)):
        raise _shape_error(url, f"{where}.fundingInterval is {funding!r}; expected an integer")
    return {
        "symbol": str(item["symbol"]),
        "status": str(item["status"]),
        "contract_type": item.get("contractType") or None,
        "base_coin": str(item["baseCoin"]),
        "quote_coin": str(item["quoteCoin"]),
        "settle_coin": item.get("settleCoin") or None,
        "launch_time": opt_ms("launchTime"),
        "delivery_time": opt_ms("deliveryTime"),
        "tick_size": _number(price["tickSize"], url, f"{where}.priceFilter.tickSize"),
        "qty_step": _number(lot[step_key], url, f"{where}.lotSizeFilter.{step_key}"),
        "min_order_qty": _number(lot["minOrderQty"], url, f"{where}.lotSizeFilter.minOrderQty"),
        "funding_interval_min": funding or None,
    }


# --------------------------------------------------------------------------- helpers


def _utc(column: str) -> pl.Expr:
    return (
        pl.from_epoch(column, time_unit="ms")
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
        .alias(column)
    )


def _interval_ms(interval: str) -> int:
    from omni_research._time import timeframe_duration_us

    return timeframe_duration_us(BYBIT_INTERVALS[interval]) // 1000


def _hours(ms: int) -> str:
    return f"{ms / _HOUR_MS:g}h"


def _stored_settlements(root: Path, unit: Unit) -> list[int]:
    """The last settlement of the day before ``unit`` already in the root (ms), if any, so
    that an interval change across the boundary of two runs is still seen."""
    assert unit.day is not None
    before = _layout.path_for(root, "funding", symbol=unit.symbol, date=unit.day - dt.timedelta(1))
    todo, _done = pending(root, [Unit(kind="funding", path=before, label="")])
    if todo:
        return []
    stamps = read_file(before, "funding")["timestamp"]
    return [int(stamps.max().timestamp() * 1000)] if len(stamps) else []  # type: ignore[union-attr]


class _FundingIntervals:
    """Settlement intervals seen per symbol, and every change between them."""

    def __init__(self) -> None:
        self.last: dict[str, tuple[int, int | None]] = {}  # symbol -> (last ts, interval)
        self.seen: dict[str, set[int]] = {}
        self.changes: list[str] = []

    def add(self, symbol: str, stamps: Iterable[int]) -> None:
        last, interval = self.last.get(symbol, (None, None))
        for ts in stamps:
            if last is not None and ts > last:
                step = ts - last
                if interval is not None and step != interval:
                    at = dt.datetime.fromtimestamp(ts / 1000, dt.UTC)
                    self.changes.append(
                        f"funding {symbol}: interval changed from {_hours(interval)} to "
                        f"{_hours(step)} at {at:%Y-%m-%d %H:%M} UTC"
                    )
                interval = step
                self.seen.setdefault(symbol, set()).add(step)
            last = ts
        if last is not None:
            self.last[symbol] = (last, interval)

    def notes(self, listed: Mapping[str, int | None] | None = None) -> list[str]:
        """One line per symbol, every change, and (given the instruments listing's
        ``funding_interval_min`` per symbol) where the data's last interval differs."""
        out = [
            f"funding {symbol}: settlement interval {', '.join(_hours(s) for s in sorted(steps))}"
            for symbol, steps in sorted(self.seen.items())
        ]
        for symbol, (_last, step) in sorted(self.last.items()):
            minutes = (listed or {}).get(symbol)
            if step is not None and minutes and minutes * 60_000 != step:
                out.append(
                    f"funding {symbol}: the data's last interval {_hours(step)} differs from "
                    f"the instruments listing's {_hours(minutes * 60_000)}"
                )
        return out + self.changes


# --------------------------------------------------------------------------- plan + run


def _plan(
    root: Path,
    *,
    symbols: Sequence[str],
    days: Sequence[dt.date],
    kinds: Sequence[str],
    category: str,
    interval: str,
    prices: Sequence[str],
    oi_interval: str,
    today: dt.date,
) -> list[Unit]:
    timeframe = BYBIT_INTERVALS[interval]
    units: list[Unit] = []
    if "instruments" in kinds:
        units.append(
            Unit(
                kind="instruments",
                path=_layout.path_for(root, "instruments", date=today, name=f"{category}.parquet"),
                label=f"instruments {category} {today}",
                day=today,
            )
        )
    for symbol in symbols:
        for day in days:
            if "ohlcv" in kinds:
                for variant in prices:
                    shown = symbol + PRICE_SUFFIX[variant]
                    units.append(
                        Unit(
                            kind="ohlcv",
                            path=_layout.path_for(
                                root, "ohlcv", symbol=shown, timeframe=timeframe, date=day
                            ),
                            label=f"ohlcv {shown} {timeframe} {day}",
                            symbol=symbol,
                            day=day,
                            variant=variant,
                        )
                    )
            if "funding" in kinds:
                units.append(
                    Unit(
                        kind="funding",
                        path=_layout.path_for(root, "funding", symbol=symbol, date=day),
                        label=f"funding {symbol} {day}",
                        symbol=symbol,
                        day=day,
                    )
                )
            if "open_interest" in kinds:
                units.append(
                    Unit(
                        kind="open_interest",
                        path=_layout.path_for(
                            root,
                            "open_interest",
                            symbol=symbol,
                            date=day,
                            name=f"{oi_interval}.parquet",
                        ),
                        label=f"open_interest {symbol} {oi_interval} {day}",
                        symbol=symbol,
                        day=day,
                    )
                )
    return units


def download(
    root: str | os.PathLike[str],
    /,
    *,
    symbols: str | Sequence[str],
    start: str | dt.date | dt.datetime,
    end: str | dt.date | dt.datetime,
    kinds: Sequence[str] = KINDS,
    category: Category = "linear",
    interval: str = "1",
    prices: Sequence[str] = ("last", "mark", "index"),
    oi_interval: str = "5min",
    policy: RetryPolicy | None = None,
    progress: Callable[[Progress], None] | None = None,
    lock_timeout: float | None = None,
    book_interval: str = "1s",
) -> DownloadSummary:
    """Download Bybit v5 market data for ``symbols`` over whole UTC days into a research root.

    Resumable: the units (kind x symbol x day) already recorded in the root's manifest are
    skipped, every other one is fetched in full, validated and committed atomically, so a
    rerun (after a kill, a ban or a network fault) fetches exactly what is missing.

    Parameters
    ----------
    root
        A research-tier data root (:func:`omni_research.sources.init_root`). The production
        guard runs on it before the first request.
    symbols
        Bybit symbols such as ``"BTCUSDT"`` (a comma-separated string or a sequence).
    start, end
        The range; ``start`` inclusive, a bare ``end`` date includes its day. Widened to
        whole UTC days; days that have not ended yet are left out (and noted).
    kinds
        Any of ``ohlcv``, ``funding``, ``open_interest``, ``instruments``. For ``spot``,
        funding, open interest and mark/index klines do not exist and are skipped (noted).
    category
        ``linear``, ``inverse`` or ``spot``.
    interval
        Kline interval in Bybit's notation (``"1"``, ``"5"``, ``"60"``, ``"D"``, ``"W"``).
    prices
        Which klines: ``last`` (trades), ``mark``, ``index`` (stored as the symbols
        ``<SYMBOL>_MARK`` and ``<SYMBOL>_INDEX``).
    oi_interval
        Open-interest sampling: ``5min``, ``15min``, ``30min``, ``1h``, ``4h`` or ``1d``.
    policy
        Retry policy (attempts, backoff); the default suits the real API.
    progress
        Called with a :class:`~omni_research.sources.Progress` (files, rows, requests,
        bytes, ETA) after every committed file; the CLI draws it on the terminal.
    lock_timeout
        Seconds to wait for another writer of ``root``.
    book_interval
        Sampling interval of the order books rebuilt from the dumps (``"1s"``).

    Returns
    -------
    DownloadSummary
        Requests, retries, rows per kind, files written and skipped, gaps, and notes
        (funding intervals and their changes).

    Raises
    ------
    ProductionDataError
        If ``root`` is production data; no request has been sent.
    ConfigurationError
        For a root that is not a research root or a bad option; no request has been sent.
    SourceError
        For a fault retrying cannot fix (an IP ban, a client error, a changed response
        shape); what was committed before stays, and a rerun resumes.
    DataValidationError
        If a fetched unit breaks its kind's schema (nothing of it is written).
    """
    target = research_root(root)  # the guard, before any request
    if any(k in _bybit_dumps.KINDS for k in kinds):  # trades, orderbook: the public dumps
        return _bybit_dumps.download_dumps(target, rest=download, rest_kinds=KINDS, symbols=symbols, start=start, end=end, kinds=kinds, category=category, book_interval=book_interval, policy=policy, lock_timeout=lock_timeout, progress=progress, interval=interval, prices=prices, oi_interval=oi_interval)  # fmt: skip  # noqa: E501
    symbol_list = bybit_symbols(symbols)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise ConfigurationError(f"kinds {list(kinds)!r}: expected some of {list(KINDS)}")
    if category not in CATEGORIES:
        raise ConfigurationError(f"category is {category!r}; expected one of {list(CATEGORIES)}")
    if interval not in BYBIT_INTERVALS:
        raise ConfigurationError(
            f"interval is {interval!r}; expected a fixed-length Bybit kline interval, one of "
            f"{list(BYBIT_INTERVALS)}"
        )
    bad_prices = [p for p in prices if p not in KLINE_PATHS]
    if bad_prices or not prices:
        raise ConfigurationError(f"prices {list(prices)!r}: expected some of {list(KLINE_PATHS)}")
    if oi_interval not in OPEN_INTEREST_INTERVALS:
        raise ConfigurationError(
            f"oi_interval is {oi_interval!r}; expected one of {list(OPEN_INTEREST_INTERVALS)}"
        )
    span = parse_range(start, end, where="sources.bybit.download")
    if span.start is None or span.end is None:
        raise ConfigurationError("start and end are both required (e.g. 2025-01-01, 2025-01-31)")
    run = Run(target, source="bybit", progress=progress, lock_timeout=lock_timeout)
    wanted = list(dict.fromkeys(kinds))
    use_prices = list(dict.fromkeys(prices))
    if category == "spot":
        dropped = [k for k in wanted if k in ("funding", "open_interest")]
        wanted = [k for k in wanted if k not in dropped]
        if [p for p in use_prices if p != "last"]:
            dropped.append("mark and index klines")
        use_prices = ["last"]
        if dropped:
            run.tally.notes.append(f"spot has no {', '.join(dropped)}: skipped")
    now = dt.datetime.now(dt.UTC)
    # a day is done when it has ended, and when a bar opening on it has closed (a weekly bar
    # opening on a Monday closes seven days later): nothing still forming is ever committed
    span_ms = max(DAY_MS, _interval_ms(interval)) if "ohlcv" in wanted else DAY_MS
    days = ended_days(
        span.start, span.end, now=now, notes=run.tally.notes,
        settle=dt.timedelta(milliseconds=span_ms),
    )  # fmt: skip
    units = _plan(
        target, symbols=symbol_list, days=days, kinds=wanted, category=category,
        interval=interval, prices=use_prices, oi_interval=oi_interval, today=now.date(),
    )  # fmt: skip
    todo = run.plan(units)
    http = run.session(
        HttpSession(source_settings().bybit_api_url, limits=LIMITS["bybit"], policy=policy)
    )
    intervals = _FundingIntervals()
    listed: dict[str, int | None] = {}
    timeframe = BYBIT_INTERVALS[interval]
    with run.stopping():
        for unit in todo:
            if unit.kind == "ohlcv":
                frame, gaps = _klines(
                    http, unit, category=category, interval=interval, timeframe=timeframe
                )
            elif unit.kind == "funding":
                if unit.symbol not in intervals.last:  # carry on from the day before
                    intervals.add(str(unit.symbol), _stored_settlements(target, unit))
                frame, gaps = _funding(http, unit, category=category)
                intervals.add(
                    str(unit.symbol), (int(t.timestamp() * 1000) for t in frame["timestamp"])
                )
            elif unit.kind == "open_interest":
                frame, gaps = _open_interest(http, unit, category=category, interval=oi_interval)
            else:
                frame, gaps = _instruments(http, unit, category=category)
                listed = dict(zip(frame["symbol"], frame["funding_interval_min"], strict=True))
            run.commit(unit, frame, gaps=gaps)
    run.tally.notes += intervals.notes(listed)
    return run.finish()
