"""Fake CoinGecko, NewsAPI and X APIs on the loopback, answering in the documented shapes.

* :class:`FakeCoinGecko`: ``/coins/markets`` (paged by ``per_page``/``page``) and
  ``/coins/{id}/market_chart/range`` (``{prices, market_caps, total_volumes}`` as
  ``[[ms, value], ...]``, hourly points a few seconds after the hour, as CoinGecko's are);
  the key is checked in the ``x-cg-demo-api-key`` header.
* :class:`FakeNewsAPI`: ``/v2/everything`` (``{status, totalResults, articles}``, newest
  first, ``pageSize`` up to 100, ``page`` from 1); the key is checked in ``X-Api-Key``;
  errors as ``{status: "error", code, message}``.
* :class:`FakeX`: ``/2/tweets/search/recent`` (``{data, meta}`` newest first,
  ``max_results`` 10 to 100, ``meta.next_token`` passed back as ``pagination_token``, only
  the last 7 days); the bearer token is checked in ``Authorization``.

Each serves seeded synthetic data it holds (so a test compares what a download stored with
what the server had), records every request (:attr:`requests`) and injects faults on
demand (:meth:`inject`): HTTP 5xx, truncated bodies, connection resets, slow answers, rate
limits (HTTP 429 in the provider's own form) and a changed response layout. Each runs the
standard library's ``http.server`` in a thread on ``127.0.0.1`` and a free port; use it as
a context manager (or :meth:`start_server`/:meth:`stop`).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from omni_research.testing._loopback import LoopbackServer

__all__ = ["FAULTS", "FakeCoinGecko", "FakeNewsAPI", "FakeX"]

FAULTS = ("http_500", "truncated", "reset", "slow", "rate_limit", "exhausted", "shape")
"""Faults :meth:`_FakeServer.inject` can answer with (``exhausted``: NewsAPI's daily quota)."""

HOUR_MS = 3_600_000
DAY_MS = 86_400_000


def _day_ms(day: str | dt.date) -> int:
    d = dt.date.fromisoformat(day) if isinstance(day, str) else day
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp() * 1000)


def _iso(ms: int, *, millis: bool = False) -> str:
    t = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{ms % 1000:03d}Z" if millis else "Z")


def _parse_iso(text: str) -> int:
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    t = t if t.tzinfo else t.replace(tzinfo=dt.UTC)
    return int(t.timestamp() * 1000)


@dataclass
class _Fault:
    kind: str
    path: str
    times: int
    wait: float = 0.0
    after: int = 0


@dataclass
class _Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class _FakeServer(LoopbackServer):
    """The loopback server, the request log and the fault queue shared by the fakes."""

    name = "Fake"

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler(self)

    # -- faults ---------------------------------------------------------------------------
    def inject(
        self, kind: str, *, path: str = "/", times: int = 1, wait: float = 0.2, after: int = 0
    ) -> None:
        """Answer ``times`` requests whose path starts with ``path`` with a fault, once
        ``after`` such requests have been answered normally.

        ``kind`` is one of :data:`FAULTS`; ``wait`` is the seconds a ``rate_limit`` asks to
        wait (``Retry-After`` or the reset header) or the delay of a ``slow`` answer.
        """
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {FAULTS}")
        with self._lock:
            self._faults.append(_Fault(kind=kind, path=path, times=times, wait=wait, after=after))

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path) and fault.times > 0:
                    if fault.after > 0:
                        fault.after -= 1
                        return None
                    fault.times -= 1
                    return fault
        return None

    def count(self, path: str = "/") -> int:
        """Requests received whose path starts with ``path``."""
        return sum(1 for p, _, _ in self.requests if p.startswith(path))

    # -- provider specifics ---------------------------------------------------------------
    def answer(self, path: str, query: dict[str, str], headers: dict[str, str]) -> _Answer:
        raise NotImplementedError

    def rate_limited(self, wait: float) -> _Answer:
        return _Answer(429, {"error": "Too Many Requests"}, {"Retry-After": f"{wait:g}"})

    def exhausted(self) -> _Answer:
        return self.rate_limited(0.0)

    def reshaped(self, body: Any) -> Any:
        return body


