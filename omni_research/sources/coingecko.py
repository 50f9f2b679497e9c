"""CoinGecko downloads into a research root: market snapshots and history, kind ``coins``.

What it fetches (CoinGecko API v3, https://docs.coingecko.com):

* a **market snapshot** from ``/coins/markets`` (``vs_currency=usd``, the requested
  ``ids``, paged by ``per_page`` = 250 and ``page``): price, market cap, 24 h volume,
  circulating supply and market-cap rank of every coin, each stamped with its
  ``last_updated``; one file per run day, ``historical/coins/markets-<day>-<coins>.parquet``.
  The snapshot also gives the ticker and name the history rows carry.
* **history** from ``/coins/{id}/market_chart/range`` (``from``/``to`` in UNIX seconds),
  one request per coin and UTC day, whose answer is ``{prices, market_caps,
  total_volumes}`` as ``[[ms, value], ...]``. CoinGecko picks the granularity from the
  range: a one-day range in the past comes back hourly (5-minutely for the last day).
  ``circulating_supply`` is derived as market cap / price (CoinGecko's own definition of
  market cap); the history gives no rank, so ``market_cap_rank`` is null there (never the
  rank of today, which would look ahead). One file per coin and day:
  ``historical/coins/date=<day>/<coin>.parquet``.

The key comes from ``OMNI_COINGECKO_API_KEY`` only and goes in the documented header
(``x-cg-demo-api-key`` for the demo plan on ``api.coingecko.com``, ``x-cg-pro-api-key``
for paid plans on ``pro-api.coingecko.com``), never in a URL. Requests stay under the plan's
rate (:data:`omni_research.sources.LIMITS` ``["coingecko"]``: 30 a minute); an HTTP 429
is waited for (``Retry-After``, else exponential backoff) and retried.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

import polars as pl

from omni_research import _layout
from omni_research._time import parse_range
from omni_research.exceptions import ConfigurationError, SourceError
from omni_research.schemas import polars_schema
from omni_research.sources._http import (
    LIMITS,
    HttpSession,
    RetryPolicy,
    shape_error,
    source_settings,
)
from omni_research.sources._resume import Run, Unit, ended_days
from omni_research.sources._roots import research_root
from omni_research.sources._summary import DownloadSummary, Progress

__all__ = ["KEY_HEADERS", "KEY_VARIABLE", "download"]

log = logging.getLogger(__name__)

KEY_VARIABLE = "OMNI_COINGECKO_API_KEY"
"""The environment variable holding the demo or pro key."""
KEY_HEADERS: dict[str, str] = {"demo": "x-cg-demo-api-key", "pro": "x-cg-pro-api-key"}
"""The documented key header per plan."""
MARKETS_PAGE = 250
"""``per_page`` of ``/coins/markets`` (CoinGecko's maximum)."""
_COIN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
_HOUR_MS = 3_600_000


def _shape_error(url: str, what: str) -> SourceError:
    return shape_error(
        url, what, source="CoinGecko", documentation="the API v3 documentation", module=__name__
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    out = float(value)
    return out if out == out and abs(out) != float("inf") else None


def _utc_ms(column: str) -> pl.Expr:
    return (
        pl.from_epoch(column, time_unit="ms")
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
        .alias(column)
    )


# --------------------------------------------------------------------------- markets


def _markets(http: HttpSession, coins: Sequence[str]) -> list[Mapping[str, Any]]:
    """Every ``/coins/markets`` row of ``coins``, all pages."""
    rows: list[Mapping[str, Any]] = []
    page = 1
    while True:
        params = {
            "vs_currency": "usd",
            "ids": ",".join(coins),
            "order": "market_cap_desc",
            "per_page": MARKETS_PAGE,
            "page": page,
            "sparkline": "false",
        }
        shown = http.url("/coins/markets", params)
        data = http.get_json("/coins/markets", params)
        if not isinstance(data, list):
            raise _shape_error(shown, f"expected a JSON array of coins, got {type(data).__name__}")
        for i, row in enumerate(data):
            if not isinstance(row, Mapping):
                raise _shape_error(shown, f"item {i} is not an object")
            for name in ("id", "symbol", "name", "last_updated"):
                if not isinstance(row.get(name), str) or not row.get(name):
                    raise _shape_error(shown, f"item {i} has no string {name!r}")
            for name in ("current_price", "market_cap", "total_volume", "circulating_supply"):
                if name not in row:
                    raise _shape_error(shown, f"item {i} ({row['id']}) has no {name!r}")
                if row[name] is not None and _number(row[name]) is None:
                    raise _shape_error(
                        shown, f"item {i} {name!r} is {row[name]!r}; expected a number"
                    )
            rank = row.get("market_cap_rank")  # documented as a number: 1 or 1.0
            if rank is not None and not (_number(rank) is not None and float(rank).is_integer()):
                raise _shape_error(shown, f"item {i} 'market_cap_rank' is {rank!r}")
        rows += data
        if len(data) < MARKETS_PAGE:
            return rows
        page += 1


def _snapshot_frame(rows: Sequence[Mapping[str, Any]], url: str) -> tuple[pl.DataFrame, list[str]]:
    notes = []
    kept = []
    for row in rows:
        values = [
            _number(row[k])
            for k in ("current_price", "market_cap", "total_volume", "circulating_supply")
        ]
        if any(v is None for v in values) or not values[0]:
            notes.append(
                f"coins snapshot: {row['id']} has no price, market cap, volume or supply at "
                "CoinGecko now: left out of the snapshot"
            )
            continue
        rank = row.get("market_cap_rank")  # null for coins CoinGecko does not rank
        try:
            stamp = dt.datetime.fromisoformat(str(row["last_updated"]).replace("Z", "+00:00"))
        except ValueError:
            raise _shape_error(
                url, f"{row['id']} last_updated is {row['last_updated']!r}"
            ) from None
        if stamp.tzinfo is None:
            raise _shape_error(url, f"{row['id']} last_updated {row['last_updated']!r} has no zone")
        kept.append(
            {
                "timestamp": stamp.astimezone(dt.UTC),
                "coin_id": row["id"],
                "symbol": str(row["symbol"]).upper(),
                "name": row["name"],
                "price_usd": values[0],
                "market_cap_usd": values[1],
                "volume_24h_usd": values[2],
                "circulating_supply": values[3],
                "market_cap_rank": None if rank is None else int(rank),
            }
        )
    frame = pl.DataFrame(kept, schema=polars_schema("coins"), orient="row")
    return frame.sort("coin_id", "timestamp"), notes


# --------------------------------------------------------------------------- history


def _history(
    http: HttpSession, unit: Unit, meta: Mapping[str, Any]
) -> tuple[pl.DataFrame, list[str]]:
    coin = unit.variant
    day_s = int(unit.start.timestamp())
    path = f"/coins/{coin}/market_chart/range"
    params = {"vs_currency": "usd", "from": day_s, "to": day_s + 86_399}
    shown = http.url(path, params)
    data = http.get_json(path, params)
    if not isinstance(data, Mapping):
        raise _shape_error(shown, f"expected an object, got {type(data).__name__}")
    series: dict[str, list[tuple[int, float | None]]] = {}
    for name in ("prices", "market_caps", "total_volumes"):
        points = data.get(name)
        if not isinstance(points, list):
            raise _shape_error(shown, f"{name!r} is missing or not an array")
        parsed = []
        for i, point in enumerate(points):
            if (
                not isinstance(point, list)
                or len(point) != 2
                or isinstance(point[0], bool)
                or not isinstance(point[0], int)
            ):
                raise _shape_error(shown, f"{name}[{i}] is {str(point)[:60]}; expected [ms, value]")
            if point[1] is not None and _number(point[1]) is None:
                raise _shape_error(shown, f"{name}[{i}] value is {point[1]!r}; expected a number")
            parsed.append((point[0], _number(point[1])))
        series[name] = parsed
    stamps = [t for t, _ in series["prices"]]
    for name in ("market_caps", "total_volumes"):
        if [t for t, _ in series[name]] != stamps:
            raise _shape_error(shown, f"{name!r} and 'prices' have different timestamps")
    if any(b <= a for a, b in itertools.pairwise(stamps)):
        raise _shape_error(shown, "timestamps are not strictly increasing")
    lo, hi = day_s * 1000, (day_s + 86_400) * 1000
    if stamps and (stamps[0] < lo or stamps[-1] >= hi):
        raise _shape_error(shown, f"points from {stamps[0]} to {stamps[-1]} lie outside the day")
    rows = []
    dropped = 0
    for (ts, price), (_, cap), (_, volume) in zip(
        series["prices"], series["market_caps"], series["total_volumes"], strict=True
    ):
        if price is None or price <= 0 or cap is None or cap < 0 or volume is None or volume < 0:
            dropped += 1
            continue
        rows.append((ts, price, cap, volume, cap / price))
    frame = pl.DataFrame(
        rows,
        schema={
            "timestamp": pl.Int64,
            "price_usd": pl.Float64,
            "market_cap_usd": pl.Float64,
            "volume_24h_usd": pl.Float64,
            "circulating_supply": pl.Float64,
        },
        orient="row",
    ).with_columns(
        _utc_ms("timestamp"),
        coin_id=pl.lit(coin),
        symbol=pl.lit(str(meta["symbol"]).upper()),
        name=pl.lit(str(meta["name"])),
        market_cap_rank=pl.lit(None, dtype=pl.Int64),
    )
    gaps = []
    hours = {(ts - lo) // _HOUR_MS for ts, *_ in rows}
    if len(hours) < 24:
        missing = [h for h in range(24) if h not in hours]
        gaps.append(
            f"{unit.label}: {24 - len(hours)} of 24 hours without a point "
            f"(first {missing[0]:02d}:00 UTC)"
            + (
                f"; {dropped} point(s) without a price, market cap or volume left out"
                if dropped
                else ""
            )
        )
    return frame.select(polars_schema("coins").names()), gaps


# --------------------------------------------------------------------------- download


def _plan_for(base_url: str, plan: str | None) -> str:
    if plan is None:
        host = urlsplit(base_url).hostname or ""
        return "pro" if host.startswith("pro-api.") else "demo"
    if plan not in KEY_HEADERS:
        raise ConfigurationError(f"plan is {plan!r}; expected one of {list(KEY_HEADERS)}")
    return plan


def download(
    root: str | os.PathLike[str],
    /,
    *,
    coins: str | Sequence[str],
    start: str | dt.date | dt.datetime,
    end: str | dt.date | dt.datetime,
    snapshot: bool = True,
    plan: Literal["demo", "pro"] | None = None,
    policy: RetryPolicy | None = None,
    progress: Callable[[Progress], None] | None = None,
    lock_timeout: float | None = None,
) -> DownloadSummary:
    """Download CoinGecko market snapshots and hourly history of ``coins`` into a root.

    Resumable: each coin and UTC day is one file; the files the root's manifest already
    holds are skipped, so a rerun fetches only what is missing (and sends no request at
    all when nothing is).

    Parameters
    ----------
    root
        A research-tier data root (:func:`omni_research.sources.init_root`); the production
        guard runs on it before the first request.
    coins
        CoinGecko coin ids (``"bitcoin,ethereum"`` or a sequence), not tickers.
    start, end
        The range of history; ``start`` inclusive, a bare ``end`` date includes its day.
        Widened to whole UTC days; days that have not ended yet are left out (noted).
    snapshot
        Also take today's ``/coins/markets`` snapshot (one file per day and coin set).
    plan
        ``"demo"`` or ``"pro"`` (which key header); by default ``pro`` when the base URL's
        host is ``pro-api.*``, else ``demo``.
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
        Requests, retries, rows per kind, files written and skipped, hours without data.

    Raises
    ------
    ProductionDataError
        If ``root`` is production data; no request has been sent.
    ConfigurationError
        For a bad option, or the pro plan without ``OMNI_COINGECKO_API_KEY``; no request sent.
    SourceError
        For a fault retrying cannot fix (a client error, an unknown coin id, a changed
        response shape: the URL is named, nothing of that unit is written); what was
        committed before stays, and a rerun resumes.

    Examples
    --------
    >>> from omni_research.sources import coingecko
    >>> coingecko.download("research", coins="bitcoin,ethereum",
    ...                    start="2025-01-01", end="2025-01-31")  # doctest: +SKIP
    """
    target = research_root(root)  # the guard, before any request
    coin_list = [c.strip() for c in coins.split(",")] if isinstance(coins, str) else list(coins)
    coin_list = list(dict.fromkeys(c for c in coin_list if c))
    if not coin_list:
        raise ConfigurationError("coins is empty; expected CoinGecko ids such as bitcoin")
    bad = [c for c in coin_list if not _COIN_ID.fullmatch(c)]
    if bad:
        raise ConfigurationError(
            f"coins {bad!r} are not CoinGecko ids (lower-case letters, digits and '-', such "
            "as bitcoin or usd-coin); look them up with CoinGecko's /coins/list"
        )
    span = parse_range(start, end, where="sources.coingecko.download")
    if span.start is None or span.end is None:
        raise ConfigurationError("start and end are both required (e.g. 2025-01-01, 2025-01-31)")
    base_url = source_settings().coingecko_api_url
    chosen_plan = _plan_for(base_url, plan)
    key = os.environ.get(KEY_VARIABLE, "").strip()
    if chosen_plan == "pro" and not key:
        raise ConfigurationError(
            f"the CoinGecko pro plan needs a key: set {KEY_VARIABLE} in the environment"
        )
    run = Run(target, source="coingecko", progress=progress, lock_timeout=lock_timeout)
    if not key:
        run.tally.notes.append(f"no {KEY_VARIABLE}: keyless public access (lowest rate limit)")
    now = dt.datetime.now(dt.UTC)
    days = ended_days(span.start, span.end, now=now, notes=run.tally.notes)
    units = [
        Unit(
            kind="coins",
            path=_layout.path_for(target, "coins", date=day, name=f"{coin}.parquet"),
            label=f"coins {coin} {day}",
            day=day,
            variant=coin,
        )
        for coin in coin_list
        for day in days
    ]
    if snapshot:
        digest = hashlib.sha256(",".join(sorted(coin_list)).encode()).hexdigest()[:8]
        name = f"markets-{now.date()}-{digest}.parquet"
        units.append(
            Unit(
                kind="coins",
                path=_layout.path_for(target, "coins", name=name),
                label=f"coins markets snapshot {now.date()}",
                variant="",
            )
        )
    todo = run.plan(units)
    if not todo:
        return run.finish()
    headers = {KEY_HEADERS[chosen_plan]: key} if key else {}
    http = run.session(
        HttpSession(base_url, limits=LIMITS["coingecko"], policy=policy, headers=headers)
    )
    with run.stopping():
        markets_url = http.url("/coins/markets", {"vs_currency": "usd"})
        markets = _markets(http, coin_list)
        meta = {str(row["id"]): row for row in markets}
        unknown = [c for c in coin_list if c not in meta]
        if unknown:
            raise SourceError(
                f"CoinGecko: GET {markets_url} does not know the coin id(s) {unknown}; expected "
                "CoinGecko ids such as bitcoin or ethereum (not tickers): check them with "
                "/coins/list. Nothing was written for them",
                url=markets_url,
            )
        for unit in todo:
            if unit.variant:
                frame, gaps = _history(http, unit, meta[unit.variant])
            else:
                frame, notes = _snapshot_frame(markets, markets_url)
                run.tally.notes += notes
                gaps = []
            run.commit(unit, frame, gaps=gaps)
    return run.finish()
