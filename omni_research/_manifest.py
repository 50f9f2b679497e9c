"""The data root's manifest, ``omni-data.toml``: tier, schema version, and every data file's
sha256 and row count, so that ``omni-research verify`` can find a single flipped byte."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from omni_research import _crypto, _guard
from omni_research._layout import inside, relpath_problem
from omni_research._typing import Tier
from omni_research._writelock import write_lock
from omni_research.config import MANIFEST_NAME, SCHEMA_VERSION
from omni_research.exceptions import ConfigurationError, DataFormatError, WriteConflictError
from omni_research.io._atomic import write_text_atomic

if TYPE_CHECKING:
    from omni_research._store import ObjectStore

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_VERSION = re.compile(r"^\d+(\.\d+)*$")


@dataclass(frozen=True, kw_only=True)
class FileRecord:
    """What the manifest knows of one data file."""

    sha256: str
    rows: int


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """A data root's manifest."""

    tier: Tier
    schema_version: str = SCHEMA_VERSION
    meta: dict[str, Any] = field(default_factory=dict)
    files: dict[str, FileRecord] = field(default_factory=dict)
    # the other top-level tables ([access], [encryption], ...), kept as read and written back;
    # each belongs to the module that checks it
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The hex sha256 of a file's bytes (the production guard runs before it is opened)."""
    digest = hashlib.sha256()
    with _guard.open_guarded(path) as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(root: str | os.PathLike[str]) -> Manifest:
    """Read and check ``<root>/omni-data.toml``.

    Parameters
    ----------
    root
        The data root.

    Returns
    -------
    Manifest
        Tier, schema version, the other top-level keys (``meta``) and the file records.

    Raises
    ------
    ConfigurationError
        If the manifest is missing or unreadable, its tier is unknown, its
        ``schema_version`` has another major version than the kit's
        (:data:`~omni_research.config.SCHEMA_VERSION`), or a file entry is not a relative
        POSIX path inside the root (no leading ``/``, no ``..``, ``.`` or empty part, no
        ``real_time`` part, no NUL) with a 64-hex ``sha256`` and a non-negative int ``rows``.
        The message names the manifest, the entry and the problem.
    """
    path = Path(root) / MANIFEST_NAME
    if not os.path.lexists(path):
        raise ConfigurationError(
            f"{root} is not a data root: {MANIFEST_NAME} is missing; expected a manifest "
            'declaring tier = "test" or "research"'
        )
    try:
        raw = _guard.read_guarded(path)
    except DataFormatError as exc:
        raise ConfigurationError(f"{path}: unreadable manifest ({exc})") from exc
    return parse_manifest(raw, path)


def parse_manifest(raw: bytes, path: Path | str) -> Manifest:
    """The manifest in ``raw`` (the bytes of an ``omni-data.toml``), checked as
    :func:`read_manifest` checks it; ``path`` (a file or an object's URI) names it in errors."""
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise ConfigurationError(f"{path}: unreadable manifest ({exc})") from exc
    except RecursionError:  # arrays nested deeper than the parser's stack (found by fuzzing)
        raise ConfigurationError(
            f"{path}: unreadable manifest (values nested too deeply); expected the flat "
            "tables the kit writes"
        ) from None
    tier = data.pop("tier", None)
    if tier not in ("test", "research", "production"):
        raise ConfigurationError(f"{path}: tier is {tier!r}; expected test, research or production")
    version = _check_version(path, data.pop("schema_version", SCHEMA_VERSION))
    raw_files = data.pop("files", {})
    if not isinstance(raw_files, dict):
        raise ConfigurationError(
            f"{path}: 'files' is a {type(raw_files).__name__}; expected a table of "
            '[files."<relative path>"] entries with sha256 and rows'
        )
    files = {name: _check_entry(path, name, rec) for name, rec in raw_files.items()}
    tables = {key: data.pop(key) for key in [k for k, v in data.items() if isinstance(v, dict)]}
    return Manifest(tier=tier, schema_version=version, meta=data, files=files, tables=tables)