def _handler(fake: _FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = fake.name

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _send(self, answer: _Answer, *, cut: bool = False) -> None:
            body = (
                answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
            )
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if cut:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            headers = {k.lower(): v for k, v in self.headers.items()}
            path = unquote(parts.path)
            with fake._lock:
                fake.requests.append((path, query, headers))
            fault = fake._take_fault(path)
            kind = fault.kind if fault else ""
            if kind == "reset":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if kind == "slow":
                time.sleep(fault.wait if fault else 0)
            if kind == "http_500":
                self._send(_Answer(503, b"<html>503 Service Temporarily Unavailable</html>"))
                return
            if kind == "rate_limit":
                self._send(fake.rate_limited(fault.wait if fault else 0.0))
                return
            if kind == "exhausted":
                self._send(fake.exhausted())
                return
            answer = fake.answer(path, query, headers)
            if kind == "shape" and answer.status == 200:
                answer.body = fake.reshaped(answer.body)
            self._send(answer, cut=kind == "truncated")

    return Handler


# --------------------------------------------------------------------------- CoinGecko

_COINS = {
    "bitcoin": ("btc", "Bitcoin", 95_000.0, 19_800_000.0),
    "ethereum": ("eth", "Ethereum", 3_400.0, 120_400_000.0),
    "solana": ("sol", "Solana", 190.0, 480_000_000.0),
    "dogecoin": ("doge", "Dogecoin", 0.35, 147_000_000_000.0),
}


class FakeCoinGecko(_FakeServer):
    """A fake CoinGecko API v3 (see the module docstring).

    Parameters
    ----------
    coins
        Coin ids it knows (``bitcoin``, ``ethereum``, ``solana``, ``dogecoin``).
    start, days
        The UTC days it holds hourly history for.
    key
        The demo key it expects in ``x-cg-demo-api-key`` (None: no key needed).
    missing
        ``{coin: [hour_ms, ...]}``: hourly points left out of the history (a gap).

    Examples
    --------
    >>> import httpx
    >>> with FakeCoinGecko(coins=["bitcoin"], days=1) as fake:
    ...     r = httpx.get(f"{fake.url}/coins/bitcoin/market_chart/range",
    ...                   params={"vs_currency": "usd", "from": 1736121600, "to": 1736128800})
    ...     [len(r.json()[k]) for k in ("prices", "market_caps", "total_volumes")]
    [2, 2, 2]
    """

    name = "FakeCoinGecko/1"

    def __init__(
        self,
        *,
        coins: Sequence[str] = ("bitcoin", "ethereum", "solana"),
        start: str = "2025-01-06",
        days: int = 3,
        key: str | None = None,
        missing: dict[str, list[int]] | None = None,
    ) -> None:
        super().__init__()
        unknown = [c for c in coins if c not in _COINS]
        if unknown:
            raise ValueError(f"unknown coins {unknown}; expected some of {list(_COINS)}")
        self.coins = list(coins)
        self.start_ms = _day_ms(start)
        self.days = days
        self.key = key
        self.now_ms = self.start_ms + days * DAY_MS + 42_123  # its clock: after its history
        self.history: dict[str, list[tuple[int, float, float, float]]] = {}
        for n, coin in enumerate(self.coins):
            _, _, base, supply = _COINS[coin]
            skip = set((missing or {}).get(coin, []))
            rows = []
            for h in range(days * 24):
                hour = self.start_ms + h * HOUR_MS
                if hour in skip:
                    continue
                ts = hour + 1_000 * (7 + (h * 13 + n) % 50)  # CoinGecko's points lag the hour
                price = round(base * (1 + 0.02 * math.sin((h + 5 * n) / 9.0)), 8)
                volume = round(base * supply * 0.03 * (1.2 + math.cos(h / 5.0)), 2)
                rows.append((ts, price, round(price * supply, 2), volume))
            self.history[coin] = rows

    def markets(self) -> list[dict[str, Any]]:
        """The ``/coins/markets`` rows it serves (latest values, as of :attr:`now_ms`)."""
        out: list[dict[str, Any]] = []
        for coin in self.coins:
            _, price, cap, volume = self.history[coin][-1]
            symbol, name, _, supply = _COINS[coin]
            out.append(
                {
                    "id": coin,
                    "symbol": symbol,
                    "name": name,
                    "image": f"https://coin-images.coingecko.com/coins/images/1/large/{coin}.png",
                    "current_price": price,
                    "market_cap": cap,
                    "market_cap_rank": 0,
                    "fully_diluted_valuation": cap,
                    "total_volume": volume,
                    "high_24h": price * 1.01,
                    "low_24h": price * 0.99,
                    "price_change_24h": 0.0,
                    "price_change_percentage_24h": 0.0,
                    "market_cap_change_24h": 0.0,
                    "market_cap_change_percentage_24h": 0.0,
                    "circulating_supply": supply,
                    "total_supply": supply,
                    "max_supply": None,
                    "ath": price * 1.3,
                    "ath_change_percentage": -23.0,
                    "ath_date": "2024-12-17T15:02:41.429Z",
                    "atl": price / 100,
                    "atl_change_percentage": 9900.0,
                    "atl_date": "2015-10-20T00:00:00.000Z",
                    "roi": None,
                    "last_updated": _iso(self.now_ms, millis=True),
                }
            )
        out.sort(key=lambda r: -float(r["market_cap"]))
        for rank, row in enumerate(out, start=1):
            row["market_cap_rank"] = rank
        return out

    def rate_limited(self, wait: float) -> _Answer:
        body = {
            "status": {
                "error_code": 429,
                "error_message": "You've exceeded the Rate Limit. "
                "Please visit https://www.coingecko.com/en/api/pricing to subscribe "
                "to our API plans for higher rate limits.",
            }
        }
        return _Answer(429, body, {"Retry-After": f"{wait:g}"})

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str]) -> _Answer:
        if self.key is not None and headers.get("x-cg-demo-api-key") != self.key:
            return _Answer(
                401,
                {"status": {"error_code": 10002, "error_message": "API Key Missing"}},
            )
        if query.get("vs_currency") != "usd":
            return _Answer(400, {"error": "invalid vs_currency"})
        if path == "/coins/markets":
            per_page = int(query.get("per_page", "100"))
            page = int(query.get("page", "1"))
            if not 1 <= per_page <= 250 or page < 1:
                return _Answer(400, {"error": "invalid per_page or page"})
            rows = self.markets()
            if query.get("ids"):
                wanted = set(query["ids"].split(","))
                rows = [r for r in rows if r["id"] in wanted]
            return _Answer(200, rows[(page - 1) * per_page : page * per_page])
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[0] == "coins" and parts[2:] == ["market_chart", "range"]:
            coin = parts[1]
            if coin not in self.history:
                return _Answer(404, {"error": "coin not found"})
            try:
                lo, hi = int(query["from"]) * 1000, int(query["to"]) * 1000
            except (KeyError, ValueError):
                return _Answer(400, {"error": "from and to are required UNIX timestamps"})
            points = [r for r in self.history[coin] if lo <= r[0] <= hi]
            return _Answer(
                200,
                {
                    "prices": [[t, p] for t, p, _, _ in points],
                    "market_caps": [[t, c] for t, _, c, _ in points],
                    "total_volumes": [[t, v] for t, _, _, v in points],
                },
            )
        return _Answer(404, {"error": "Not Found"})

    def reshaped(self, body: Any) -> Any:
        if isinstance(body, dict):  # market_chart: the volumes renamed
            return {
                "prices": body.get("prices"),
                "market_caps": body.get("market_caps"),
                "volumes": body.get("total_volumes"),
            }
        if isinstance(body, list):  # markets: price under another name
            return [
                {("price" if k == "current_price" else k): v for k, v in r.items()} for r in body
            ]
        return body


