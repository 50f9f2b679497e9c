"""Bybit's public dumps into a research root: trades and historical order books.

Two hosts, both read through their folder listings (an HTML index) rather than by guessed
names, since the names differ by market and have changed over time:

* **trades** from the trading-history dumps (``OMNI_BYBIT_PUBLIC_URL``, default
  ``https://public.bybit.com``), one gzip CSV per symbol and day:

  - derivatives (``linear``, ``inverse``): ``/trading/<SYMBOL>/<SYMBOL><YYYY-MM-DD>.csv.gz``
    with the header ``timestamp,symbol,side,size,price,tickDirection,trdMatchID,
    grossValue,homeNotional,foreignNotional`` and, in newer files, a trailing ``RPI``;
    ``timestamp`` is epoch seconds with a fraction;
  - ``spot``: ``/spot/<SYMBOL>/<SYMBOL>_<YYYY-MM-DD>.csv.gz`` (or a monthly
    ``<SYMBOL>_<YYYY-MM>.csv.gz``, split into its days) with ``id,timestamp,price,volume,
    side`` and newer files a trailing ``rpi``; ``timestamp`` in epoch milliseconds.

  The rows are parsed, checked and written by the kit's importer
  (:func:`omni_research.io.bybit.import_bybit_trades`, spot rows mapped onto the
  derivatives columns first) into a scratch root in the system's temporary folder, whose
  day files are then validated again and committed, one per UTC day, as the ``trades``
  kind (one Parquet write more than strictly needed, the price of not parsing twice). A
  single refused row refuses the file. The RPI flag has no column in that kind and is
  dropped.
* **orderbook** from the historical order-book dumps (``OMNI_BYBIT_ORDERBOOK_URL``),
  ``/orderbook/<category>/<SYMBOL>/<YYYY-MM-DD>_<SYMBOL>_ob<depth>.data.zip`` (depth 500,
  or 200 for some symbols since 2025; whatever the listing has), JSON lines of snapshots
  and deltas rebuilt by :mod:`omni_research.sources._orderbook_rebuild` and stored as top-5
  snapshots every ``book_interval`` (``orderbook`` kind), every sequence gap reported in
  the summary's ``gaps``.

Every file is fetched in full and checked before anything is written: a truncated body, a
corrupt gzip or zip (the CRC is checked), a 5xx or a reset is retried with the shared
policy (:class:`omni_research.sources._http.HttpSession`); a changed column layout or a
line off the documented shape stops the download with
:class:`~omni_research.exceptions.SourceError` naming the URL and what differed, and nothing
of that file is written. Each UTC day is one unit, committed atomically and recorded in
the root's manifest (sha256 and rows); a rerun skips the days the manifest holds without
a single request.
"""

from __future__ import annotations

import calendar
import datetime as dt
import gzip
import html.parser
import io
import logging
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit

import polars as pl

from omni_research import _layout
from omni_research._time import parse_range
from omni_research.exceptions import ConfigurationError, DataFormatError, SourceError
from omni_research.io._readers import read_file
from omni_research.io.bybit import import_bybit_trades
from omni_research.sources._http import (
    LIMITS,
    CorruptBody,
    HttpSession,
    RetryPolicy,
    source_settings,
)
from omni_research.sources._resume import Run, Unit, bybit_symbols, ended_days
from omni_research.sources._roots import init_root, research_root
from omni_research.sources._summary import DownloadSummary, Progress, Tally

if TYPE_CHECKING:  # the rebuild imports numba: only when order books are fetched
    from omni_research.sources._orderbook_rebuild import RebuildResult