def _check_version(path: Path | str, value: object) -> str:
    text = (
        str(value) if isinstance(value, int | float | str) and not isinstance(value, bool) else ""
    )
    if not _VERSION.fullmatch(text):
        raise ConfigurationError(
            f"{path}: schema_version is {value!r}; expected a version string such as "
            f'"{SCHEMA_VERSION}"'
        )
    if text.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise ConfigurationError(
            f"{path}: schema_version is {text!r}, but this kit reads schema version "
            f"{SCHEMA_VERSION.split('.')[0]}.x ({SCHEMA_VERSION}); use a kit release that "
            "reads this root, or migrate the root"
        )
    return text


def _check_entry(path: Path | str, name: str, record: object) -> FileRecord:
    where = f"{path}: file entry {name!r}"
    problem = relpath_problem(name)
    if problem:
        raise ConfigurationError(
            f"{where} is not a relative path inside the root: {problem}; entries are POSIX "
            "paths relative to the root such as historical/trades/symbol=BTCUSDT/"
            "date=2025-01-06/part-0.parquet: fix or remove the entry"
        )
    if not isinstance(record, dict):
        raise ConfigurationError(
            f"{where} is a {type(record).__name__}; expected a table with sha256 and rows"
        )
    sha, rows = record.get("sha256"), record.get("rows")
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise ConfigurationError(
            f"{where}: sha256 is {sha!r}; expected 64 hex digits (`omni-research verify "
            "--repair` cannot invent it: restore the manifest or re-import the file)"
        )
    if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
        raise ConfigurationError(
            f"{where}: rows is {rows!r}; expected a non-negative integer row count"
        )
    return FileRecord(sha256=sha.lower(), rows=rows)


def _toml_value(value: Any) -> str:
    # json's string escaping is valid TOML basic-string escaping
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def _toml_table(name: str, table: dict[str, Any]) -> list[str]:
    """``[name]`` with its scalar and list keys, then its sub-tables, sorted."""
    lines = ["", f"[{name}]"]
    lines += [
        f"{json.dumps(key)} = {_toml_value(value)}"
        for key, value in sorted(table.items())
        if not isinstance(value, dict)
    ]
    for key, value in sorted(table.items()):
        if isinstance(value, dict):
            lines += _toml_table(f"{name}.{json.dumps(key)}", value)
    return lines


def write_manifest(root: str | os.PathLike[str], manifest: Manifest) -> Path:
    """Write the manifest atomically, files sorted by path so it diffs cleanly.

    The production guard runs on ``root`` first, and every entry is checked as
    :func:`read_manifest` checks it, so the kit never writes a manifest it would refuse.
    """
    _guard.check_path(root)
    target = Path(root) / MANIFEST_NAME
    return write_text_atomic(target, manifest_text(manifest, target))


def manifest_text(manifest: Manifest, path: Path | str) -> str:
    """The TOML text of ``manifest``, files sorted by path, every entry checked as
    :func:`read_manifest` checks it (``path`` names the target in errors)."""
    target = path
    _check_version(target, manifest.schema_version)
    for name, record in manifest.files.items():
        _check_entry(target, name, {"sha256": record.sha256, "rows": record.rows})
    lines = [
        "# omni_research data root manifest: written by the kit, checked by `omni-research verify`",
        f"tier = {_toml_value(manifest.tier)}",
        f"schema_version = {_toml_value(manifest.schema_version)}",
    ]
    lines += [f"{key} = {_toml_value(value)}" for key, value in sorted(manifest.meta.items())]
    for name, table in sorted(manifest.tables.items()):
        lines += _toml_table(json.dumps(name), table)
    for name in sorted(manifest.files):
        record = manifest.files[name]
        lines += [
            "",
            f"[files.{json.dumps(name)}]",
            f'sha256 = "{record.sha256}"',
            f"rows = {record.rows}",
        ]
    return "\n".join(lines) + "\n"


def rows_in(data: bytes, path: Path | str) -> int:
    """Rows of a data file from its bytes (``path``'s suffix tells the format).

    Raises
    ------
    DataFormatError
        If the bytes cannot be parsed (naming ``path``).
    """
    return _rows_in(data, path)


# --------------------------------------------------------------------------- in a bucket