# --------------------------------------------------------------------------- NewsAPI

_HEADLINES = (
    "{coin} rallies as traders pile into spot ETFs",
    "{coin} slides after a wave of liquidations",
    "Analysts split on where {coin} heads next",
    "Regulators weigh new rules that could hit {coin}",
    "{coin} network upgrade lands without a hitch",
)
_OUTLETS = (
    ("coindesk", "CoinDesk"),
    (None, "The Block"),
    ("reuters", "Reuters"),
    (None, "Decrypt"),
)


class FakeNewsAPI(_FakeServer):
    """A fake NewsAPI ``/v2/everything`` (see the module docstring).

    Parameters
    ----------
    start, days
        The UTC days it holds articles for.
    per_day
        Articles per day (spread evenly).
    key
        The key it expects in ``X-Api-Key``.
    max_results
        Results a key may page through per query (NewsAPI's developer plan: 100), or None.
    """

    name = "FakeNewsAPI/1"

    def __init__(
        self,
        *,
        start: str = "2025-01-06",
        days: int = 3,
        per_day: int = 130,
        key: str = "news-key-0000",
        max_results: int | None = None,
    ) -> None:
        super().__init__()
        self.key = key
        self.max_results = max_results
        self.start_ms = _day_ms(start)
        self.articles: list[dict[str, Any]] = []
        coins = ("Bitcoin", "Ethereum", "Solana")
        step = DAY_MS // per_day
        for k in range(days * per_day):
            ts = self.start_ms + k * step + 17_000
            coin = coins[k % 3]
            source_id, source_name = _OUTLETS[k % len(_OUTLETS)]
            self.articles.append(
                {
                    "source": {"id": source_id, "name": source_name},
                    "author": f"Reporter {k % 7}" if k % 5 else None,
                    "title": _HEADLINES[k % len(_HEADLINES)].format(coin=coin) + f" ({k})",
                    "description": f"What moved {coin} today.",
                    "url": f"https://news.example.com/{coin.lower()}/{k:05d}",
                    "urlToImage": None,
                    "publishedAt": _iso(ts),
                    "content": f"{coin} moved today... [+1200 chars]",
                }
            )
        self.articles.sort(key=lambda a: a["publishedAt"], reverse=True)

    def _error(self, status: int, code: str, message: str) -> _Answer:
        return _Answer(status, {"status": "error", "code": code, "message": message})

    def rate_limited(self, wait: float) -> _Answer:
        return self._error(
            429,
            "rateLimited",
            "You have been rate limited. Back off for a while before trying the request again.",
        )

    def exhausted(self) -> _Answer:
        return self._error(
            429,
            "apiKeyExhausted",
            "You have made too many requests recently. Developer "
            "accounts are limited to 100 requests over a 24 hour period (50 requests available "
            "every 12 hours). Please upgrade to a paid plan if you need more requests.",
        )

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str]) -> _Answer:
        if path != "/v2/everything":
            return self._error(404, "routeNotFound", "This route does not exist.")
        if not headers.get("x-api-key"):
            return self._error(
                401,
                "apiKeyMissing",
                "Your API key is missing. Append this to the URL with "
                "the apiKey param, or use the x-api-key HTTP header.",
            )
        if headers["x-api-key"] != self.key:
            return self._error(401, "apiKeyInvalid", "Your API key is invalid or incorrect.")
        if not query.get("q"):
            return self._error(400, "parametersMissing", "Required parameters are missing.")
        size = int(query.get("pageSize", "100"))
        page = int(query.get("page", "1"))
        if not 1 <= size <= 100 or page < 1:
            return self._error(400, "parameterInvalid", "pageSize must be 1 to 100.")
        lo = _parse_iso(query["from"]) if query.get("from") else None
        hi = _parse_iso(query["to"]) if query.get("to") else None
        words = [
            w.lower()
            for w in query["q"].replace("(", " ").replace(")", " ").split()
            if w not in ("OR", "AND", "NOT")
        ]
        rows = [
            a
            for a in self.articles
            if (lo is None or _parse_iso(a["publishedAt"]) >= lo)
            and (hi is None or _parse_iso(a["publishedAt"]) <= hi)
            and any(w in a["title"].lower() for w in words)
        ]
        if self.max_results is not None and (page - 1) * size >= self.max_results:
            return self._error(
                426,
                "maximumResultsReached",
                f"You have requested too many results. "
                f"Developer accounts are limited to a max of {self.max_results} results.",
            )
        chosen = rows[(page - 1) * size : page * size]
        return _Answer(200, {"status": "ok", "totalResults": len(rows), "articles": chosen})

    def reshaped(self, body: Any) -> Any:
        if isinstance(body, dict) and isinstance(body.get("articles"), list):
            body["articles"] = [
                {("published_at" if k == "publishedAt" else k): v for k, v in a.items()}
                for a in body["articles"]
            ]
        return body


