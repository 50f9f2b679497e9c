"""NewsAPI downloads into a research root: ``/v2/everything`` articles, kind ``news``.

What it fetches (https://newsapi.org/docs/endpoints/everything): the articles matching
``q`` published in each UTC day (``from``/``to`` of that day, ``sortBy=publishedAt``,
``pageSize=100``, ``page`` from 1 until ``totalResults`` are in or a page comes back
short). The answer is ``{status: "ok", totalResults, articles: [{source: {id, name},
author, title, description, url, urlToImage, publishedAt, content}]}``; errors are
``{status: "error", code, message}``. One file per query and day:
``historical/news/date=<day>/q-<hash>.parquet`` (the hash is of the query and language,
so several queries can share a root). ``article_id`` is ``newsapi-`` and a hash of the
URL (NewsAPI has no ids); ``symbol`` is the first of the requested symbols the title or
description mentions, else null. Deleted articles (``[Removed]``) are left out.

The key comes from ``OMNI_NEWSAPI_KEY`` only and is sent as the ``X-Api-Key`` header,
never in a URL. A ``429`` with ``apiKeyExhausted`` (the developer plan's 100 requests a
day are used up) or ``rateLimited`` stops the download at once with a
:class:`~omni_research.exceptions.SourceError` that says what was saved and how to resume;
``426 maximumResultsReached`` (the plan lets a query page through only its first 100
results) keeps what came and reports the rest of the day as a gap.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
import polars as pl

from omni_research import _layout
from omni_research._time import parse_range
from omni_research.exceptions import ConfigurationError, SourceError
from omni_research.schemas import polars_schema
from omni_research.sources._http import (
    LIMITS,
    HttpSession,
    RetryPolicy,
    public_url,
    shape_error,
    source_settings,
)
from omni_research.sources._resume import Run, Unit, ended_days
from omni_research.sources._roots import research_root
from omni_research.sources._sentiment import mentions
from omni_research.sources._summary import DownloadSummary, Progress

__all__ = ["KEY_VARIABLE", "PAGE_SIZE", "STOP_CODES", "download"]

log = logging.getLogger(__name__)

KEY_VARIABLE = "OMNI_NEWSAPI_KEY"
"""The environment variable holding the NewsAPI key."""
PAGE_SIZE = 100
"""``pageSize`` of ``/v2/everything`` (NewsAPI's maximum)."""
EVERYTHING = "/v2/everything"
STOP_CODES: dict[str, str] = {
    "apiKeyExhausted": "the key's request quota is used up (developer plan: 100 requests "
    "per 24 hours); run the same download again once it has reset",
    "rateLimited": "the key sent too many requests in a short time; wait a few minutes and "
    "run the same download again",
}
"""NewsAPI error codes (HTTP 429) that stop a download, and what to do about each."""
_MAX_PAGES = 1_000


class _Stopped(SourceError):
    """NewsAPI answered an error the download cannot go past (quota, paging limit)."""

    def __init__(self, message: str, *, url: str, status: int, code: str) -> None:
        super().__init__(message, url=url, status=status)
        self.code = code


def _error_hook(key: str) -> Callable[[httpx.Response], None]:
    """A response hook turning NewsAPI's 426/429 error objects into :class:`_Stopped`.

    The shared session retries an HTTP 429 after a wait, which is right for a per-second
    limit but not for a daily quota: this hook of the session sees the answer first and
    stops the download.
    """

    def hook(response: httpx.Response) -> None:
        if response.status_code not in (426, 429):
            return
        response.read()
        try:
            body = json.loads(response.content)
        except ValueError:
            return  # not NewsAPI's error object: the session's own handling applies
        if not isinstance(body, Mapping) or body.get("status") != "error":
            return
        code = str(body.get("code", ""))
        message = str(body.get("message", ""))[:300].replace(key, "***") if key else ""
        shown = public_url(response.request.url, secrets=[key])
        raise _Stopped(
            f"NewsAPI: GET {shown} answered HTTP {response.status_code} {code} ({message!r})",
            url=shown,
            status=response.status_code,
            code=code,
        )

    return hook


def _shape_error(url: str, what: str) -> SourceError:
    return shape_error(
        url,
        what,
        source="NewsAPI",
        documentation="the /v2/everything documentation",
        module=__name__,
    )


def _parse_time(value: Any, url: str, where: str) -> dt.datetime:
    if isinstance(value, str):
        try:
            stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if stamp.tzinfo is not None:
                return stamp.astimezone(dt.UTC)
    raise _shape_error(url, f"{where} is {value!r}; expected an ISO 8601 time with a zone")


def _articles(page: Any, url: str) -> tuple[int, list[dict[str, Any]]]:
    if not isinstance(page, Mapping) or page.get("status") != "ok":
        raise _shape_error(url, "expected an object with status 'ok'")
    total = page.get("totalResults")
    articles = page.get("articles")
    if isinstance(total, bool) or not isinstance(total, int) or not isinstance(articles, list):
        raise _shape_error(url, "'totalResults' (an integer) or 'articles' (an array) is missing")
    rows = []
    for i, article in enumerate(articles):
        where = f"articles[{i}]"
        if not isinstance(article, Mapping):
            raise _shape_error(url, f"{where} is not an object")
        source = article.get("source")
        if not isinstance(source, Mapping) or not isinstance(source.get("name"), str):
            raise _shape_error(url, f"{where}.source.name is missing")
        for name in ("title", "url"):
            if not isinstance(article.get(name), str):
                raise _shape_error(url, f"{where}.{name} is missing or not a string")
        description = article.get("description")
        rows.append(
            {
                "timestamp": _parse_time(article.get("publishedAt"), url, f"{where}.publishedAt"),
                "source": source["name"],
                "title": article["title"],
                "url": article["url"],
                "text": f"{article['title']} {description if isinstance(description, str) else ''}",
            }
        )
    return total, rows


def _day(
    http: HttpSession,
    unit: Unit,
    *,
    query: str,
    language: str | None,
    symbols: Sequence[str],
) -> tuple[pl.DataFrame, list[str]]:
    day_start = unit.start
    day_end = day_start + dt.timedelta(days=1)
    params: dict[str, Any] = {
        "q": query,
        # UTC in the documented form (2025-01-06T12:28:53, no zone), both ends inclusive
        "from": day_start.strftime("%Y-%m-%dT%H:%M:%S"),
        "to": (day_end - dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S"),
        "sortBy": "publishedAt",
        "pageSize": PAGE_SIZE,
        "language": language,
    }
    rows: list[dict[str, Any]] = []
    gaps: list[str] = []
    total = 0
    for page in range(1, _MAX_PAGES + 1):
        params["page"] = page
        shown = http.url(EVERYTHING, params)
        try:
            data = http.get_json(EVERYTHING, params)
        except _Stopped as exc:
            if exc.code != "maximumResultsReached":
                raise
            gaps.append(
                f"{unit.label}: NewsAPI lets this key page through only the first "
                f"{len(rows)} of {total} articles (maximumResultsReached); the rest of the day "
                "is missing (a narrower query or a paid plan gets it)"
            )
            break
        total, got = _articles(data, shown)
        rows += got
        if len(got) < PAGE_SIZE or len(rows) >= total:
            break
    kept = [
        r
        for r in rows
        if day_start <= r["timestamp"] < day_end
        and r["title"] != "[Removed]"
        and r["url"].startswith(("http://", "https://"))
    ]
    tagged = mentions([r["text"] for r in kept], symbols) if symbols else [[] for _ in kept]
    frame = pl.DataFrame(
        {
            "timestamp": [r["timestamp"] for r in kept],
            "article_id": [
                "newsapi-" + hashlib.sha256(r["url"].encode()).hexdigest()[:20] for r in kept
            ],
            "source": [r["source"] for r in kept],
            "title": [r["title"] for r in kept],
            "url": [r["url"] for r in kept],
            "symbol": [t[0] if t else None for t in tagged],
        },
        schema=polars_schema("news"),
    )
    before = frame.height
    frame = frame.unique("article_id", keep="first", maintain_order=True).sort(
        "timestamp", "article_id"
    )
    if before != frame.height:
        gaps.append(f"{unit.label}: {before - frame.height} repeated article(s) kept once")
    return frame, gaps


def download(
    root: str | os.PathLike[str],
    /,
    *,
    query: str,
    start: str | dt.date | dt.datetime,
    end: str | dt.date | dt.datetime,
    symbols: str | Sequence[str] = (),
    language: str | None = None,
    policy: RetryPolicy | None = None,
    progress: Callable[[Progress], None] | None = None,
    lock_timeout: float | None = None,
) -> DownloadSummary:
    """Download the NewsAPI articles matching ``query`` into a research root, per UTC day.

    Resumable: each query and UTC day is one file; the files the root's manifest already
    holds are skipped, so a rerun (after a quota stop, say) fetches only what is missing.

    Parameters
    ----------
    root
        A research-tier data root (:func:`omni_research.sources.init_root`); the production
        guard runs on it before the first request.
    query
        NewsAPI's ``q`` (``"bitcoin OR ethereum"``; AND/OR/NOT, quotes and + - work).
    start, end
        The range; ``start`` inclusive, a bare ``end`` date includes its day. Widened to
        whole UTC days; days that have not ended yet are left out (noted).
    symbols
        Exchange symbols to tag articles with (``"BTCUSDT,ETHUSDT"``): an article's
        ``symbol`` is the first one its title or description mentions.
    language
        NewsAPI's ``language`` filter (``"en"``), or None for every language.
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
        Requests, retries, rows, files written and skipped, gaps (days cut by the plan).

    Raises
    ------
    ProductionDataError
        If ``root`` is production data; no request has been sent.
    ConfigurationError
        For a bad option or no ``OMNI_NEWSAPI_KEY``; no request has been sent.
    SourceError
        For a quota stop (``apiKeyExhausted``, ``rateLimited``: the message says what was
        saved and how to resume), a client error or a changed response shape (the URL is
        named, nothing of that day is written).

    Examples
    --------
    >>> from omni_research.sources import newsapi
    >>> newsapi.download("research", query="bitcoin OR ethereum",
    ...                  start="2025-01-01", end="2025-01-07")  # doctest: +SKIP
    """
    target = research_root(root)  # the guard, before any request
    if not isinstance(query, str) or not query.strip() or len(query) > 500:
        raise ConfigurationError("query is empty or longer than 500 characters (NewsAPI's limit)")
    symbol_list = (
        [s.strip() for s in symbols.split(",") if s.strip()]
        if isinstance(symbols, str)
        else list(symbols)
    )
    for symbol in symbol_list:
        _layout.check_part("symbol", symbol)
    span = parse_range(start, end, where="sources.newsapi.download")
    if span.start is None or span.end is None:
        raise ConfigurationError("start and end are both required (e.g. 2025-01-01, 2025-01-07)")
    key = os.environ.get(KEY_VARIABLE, "").strip()
    if not key:
        raise ConfigurationError(
            f"NewsAPI needs a key: set {KEY_VARIABLE} in the environment (a free developer key "
            "comes from https://newsapi.org/register)"
        )
    run = Run(target, source="newsapi", progress=progress, lock_timeout=lock_timeout)
    now = dt.datetime.now(dt.UTC)
    digest = hashlib.sha256(json.dumps([query, language]).encode()).hexdigest()[:12]
    units = [
        Unit(
            kind="news",
            path=_layout.path_for(target, "news", date=day, name=f"q-{digest}.parquet"),
            label=f"news {day} q-{digest}",
            day=day,
        )
        for day in ended_days(span.start, span.end, now=now, notes=run.tally.notes)
    ]
    todo = run.plan(units)
    if not todo:
        return run.finish()
    http = run.session(
        HttpSession(
            source_settings().newsapi_url,
            limits=LIMITS["newsapi"],
            policy=policy,
            headers={"X-Api-Key": key},
            response_hooks=[_error_hook(key)],
        )
    )
    unit = todo[0]

    def explain(exc: SourceError) -> str:
        written = run.written
        saved = (
            f"this run saved {written} day file(s) ({todo[0].day} to {todo[written - 1].day})"
            if written
            else "this run saved no file"
        )
        advice = (
            STOP_CODES.get(exc.code, "run the same download again later")
            if isinstance(exc, _Stopped)
            else "fix the cause and run the same download again"
        )
        return (
            f"{exc}. Stopped at {unit.label}: nothing of that day was written; {saved}, "
            f"{len(run.done)} were already present, {len(todo) - written} day(s) are left. "
            f"{advice[:1].upper()}{advice[1:]}: it resumes at {unit.day}"
        )

    with run.stopping(explain=explain):
        for unit in todo:
            frame, gaps = _day(http, unit, query=query, language=language, symbols=symbol_list)
            run.commit(unit, frame, gaps=gaps)
    return run.finish()
