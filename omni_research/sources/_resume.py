"""Resumable downloads: a plan of units, the root's manifest as the ledger, atomic commits.

A download first computes its units (one file each: a kind, a symbol, a UTC day), then
skips every unit whose file the manifest already records, and commits each fetched unit
on its own: validated against the kind's schema, written to a staging file, journaled,
moved into place and recorded in the manifest (sha256 and rows), all under the root's
write lock. A run killed at any moment leaves either the whole unit or nothing of it
(a kill between the move and the manifest write is repaired from the journal by the next
writer), so a rerun fetches exactly the units that are missing. There is no side file
that could drift from the data: the manifest is the ledger.

:class:`Run` is the one run loop every source shares: it takes the plan's split, commits
each unit (tallying files, rows and gaps, logging, calling the progress callback), turns a
:class:`~omni_research.exceptions.SourceError` into one that says what was committed and
what a rerun fetches, closes the run's HTTP sessions and freezes the summary.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from omni_research import _guard, _layout, _manifest
from omni_research._writelock import write_lock
from omni_research.exceptions import ConfigurationError, DataWriteError, OmniDataError, SourceError
from omni_research.io import _atomic
from omni_research.schemas import validate
from omni_research.sources._http import HttpSession
from omni_research.sources._summary import DownloadSummary, Progress, Tally

__all__ = ["Run", "Unit", "bybit_symbols", "commit", "ended_days", "pending", "utc_days"]

log = logging.getLogger("omni_research.sources")

DAY = dt.timedelta(days=1)


@dataclass(frozen=True, kw_only=True)
class Unit:
    """One file of a download plan.

    Attributes
    ----------
    kind : str
        The data kind the file holds.
    path : Path
        The file, built by :func:`omni_research._layout.path_for`.
    label : str
        What it is, for messages (``"ohlcv BTCUSDT 1m 2025-01-06 last"``).
    symbol : str or None
        The exchange symbol fetched.
    day : datetime.date or None
        The UTC day it covers.
    variant : str
        A source-specific detail (Bybit: ``last``, ``mark`` or ``index`` klines).
    """

    kind: str
    path: Path
    label: str
    symbol: str | None = None
    day: dt.date | None = None
    variant: str = ""

    @property
    def start(self) -> dt.datetime:
        """The first instant of the unit's day (UTC)."""
        assert self.day is not None
        return dt.datetime(self.day.year, self.day.month, self.day.day, tzinfo=dt.UTC)


def utc_days(start: dt.datetime, end: dt.datetime) -> Iterator[dt.date]:
    """The UTC days that ``[start, end)`` touches, in order."""
    day = start.astimezone(dt.UTC).date()
    while dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) < end:
        yield day
        day += DAY


def pending(root: Path, units: Iterable[Unit]) -> tuple[list[Unit], list[Unit]]:
    """Split ``units`` into (to fetch, already committed) using the manifest as the ledger.

    A unit counts as committed when the manifest records its file and the file exists.
    """
    base = Path(os.path.realpath(os.fspath(root)))
    recorded = _manifest.read_manifest(root).files
    todo: list[Unit] = []
    done: list[Unit] = []
    for unit in units:
        name = Path(os.path.realpath(os.fspath(unit.path))).relative_to(base).as_posix()
        (done if name in recorded and unit.path.is_file() else todo).append(unit)
    return todo, done


def commit(
    root: Path, unit: Unit, frame: pl.DataFrame, /, *, lock_timeout: float | None = None
) -> Path:
    """Validate ``frame`` as ``unit.kind`` and commit it as ``unit.path``, atomically.

    Raises
    ------
    DataValidationError
        If the frame breaks the kind's schema (nothing is written).
    DataWriteError
        If the file or the manifest could not be written; a journal then lets the next
        writer (or ``omni-research verify --repair``) finish the record.
    """
    validate(frame, unit.kind, source=unit.label)
    target = unit.path
    with write_lock(root, timeout=lock_timeout):
        _manifest.repair(root)  # an earlier writer may have died after its move
        _guard.check_path(target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=".staged", dir=target.parent
            )
            os.close(fd)
        except OSError as exc:
            raise DataWriteError(f"could not stage {target}: {exc}") from exc
        staged = Path(name)
        try:
            _atomic.write_parquet_atomic(frame, staged)
            _manifest.write_journal(root, [(staged, target)])
            try:
                os.replace(staged, target)
                _manifest.record_files(root, [target])
            except (OSError, OmniDataError) as exc:
                raise DataWriteError(
                    f"{unit.label}: interrupted after its journal was written ({exc}); the "
                    "next download or `omni-research verify --repair` records the file"
                ) from exc
            _manifest.clear_journal(root)
        finally:
            with contextlib.suppress(OSError):
                staged.unlink(missing_ok=True)
    return target