# --------------------------------------------------------------------------- X

_POSTS = (
    ("{coin} looks great today, love this breakout!", "en"),
    ("{coin} is crashing, terrible news, I am worried", "en"),
    ("Watching {coin} and waiting", "en"),
    ("{coin} holders are happy, amazing week", "en"),
    ("{coin} sube con fuerza", "es"),
)


class FakeX(_FakeServer):
    """A fake X API v2 recent search (see the module docstring).

    Parameters
    ----------
    now
        The server's clock: it holds posts for the 7 days before it and refuses an earlier
        ``start_time`` (default: the real time when made).
    every
        Minutes between posts.
    token
        The bearer token it expects.
    """

    name = "FakeX/1"

    def __init__(
        self,
        *,
        now: dt.datetime | None = None,
        every: int = 30,
        token: str = "x-bearer-0000",
    ) -> None:
        super().__init__()
        self.token = token
        clock = now or dt.datetime.now(dt.UTC)
        self.now_ms = int(clock.timestamp() * 1000)
        self.window_ms = self.now_ms - 7 * DAY_MS
        self.posts: list[dict[str, Any]] = []
        coins = ("$BTC", "Bitcoin", "$ETH", "Ethereum", "$SOL")
        k, ts = 0, self.window_ms - DAY_MS  # a day older than the window, never served
        while ts < self.now_ms:
            text, lang = _POSTS[k % len(_POSTS)]
            self.posts.append(
                {
                    "id": str(1_870_000_000_000_000_000 + k),
                    "text": text.format(coin=coins[k % len(coins)]),
                    "created_at": _iso(ts, millis=True),
                    "author_id": str(44_196_397 + k % 11),
                    "lang": lang,
                    "public_metrics": {
                        "retweet_count": k % 4,
                        "reply_count": k % 3,
                        "like_count": k % 17,
                        "quote_count": k % 2,
                        "bookmark_count": 0,
                        "impression_count": 100 + k,
                    },
                    "edit_history_tweet_ids": [str(1_870_000_000_000_000_000 + k)],
                }
            )
            k += 1
            ts += every * 60_000
        self.posts.reverse()  # newest first, as X serves them

    def rate_limited(self, wait: float) -> _Answer:
        reset = int(time.time() + wait + 0.999)
        headers = {
            "x-rate-limit-limit": "450",
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(reset),
        }
        body = {
            "title": "Too Many Requests",
            "detail": "Too Many Requests",
            "type": "about:blank",
            "status": 429,
        }
        return _Answer(429, body, headers)

    def _invalid(self, message: str, parameter: str) -> _Answer:
        return _Answer(
            400,
            {
                "errors": [{"parameters": {parameter: [""]}, "message": message}],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.twitter.com/2/problems/invalid-request",
            },
        )

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str]) -> _Answer:
        if path != "/2/tweets/search/recent":
            return _Answer(404, {"title": "Not Found Error", "type": "about:blank"})
        if headers.get("authorization") != f"Bearer {self.token}":
            return _Answer(
                401,
                {
                    "title": "Unauthorized",
                    "type": "about:blank",
                    "status": 401,
                    "detail": "Unauthorized",
                },
            )
        if not query.get("query"):
            return self._invalid("The `query` query parameter can not be empty", "query")
        size = int(query.get("max_results", "10"))
        if not 10 <= size <= 100:
            return self._invalid(
                "The `max_results` query parameter value is not between 10 and 100", "max_results"
            )
        lo = _parse_iso(query["start_time"]) if query.get("start_time") else self.window_ms
        hi = _parse_iso(query["end_time"]) if query.get("end_time") else self.now_ms
        if lo < self.window_ms:
            return self._invalid(
                f"Invalid 'start_time':'{query['start_time']}'. 'start_time' must be on or "
                f"after {_iso(self.window_ms)}",
                "start_time",
            )
        words = [
            w.lower().lstrip("$")
            for w in query["query"].replace("(", " ").replace(")", " ").split()
            if w not in ("OR", "AND") and ":" not in w
        ]
        rows = [
            p
            for p in self.posts
            if lo <= _parse_iso(p["created_at"]) < hi and any(w in p["text"].lower() for w in words)
        ]
        offset = 0
        if query.get("pagination_token"):
            offset = int(base64.urlsafe_b64decode(query["pagination_token"]).decode())
        fields = set(query.get("tweet.fields", "").split(","))
        page = [
            {
                "id": p["id"],
                "text": p["text"],
                "edit_history_tweet_ids": p["edit_history_tweet_ids"],
                **{
                    f: p[f]
                    for f in ("created_at", "author_id", "lang", "public_metrics")
                    if f in fields
                },
            }
            for p in rows[offset : offset + size]
        ]
        if not page:
            return _Answer(200, {"meta": {"result_count": 0}})
        meta: dict[str, Any] = {
            "newest_id": page[0]["id"],
            "oldest_id": page[-1]["id"],
            "result_count": len(page),
        }
        if offset + size < len(rows):
            meta["next_token"] = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
        return _Answer(200, {"data": page, "meta": meta})

    def reshaped(self, body: Any) -> Any:
        if isinstance(body, dict) and isinstance(body.get("data"), list):
            for post in body["data"]:
                post.pop("created_at", None)
        return body