def read_remote_manifest(store: ObjectStore) -> tuple[Manifest, str | None]:
    """The manifest of a root in a bucket and its version (entity tag) for a conditional
    rewrite with :func:`write_remote_manifest`.

    Raises
    ------
    ConfigurationError
        If the root has no manifest or it is malformed (as :func:`read_manifest`).
    StorageError
        If the store refuses or fails (credentials, bucket, connection).
    """
    where = store.uri_of(MANIFEST_NAME)
    got = store.get_versioned(MANIFEST_NAME)
    if got is None:
        raise ConfigurationError(
            f"{store.uri} is not a data root: {where} is missing; expected a manifest "
            'declaring tier = "test" or "research" (publish a root with `omni-research sync`)'
        )
    return parse_manifest(got[0], where), got[1]


def write_remote_manifest(store: ObjectStore, manifest: Manifest, *, e_tag: str | None) -> None:
    """Write a bucket root's manifest in one conditional PUT: only over the version ``e_tag``
    that was read (``None``: only if there is none yet). Write the data objects first.

    Raises
    ------
    WriteConflictError
        If another writer replaced (or created) the manifest since it was read: nothing was
        written; re-read it, merge, retry (:func:`record_remote` does).
    """
    text = manifest_text(manifest, store.uri_of(MANIFEST_NAME))
    store.put_if(MANIFEST_NAME, text.encode("utf-8"), e_tag=e_tag)


def record_remote(
    store: ObjectStore, records: dict[str, FileRecord], *, retries: int = 5
) -> Manifest:
    """Add ``records`` (objects already written) to a bucket root's manifest.

    Read, merge, conditional write; when another writer won in between, read its manifest
    again and merge again (``retries`` times), so neither writer's files are lost.
    """
    for name, record in records.items():
        _check_entry(store.uri_of(MANIFEST_NAME), name, dataclasses.asdict(record))
    return update_remote_manifest(store, lambda _manifest: records, retries=retries)


def update_remote_manifest(
    store: ObjectStore,
    additions: Callable[[Manifest], dict[str, FileRecord] | None],
    *,
    retries: int,
) -> Manifest:
    """Merge ``additions(manifest)`` into a bucket root's manifest by a conditional write.

    The one read-merge-write loop of bucket manifests: the manifest is read with its
    version, ``additions`` says which records to add to it (``None``: nothing to write,
    the manifest read is returned), and the write succeeds only over the version read;
    when another writer won in between, the loop reads and merges again (``retries``
    times), so neither writer's files are lost.
    """
    for attempt in range(retries + 1):
        manifest, tag = read_remote_manifest(store)
        records = additions(manifest)
        if records is None:
            return manifest
        updated = dataclasses.replace(manifest, files={**manifest.files, **records})
        try:
            write_remote_manifest(store, updated, e_tag=tag)
        except WriteConflictError:
            if attempt == retries:
                raise
            continue
        return updated
    raise AssertionError("unreachable")  # pragma: no cover


def count_rows(path: Path) -> int:
    """Rows of a data file, from Parquet metadata or by reading a small text file.

    Raises
    ------
    DataFormatError
        If the file cannot be read or parsed (naming the file).
    """
    return _rows_in(_guard.read_guarded(path), path)


def measure(path: Path) -> FileRecord:
    """The sha256 and row count of one file, from one guarded read of its bytes."""
    data = _guard.read_guarded(path)
    return FileRecord(sha256=hashlib.sha256(data).hexdigest(), rows=_rows_in(data, path))


def _rows_in(data: bytes, path: Path | str) -> int:
    import gzip
    import zlib

    import pyarrow as pa
    import pyarrow.parquet as pq

    from omni_research.io._readers import file_format

    fmt = file_format(path)
    try:
        if fmt == "parquet" and _crypto.is_encrypted(data):  # no key needed: the side file
            return _crypto.recorded_rows(path, data)
        if fmt == "parquet":
            return int(pq.ParquetFile(pa.BufferReader(data)).metadata.num_rows)
        if fmt == "jsonl":
            return sum(1 for line in data.decode("utf-8").split("\n") if line.strip())
        if fmt == "json":
            loaded = json.loads(data.decode("utf-8"))
            return len(loaded if isinstance(loaded, list) else loaded.get("records", []))
        text = (gzip.decompress(data) if fmt == "csv.gz" else data).decode("utf-8")
    except (
        OSError,
        EOFError,
        ValueError,
        AttributeError,
        TypeError,  # {"records": 5}: len() of a number
        RecursionError,  # deeply nested JSON (found by fuzzing)
        zlib.error,
        pa.ArrowException,
    ) as exc:
        raise DataFormatError(
            f"{path}: cannot count its rows ({exc}); expected a complete {fmt} file"
        ) from exc
    return max(0, sum(1 for line in text.splitlines() if line.strip()) - 1)


