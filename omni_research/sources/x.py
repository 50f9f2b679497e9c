"""X (Twitter) downloads into a research root: recent-search posts and their sentiment.

What it fetches (X API v2, ``GET /2/tweets/search/recent``, https://docs.x.com): the posts
matching ``query`` from the last 7 days (X's limit for recent search), one UTC day at a
time (``start_time``/``end_time``), ``max_results`` 10 to 100 a page, pages followed by
passing ``meta.next_token`` back as ``pagination_token`` until no token comes, with
``tweet.fields=created_at,author_id,public_metrics,lang``. The answer is ``{data: [{id,
text, created_at, author_id, lang, public_metrics: {retweet_count, reply_count,
like_count, quote_count, ...}, edit_history_tweet_ids}], meta: {result_count, newest_id,
oldest_id, next_token}}`` (``data`` absent when nothing matches).

Kinds written:

* ``posts``: one file per query and UTC day, ``historical/posts/date=<day>/q-<hash>.parquet``,
  one row per post and requested symbol it mentions (:func:`~omni_research.sources.
  _sentiment.mentions`; with a single symbol every post counts for it). **Author ids are
  pseudonymised on write** with HMAC-SHA256 keyed by ``OMNI_PSEUDONYM_KEY`` (``user_`` and
  16 hex digits), so no platform account id reaches the disk; without the key the download
  refuses to start.
* ``sentiment``: derived from the stored posts with VADER, per symbol and ``interval``
  (:func:`~omni_research.sources._sentiment.sentiment_from_posts`; ``source`` is
  ``twitter``, ``timestamp`` the bucket's end), one file per symbol, query and day:
  ``historical/sentiment/symbol=<S>/twitter-<hash>-<interval>-<day>.parquet``. A day whose
  posts are stored but whose sentiment is not (a run killed in between) is derived again
  from the stored posts without any request.

The bearer token comes from ``OMNI_X_BEARER_TOKEN`` only (``Authorization: Bearer``).
Requests stay under the app's window (:data:`omni_research.sources.LIMITS` ``["x"]``:
450 per 15 minutes); an HTTP 429 is waited for until ``x-rate-limit-reset`` when that is
within the limit's ``max_wait``, else the download stops saying when to run it again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
import polars as pl

from omni_research import _guard, _layout
from omni_research._time import parse_range
from omni_research._typing import TIMEFRAMES
from omni_research.config import settings
from omni_research.exceptions import ConfigurationError, SourceError
from omni_research.schemas import polars_schema, validate
from omni_research.sources._http import (
    LIMITS,
    HttpSession,
    Limits,
    RetryPolicy,
    Transient,
    public_url,
    shape_error,
    source_settings,
)
from omni_research.sources._resume import Run, Unit, ended_days
from omni_research.sources._roots import research_root
from omni_research.sources._sentiment import mentions, sentiment_from_posts
from omni_research.sources._summary import DownloadSummary, Progress

__all__ = ["SEARCH", "TOKEN_VARIABLE", "TWEET_FIELDS", "WINDOW", "download", "pseudonymise"]

log = logging.getLogger(__name__)

TOKEN_VARIABLE = "OMNI_X_BEARER_TOKEN"
"""The environment variable holding the app's bearer token."""
SEARCH = "/2/tweets/search/recent"
TWEET_FIELDS = "created_at,author_id,public_metrics,lang"
WINDOW = dt.timedelta(days=7)
"""How far back recent search reaches."""
# X refuses a start_time even a second beyond its 7 days, on every page of a query: the
# oldest (partial) day starts this much inside the window, so its pages keep being accepted
# while they are fetched (a day of more pages than that takes fails and is resumed by a rerun)
_MARGIN = dt.timedelta(minutes=10)
_MAX_PAGES = 10_000
_METRICS = ("like_count", "retweet_count", "reply_count", "quote_count")