def bybit_symbols(symbols: str | Sequence[str], /) -> list[str]:
    """``"BTCUSDT,ETHUSDT"`` or a sequence as a list of symbols, each a safe path part.

    Raises
    ------
    ConfigurationError
        If there is none, or one is not a safe path part.
    """
    found = [s.strip() for s in symbols.split(",")] if isinstance(symbols, str) else list(symbols)
    if not found:
        raise ConfigurationError("symbols is empty; expected Bybit symbols such as BTCUSDT")
    for symbol in found:
        _layout.check_part("symbol", symbol)
    return found


def ended_days(
    start: dt.datetime,
    end: dt.datetime,
    /,
    *,
    now: dt.datetime,
    notes: list[str],
    settle: dt.timedelta = DAY,
) -> list[dt.date]:
    """The UTC days of ``[start, end)`` that are complete at ``now``.

    A day is complete once ``settle`` (one day; longer when a bar opening on the day
    closes later) has passed since its start; each other day gets a note in ``notes``
    ("has not ended yet: left for a later run").
    """
    days = []
    for day in utc_days(start, end):
        if dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) + settle > now:
            notes.append(f"{day} has not ended yet: left for a later run")
            continue
        days.append(day)
    return days


class Run:
    """The run loop of one download: commit, tally, log, progress, stop message, summary.

    Parameters
    ----------
    root
        The research root written (already through the guard).
    source
        The provider's name (``"bybit"``), for the summary and the log.
    progress
        The download's ``progress`` callback, called after every committed unit of
        :meth:`plan`'s ``todo``.
    lock_timeout
        Seconds to wait for another writer of ``root``.

    Attributes
    ----------
    tally : Tally
        What the run has done so far (notes and gaps may be added to it directly).
    todo, done : list of Unit
        The units to fetch and those the manifest already held (set by :meth:`plan`).
    """

    def __init__(
        self,
        root: Path,
        /,
        *,
        source: str,
        progress: Callable[[Progress], None] | None = None,
        lock_timeout: float | None = None,
    ) -> None:
        self.root = root
        self.source = source
        self.tally = Tally(source=source, root=root)
        self.todo: list[Unit] = []
        self.done: list[Unit] = []
        self._progress = progress
        self._lock_timeout = lock_timeout
        self._sessions: list[HttpSession] = []
        self._waiting: set[Path] = set()
        self._fetched = 0
        self._began = time.monotonic()

    def plan(self, units: Iterable[Unit], /, *, fetched: bool = True) -> list[Unit]:
        """Split ``units`` by the manifest (:func:`pending`); return the ones to make.

        The others count as skipped. May be called again for units derived from fetched
        ones (``fetched=False``, X's sentiment): those are committed and tallied, but
        neither counted in the progress nor in :attr:`todo`.
        """
        todo, done = pending(self.root, units)
        self.tally.files_skipped += [u.path for u in done]
        if fetched:
            self.todo += todo
            self.done += done
            self._waiting.update(u.path for u in todo)
        return todo

    def session(self, http: HttpSession, /) -> HttpSession:
        """Count ``http``'s requests and bytes in this run, and close it at the end."""
        self._sessions.append(http)
        return http

    @property
    def requests(self) -> int:
        """Requests sent by the run's sessions so far."""
        return sum(s.requests for s in self._sessions)

    @property
    def written(self) -> int:
        """Files committed by this run so far."""
        return len(self.tally.files_written)

    def commit(self, unit: Unit, frame: pl.DataFrame, /, *, gaps: Sequence[str] = ()) -> Path:
        """Commit ``frame`` as ``unit`` (:func:`commit`), tally it, log it, report progress."""
        path = commit(self.root, unit, frame, lock_timeout=self._lock_timeout)
        tally = self.tally
        tally.files_written.append(unit.path)
        tally.add_rows(unit.kind, frame.height)
        tally.gaps += gaps
        log.info("%s: committed %s (%d rows)", self.source, unit.label, frame.height)
        if unit.path in self._waiting:
            self._fetched += 1
            if self._progress is not None:
                self._progress(
                    Progress(
                        unit=unit.label,
                        done=self._fetched,
                        total=len(self._waiting),
                        rows=sum(tally.rows.values()),
                        requests=self.requests,
                        bytes=sum(s.bytes for s in self._sessions),
                        elapsed=time.monotonic() - self._began,
                    )
                )
        return path

    @contextlib.contextmanager
    def stopping(self, *, explain: Callable[[SourceError], str] | None = None) -> Iterator[None]:
        """Run the fetching inside: a SourceError is raised again saying what was committed
        (``explain`` writes that message instead), and the sessions are closed."""
        try:
            yield
        except SourceError as exc:
            if explain is not None:
                message = explain(exc)
            else:
                message = (
                    f"{exc} [{self.written} file(s) were committed by this run before it "
                    f"stopped, {len(self._waiting) - self._fetched} left; a rerun fetches "
                    "only those]"
                )
            raise SourceError(message, url=exc.url, status=exc.status) from exc
        finally:
            for session in self._sessions:
                session.close()

    def finish(self) -> DownloadSummary:
        """The run's :class:`DownloadSummary` (logged)."""
        summary = self.tally.freeze(
            requests=self.requests, retries=sum(s.retries for s in self._sessions)
        )
        log.info("%s", summary)
        return summary
