"""A fake Bybit v5 market API on the loopback, answering in the documented shapes.

:class:`FakeBybit` serves ``/v5/market/kline``, ``mark-price-kline``,
``index-price-kline``, ``funding/history``, ``open-interest`` and ``instruments-info``
from seeded synthetic data it holds (so a test can compare what a download stored with
what the server had), with Bybit's paging rules: klines and funding newest first and
capped by ``limit`` (the newest rows of the range first), open interest and instruments
by ``cursor``/``nextPageCursor``. Faults are injected on demand (:meth:`FakeBybit.inject`):
HTTP 5xx, truncated bodies, connection resets, slow answers, ``retCode 10006`` with its
reset header, HTTP 403 "access too frequent", and a changed response layout.

It runs the standard library's ``http.server`` in a thread on ``127.0.0.1`` and a free
port; use it as a context manager (or :meth:`start`/:meth:`stop`) and point
``OMNI_BYBIT_API_URL`` at :attr:`FakeBybit.url`.

The same synthetic series give :func:`make_open_interest` and :func:`make_instruments`,
frames of the ``open_interest`` and ``instruments`` kinds.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import polars as pl

from omni_research.testing._loopback import LoopbackServer

__all__ = [
    "FAULTS",
    "FakeBybit",
    "make_instruments",
    "make_open_interest",
]

MINUTE_MS = 60_000
DAY_MS = 86_400_000
_INTERVAL_MS = {
    "1": 1, "3": 3, "5": 5, "15": 15, "30": 30, "60": 60, "120": 120, "240": 240,
    "360": 360, "720": 720, "D": 1440,
}  # fmt: skip
_OI_MS = {"5min": 5, "15min": 15, "30min": 30, "1h": 60, "4h": 240, "1d": 1440}
_BASE_PRICE = {"BTCUSDT": 95_000.0, "ETHUSDT": 3_400.0, "SOLUSDT": 190.0}

FAULTS = ("http_500", "truncated", "reset", "slow", "rate_limit", "limit_used", "ban", "shape")
"""Faults :meth:`FakeBybit.inject` can answer with."""


def _ms(day: str | dt.date) -> int:
    d = dt.date.fromisoformat(day) if isinstance(day, str) else day
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp() * 1000)


def _open_interest_series(symbol: str, start_ms: int, days: int) -> list[tuple[int, float]]:
    """Deterministic 5-minute open interest (a smooth wave per symbol, to 8 decimals)."""
    base = _BASE_PRICE.get(symbol, 100.0)
    scale = 5e8 / base
    phase = sum(map(ord, symbol)) % 97
    out = []
    for k in range(days * 288):
        ts = start_ms + k * 5 * MINUTE_MS
        value = scale * (1.0 + 0.05 * math.sin((k + phase) / 37.0))
        out.append((ts, round(value, 8)))
    return out


def make_open_interest(
    symbols: Sequence[str], *, start: str | dt.date, days: int, interval: str = "5min"
) -> pl.DataFrame:
    """A frame of the ``open_interest`` kind: the series the fake server holds.

    Examples
    --------
    >>> make_open_interest(["BTCUSDT"], start="2025-01-06", days=1).height
    288
    """
    step = _OI_MS[interval] * MINUTE_MS
    rows = [
        (ts, symbol, interval, value)
        for symbol in sorted(symbols)
        for ts, value in _open_interest_series(symbol, _ms(start), days)
        if ts % step == 0
    ]
    return pl.DataFrame(
        rows,
        schema={"ms": pl.Int64, "symbol": pl.String, "interval": pl.String,
                "open_interest": pl.Float64},
        orient="row",
    ).select(
        pl.from_epoch("ms", time_unit="ms").cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        .alias("timestamp"),
        "symbol", "interval", "open_interest",
    )  # fmt: skip


def _instrument_records(symbols: Sequence[str], start_ms: int) -> dict[str, list[dict[str, Any]]]:
    """Bybit-shaped instruments-info records per category, a delisted and a pre-launch one."""
    linear = []
    for i, symbol in enumerate(sorted(symbols)):
        base = symbol.removesuffix("USDT")
        tick = "0.10" if _BASE_PRICE.get(symbol, 0) > 1000 else "0.01"
        linear.append(
            {
                "symbol": symbol, "contractType": "LinearPerpetual", "status": "Trading",
                "baseCoin": base, "quoteCoin": "USDT", "settleCoin": "USDT",
                "launchTime": str(start_ms - (400 + i) * DAY_MS), "deliveryTime": "0",
                "deliveryFeeRate": "", "priceScale": "2",
                "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00",
                                   "leverageStep": "0.01"},
                "priceFilter": {"minPrice": "0.10", "maxPrice": "1999999.80",
                                "tickSize": tick},
                "lotSizeFilter": {"maxOrderQty": "1190.000", "minOrderQty": "0.001",
                                  "qtyStep": "0.001", "postOnlyMaxOrderQty": "1190.000",
                                  "maxMktOrderQty": "500.000", "minNotionalValue": "5"},
                "unifiedMarginTrade": True, "fundingInterval": 480,
                "copyTrading": "both", "upperFundingRate": "0.00375",
                "lowerFundingRate": "-0.00375", "isPreListing": False, "preListingInfo": None,
            }
        )  # fmt: skip
    delisted = dict(linear[0])
    delisted.update(
        symbol="OLDUSDT", status="Closed", baseCoin="OLD",
        launchTime=str(start_ms - 900 * DAY_MS), deliveryTime=str(start_ms - 30 * DAY_MS),
    )  # fmt: skip
    prelaunch = dict(linear[0])
    prelaunch.update(
        symbol="NEWUSDT", status="PreLaunch", baseCoin="NEW",
        launchTime=str(start_ms + 30 * DAY_MS), fundingInterval=240, isPreListing=True,
    )  # fmt: skip
    spot = [
        {
            "symbol": symbol, "baseCoin": symbol.removesuffix("USDT"), "quoteCoin": "USDT",
            "innovation": "0", "symbolType": "", "status": "Trading", "marginTrading": "both",
            "stTag": "0",
            "lotSizeFilter": {"basePrecision": "0.000001", "quotePrecision": "0.00000001",
                              "minOrderQty": "0.000048", "maxOrderQty": "71.73956243",
                              "minOrderAmt": "1", "maxOrderAmt": "2000000",
                              "maxLimitOrderQty": "71.73956243", "maxMarketOrderQty": "35.8"},
            "priceFilter": {"tickSize": "0.01"},
            "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
        }
        for symbol in sorted(symbols)
    ]  # fmt: skip
    return {"linear": [*linear, delisted, prelaunch], "spot": spot, "inverse": []}


def make_instruments(
    symbols: Sequence[str],
    *,
    timestamp: dt.datetime,
    category: str = "linear",
    start: str | dt.date = "2025-01-06",
) -> pl.DataFrame:
    """A frame of the ``instruments`` kind: the listing of a :class:`FakeBybit` with the
    same ``symbols`` and ``start``, as taken at ``timestamp``.

    Examples
    --------
    >>> import datetime as dt
    >>> t = dt.datetime(2025, 1, 13, tzinfo=dt.UTC)
    >>> make_instruments(["BTCUSDT"], timestamp=t)["status"].to_list()
    ['Trading', 'PreLaunch', 'Closed']
    """
    records = _instrument_records(symbols, _ms(start))[category]

    def ms(value: str) -> dt.datetime | None:
        n = int(value or 0)
        return dt.datetime.fromtimestamp(n / 1000, dt.UTC) if n else None

    rows = [
        {
            "timestamp": timestamp,
            "category": category,
            "symbol": r["symbol"],
            "status": r["status"],
            "contract_type": r.get("contractType") or None,
            "base_coin": r["baseCoin"],
            "quote_coin": r["quoteCoin"],
            "settle_coin": r.get("settleCoin") or None,
            "launch_time": ms(r.get("launchTime", "0")),
            "delivery_time": ms(r.get("deliveryTime", "0")),
            "tick_size": float(r["priceFilter"]["tickSize"]),
            "qty_step": float(r["lotSizeFilter"].get("qtyStep")
                              or r["lotSizeFilter"]["basePrecision"]),
            "min_order_qty": float(r["lotSizeFilter"]["minOrderQty"]),
            "funding_interval_min": r.get("fundingInterval") or None,
        }
        for r in sorted(records, key=lambda r: r["symbol"])
    ]  # fmt: skip
    utc = pl.Datetime("us", "UTC")
    return pl.DataFrame(
        rows,
        schema={
            "timestamp": utc, "category": pl.String, "symbol": pl.String,
            "status": pl.String, "contract_type": pl.String, "base_coin": pl.String,
            "quote_coin": pl.String, "settle_coin": pl.String, "launch_time": utc,
            "delivery_time": utc, "tick_size": pl.Float64, "qty_step": pl.Float64,
            "min_order_qty": pl.Float64,
            "funding_interval_min": pl.Int64,
        },
        orient="row",
    )  # fmt: skip


# --------------------------------------------------------------------------- the server


@dataclass
class _Fault:
    kind: str
    path: str
    times: int
    wait: float = 0.0


@dataclass
class FakeBybit(LoopbackServer):
    """A fake Bybit v5 market API on ``127.0.0.1`` (see the module docstring).

    Parameters
    ----------
    symbols
        Linear perpetuals it lists (plus a delisted ``OLDUSDT`` and a pre-launch
        ``NEWUSDT`` in instruments-info).
    start, days
        The UTC days it holds 1-minute klines, funding and open interest for.
    seed
        Seed of the random-walk prices.
    outages
        ``{symbol: [(start, minutes), ...]}``: 1-minute bars missing from the last-price
        klines (an exchange outage), e.g. ``{"ETHUSDT": [("2025-01-06T10:41", 7)]}``.
    funding_hours
        ``{symbol: [(from, hours), ...]}``: settlement interval from a time on (default
        8 hours throughout).

    Attributes
    ----------
    requests : list of (str, dict)
        Every request received: path and query parameters.

    Examples
    --------
    >>> import httpx
    >>> with FakeBybit(symbols=["BTCUSDT"], days=1) as fake:
    ...     r = httpx.get(f"{fake.url}/v5/market/kline", params={
    ...         "category": "linear", "symbol": "BTCUSDT", "interval": "60", "limit": 2})
    ...     [row[0] for row in r.json()["result"]["list"]]
    ['1736204400000', '1736200800000']
    """

    symbols: Sequence[str] = ("BTCUSDT", "ETHUSDT")
    start: str = "2025-01-06"
    days: int = 2
    seed: int = 7
    outages: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    funding_hours: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self.start_ms = _ms(self.start)
        self.end_ms = self.start_ms + self.days * DAY_MS
        self.minutes: dict[tuple[str, str], np.ndarray] = {}
        rng = np.random.default_rng(self.seed)
        n = self.days * 1440
        for symbol in sorted(self.symbols):
            base = _BASE_PRICE.get(symbol, 100.0)
            closes = base * np.exp(np.cumsum(rng.normal(0.0, 0.0008, n)))
            opens = np.concatenate([[base], closes[:-1]])
            highs = np.maximum(opens, closes) * (1 + rng.uniform(0, 0.0006, n))
            lows = np.minimum(opens, closes) * (1 - rng.uniform(0, 0.0006, n))
            volume = rng.gamma(2.0, 3.0, n)
            times = self.start_ms + np.arange(n, dtype=np.int64) * MINUTE_MS
            ohlc = np.round(np.column_stack([opens, highs, lows, closes]), 2)
            last = np.column_stack(
                [times, ohlc, np.round(volume, 3), np.round(volume * ohlc[:, 3], 4)]
            )
            mark = np.column_stack([times, np.round(ohlc * 1.0001, 2)])
            index = np.column_stack([times, np.round(ohlc * 0.9999, 2)])
            keep = np.ones(n, dtype=bool)
            for at, minutes in self.outages.get(symbol, []):
                first = (_iso_ms(at) - self.start_ms) // MINUTE_MS
                keep[first : first + minutes] = False
            self.minutes[("last", symbol)] = last[keep]
            self.minutes[("mark", symbol)] = mark
            self.minutes[("index", symbol)] = index
        self.funding: dict[str, list[tuple[int, str]]] = {}
        for symbol in sorted(self.symbols):
            changes = sorted((_iso_ms(t), h) for t, h in self.funding_hours.get(symbol, []))
            rows, ts, k = [], self.start_ms, 0
            while ts < self.end_ms:
                rate = 0.0001 + 0.00005 * math.sin(k + len(symbol))
                rows.append((ts, f"{rate:.8f}"))
                hours = 8
                for since, h in changes:
                    if ts >= since:
                        hours = h
                ts += hours * 3_600_000
                k += 1
            self.funding[symbol] = rows
        self.instruments = _instrument_records(self.symbols, self.start_ms)

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler(self)

    # -- faults ---------------------------------------------------------------------------
    def inject(self, kind: str, *, path: str = "/v5/", times: int = 1, wait: float = 0.2) -> None:
        """Answer the next ``times`` requests whose path starts with ``path`` with a fault.

        ``kind`` is one of :data:`FAULTS`; ``wait`` is the seconds until the rate-limit
        window resets (``rate_limit``: a 10006 refusal; ``limit_used``: a good answer whose
        ``X-Bapi-Limit-Status`` is 0) or the delay of a ``slow`` answer.
        """
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {FAULTS}")
        with self._lock:
            self._faults.append(_Fault(kind=kind, path=path, times=times, wait=wait))

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path) and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def count(self, path: str = "/v5/") -> int:
        """Requests received whose path starts with ``path``."""
        return sum(1 for p, _ in self.requests if p.startswith(path))

    # -- data as Bybit serves it ------------------------------------------------------------
    def klines(self, variant: str, symbol: str, interval: str) -> list[list[str]]:
        """Every bar the server holds, oldest first, as Bybit's string arrays."""
        rows = self.minutes[(variant, symbol)]
        width = rows.shape[1]
        step = _INTERVAL_MS[interval]
        if step == 1:
            bars = rows
        else:
            groups: dict[int, list[np.ndarray]] = {}
            for row in rows:
                groups.setdefault(int(row[0]) // (step * MINUTE_MS), []).append(row)
            out = []
            for key in sorted(groups):
                g = np.array(groups[key])
                bar = [key * step * MINUTE_MS, g[0, 1], g[:, 2].max(), g[:, 3].min(), g[-1, 4]]
                if width == 7:
                    bar += [g[:, 5].sum(), g[:, 6].sum()]
                out.append(bar)
            bars = np.array(out)
        return [[str(int(r[0])), *(_num(x) for x in r[1:])] for r in bars]


def _num(x: float) -> str:
    return f"{x:.8f}".rstrip("0").rstrip(".")


def _iso_ms(text: str) -> int:
    t = dt.datetime.fromisoformat(text)
    t = t if t.tzinfo else t.replace(tzinfo=dt.UTC)
    return int(t.timestamp() * 1000)


def _envelope(result: Any, code: int = 0, message: str = "OK") -> dict[str, Any]:
    return {"retCode": code, "retMsg": message, "result": result, "retExtInfo": {},
            "time": int(time.time() * 1000)}  # fmt: skip


def _newest_first(rows: Iterable[tuple[int, Any]], a: int | None, b: int | None) -> list[Any]:
    chosen = [(ts, r) for ts, r in rows if (a is None or ts >= a) and (b is None or ts <= b)]
    return [r for _, r in sorted(chosen, key=lambda x: x[0], reverse=True)]


def _answer(fake: FakeBybit, path: str, q: dict[str, str]) -> dict[str, Any]:
    def integer(name: str, default: int | None = None) -> int | None:
        return int(q[name]) if q.get(name) else default

    def bad(message: str) -> dict[str, Any]:
        return _envelope({}, 10001, message)

    category = q.get("category")
    symbol = q.get("symbol")
    if path in ("/v5/market/kline", "/v5/market/mark-price-kline", "/v5/market/index-price-kline"):
        variant = {"kline": "last", "mark-price-kline": "mark", "index-price-kline": "index"}[
            path.rsplit("/", 1)[1]
        ]
        if category not in ("linear", "inverse", "spot") or q.get("interval") not in _INTERVAL_MS:
            return bad("params error: category or interval")
        if (variant, symbol) not in fake.minutes:
            return bad("params error: Symbol Is Invalid")
        limit = integer("limit", 200) or 200
        if not 1 <= limit <= 1000:
            return bad("params error: limit")
        bars = fake.klines(variant, str(symbol), q["interval"])
        rows = _newest_first(((int(b[0]), b) for b in bars), integer("start"), integer("end"))
        return _envelope({"symbol": symbol, "category": category, "list": rows[:limit]})
    if path == "/v5/market/funding/history":
        if symbol not in fake.funding:
            return bad("params error: Symbol Is Invalid")
        if q.get("startTime") and not q.get("endTime"):
            return bad("params error: startTime without endTime")
        limit = integer("limit", 200) or 200
        if not 1 <= limit <= 200:
            return bad("params error: limit")
        items = (
            (ts, {"symbol": symbol, "fundingRate": rate, "fundingRateTimestamp": str(ts)})
            for ts, rate in fake.funding[str(symbol)]
        )
        rows = _newest_first(items, integer("startTime"), integer("endTime"))
        return _envelope({"category": category, "list": rows[:limit]})
    if path == "/v5/market/open-interest":
        interval = q.get("intervalTime", "")
        if interval not in _OI_MS or symbol not in fake.funding:
            return bad("params error: intervalTime or symbol")
        limit = integer("limit", 50) or 50
        if not 1 <= limit <= 200:
            return bad("params error: limit")
        step = _OI_MS[interval] * MINUTE_MS
        series = _open_interest_series(str(symbol), fake.start_ms, fake.days)
        items = (
            (ts, {"openInterest": f"{v:.8f}", "timestamp": str(ts)})
            for ts, v in series
            if ts % step == 0
        )
        rows = _newest_first(items, integer("startTime"), integer("endTime"))
        offset = integer("cursor", 0) or 0
        page = rows[offset : offset + limit]
        cursor = str(offset + limit) if offset + limit < len(rows) else ""
        return _envelope(
            {"symbol": symbol, "category": category, "list": page, "nextPageCursor": cursor}
        )
    if path == "/v5/market/instruments-info":
        if category not in fake.instruments:
            return bad("params error: category")
        status = q.get("status") or "Trading"
        rows = [r for r in fake.instruments[str(category)] if r["status"] == status]
        if symbol:
            rows = [r for r in rows if r["symbol"] == symbol]
        if category == "spot":
            return _envelope({"category": category, "list": rows})
        limit = integer("limit", 500) or 500
        offset = integer("cursor", 0) or 0
        page = rows[offset : offset + limit]
        cursor = str(offset + limit) if offset + limit < len(rows) else ""
        return _envelope({"category": category, "list": page, "nextPageCursor": cursor})
    raise LookupError(path)


def _reshaped(body: dict[str, Any]) -> dict[str, Any]:
    """The same answer in another layout: one field fewer in every row."""
    result = body.get("result")
    if isinstance(result, dict) and isinstance(result.get("list"), list):
        changed: list[Any] = []
        for row in result["list"]:
            if isinstance(row, list):
                changed.append(row[:-1])
            elif isinstance(row, dict):
                changed.append(dict(list(row.items())[1:]))
        result["list"] = changed
    return body


def _handler(fake: FakeBybit) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "FakeBybit/1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            limit_reset = str(int(time.time() * 1000) + 1000)
            for name, value in {"X-Bapi-Limit": "600", "X-Bapi-Limit-Status": "599",
                                "X-Bapi-Limit-Reset-Timestamp": limit_reset,
                                **(headers or {})}.items():  # fmt: skip
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            with fake._lock:
                fake.requests.append((parts.path, query))
            fault = fake._take_fault(parts.path)
            kind = fault.kind if fault else ""
            if kind == "reset":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if kind == "slow":
                time.sleep(fault.wait if fault else 0)
            if kind == "http_500":
                self._send(502, b"<html>502 Bad Gateway</html>")
                return
            if kind == "ban":
                self._send(403, b"access too frequent")
                return
            if kind == "rate_limit":
                reset = str(int((time.time() + (fault.wait if fault else 0)) * 1000))
                body = json.dumps(_envelope({}, 10006, "Too many visits!")).encode()
                self._send(200, body, {"X-Bapi-Limit-Status": "0",
                                       "X-Bapi-Limit-Reset-Timestamp": reset})  # fmt: skip
                return
            try:
                answer = _answer(fake, parts.path, query)
            except LookupError:
                self._send(404, b'{"retCode":404,"retMsg":"Not Found"}')
                return
            if kind == "shape":
                answer = _reshaped(answer)
            body = json.dumps(answer).encode()
            if kind == "limit_used":  # a good answer that used the window's last request
                reset = str(int((time.time() + (fault.wait if fault else 0)) * 1000))
                headers = {"X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": reset}
                self._send(200, body, headers)
                return
            if kind == "truncated":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._send(200, body)

    return Handler