def pseudonymise(author_ids: Sequence[str], /, *, key: bytes) -> list[str]:
    """``user_`` and 16 hex digits of HMAC-SHA256(key, id): the same keyed hash the catalog
    uses for account ids, so one key links an author across files and nothing else does.

    Examples
    --------
    >>> pseudonymise(["44196397"], key=b"k")[0][:5]
    'user_'
    """
    return [
        "user_" + hmac.new(key, a.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
        for a in author_ids
    ]


def _rate_limit_hook(limits: Limits) -> Callable[[httpx.Response], None]:
    """A response hook: wait for X's 429 until ``x-rate-limit-reset``, or stop if too far.

    The shared session reads ``Retry-After`` for a 429, which X does not send; this hook
    reads X's own header (epoch seconds: :attr:`Limits.reset_unit` of ``LIMITS["x"]``).
    """

    def hook(response: httpx.Response) -> None:
        if response.status_code != 429:
            return
        shown = public_url(response.request.url)
        wait = limits.reset_wait(response.headers)
        if wait is None:
            return  # no reset time: the session's backoff applies
        if wait <= limits.max_wait:
            raise Transient(
                f"HTTP 429 too many requests (x-rate-limit-reset in {wait:.0f} s)",
                url=shown,
                status=429,
                wait=wait + 0.05,
            )
        at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=wait)
        raise SourceError(
            f"X: GET {shown} answered HTTP 429: the app's request window (recent search: "
            f"{limits.requests} per {limits.window / 60:g} minutes on the plan this "
            f"kit assumes) is used up until {at:%Y-%m-%d %H:%M:%S} UTC. The download stopped; "
            "what was committed stays. Run it again after that time: it resumes where it "
            "stopped",
            url=shown,
            status=429,
        )

    return hook


def _shape_error(url: str, what: str) -> SourceError:
    return shape_error(
        url,
        what,
        source="X",
        documentation="the API v2 recent-search documentation",
        module=__name__,
    )


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _page(data: Any, url: str) -> tuple[list[Mapping[str, Any]], str | None]:
    if not isinstance(data, Mapping) or not isinstance(data.get("meta"), Mapping):
        raise _shape_error(url, "'meta' is missing or not an object")
    meta = data["meta"]
    count = meta.get("result_count")
    if isinstance(count, bool) or not isinstance(count, int):
        raise _shape_error(url, "'meta.result_count' is missing or not an integer")
    posts = data.get("data", [])
    if not isinstance(posts, list) or len(posts) != count:
        raise _shape_error(url, f"'data' does not hold meta.result_count = {count} posts")
    for i, post in enumerate(posts):
        where = f"data[{i}]"
        if not isinstance(post, Mapping):
            raise _shape_error(url, f"{where} is not an object")
        for name in ("id", "text", "created_at", "author_id"):
            if not isinstance(post.get(name), str) or not post.get(name):
                raise _shape_error(url, f"{where}.{name} is missing or not a string")
        if post.get("lang") is not None and not isinstance(post.get("lang"), str):
            raise _shape_error(url, f"{where}.lang is {post.get('lang')!r}")
        metrics = post.get("public_metrics")
        if not isinstance(metrics, Mapping) or any(
            isinstance(metrics.get(m), bool) or not isinstance(metrics.get(m), int)
            for m in _METRICS
        ):
            raise _shape_error(url, f"{where}.public_metrics lacks an integer {list(_METRICS)}")
    token = meta.get("next_token")
    if token is not None and not isinstance(token, str):
        raise _shape_error(url, f"'meta.next_token' is {token!r}")
    return posts, token or None


def _created(post: Mapping[str, Any], url: str) -> dt.datetime:
    try:
        stamp = dt.datetime.fromisoformat(str(post["created_at"]).replace("Z", "+00:00"))
    except ValueError:
        stamp = None
    if stamp is None or stamp.tzinfo is None:
        raise _shape_error(url, f"post {post['id']} created_at is {post['created_at']!r}")
    return stamp.astimezone(dt.UTC)


