"""Lineage: where a report's numbers came from, and the guard that keeps production data out."""

from __future__ import annotations

import json
import platform
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omni_research._manifest import measure
from omni_research._typing import Tier
from omni_research.exceptions import ConfigurationError, DataFormatError, ProductionDataError

if TYPE_CHECKING:
    from omni_research._store import ObjectStore

ALLOWED_TIERS: tuple[Tier, ...] = ("test", "research")
"""Tiers a report may be made from. Production data never reaches a report."""

_PACKAGES = (
    "omni-research",
    "polars",
    "pyarrow",
    "pandera",
    "numpy",
    "pandas",
    "numba",
    "ta",
    "matplotlib",
    "nbconvert",
)


@dataclass(frozen=True, kw_only=True)
class FileRecord:
    """One file a report read.

    Attributes
    ----------
    path : str
        Path relative to the catalog root (absolute when outside it).
    dataset : str
        The dataset it belongs to, e.g. ``"historical/ohlcv"`` (empty if unknown).
    rows : int or None
        Row count (from the Parquet footer, or counted), None when not countable.
    sha256 : str
        Hex SHA-256 of the file's bytes at the time the report was made.
    size_bytes : int
        File size in bytes.
    """

    path: str
    dataset: str
    rows: int | None
    sha256: str
    size_bytes: int


@dataclass(frozen=True, kw_only=True)
class Lineage:
    """Everything needed to trace a report back to its inputs and code.

    Attributes
    ----------
    catalog_root : str
        Absolute path of the data root.
    tier : Tier
        The root's tier (``"test"`` or ``"research"``).
    files : tuple of FileRecord
        Every file read, with rows and checksums.
    schema_versions : dict
        Schema version of the root's manifest and of each kind read.
    parameters : dict
        Indicator, strategy and selection parameters (JSON-serialisable values).
    packages : dict
        Python and package versions.
    git_commit : str
        Commit of the code that made the report, or ``"unknown"`` outside a git checkout.
    created_at : datetime
        When the lineage was collected (UTC).
    time_range : dict or None
        The span of data asked for, ``{"start": ..., "end": ...}`` as ISO strings (start
        inclusive, end exclusive). None: taken from the ``start``/``end`` parameters, if any.
    """

    catalog_root: str
    tier: Tier
    files: tuple[FileRecord, ...] = ()
    schema_versions: Mapping[str, str] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    packages: Mapping[str, str] = field(default_factory=dict)
    git_commit: str = "unknown"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    time_range: Mapping[str, str | None] | None = None

    def span(self) -> dict[str, str | None] | None:
        """The time range read: :attr:`time_range`, else the ``start``/``end`` parameters."""
        if self.time_range is not None:
            return {"start": self.time_range.get("start"), "end": self.time_range.get("end")}
        if "start" in self.parameters or "end" in self.parameters:
            given = _jsonable({k: self.parameters.get(k) for k in ("start", "end")})
            return {k: None if v is None else str(v) for k, v in given.items()}
        return None

    def datasets(self) -> list[dict[str, Any]]:
        """Per dataset: number of files and total rows, in first-seen order."""
        out: dict[str, dict[str, Any]] = {}
        for rec in self.files:
            entry = out.setdefault(rec.dataset, {"dataset": rec.dataset, "files": 0, "rows": 0})
            entry["files"] += 1
            entry["rows"] += rec.rows or 0
        return list(out.values())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dictionary of the lineage."""
        return {
            "catalog_root": self.catalog_root,
            "tier": self.tier,
            "created_at": self.created_at.isoformat(),
            "git_commit": self.git_commit,
            "time_range": self.span(),
            "schema_versions": dict(self.schema_versions),
            "parameters": _jsonable(self.parameters),
            "packages": dict(self.packages),
            "datasets": self.datasets(),
            "files": [
                {
                    "path": f.path,
                    "dataset": f.dataset,
                    "rows": f.rows,
                    "sha256": f.sha256,
                    "size_bytes": f.size_bytes,
                }
                for f in self.files
            ],
        }

    def to_json(self) -> str:
        """The lineage as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)


def _jsonable(value: Any) -> Any:
    """Turn parameters into JSON-safe values (tuples to lists, datetimes to ISO strings)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def guard_paths(root: str | Path, tier: str | None, paths: Iterable[str | Path] = ()) -> None:
    """Refuse any report input that is not test or research tier data.

    Calls the kit's production guard on the root and every path, and checks the tier.

    Raises
    ------
    ProductionDataError
        When the guard refuses a path or the tier is not ``test``/``research``.
    """
    for p in (root, *paths):
        _check(p)
    if tier not in ALLOWED_TIERS:
        raise ProductionDataError(
            f"report refused: data root {root} has tier {tier!r}; reports are made only from "
            f"{' or '.join(ALLOWED_TIERS)} tier data. Copy the data into a research root "
            "(tier = 'research' in its omni-data.toml) and report from there."
        )


def _is_uri(path: object) -> bool:
    from omni_research._store import is_uri

    return is_uri(path)


def _check(path: str | Path) -> None:
    """The guard on a local path, or on an object's URI (a string such as ``s3://b/k``)."""
    from omni_research import _guard

    if _is_uri(path):
        _guard.check_uri(str(path))
    else:
        _guard.check_path(Path(path))


