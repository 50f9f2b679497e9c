"""A fake of Bybit's public dump hosts on the loopback: folder listings, trade and book dumps.

:class:`FakeBybitDumps` serves, from seeded synthetic data it holds (so a test can compare
what a download stored with what the server had):

* nginx-style HTML folder indexes (``/trading/<SYMBOL>/``, ``/spot/<SYMBOL>/``,
  ``/orderbook/<category>/<SYMBOL>/``) with a few names that are not dumps of the symbol;
* derivatives trade dumps ``/trading/<SYMBOL>/<SYMBOL><YYYY-MM-DD>.csv.gz`` (epoch seconds
  with a fraction; a trailing ``RPI`` column from ``rpi_from`` on) and spot dumps
  ``/spot/<SYMBOL>/<SYMBOL>_<YYYY-MM-DD>.csv.gz`` (``id,timestamp,price,volume,side``,
  milliseconds, lowercase side, ``rpi`` from ``rpi_from`` on);
* order-book dumps ``/orderbook/<category>/<SYMBOL>/<date>_<SYMBOL>_ob<depth>.data.zip``:
  JSON lines of a snapshot, deltas (size changes, deletes with size 0, new levels), a
  restart snapshot with ``u = 1`` and one sequence gap per day.

Faults on demand (:meth:`FakeBybitDumps.inject`): ``http_500``, ``truncated`` (the full
``Content-Length`` announced, half the body sent), ``corrupt_gzip`` (bytes flipped inside
the compressed stream), ``layout`` (a trade dump with a renamed column) and ``hang_half``
(half the body, then the connection held open until :meth:`FakeBybitDumps.stop`; the
:attr:`FakeBybitDumps.half_served` event is set once the half is out), for kill tests.
Point ``OMNI_BYBIT_PUBLIC_URL`` and ``OMNI_BYBIT_ORDERBOOK_URL`` at :attr:`url`.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import socket
import threading
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import polars as pl

from omni_research.testing._loopback import LoopbackServer

__all__ = [
    "DUMP_FAULTS",
    "FakeBybitDumps",
    "book_dump_zip",
    "make_book_messages",
    "make_trades",
    "trade_dump",
]

DAY_MS = 86_400_000
DUMP_FAULTS = ("http_500", "truncated", "corrupt_gzip", "layout", "hang_half")
"""Faults :meth:`FakeBybitDumps.inject` can answer with."""
_BASE = {"BTCUSDT": 95_000.0, "ETHUSDT": 3_400.0}
_ZIP_TIME = (2025, 1, 1, 0, 0, 0)
DERIVATIVES_COLUMNS = (
    "timestamp", "symbol", "side", "size", "price", "tickDirection", "trdMatchID",
    "grossValue", "homeNotional", "foreignNotional",
)  # fmt: skip


def _day(value: str | dt.date) -> dt.date:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _day_ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)


def _rng(seed: int, *parts: object) -> np.random.Generator:
    return np.random.default_rng([seed, *(sum(map(ord, str(p))) for p in parts)])


# --------------------------------------------------------------------------- trades


def make_trades(
    symbol: str, day: str | dt.date, /, *, category: str = "linear", n: int = 500, seed: int = 7
) -> tuple[pl.DataFrame, dict[str, list[str]]]:
    """Synthetic trades of one UTC day: (the ``trades`` kind's rows, the dump's text columns).

    Derivatives stamps are epoch seconds with 4 decimals, spot stamps epoch milliseconds;
    the kind's rows hold exactly the instants the text says.
    """
    d = _day(day)
    rng = _rng(seed, symbol, d, category)
    base = _BASE.get(symbol, 100.0)
    prices = np.round(base * np.exp(np.cumsum(rng.normal(0, 2e-4, n))), 1)
    sizes = np.round(rng.gamma(1.5, 0.2, n), 3) + 0.001
    buy = rng.random(n) < 0.5
    if category == "spot":
        ms = np.sort(rng.integers(0, DAY_MS, n)) + _day_ms(d)
        us = ms * 1000
        stamps = [str(int(x)) for x in ms]
        ids = [str(2_290_000_000_000_000 + 1000 * int(_day_ms(d) // DAY_MS) + k) for k in range(n)]
    else:
        units = np.sort(rng.integers(0, 864_000_000, n))  # 100 µs steps in the day
        seconds = _day_ms(d) // 1000 + units // 10_000
        us = seconds * 1_000_000 + (units % 10_000) * 100
        stamps = [f"{int(s)}.{int(f):04d}" for s, f in zip(seconds, units % 10_000, strict=True)]
        ids = [str(uuid.UUID(bytes=rng.bytes(16))) for _ in range(n)]
    price_text = [f"{p:.1f}" for p in prices]
    size_text = [f"{s:.3f}" for s in sizes]
    side = ["Buy" if b else "Sell" for b in buy]
    frame = pl.DataFrame(
        {
            "timestamp": pl.Series(us, dtype=pl.Int64),
            "symbol": [symbol] * n,
            "trade_id": ids,
            "side": [s.lower() for s in side],
            "price": [float(p) for p in price_text],
            "size": [float(s) for s in size_text],
        }
    ).with_columns(pl.from_epoch("timestamp", time_unit="us").dt.replace_time_zone("UTC"))
    text = {
        "timestamp": stamps, "price": price_text, "size": size_text, "side": side, "id": ids,
        "rpi": [str(int(x)) for x in rng.random(n) < 0.1],
    }  # fmt: skip
    return frame, text


def trade_dump(
    symbol: str,
    text: dict[str, list[str]],
    /,
    *,
    category: str = "linear",
    rpi: bool = False,
    layout_changed: bool = False,
) -> bytes:
    """The gzip CSV of a trade dump in Bybit's layout (``mtime=0``: same bytes every time)."""
    n = len(text["timestamp"])
    if category == "spot":
        header = ["id", "timestamp", "price", "volume", "side"] + (["rpi"] if rpi else [])
        rows = [
            [text["id"][k], text["timestamp"][k], text["price"][k], text["size"][k],
             text["side"][k].lower()] + ([text["rpi"][k]] if rpi else [])
            for k in range(n)
        ]  # fmt: skip
    else:
        header = list(DERIVATIVES_COLUMNS) + (["RPI"] if rpi else [])
        rows = []
        for k in range(n):
            price, size = float(text["price"][k]), float(text["size"][k])
            rows.append(
                [text["timestamp"][k], symbol, text["side"][k], text["size"][k],
                 text["price"][k], "ZeroPlusTick", text["id"][k], f"{price * size * 1e8:.0f}",
                 text["size"][k], f"{price * size:.8f}"] + ([text["rpi"][k]] if rpi else [])
            )  # fmt: skip
    if layout_changed:
        header = [("execPrice" if h in ("price",) else h) for h in header]
    body = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
    return gzip.compress(body.encode(), compresslevel=6, mtime=0)