def _posts(
    http: HttpSession,
    unit: Unit,
    *,
    query: str,
    symbols: Sequence[str],
    since: dt.datetime,
    until: dt.datetime,
    page_size: int,
    key: bytes,
) -> pl.DataFrame:
    params: dict[str, Any] = {
        "query": query,
        "start_time": _iso(since),
        "end_time": _iso(until),
        "max_results": page_size,
        "tweet.fields": TWEET_FIELDS,
    }
    seen: dict[str, tuple[dt.datetime, Mapping[str, Any]]] = {}
    for _ in range(_MAX_PAGES):
        shown = http.url(SEARCH, params)
        posts, token = _page(http.get_json(SEARCH, params), shown)
        for post in posts:
            at = _created(post, shown)
            if not since <= at < until:
                raise _shape_error(shown, f"post {post['id']} at {at} lies outside the request")
            seen.setdefault(str(post["id"]), (at, post))
        if token is None:
            break
        params["pagination_token"] = token
    else:
        raise _shape_error(http.url(SEARCH, params), f"more than {_MAX_PAGES} pages for a day")
    ordered = sorted(seen.items(), key=lambda kv: (kv[1][0], kv[0]))
    texts = [str(p["text"]) for _, (_, p) in ordered]
    tags = mentions(texts, symbols)
    authors = pseudonymise([str(p["author_id"]) for _, (_, p) in ordered], key=key)
    rows = []
    for (post_id, (at, post)), tagged, author in zip(ordered, tags, authors, strict=True):
        chosen: list[str | None] = list(tagged) or [symbols[0] if len(symbols) == 1 else None]
        metrics = post["public_metrics"]
        for symbol in chosen:
            rows.append(
                {
                    "timestamp": at,
                    "post_id": post_id,
                    "author_id": author,
                    "symbol": symbol,
                    "lang": post.get("lang"),
                    "text": str(post["text"]),
                    **{m: int(metrics[m]) for m in _METRICS},
                }
            )
    return pl.DataFrame(rows, schema=polars_schema("posts"), orient="row")