def _object_record(store: ObjectStore, uri: str, *, root: str, dataset: str) -> FileRecord:
    """Hash and count one object of a root in a bucket (read once, through the guard)."""
    import hashlib

    from omni_research._manifest import rows_in

    rel = uri.removeprefix(root.rstrip("/") + "/")
    if rel == uri:
        raise DataFormatError(
            f"lineage: {uri} is not under the catalog root {root}; expected one of its objects"
        )
    data = store.get(rel)
    if not dataset:
        parts = rel.split("/")
        dataset = "/".join(parts[:2]) if len(parts) > 2 else ""
    return FileRecord(
        path=rel,
        dataset=dataset,
        rows=rows_in(data, rel),
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
    )


def file_record(path: str | Path, *, root: str | Path, dataset: str = "") -> FileRecord:
    """Hash and count one file, with its path relative to ``root`` when inside it."""
    p = Path(path).resolve()
    r = Path(root).resolve()
    if not p.is_file():
        raise DataFormatError(f"lineage: {p} does not exist or is not a file; expected a data file")
    try:
        rel = p.relative_to(r).as_posix()
    except ValueError:
        rel = p.as_posix()
    if not dataset:
        parts = Path(rel).parts
        dataset = "/".join(parts[:2]) if len(parts) > 2 else ""
    measured = measure(p)  # the manifest's measure: one read, through the guard
    return FileRecord(
        path=rel,
        dataset=dataset,
        rows=measured.rows,
        sha256=measured.sha256,
        size_bytes=p.stat().st_size,
    )


def package_versions() -> dict[str, str]:
    """Python and the versions of the packages a report depends on."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit(path: str | Path | None = None) -> str:
    """The git commit of the checkout holding ``path`` (default: this package), or "unknown".

    A ``+dirty`` suffix marks uncommitted changes to tracked files.
    """
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if head.returncode != 0:
            return "unknown"
        commit = head.stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if dirty.returncode == 0 and dirty.stdout.strip():
            commit += "+dirty"
        return commit or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def collect_lineage(
    root: str | Path,
    *,
    tier: str | None,
    files: Iterable[str | Path | tuple[str | Path, str]] = (),
    parameters: Mapping[str, Any] | None = None,
    schema_versions: Mapping[str, str] | None = None,
    time_range: Mapping[str, str | None] | None = None,
    store: ObjectStore | None = None,
) -> Lineage:
    """Collect the lineage of a report, refusing anything but test or research data.

    Parameters
    ----------
    root
        The data root the report reads: a local path, or a URI string of a root in a
        bucket (then ``files`` are its objects' URIs, read through ``store``).
    tier
        The root's tier; anything but ``"test"`` or ``"research"`` is refused.
    files
        Paths read (or ``(path, dataset)`` pairs); each is guarded, hashed and counted.
    parameters
        Indicator, strategy and selection parameters to record.
    schema_versions
        Schema versions of the manifest and of each kind.
    time_range
        The span read, ``{"start": ..., "end": ...}`` (ISO strings; None: the ``start`` and
        ``end`` parameters stand for it).
    store
        The catalog's object store when ``root`` is in a bucket (``Catalog.store``).

    Returns
    -------
    Lineage

    Raises
    ------
    ProductionDataError
        When the root, a file or the tier is production.

    Examples
    --------
    >>> from omni_research.reports import collect_lineage
    >>> lin = collect_lineage("data_test", tier="test")  # doctest: +SKIP
    >>> lin.tier  # doctest: +SKIP
    'test'
    """
    records: list[FileRecord] = []
    if _is_uri(root):
        if store is None:
            raise ConfigurationError(
                f"lineage of {root}: a root in a bucket needs its store (store=catalog.store)"
            )
        items = [(str(i[0]), i[1]) if isinstance(i, tuple) else (str(i), "") for i in files]
        guard_paths(root, tier, [uri for uri, _ in items])
        seen_uris: set[str] = set()
        for uri, ds in items:
            if uri not in seen_uris:
                seen_uris.add(uri)
                records.append(_object_record(store, uri, root=str(root), dataset=ds))
        catalog_root = str(root).rstrip("/")
    else:
        pairs: list[tuple[Path, str]] = []
        for item in files:
            if isinstance(item, tuple):
                pairs.append((Path(item[0]), item[1]))
            else:
                pairs.append((Path(item), ""))
        guard_paths(root, tier, [p for p, _ in pairs])
        seen: set[Path] = set()
        for p, ds in pairs:
            key = p.resolve()
            if key in seen:
                continue
            seen.add(key)
            records.append(file_record(p, root=root, dataset=ds))
        catalog_root = str(Path(root).resolve())
    if tier not in ALLOWED_TIERS:  # guard_paths has refused it already; narrows for mypy
        raise ConfigurationError(f"lineage: tier {tier!r} is not one of {ALLOWED_TIERS}")
    return Lineage(
        catalog_root=catalog_root,
        tier=tier,
        files=tuple(records),
        schema_versions=dict(schema_versions or {}),
        parameters=dict(parameters or {}),
        packages=package_versions(),
        git_commit=git_commit(),
        time_range=dict(time_range) if time_range is not None else None,
    )