# --------------------------------------------------------------------------- order books


def make_book_messages(
    symbol: str,
    day: str | dt.date,
    /,
    *,
    messages: int = 3000,
    depth: int = 500,
    span_ms: int = 3_600_000,
    seed: int = 7,
    gap: bool = True,
    restart: bool = True,
    tick: float = 0.1,
) -> list[dict[str, Any]]:
    """A day's order-book stream in the dump's message shape.

    A snapshot of ``depth`` levels a side, then deltas over ``span_ms`` from the day's
    start that change sizes, delete levels (size ``"0"``, sometimes of a level the book
    does not have), and add levels; a restart snapshot with ``u = 1`` two thirds in, and
    (``gap``) one delta whose ``u`` skips one update, a third in. Bids stay below the
    mid tick and asks at or above it, so the book never crosses.
    """
    d = _day(day)
    rng = _rng(seed, symbol, d, "book")
    start = _day_ms(d)
    stamps = np.sort(rng.integers(start, start + span_ms, messages))
    stamps[0] = start + int(rng.integers(0, 500))
    stamps.sort()
    mid = round(_BASE.get(symbol, 100.0) / tick)
    topic = f"orderbook.{depth}.{symbol}"

    def px(t: int) -> str:
        return f"{t * tick:.1f}"

    def fresh() -> tuple[dict[int, str], dict[int, str]]:
        bids = {mid - 1 - k: f"{rng.uniform(0.001, 5):.3f}" for k in range(depth)}
        asks = {mid + k: f"{rng.uniform(0.001, 5):.3f}" for k in range(depth)}
        return bids, asks

    def snapshot(
        ts: int, u: int, seq: int, bids: dict[int, str], asks: dict[int, str]
    ) -> dict[str, Any]:
        return {"topic": topic, "type": "snapshot", "ts": ts, "cts": ts - 3, "data": {
            "s": symbol, "b": [[px(t), bids[t]] for t in sorted(bids, reverse=True)],
            "a": [[px(t), asks[t]] for t in sorted(asks)], "u": u, "seq": seq}}  # fmt: skip

    bids, asks = fresh()
    out = [snapshot(int(stamps[0]), 8_000_000, 1, bids, asks)]
    u, seq = 8_000_000, 1
    gap_at = messages // 3 if gap else -1
    restart_at = 2 * messages // 3 if restart else -1
    for i in range(1, messages):
        ts = int(stamps[i])
        seq += int(rng.integers(1, 4))
        if i == restart_at:
            bids, asks = fresh()
            u = 1
            out.append(snapshot(ts, u, seq, bids, asks))
            continue
        u += 2 if i == gap_at else 1
        changes: dict[str, list[list[str]]] = {"b": [], "a": []}
        for _ in range(int(rng.integers(1, 7))):
            side = "b" if rng.random() < 0.5 else "a"
            book = bids if side == "b" else asks
            r = rng.random()
            if r < 0.5 and book:
                t = int(rng.choice(list(book)[:40]))
                book[t] = f"{rng.uniform(0.001, 5):.3f}"
            elif r < 0.65 and book:
                t = int(rng.choice(list(book)[:40]))
                del book[t]
                book_t = "0"
                changes[side].append([px(t), book_t])
                continue
            elif r < 0.7:
                t = mid - 1 - depth - 50 if side == "b" else mid + depth + 50  # not in the book
                changes[side].append([px(t), "0"])
                continue
            else:
                offset = int(rng.integers(0, depth + 20))
                t = mid - 1 - offset if side == "b" else mid + offset
                book[t] = f"{rng.uniform(0.001, 5):.3f}"
            changes[side].append([px(t), book[t]])
        # a price appears at most once per side and message, as in Bybit's deltas
        for side in ("b", "a"):
            last: dict[str, list[str]] = {}
            for level in changes[side]:
                last[level[0]] = level
            changes[side] = list(last.values())
        out.append({"topic": topic, "type": "delta", "ts": ts, "cts": ts - 3, "data": {
            "s": symbol, "b": changes["b"], "a": changes["a"], "u": u, "seq": seq}})  # fmt: skip
    return out