def download(
    root: str | os.PathLike[str],
    /,
    *,
    query: str,
    symbols: str | Sequence[str],
    start: str | dt.date | dt.datetime | None = None,
    end: str | dt.date | dt.datetime | None = None,
    interval: str = "1h",
    page_size: int = 100,
    policy: RetryPolicy | None = None,
    progress: Callable[[Progress], None] | None = None,
    lock_timeout: float | None = None,
) -> DownloadSummary:
    """Download recent X posts matching ``query`` and their sentiment into a research root.

    Resumable: each UTC day is one posts file (and one sentiment file per symbol); the
    files the root's manifest already holds are skipped, so a rerun fetches only the days
    that are missing. Days that have not ended yet are left for a later run.

    Parameters
    ----------
    root
        A research-tier data root (:func:`omni_research.sources.init_root`); the production
        guard runs on it before the first request.
    query
        An X search query (``"(bitcoin OR $BTC) lang:en -is:retweet"``), at most 512
        characters.
    symbols
        The exchange symbols the posts are about (``"BTCUSDT,ETHUSDT"``); each post gets a
        row per symbol it mentions, and sentiment is aggregated per symbol.
    start, end
        The range within the last 7 days (default: all of it); ``start`` inclusive, a bare
        ``end`` date includes its day. What lies further back is left out (noted).
    interval
        Sentiment buckets, a timeframe of the kit (``"1h"``, ``"15m"``, ``"1d"``).
    page_size
        ``max_results`` per request, 10 to 100.
    policy
        Retry policy (attempts, backoff); the default suits the real API.
    progress
        Called with a :class:`~omni_research.sources.Progress` (files, rows, requests,
        bytes, ETA) after every committed file; the CLI draws it on the terminal.
    lock_timeout
        Seconds to wait for another writer of ``root``.

    Returns
    -------
    DownloadSummary
        Requests, retries, rows of ``posts`` and ``sentiment``, files written and skipped.

    Raises
    ------
    ProductionDataError
        If ``root`` is production data; no request has been sent.
    ConfigurationError
        For a bad option, no ``OMNI_X_BEARER_TOKEN`` or no ``OMNI_PSEUDONYM_KEY``; no
        request has been sent.
    SourceError
        For a fault retrying cannot fix (a rate-limit window far from its reset, a client
        error, a changed response shape: the URL is named, nothing of that day is written);
        what was committed before stays, and a rerun resumes.

    Examples
    --------
    >>> from omni_research.sources import x
    >>> x.download("research", query="(bitcoin OR $BTC) lang:en -is:retweet",
    ...            symbols="BTCUSDT")  # doctest: +SKIP
    """
    target = research_root(root)  # the guard, before any request
    if not isinstance(query, str) or not query.strip() or len(query) > 512:
        raise ConfigurationError("query is empty or longer than 512 characters (X's limit)")
    symbol_list = (
        [s.strip() for s in symbols.split(",") if s.strip()]
        if isinstance(symbols, str)
        else list(dict.fromkeys(symbols))
    )
    if not symbol_list:
        raise ConfigurationError("symbols is empty; expected exchange symbols such as BTCUSDT")
    for symbol in symbol_list:
        _layout.check_part("symbol", symbol)
    if interval not in TIMEFRAMES:
        raise ConfigurationError(f"interval is {interval!r}; expected one of {list(TIMEFRAMES)}")
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 10 <= page_size <= 100:
        raise ConfigurationError(f"page_size is {page_size!r}; expected 10 to 100 (X's limits)")
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if not token:
        raise ConfigurationError(
            f"X needs an app bearer token: set {TOKEN_VARIABLE} in the environment"
        )
    key = settings().require_pseudonym_key()  # authors are pseudonymised on write
    now = dt.datetime.now(dt.UTC)
    window_start = now - WINDOW + _MARGIN
    span = parse_range(start, end, where="sources.x.download")
    lo = span.start if span.start is not None else window_start
    hi = span.end if span.end is not None else now
    if hi <= lo:
        raise ConfigurationError(f"end {hi} is not after start {lo}")
    run = Run(target, source="x", progress=progress, lock_timeout=lock_timeout)
    if lo < window_start:
        run.tally.notes.append(
            f"X recent search reaches back 7 days: posts before {window_start:%Y-%m-%d %H:%M} "
            "UTC cannot be fetched and are left out"
        )
    digest = hashlib.sha256(json.dumps([query, sorted(symbol_list)]).encode()).hexdigest()[:12]
    days: list[tuple[Unit, dt.datetime]] = []
    for day in ended_days(lo, hi, now=now, notes=run.tally.notes):
        day_start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        if day_start + dt.timedelta(days=1) <= window_start:
            continue
        since = max(day_start, window_start)
        if since > day_start:
            run.tally.gaps.append(
                f"posts {day}: only from {since:%H:%M} UTC (older posts are out of X's 7 days)"
            )
        path = _layout.path_for(target, "posts", date=day, name=f"q-{digest}.parquet")
        days.append(
            (Unit(kind="posts", path=path, label=f"posts {day} q-{digest}", day=day), since)
        )
    waiting = {u.path for u in run.plan([u for u, _ in days])}
    http = run.session(
        HttpSession(
            source_settings().x_api_url,
            limits=LIMITS["x"],
            policy=policy,
            headers={"Authorization": f"Bearer {token}"},
            response_hooks=[_rate_limit_hook(LIMITS["x"])],
        )
    )
    with run.stopping():
        for unit, since in days:
            if unit.path in waiting:
                frame = _posts(
                    http,
                    unit,
                    query=query,
                    symbols=symbol_list,
                    since=since,
                    until=unit.start + dt.timedelta(days=1),
                    page_size=page_size,
                    key=key,
                )
                run.commit(unit, frame)
            _derive_sentiment(run, unit, symbol_list, digest, interval)
    return run.finish()


def _derive_sentiment(
    run: Run, posts_unit: Unit, symbols: Sequence[str], digest: str, interval: str
) -> None:
    """Commit the day's sentiment per symbol from the stored posts file, where missing."""
    root = run.root
    day = posts_unit.day
    units = [
        Unit(
            kind="sentiment",
            label=f"sentiment {symbol} {day} twitter-{digest}-{interval}",
            path=_layout.path_for(
                root, "sentiment", symbol=symbol, name=f"twitter-{digest}-{interval}-{day}.parquet"
            ),
            symbol=symbol,
            day=day,
        )
        for symbol in symbols
    ]
    todo = run.plan(units, fetched=False)
    if not todo:
        return
    # the stored file, through the guard and the schema, never a copy kept in memory
    posts = validate(
        pl.read_parquet(io.BytesIO(_guard.read_guarded(posts_unit.path))),
        "posts",
        source=str(posts_unit.path),
    )
    scored = sentiment_from_posts(posts, interval=interval)
    for unit in todo:
        frame = scored.filter(pl.col("symbol") == unit.symbol)
        run.commit(unit, frame)
