"""The audit log: one hash-chained JSON line per read and per refusal.

Every record carries ``prev``, the ``hash`` of the record before it (64 zeros for the
first), and its own ``hash``: the sha256 of the record's canonical JSON without ``hash``
(keys sorted, no spaces). Editing a record breaks its hash; deleting, inserting or moving
one breaks the next record's ``prev``; ``seq`` numbers the records so that
:func:`verify_chain` can say which. Deleting records at the *end* leaves a shorter valid
chain: it is detected against a head hash kept elsewhere (``verify_chain(path,
head=...)``, ``omni-research audit verify --head``). The chain detects tampering after the
fact; it cannot prevent it (anyone who can write the file can rewrite it whole): see the
threat model in docs/security.md.

Writers (notebooks, Ray workers, threads) append under an exclusive ``flock`` of the log:
the last record's hash is read under the lock, then the new line is written in one
``write`` and ``fsync``-ed, so records never interleave and none is lost. ``flock`` is
local to one machine: on a cluster give each node its own log (``OMNI_AUDIT_LOG``).

A read opens the log before any byte of data is read (a log that cannot be written stops
the read) and appends its record when it ends (:class:`ReadAudit`); a refusal of the guard,
of the roles or for a missing key is appended where it is raised (:func:`refusals`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

import polars as pl

from omni_research._access import os_user
from omni_research._time import parse_range
from omni_research.config import settings
from omni_research.exceptions import (
    AccessDeniedError,
    ConfigurationError,
    KeyAccessError,
    MissingKeyError,
    ProductionDataError,
)

__all__ = [
    "GENESIS",
    "AuditLog",
    "ChainReport",
    "ReadAudit",
    "open_log",
    "record_hash",
    "refusal_reason",
    "refusals",
    "show",
    "verify_chain",
]

GENESIS = "0" * 64
"""The ``prev`` of the first record of a log."""

FORMAT = 1
_AUDITED = "_omni_audited"  # set on an exception once its refusal is in the log
_TAIL = 1 << 16

Reason = Literal["guard", "role", "key"]


def record_hash(record: dict[str, Any]) -> str:
    """The sha256 of ``record``'s canonical JSON, without its ``hash`` key."""
    body = {k: v for k, v in record.items() if k != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def refusal_reason(exc: BaseException | None) -> Reason | None:
    """``"guard"``, ``"role"`` or ``"key"`` when ``exc`` is a refusal; None otherwise."""
    if isinstance(exc, ProductionDataError):
        return "guard"
    if isinstance(exc, AccessDeniedError):
        return "role"
    if isinstance(exc, MissingKeyError | KeyAccessError):
        return "key"
    return None


def _last_line(handle: IO[bytes]) -> bytes | None:
    """The last complete-or-not line of the file (None when it is empty), read backwards."""
    end = handle.seek(0, os.SEEK_END)
    if end == 0:
        return None
    tail = b""
    pos = end
    while pos > 0:
        step = min(_TAIL, pos)
        pos -= step
        handle.seek(pos)
        tail = handle.read(step) + tail
        cut = tail.rstrip(b"\n").rfind(b"\n")
        if cut >= 0:
            return tail[cut + 1 :].rstrip(b"\n")
    return tail.rstrip(b"\n")


def _link(line: bytes | None) -> tuple[str, int]:
    """The ``prev`` and ``seq`` a record appended after ``line`` gets."""
    if line is None:
        return GENESIS, 1
    try:
        last = json.loads(line)
        return str(last["hash"]), int(last["seq"]) + 1
    except (ValueError, KeyError, TypeError):
        # a line the kit did not chain (an older log, a partial write): chained to its bytes,
        # and verify_chain reports it
        return hashlib.sha256(line).hexdigest(), 1


class AuditLog:
    """An audit log opened for appending (the file exists and is writable once this returns)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[bytes] = open(path, "a+b")  # noqa: SIM115 - closed by close()

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        """Append ``record`` to the chain under the log's lock; returns it with its links."""
        handle = self._handle
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            last = _last_line(handle)
            prev, seq = _link(last)
            chained = {"v": FORMAT, "seq": seq, **record, "prev": prev}
            chained["hash"] = record_hash(chained)
            line = json.dumps(chained, ensure_ascii=False) + "\n"
            if last is not None:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":  # a partial line: keep it visible, start anew
                    line = "\n" + line
            handle.write(line.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return chained

    def close(self) -> None:
        """Close the file."""
        self._handle.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_log(root: Path | None = None) -> AuditLog:
    """Open ``OMNI_AUDIT_LOG`` for appending, or raise before anything is read.

    Raises
    ------
    ConfigurationError
        The log lies inside the data root ``root``, or cannot be written.
    """
    log = settings().audit_log
    if root is not None and log.resolve().is_relative_to(root):
        raise ConfigurationError(
            f"audit log {log} lies inside the data root {root}; expected it outside "
            "every data root (set OMNI_AUDIT_LOG to a path elsewhere)"
        )
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        return AuditLog(log)
    except OSError as exc:
        raise ConfigurationError(
            f"audit log {log} cannot be written ({exc.strerror or exc}); every read is "
            "audited, so nothing was read. Set OMNI_AUDIT_LOG to a writable file outside "
            "every data root"
        ) from exc


def _entry(
    *,
    root: str | os.PathLike[str] | None,
    tier: str | None,
    dataset: str | None,
    kind: str | None,
    files: list[str],
    rows: int,
    user: str | None,
) -> dict[str, Any]:
    account = os_user()
    return {
        "time": dt.datetime.now(dt.UTC).isoformat(),
        "event": "read",
        "reason": None,
        "user": user or account,
        "os_user": account,
        "root": os.fspath(root) if root is not None else None,
        "tier": tier,
        "dataset": dataset,
        "kind": kind,
        "files": files,
        "rows": rows,
    }


def _refused(entry: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    reason = refusal_reason(exc)
    if reason is not None:
        entry.update(event="refused", reason=reason, detail=str(exc)[:1000])
    entry["error"] = type(exc).__name__
    return entry


class ReadAudit:
    """One record per read: the log is opened on entry (before any data byte is read) and
    the record appended on exit, as a refusal when a guard, role or key refusal ended it."""

    def __init__(
        self,
        *,
        root: str | os.PathLike[str] | None,
        tier: str | None,
        dataset: str | None,
        kind: str | None,
        files: list[str],
        user: str | None = None,
        log_root: Path | None = None,
    ) -> None:
        self.where: dict[str, Any] = dict(
            root=root, tier=tier, dataset=dataset, kind=kind, files=files, user=user
        )
        self.log_root = log_root
        self.rows = 0
        self._log: AuditLog | None = None

    def __enter__(self) -> ReadAudit:
        self._log = open_log(self.log_root)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._log is not None
        with self._log:
            entry = _entry(rows=self.rows, **self.where)
            if exc is not None and not isinstance(exc, GeneratorExit):
                _refused(entry, exc)
                setattr(exc, _AUDITED, True)
            self._log.append(entry)


@contextlib.contextmanager
def refusals(
    root: str | os.PathLike[str] | None,
    *,
    tier: str | None = None,
    dataset: str | None = None,
    kind: str | None = None,
    files: list[str] | None = None,
) -> Iterator[None]:
    """Append a ``refused`` record when the block raises a guard, role or key refusal.

    The refusal is re-raised unchanged; if the log cannot take the record, a note on the
    exception says so (the refusal is never hidden behind a logging error).
    """
    try:
        yield
    except Exception as exc:
        if refusal_reason(exc) is None or getattr(exc, _AUDITED, False):
            raise
        setattr(exc, _AUDITED, True)  # an enclosing block does not record it again
        try:
            entry = _entry(
                user=getattr(exc, "user", None),
                root=root,
                tier=tier,
                dataset=dataset,
                kind=kind,
                files=files or [],
                rows=0,
            )
            with open_log() as log:
                log.append(_refused(entry, exc))
        except (ConfigurationError, OSError) as log_error:
            exc.add_note(f"(this refusal could not be written to the audit log: {log_error})")
        raise


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True, kw_only=True)
class ChainReport:
    """What :func:`verify_chain` found.

    Attributes
    ----------
    path : Path
        The log.
    records : int
        Lines read.
    head : str
        The ``hash`` of the last record (keep it elsewhere to detect a cut tail later).
    line : int or None
        The line number (1-based) of the first bad record; None when the chain holds.
    problem : str or None
        What is wrong there.
    """

    path: Path
    records: int
    head: str
    line: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the chain holds."""
        return self.problem is None

    def __str__(self) -> str:
        if self.ok:
            return f"{self.path}: {self.records} record(s), chain intact; head {self.head}"
        return f"{self.path}: line {self.line}: {self.problem}"


def _broken(path: Path, records: int, head: str, line: int, problem: str) -> ChainReport:
    return ChainReport(path=path, records=records, head=head, line=line, problem=problem)


def verify_chain(path: str | os.PathLike[str], *, head: str | None = None) -> ChainReport:
    """Check the hash chain of the audit log at ``path``; name the first bad record.

    Parameters
    ----------
    path
        The log.
    head
        A head hash printed by an earlier check: it must still be in the log (else records
        at its end were deleted or the log was replaced).

    Raises
    ------
    ConfigurationError
        The log cannot be read.
    """
    log = Path(path)
    try:
        raw = log.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"audit log {log} cannot be read ({exc.strerror or exc}); expected the file "
            "OMNI_AUDIT_LOG names"
        ) from exc
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    prev, seq = GENESIS, 0
    seen_head = head is None
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
            stored, link, this = record["hash"], record["prev"], record["seq"]
            if not isinstance(this, int) or isinstance(this, bool):
                raise TypeError(this)
        except (ValueError, KeyError, TypeError, IndexError):
            return _broken(
                log,
                number - 1,
                prev,
                number,
                "not a chained audit record (edited by hand, written partly, or written by "
                "something else than the kit)",
            )
        if record_hash(record) != stored:
            return _broken(
                log,
                number - 1,
                prev,
                number,
                f"record seq {this} was edited: its hash does not match its content",
            )
        if link != prev:
            if this > seq + 1 and _later_seq(lines[number:], range(seq + 1, this)):
                why = f"records were reordered (seq {this} comes before seq {seq + 1})"
            elif this > seq + 1:
                why = (
                    f"{this - seq - 1} record(s) before it were deleted (seq jumps from "
                    f"{seq} to {this})"
                )
            elif this <= seq:
                why = f"records were reordered (seq {this} comes after seq {seq})"
            else:
                why = (
                    f"it does not follow line {number - 1}: the record before it was "
                    "replaced, or edited and re-hashed"
                )
            return _broken(log, number - 1, prev, number, f"record seq {this}: {why}")
        prev, seq = stored, this
        seen_head = seen_head or stored == head
    if not seen_head:
        return _broken(
            log,
            len(lines),
            prev,
            len(lines),
            f"the head {head} is not in the log: records at its end were deleted, or the "
            "log was replaced",
        )
    return ChainReport(path=log, records=len(lines), head=prev)


def _later_seq(lines: list[bytes], wanted: range) -> bool:
    """Whether a later line holds one of the ``wanted`` seq numbers (a move, not a deletion)."""
    for line in lines:
        try:
            if json.loads(line)["seq"] in wanted:
                return True
        except (ValueError, KeyError, TypeError, IndexError):
            continue
    return False


_SHOW_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "seq": pl.Int64,
    "time": pl.Datetime("us", "UTC"),
    "event": pl.String,
    "reason": pl.String,
    "user": pl.String,
    "os_user": pl.String,
    "root": pl.String,
    "tier": pl.String,
    "dataset": pl.String,
    "kind": pl.String,
    "rows": pl.Int64,
    "files": pl.List(pl.String),
    "error": pl.String,
}


def show(
    path: str | os.PathLike[str] | None = None,
    *,
    user: str | None = None,
    kind: str | None = None,
    start: dt.datetime | dt.date | str | None = None,
    end: dt.datetime | dt.date | str | None = None,
) -> pl.DataFrame:
    """The audit records, one row each, filtered by user, kind and time (``start``
    inclusive, ``end`` exclusive; a bare date as end includes that day).

    Lines that are not records are skipped here: :func:`verify_chain` reports them.
    """
    log = Path(path) if path is not None else settings().audit_log
    span = parse_range(start, end, where="audit show")
    try:
        text = log.read_text("utf-8", errors="replace")
    except FileNotFoundError:
        text = ""
    except OSError as exc:
        raise ConfigurationError(f"audit log {log} cannot be read ({exc.strerror or exc})") from exc
    rows = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
            when = dt.datetime.fromisoformat(record["time"])
            if when.tzinfo is None:
                raise ValueError(record["time"])
        except (ValueError, KeyError, TypeError, IndexError):
            continue
        dataset = record.get("dataset")
        record_kind = record.get("kind") or (dataset.rsplit("/", 1)[-1] if dataset else None)
        if user is not None and record.get("user") != user:
            continue
        if kind is not None and record_kind != kind:
            continue
        if span.start is not None and when < span.start:
            continue
        if span.end is not None and when >= span.end:
            continue
        row = {name: record.get(name) for name in _SHOW_SCHEMA}
        row.update(time=when, kind=record_kind)
        rows.append(row)
    return pl.DataFrame(rows, schema=_SHOW_SCHEMA, strict=False)
