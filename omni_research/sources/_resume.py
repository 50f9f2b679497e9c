"""Resumable downloads: a plan of units, the root's manifest as the ledger, atomic commits.

A download first computes its units (one file each: a kind, a symbol, a UTC day), then
skips every unit whose file the manifest already records, and commits each fetched unit
on its own: validated against the kind's schema, written to a staging file, journaled,
moved into place and recorded in the manifest (sha256 and rows), all under the root's
write lock. A run killed at any moment leaves either the whole unit or nothing of it
(a kill between the move and the manifest write is repaired from the journal by the next
writer), so a rerun fetches exactly the units that are missing. There is no side file
that could drift from the data: the manifest is the ledger.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from omni_research import _guard, _manifest
from omni_research._writelock import write_lock
from omni_research.exceptions import DataWriteError, OmniDataError
from omni_research.io import _atomic
from omni_research.schemas import validate

__all__ = ["Unit", "commit", "pending", "utc_days"]

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