def _relname(base: Path, path: str | os.PathLike[str]) -> str:
    full = Path(os.path.realpath(os.fspath(path)))
    try:
        name = full.relative_to(base).as_posix()
    except ValueError:
        raise ConfigurationError(
            f"{path} resolves to {full}, outside the data root {base}; only files inside "
            "the root can be recorded in its manifest"
        ) from None
    problem = relpath_problem(name)
    if problem:
        raise ConfigurationError(f"{path} cannot be recorded in {base}'s manifest: {problem}")
    return name


def record_files(root: str | os.PathLike[str], paths: list[Path] | list[str]) -> Manifest:
    """Record (or refresh) the sha256 and row count of ``paths`` in the root's manifest.

    The read-modify-write of the manifest runs under the root's write lock
    (:func:`omni_research._writelock.write_lock`), after the production guard.

    Parameters
    ----------
    root
        The data root.
    paths
        Files inside ``root``.

    Returns
    -------
    Manifest
        The manifest as written.
    """
    _guard.check_path(root)
    base = Path(os.path.realpath(os.fspath(root)))
    with write_lock(base):
        manifest = read_manifest(base)
        files = dict(manifest.files)
        for path in paths:
            name = _relname(base, path)
            full = inside(base, name)
            files[name] = measure(full)
        updated = dataclasses.replace(manifest, files=files)
        write_manifest(base, updated)
    return updated


# --------------------------------------------------------------------------- journal

JOURNAL_NAME = ".omni-journal.json"
"""The write journal at the top of a root: present only while a write is between its
first data-file replace and its manifest write (or after a crash there)."""


def write_journal(root: Path, moves: list[tuple[Path, Path]]) -> Path:
    """Record, atomically, the ``(staged, target)`` moves a writer is about to make.

    Call it under the root's write lock, after every staged file is complete and before
    the first ``os.replace``; remove it with :func:`clear_journal` once the manifest is
    written. If the writer dies in between, :func:`repair` (run by the next writer, or
    ``omni-research verify --repair``) records the journaled files from their data.
    """
    base = Path(os.path.realpath(os.fspath(root)))
    entries = [
        {"target": _relname(base, target), "staged": _relname(base, staged)}
        for staged, target in moves
    ]
    text = json.dumps({"writer_pid": os.getpid(), "files": entries}, indent=1) + "\n"
    return write_text_atomic(base / JOURNAL_NAME, text)