__all__ = [
    "KINDS",
    "SPOT_HEADER",
    "DumpFile",
    "download_dumps",
    "find_orderbook_dumps",
    "find_trade_dumps",
    "listing_names",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

KINDS: tuple[str, ...] = ("trades", "orderbook")
"""The kinds fetched from Bybit's public dumps (the others come from the v5 REST API)."""
SPOT_HEADER: tuple[str, ...] = ("id", "timestamp", "price", "volume", "side")
"""Columns of a spot trade dump (newer files add a trailing ``rpi``)."""
DERIVATIVES_HEADER: tuple[str, ...] = (
    "timestamp", "symbol", "side", "size", "price", "tickDirection", "trdMatchID",
    "grossValue", "homeNotional", "foreignNotional",
)  # fmt: skip
"""Columns of a derivatives trade dump (newer files add a trailing ``RPI``)."""
CATEGORIES: tuple[str, ...] = ("linear", "inverse", "spot")
BOOK_LEVELS = 5  # the orderbook kind's levels per side
_DAY = r"(\d{4}-\d{2}-\d{2})"


@dataclass(frozen=True, kw_only=True)
class DumpFile:
    """One file of a dump folder and the UTC days it covers.

    Attributes
    ----------
    path : str
        Its path on the dump host (``/trading/BTCUSDT/BTCUSDT2025-01-06.csv.gz``).
    days : tuple of datetime.date
        The days it holds (one for a daily file, a month's for a monthly one).
    depth : int or None
        Order-book dumps: the depth in the name (``ob500``: 500).
    """

    path: str
    days: tuple[dt.date, ...]
    depth: int | None = None


# --------------------------------------------------------------------------- listings


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag.lower() == "a":
            for name, value in attrs:
                if name.lower() == "href" and value:
                    self.hrefs.append(value)


def listing_names(page: str, /) -> list[str]:
    """The file and folder names an HTML folder index links to, in page order.

    Examples
    --------
    >>> listing_names('<pre><a href="../">../</a><a href="BTCUSDT2025-01-06.csv.gz">x</a>'
    ...               '<a href="/trading/BTCUSDT/BTCUSDT2025-01-07.csv.gz?x=1">y</a></pre>')
    ['BTCUSDT2025-01-06.csv.gz', 'BTCUSDT2025-01-07.csv.gz']
    """
    parser = _Links()
    parser.feed(page)
    names: list[str] = []
    for href in parser.hrefs:
        path = unquote(urlsplit(href).path)
        name = path.rstrip("/").rsplit("/", 1)[-1]
        if name and name not in ("..", ".") and not path.endswith("/"):
            names.append(name)
    return names


def _listing(http: HttpSession, folder: str) -> list[str]:
    def decode(body: bytes) -> list[str]:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = body.decode("latin-1")
        return listing_names(text)

    return http.get_decoded(folder, decode)


def _trade_patterns(category: str, symbol: str) -> list[tuple[re.Pattern[str], bool]]:
    """(name pattern, monthly) for a category's trade dumps; daily names first."""
    s = re.escape(symbol)
    if category == "spot":
        return [
            (re.compile(rf"^{s}_{_DAY}\.csv\.gz$"), False),
            (re.compile(rf"^{s}[_-](\d{{4}}-\d{{2}})\.csv\.gz$"), True),
        ]
    return [(re.compile(rf"^{s}{_DAY}\.csv\.gz$"), False)]


def trade_folder(category: str, symbol: str) -> str:
    """The folder of a symbol's trade dumps on the public host."""
    return f"/spot/{symbol}/" if category == "spot" else f"/trading/{symbol}/"


def find_trade_dumps(
    http: HttpSession, symbol: str, /, *, category: str
) -> dict[dt.date, DumpFile]:
    """The trade dump holding each UTC day, read from the symbol's folder listing."""
    folder = trade_folder(category, symbol)
    found: dict[dt.date, DumpFile] = {}
    names = _listing(http, folder)
    for pattern, monthly in _trade_patterns(category, symbol):
        for name in names:
            match = pattern.match(name)
            if match is None:
                continue
            if monthly:
                year, month = map(int, match.group(1).split("-"))
                days = tuple(
                    dt.date(year, month, d)
                    for d in range(1, calendar.monthrange(year, month)[1] + 1)
                )
            else:
                try:
                    days = (dt.date.fromisoformat(match.group(1)),)
                except ValueError:
                    continue
            file = DumpFile(path=folder + name, days=days)
            for day in days:
                found.setdefault(day, file)  # a daily file wins over a monthly one
    return found


def orderbook_folder(category: str, symbol: str) -> str:
    """The folder of a symbol's order-book dumps on the order-book host."""
    return f"/orderbook/{category}/{symbol}/"


def find_orderbook_dumps(
    http: HttpSession, symbol: str, /, *, category: str, days: Sequence[dt.date] = ()
) -> dict[dt.date, DumpFile]:
    """The order-book dump of each UTC day, from the folder listing.

    Where the host answers the folder with 404 (no index), the documented names are used:
    ``<date>_<SYMBOL>_ob500.data.zip`` (then ``ob200`` if that is missing, tried when
    the file is fetched).
    """
    folder = orderbook_folder(category, symbol)
    pattern = re.compile(rf"^{_DAY}_{re.escape(symbol)}_ob(\d+)\.data\.zip$")
    try:
        names = _listing(http, folder)
    except SourceError as exc:
        if exc.status != 404:
            raise
        return {
            day: DumpFile(path=f"{folder}{day}_{symbol}_ob500.data.zip", days=(day,), depth=None)
            for day in days
        }
    found: dict[dt.date, DumpFile] = {}
    for name in names:
        match = pattern.match(name)
        if match is None:
            continue
        try:
            day = dt.date.fromisoformat(match.group(1))
        except ValueError:
            continue
        depth = int(match.group(2))
        if day not in found or (found[day].depth or 0) < depth:
            found[day] = DumpFile(path=folder + name, days=(day,), depth=depth)
    return found


# --------------------------------------------------------------------------- fetching


def _gunzip(body: bytes) -> bytes:
    try:
        return gzip.decompress(body)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise CorruptBody(f"gzip: {exc}") from None


def _shape_error(url: str, what: str) -> SourceError:
    return SourceError(
        f"Bybit dumps: {url} differs from the documented layout: {what}. Nothing of this "
        "file was written; if Bybit changed its dumps, update the kit "
        "(omni_research.sources._bybit_dumps)",
        url=url,
    )


def _trade_csv(data: bytes, *, url: str, category: str, symbol: str) -> bytes:
    """The dump as CSV in the derivatives layout the importer reads; layout checked."""
    header = data.split(b"\n", 1)[0].decode("utf-8", "replace").strip().split(",")
    if category != "spot":
        expected = list(DERIVATIVES_HEADER)
        if header not in (expected, [*expected, "RPI"]):
            raise _shape_error(
                url, f"header {','.join(header)}; expected {','.join(expected)}[,RPI]"
            )
        return data
    expected = list(SPOT_HEADER)
    if header not in (expected, [*expected, "rpi"]):
        raise _shape_error(url, f"header {','.join(header)}; expected {','.join(expected)}[,rpi]")
    try:
        raw = pl.read_csv(data, infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise _shape_error(url, f"the CSV could not be parsed ({str(exc)[:200]})") from exc
    blank = pl.lit("", pl.String)
    mapped = raw.select(
        pl.col("timestamp"),
        pl.lit(symbol, pl.String).alias("symbol"),
        pl.col("side").str.to_titlecase().alias("side"),
        pl.col("volume").alias("size"),
        pl.col("price"),
        blank.alias("tickDirection"),
        pl.col("id").alias("trdMatchID"),
        blank.alias("grossValue"),
        blank.alias("homeNotional"),
        blank.alias("foreignNotional"),
    )
    return mapped.write_csv().encode("utf-8")


def _trades_by_day(
    csv: bytes, *, url: str, symbol: str, scratch: Path
) -> tuple[dict[dt.date, pl.DataFrame], int]:
    """Parse and check the rows with the kit's importer; (frames per UTC day, duplicates)."""
    if scratch.exists():
        shutil.rmtree(scratch)
    root = init_root(scratch / "root")
    source = scratch / "dump.csv"
    source.write_bytes(csv)
    try:
        summary = import_bybit_trades(source, root, symbol=symbol)
    except DataFormatError as exc:
        raise _shape_error(url, str(exc).replace(str(source), "the file")) from exc
    if summary.rejected:
        location, reason, _raw = summary.rejects.row(0)
        raise _shape_error(
            url, f"{summary.rejected} row(s) refused, the first ({location}): {reason}"
        )
    frames: dict[dt.date, pl.DataFrame] = {}
    for path in summary.files:
        frame = read_file(path, "trades")
        day = dt.date.fromisoformat(path.parent.name.removeprefix("date="))
        frames[day] = frame
    return frames, summary.duplicates


def _book_decoder(*, url: str, symbol: str, interval: str) -> Callable[[bytes], RebuildResult]:
    def decode(body: bytes) -> RebuildResult:
        from omni_research.sources._orderbook_rebuild import line_chunks, rebuild_orderbook

        try:
            archive = zipfile.ZipFile(io.BytesIO(body))
            members = [m for m in archive.infolist() if not m.is_dir()]
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise CorruptBody(f"zip: {exc}") from None
        if len(members) != 1:
            raise _shape_error(url, f"{len(members)} files in the zip; expected one .data file")
        try:
            with archive.open(members[0]) as stream:
                return rebuild_orderbook(
                    line_chunks(stream), symbol=symbol, interval=interval,
                    levels=BOOK_LEVELS, where=url,
                )  # fmt: skip
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise CorruptBody(f"zip member: {exc}") from None
        except DataFormatError as exc:
            raise _shape_error(url, str(exc).removeprefix(f"{url}: ")) from exc

    return decode


# --------------------------------------------------------------------------- plan + run


def _day_frame(frame: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    return frame.filter(pl.col("timestamp").dt.date() == day)


def download_dumps(
    root: str | os.PathLike[str],
    /,
    *,
    rest: Callable[..., DownloadSummary],
    rest_kinds: Sequence[str],
    symbols: str | Sequence[str],
    start: str | dt.date | dt.datetime,
    end: str | dt.date | dt.datetime,
    kinds: Sequence[str],
    category: str = "linear",
    book_interval: str = "1s",
    policy: RetryPolicy | None = None,
    lock_timeout: float | None = None,
    progress: Callable[[Progress], None] | None = None,
    **options: Any,
) -> DownloadSummary:
    """Download ``trades`` and ``orderbook`` from Bybit's dumps (and the rest from v5 REST).

    Called by :func:`omni_research.sources.bybit.download` when ``kinds`` names a dump
    kind; the other kinds (those of ``rest_kinds``) are passed back to it, the function
    ``rest``, with ``options`` (its own options), and the two summaries are merged.
    ``progress`` is called after every committed file, as there.

    Raises
    ------
    ProductionDataError, ConfigurationError
        Before any request, as :func:`omni_research.sources.bybit.download`.
    SourceError
        For a fault retrying cannot fix or a file off the documented layout (naming its
        URL); what was committed before stays, and a rerun resumes.
    """
    target = research_root(root)  # the guard, before any request
    symbol_list = bybit_symbols(symbols)
    wanted = list(dict.fromkeys(kinds))
    unknown = [k for k in wanted if k not in KINDS and k not in rest_kinds]
    if unknown:
        raise ConfigurationError(f"kinds {list(kinds)!r}: expected some of {[*rest_kinds, *KINDS]}")
    if category not in CATEGORIES:
        raise ConfigurationError(f"category is {category!r}; expected one of {list(CATEGORIES)}")
    if "orderbook" in wanted:
        from omni_research.sources._orderbook_rebuild import interval_ms

        interval_ms(book_interval)  # refuse a bad interval before any request
    span = parse_range(start, end, where="sources.bybit.download")
    if span.start is None or span.end is None:
        raise ConfigurationError("start and end are both required (e.g. 2025-01-01, 2025-01-31)")
    other = [k for k in wanted if k in rest_kinds]
    rest_summary = None
    if other:
        rest_summary = rest(
            target, symbols=symbol_list, start=start, end=end, kinds=other, category=category,
            policy=policy, lock_timeout=lock_timeout, progress=progress, **options,
        )  # fmt: skip
    run = Run(target, source="bybit", progress=progress, lock_timeout=lock_timeout)
    days = ended_days(span.start, span.end, now=dt.datetime.now(dt.UTC), notes=run.tally.notes)
    units: list[Unit] = []
    for symbol in symbol_list:
        for day in days:
            for kind in ("trades", "orderbook"):
                if kind in wanted:
                    units.append(
                        Unit(
                            kind=kind,
                            path=_layout.path_for(target, kind, symbol=symbol, date=day),
                            label=f"{kind} {category} {symbol} {day}",
                            symbol=symbol,
                            day=day,
                            variant=category,
                        )
                    )
    todo = run.plan(units)
    settings = source_settings()
    with run.stopping():
        if any(u.kind == "trades" for u in todo):
            http = run.session(
                HttpSession(settings.bybit_public_url, limits=LIMITS["bybit_public"], policy=policy)
            )
            _trades(http, run, [u for u in todo if u.kind == "trades"], category=category)
        if any(u.kind == "orderbook" for u in todo):
            http = run.session(
                HttpSession(
                    settings.bybit_orderbook_url, limits=LIMITS["bybit_public"], policy=policy
                )
            )
            _orderbooks(http, run, [u for u in todo if u.kind == "orderbook"],
                        category=category, interval=book_interval)  # fmt: skip
    summary = run.finish()
    if rest_summary is not None:
        summary = _merge(rest_summary, summary)
    return summary


def _merge(a: DownloadSummary, b: DownloadSummary) -> DownloadSummary:
    from types import MappingProxyType

    rows = dict(a.rows)
    for kind, n in b.rows.items():
        rows[kind] = rows.get(kind, 0) + n
    return DownloadSummary(
        source=a.source,
        root=a.root,
        requests=a.requests + b.requests,
        retries=a.retries + b.retries,
        rows=MappingProxyType(rows),
        files_written=a.files_written + b.files_written,
        files_skipped=a.files_skipped + b.files_skipped,
        gaps=a.gaps + b.gaps,
        notes=a.notes + b.notes,
    )


def _by_symbol(units: Sequence[Unit]) -> dict[str, list[Unit]]:
    grouped: dict[str, list[Unit]] = {}
    for unit in units:
        grouped.setdefault(str(unit.symbol), []).append(unit)
    return grouped


def _listed(
    units: Sequence[Unit], listed: Mapping[dt.date, DumpFile], tally: Tally, *, gap: str
) -> Iterator[tuple[Unit, DumpFile]]:
    """Each unit with the dump holding its day; a unit without one is a gap (``gap``)."""
    for unit in units:
        file = listed.get(unit.day) if unit.day is not None else None
        if file is None:
            tally.gaps.append(f"{unit.label}: {gap}")
            continue
        yield unit, file


def _trades(http: HttpSession, run: Run, units: list[Unit], *, category: str) -> None:
    tally = run.tally
    by_symbol = _by_symbol(units)
    with tempfile.TemporaryDirectory(prefix="omni-bybit-dumps-") as tmp:
        scratch = Path(tmp) / "scratch"
        for symbol, symbol_units in by_symbol.items():
            listed = find_trade_dumps(http, symbol, category=category)
            by_file: dict[str, tuple[DumpFile, list[Unit]]] = {}
            gap = f"no trade dump listed in {http.url(trade_folder(category, symbol))}"
            for unit, file in _listed(symbol_units, listed, tally, gap=gap):
                by_file.setdefault(file.path, (file, []))[1].append(unit)
            for path, (file, file_units) in by_file.items():
                url = http.url(path)
                data = http.get_decoded(path, _gunzip)
                csv = _trade_csv(data, url=url, category=category, symbol=symbol)
                frames, duplicates = _trades_by_day(csv, url=url, symbol=symbol, scratch=scratch)
                if duplicates:
                    tally.notes.append(f"{url}: {duplicates} repeated trade id(s) kept once")
                outside = sum(f.height for d, f in frames.items() if d not in file.days)
                if outside:
                    tally.notes.append(
                        f"{url}: {outside} trade(s) stamped outside the file's day(s) left out"
                    )
                empty = pl.DataFrame(schema=_trade_schema())
                for unit in file_units:
                    assert unit.day is not None
                    frame = frames.get(unit.day, empty)
                    if frame.is_empty():
                        tally.gaps.append(f"{unit.label}: the dump holds no trades that day")
                    run.commit(unit, frame)


def _trade_schema() -> dict[str, Any]:
    from omni_research.schemas import polars_schema

    return dict(polars_schema("trades"))


def _orderbooks(
    http: HttpSession, run: Run, units: list[Unit], *, category: str, interval: str
) -> None:
    tally = run.tally
    for symbol, symbol_units in _by_symbol(units).items():
        days = [u.day for u in symbol_units if u.day is not None]
        listed = find_orderbook_dumps(http, symbol, category=category, days=days)
        gap = f"no order-book dump listed in {http.url(orderbook_folder(category, symbol))}"
        for unit, file in _listed(symbol_units, listed, tally, gap=gap):
            assert unit.day is not None
            result = _fetch_book(http, file, symbol=symbol, interval=interval)
            if result is None:
                tally.gaps.append(f"{unit.label}: no order-book dump (ob500 nor ob200)")
                continue
            frame = _day_frame(result.frame, unit.day)
            tally.gaps += [f"{unit.label}: {gap}" for gap in result.gaps]
            depth = result.depth or file.depth
            late = (
                f"; {result.late} message(s) stamped before an earlier one" if result.late else ""
            )
            tally.notes.append(
                f"{unit.label}: {result.messages} messages ({result.snapshots} snapshots, "
                f"{result.updates} level updates), depth {depth}; {frame.height} snapshots "
                f"every {interval}, {result.skipped} instants without {BOOK_LEVELS} levels a "
                f"side left out{late}"
            )
            run.commit(unit, frame)


def _fetch_book(
    http: HttpSession, file: DumpFile, *, symbol: str, interval: str
) -> RebuildResult | None:
    paths = [file.path]
    if file.depth is None:  # no listing: the documented names, 500 levels then 200
        paths.append(file.path.replace("_ob500.", "_ob200."))
    for path in paths:
        decode = _book_decoder(url=http.url(path), symbol=symbol, interval=interval)
        try:
            return http.get_decoded(path, decode)
        except SourceError as exc:
            if exc.status != 404:
                raise
    return None
