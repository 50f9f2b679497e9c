"""What a download did: :class:`DownloadSummary`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DownloadSummary", "Progress"]


@dataclass(frozen=True, kw_only=True)
class Progress:
    """Where a running download is, handed to its ``progress`` callback after every file.

    Attributes
    ----------
    unit : str
        The file just committed (``"ohlcv BTCUSDT 1m 2025-01-06"``).
    done, total : int
        Files committed by this run so far, and files this run has to fetch.
    rows : int
        Rows committed by this run so far.
    requests : int
        Requests sent so far.
    bytes : int
        Response bytes received so far.
    elapsed : float
        Seconds since the first request.
    """

    unit: str
    done: int
    total: int
    rows: int
    requests: int
    bytes: int
    elapsed: float

    @property
    def eta(self) -> float | None:
        """Seconds left at the pace so far (None before the first file)."""
        if not self.done:
            return None
        return self.elapsed / self.done * (self.total - self.done)

    def __str__(self) -> str:
        eta = "?" if self.eta is None else f"{self.eta:.0f} s"
        return (
            f"{self.done}/{self.total} files, {self.rows:,} rows, {self.requests} requests, "
            f"{self.bytes / 1e6:.1f} MB, ETA {eta}"
        )


@dataclass(frozen=True, kw_only=True)
class DownloadSummary:
    """What one download did.

    Attributes
    ----------
    source : str
        The provider (``"bybit"``, ...).
    root : Path
        The research root written.
    requests : int
        HTTP requests sent, retries included.
    retries : int
        Requests that repeated an earlier one after a transient fault or a rate limit.
    rows : Mapping of str to int
        Rows committed per kind.
    files_written : tuple of Path
        Files committed by this run (each recorded in the manifest with sha256 and rows).
    files_skipped : tuple of Path
        Files of the plan the manifest already held: not fetched again.
    gaps : tuple of str
        Holes found in what came in (missing bars, days without data), one line each.
    notes : tuple of str
        Other findings: funding-interval changes, days not yet complete, ...
    """

    source: str
    root: Path
    requests: int = 0
    retries: int = 0
    rows: Mapping[str, int] = field(default_factory=dict)
    files_written: tuple[Path, ...] = ()
    files_skipped: tuple[Path, ...] = ()
    gaps: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def __str__(self) -> str:
        rows = ", ".join(f"{kind} {n}" for kind, n in sorted(self.rows.items())) or "none"
        lines = [
            f"{self.source} download into {self.root}: {self.requests} request(s), "
            f"{self.retries} retried; rows {rows}; {len(self.files_written)} file(s) written, "
            f"{len(self.files_skipped)} already present (skipped); {len(self.gaps)} gap(s)"
        ]
        lines += [f"  gap: {gap}" for gap in self.gaps[:20]]
        if len(self.gaps) > 20:
            lines.append(f"  ... and {len(self.gaps) - 20} more gaps")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


@dataclass(kw_only=True)
class Tally:
    """The mutable counterpart filled while a download runs; :meth:`freeze` ends it."""

    source: str
    root: Path
    rows: dict[str, int] = field(default_factory=dict)
    files_written: list[Path] = field(default_factory=list)
    files_skipped: list[Path] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add_rows(self, kind: str, n: int) -> None:
        self.rows[kind] = self.rows.get(kind, 0) + n

    def freeze(self, *, requests: int, retries: int) -> DownloadSummary:
        return DownloadSummary(
            source=self.source,
            root=self.root,
            requests=requests,
            retries=retries,
            rows=dict(self.rows),
            files_written=tuple(self.files_written),
            files_skipped=tuple(self.files_skipped),
            gaps=tuple(self.gaps),
            notes=tuple(self.notes),
        )