def clear_journal(root: Path) -> None:
    """Remove the journal after the manifest write that completes a write."""
    path = Path(root) / JOURNAL_NAME
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        fd = os.open(Path(root), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass(frozen=True, kw_only=True)
class RepairReport:
    """What :func:`repair` did to a data root.

    Attributes
    ----------
    root : Path
        The data root.
    journal_found : bool
        Whether a journal of an interrupted write was found.
    recorded : dict of str to FileRecord
        Journaled files whose sha256 and rows were recomputed from the data and recorded.
    previous : dict of str to FileRecord or None
        What the manifest said of each recorded file before (None: it was not listed).
    missing : tuple of str
        Journaled files that do not exist (their move never happened): left as recorded.
    removed_staging : tuple of str
        Leftover staging files of the interrupted write that were removed.
    """

    root: Path
    journal_found: bool
    recorded: dict[str, FileRecord] = field(default_factory=dict)
    previous: dict[str, FileRecord | None] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    removed_staging: tuple[str, ...] = ()

    def __str__(self) -> str:
        if not self.journal_found:
            return f"no interrupted write to repair in {self.root} (no {JOURNAL_NAME})"
        lines = [
            f"repaired {self.root}: a write was interrupted between its data files and its "
            f"manifest; recorded {len(self.recorded)} file(s) from their data:"
        ]
        for name, record in sorted(self.recorded.items()):
            before = self.previous.get(name)
            was = (
                "was not in the manifest"
                if before is None
                else "unchanged"
                if before == record
                else f"was {before.rows} rows, sha256 {before.sha256[:12]}"
            )
            lines.append(f"  {name}: {record.rows} rows, sha256 {record.sha256[:12]} ({was})")
        lines += [f"  {name}: never moved into place, left as it was" for name in self.missing]
        if self.removed_staging:
            lines.append(f"  removed {len(self.removed_staging)} leftover staging file(s)")
        return "\n".join(lines)


def _read_journal(base: Path, path: Path) -> list[tuple[str, str]]:
    try:
        data = json.loads(path.read_text("utf-8"))
        entries = data["files"]
        pairs = [(str(e["target"]), str(e["staged"])) for e in entries]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(
            f"{path}: unreadable write journal ({exc}); expected the JSON the kit writes "
            "before it moves data files into place. Check the files it may name against "
            f"`omni-research verify --root {base}` and remove the journal by hand"
        ) from exc
    for target, staged in pairs:
        for name in (target, staged):
            problem = relpath_problem(name)
            if problem:
                raise ConfigurationError(
                    f"{path}: journal entry {name!r} is not a relative path inside the "
                    f"root: {problem}; the journal was not written by the kit: remove it"
                )
        if not PurePosixPath(staged).name.startswith("."):
            raise ConfigurationError(
                f"{path}: journal staging entry {staged!r} is not a staging file (they are "
                "hidden files); the journal was not written by the kit: remove it"
            )
    return pairs


def repair(root: str | os.PathLike[str]) -> RepairReport:
    """Bring a root back to a consistent state after a write interrupted by a crash.

    If ``<root>/.omni-journal.json`` exists, a writer died between moving its data files
    into place and writing the manifest. For each file the journal lists, its sha256 and
    row count are recomputed from the data and recorded; leftover staging files are
    removed; then the journal is removed. Files the journal does not list are never
    touched: a file that does not match the manifest for another reason stays reported by
    ``verify`` (the data may have been tampered with; the kit does not accept it
    silently). Every writer runs this first when it takes the write lock.

    Parameters
    ----------
    root
        The data root.

    Returns
    -------
    RepairReport
        What was repaired; ``str(report)`` is a readable report.

    Raises
    ------
    ProductionDataError
        If ``root`` is production data.
    ConfigurationError
        If the journal is malformed or names paths outside the root.
    DataFormatError
        If a journaled file cannot be read (the journal is kept).

    Examples
    --------
    >>> import tempfile
    >>> from omni_research.testing import make_test_data
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = make_test_data(tmp, days=1)
    ...     repair(tmp).journal_found
    False
    """
    _guard.check_path(root)
    base = Path(os.path.realpath(os.fspath(root)))
    with write_lock(base):
        journal = base / JOURNAL_NAME
        if not journal.exists():
            return RepairReport(root=base, journal_found=False)
        pairs = _read_journal(base, journal)
        manifest = read_manifest(base)
        files = dict(manifest.files)
        recorded: dict[str, FileRecord] = {}
        previous: dict[str, FileRecord | None] = {}
        missing: list[str] = []
        removed: list[str] = []
        for target, staged in pairs:
            staged_path = inside(base, staged)
            if staged_path.is_file() and not staged_path.is_symlink():
                staged_path.unlink()
                removed.append(staged)
            full = inside(base, target)
            if not full.is_file():
                missing.append(target)
                continue
            record = measure(full)
            previous[target] = files.get(target)
            files[target] = recorded[target] = record
        write_manifest(
            base,
            dataclasses.replace(manifest, files=files),
        )
        clear_journal(base)
    return RepairReport(
        root=base,
        journal_found=True,
        recorded=recorded,
        previous=previous,
        missing=tuple(missing),
        removed_staging=tuple(removed),
    )