def book_dump_zip(messages: Sequence[dict[str, Any]], name: str, /) -> bytes:
    """The zip of a dump: one member ``name`` of JSON lines (fixed time stamps in the zip)."""
    text = "".join(json.dumps(m, separators=(",", ":")) + "\n" for m in messages)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, text)
    return buffer.getvalue()


# --------------------------------------------------------------------------- the server


@dataclass
class _Fault:
    kind: str
    path: str
    times: int


@dataclass
class FakeBybitDumps(LoopbackServer):
    """Bybit's public dump hosts on ``127.0.0.1`` (see the module docstring).

    Parameters
    ----------
    symbols
        Symbols with derivatives (``linear``) and spot trade dumps and order-book dumps.
    start, days
        The UTC days held.
    trades_per_day, book_messages
        Sizes of each day's files.
    rpi_from
        The first day whose trade dumps carry the RPI column (None: never).
    book_depth
        Depth of the order-book dumps (``500``, or ``200`` as for some symbols since 2025).
    seed
        Seed of the synthetic data.

    Attributes
    ----------
    trades : dict
        ``(category, symbol, date) -> frame`` of the ``trades`` kind held.
    books : dict
        ``(category, symbol, date) -> list of messages`` held.
    requests : list of str
        Every path requested.
    half_served : threading.Event
        Set once a ``hang_half`` answer has sent half its body.
    """

    symbols: Sequence[str] = ("BTCUSDT",)
    start: str = "2025-01-06"
    days: int = 2
    trades_per_day: int = 400
    book_messages: int = 1500
    rpi_from: str | None = "2025-01-07"
    book_depth: int = 500
    seed: int = 7
    requests: list[str] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._release = threading.Event()
        self.half_served = threading.Event()
        self.files: dict[str, bytes] = {}
        self.trades: dict[tuple[str, str, dt.date], pl.DataFrame] = {}
        self.books: dict[tuple[str, str, dt.date], list[dict[str, Any]]] = {}
        self._text: dict[str, tuple[str, dict[str, list[str]], str, bool]] = {}
        first = _day(self.start)
        rpi_from = _day(self.rpi_from) if self.rpi_from else None
        for symbol in self.symbols:
            for k in range(self.days):
                day = first + dt.timedelta(days=k)
                rpi = rpi_from is not None and day >= rpi_from
                for category in ("linear", "spot"):
                    frame, text = make_trades(symbol, day, category=category,
                                              n=self.trades_per_day, seed=self.seed)  # fmt: skip
                    self.trades[(category, symbol, day)] = frame
                    path = self.trade_path(category, symbol, day)
                    self.files[path] = trade_dump(symbol, text, category=category, rpi=rpi)
                    self._text[path] = (symbol, text, category, rpi)
                messages = make_book_messages(symbol, day, messages=self.book_messages,
                                              depth=self.book_depth, seed=self.seed)  # fmt: skip
                self.books[("linear", symbol, day)] = messages
                path = self.book_path("linear", symbol, day)
                self.files[path] = book_dump_zip(messages, path.rsplit("/", 1)[1][: -len(".zip")])

    # -- names ----------------------------------------------------------------------------
    @staticmethod
    def trade_path(category: str, symbol: str, day: dt.date) -> str:
        """Where a trade dump lives on the public host."""
        if category == "spot":
            return f"/spot/{symbol}/{symbol}_{day}.csv.gz"
        return f"/trading/{symbol}/{symbol}{day}.csv.gz"

    def book_path(self, category: str, symbol: str, day: dt.date) -> str:
        """Where an order-book dump lives on the order-book host."""
        return f"/orderbook/{category}/{symbol}/{day}_{symbol}_ob{self.book_depth}.data.zip"

    def listing(self, folder: str) -> str | None:
        """The HTML index of ``folder`` (None when nothing lives there)."""
        names = sorted(p[len(folder) :] for p in self.files if p.startswith(folder))
        names = [n for n in names if "/" not in n]
        if not names:
            subfolders = sorted({p[len(folder) :].split("/", 1)[0] + "/" for p in self.files
                                 if p.startswith(folder)})  # fmt: skip
            if not subfolders:
                return None
            names = subfolders
        else:
            # names that are not dumps of the symbol: must be ignored by a download
            names += ["README.txt", f"{names[0]}.md5", "archive/"]
        rows = ['<a href="../">../</a>']
        for name in names:
            size = len(self.files.get(folder + name, b""))
            rows.append(f'<a href="{name}">{name}</a>{" " * 8}01-Jan-2025 00:00{size:>20}')
        return (
            f"<html>\r\n<head><title>Index of {folder}</title></head>\r\n<body>\r\n"
            f"<h1>Index of {folder}</h1><hr><pre>"
            + "\r\n".join(rows)
            + "\r\n</pre><hr></body>\r\n</html>\r\n"
        )

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler(self)

    def stop(self) -> None:
        """Release held answers, stop serving and close the socket."""
        self._release.set()
        super().stop()

    # -- faults and counts --------------------------------------------------------------
    def inject(self, kind: str, *, path: str = "/", times: int = 1) -> None:
        """Answer the next ``times`` requests whose path starts with ``path`` with a fault."""
        if kind not in DUMP_FAULTS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {DUMP_FAULTS}")
        with self._lock:
            self._faults.append(_Fault(kind=kind, path=path, times=times))

    def _take_fault(self, path: str) -> str:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path) and fault.times > 0:
                    fault.times -= 1
                    return fault.kind
        return ""

    def count(self, prefix: str = "/", *, files_only: bool = False) -> int:
        """Requests received whose path starts with ``prefix`` (``files_only``: no listings)."""
        with self._lock:
            return sum(
                1 for p in self.requests
                if p.startswith(prefix) and not (files_only and p.endswith("/"))
            )  # fmt: skip

    def _answer(self, path: str, kind: str) -> tuple[int, bytes, str]:
        if path.endswith("/"):
            page = self.listing(path)
            if page is None:
                return 404, b"<html>404 Not Found</html>", "text/html"
            return 200, page.encode(), "text/html"
        body = self.files.get(path)
        if body is None:
            return 404, b"<html>404 Not Found</html>", "text/html"
        if kind == "corrupt_gzip":
            damaged = bytearray(body)
            for k in range(len(damaged) // 2, min(len(damaged) - 8, len(damaged) // 2 + 16)):
                damaged[k] ^= 0x5A
            body = bytes(damaged)
        if kind == "layout" and path in self._text:
            symbol, text, category, rpi = self._text[path]
            body = trade_dump(symbol, text, category=category, rpi=rpi, layout_changed=True)
        return 200, body, "application/octet-stream"


def _handler(fake: FakeBybitDumps) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "nginx"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            with fake._lock:
                fake.requests.append(path)
            kind = fake._take_fault(path)
            if kind == "http_500":
                self._send(503, b"<html>503 Service Temporarily Unavailable</html>", "text/html")
                return
            status, body, ctype = fake._answer(path, kind)
            if kind in ("truncated", "hang_half") and status == 200:
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    if kind == "hang_half":
                        fake.half_served.set()
                        fake._release.wait(60)
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            self._send(status, body, ctype)

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass

    return Handler
