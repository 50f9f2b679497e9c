"""``sync``: publish a research root to a bucket and back, incrementally by sha256.

The source's manifest says what a root holds. Every file it lists is copied unless the
destination already holds the same bytes (by sha256: the destination's manifest record,
and the file itself hashed for a local destination, or an object of the source file's size
in a bucket, where hashing would mean downloading it); every copied file is hashed on the way and
must match the source manifest (corrupt data is never published). Data first, manifest
last: the destination's manifest is merged (its own other files are kept) and written with
a conditional PUT on a bucket (on a conflict with another writer it is re-read and merged
again) or atomically under the root's write lock on a local folder. A sync cut short
leaves the old manifest in place and is finished by running it again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from omni_research import _guard
from omni_research._layout import inside
from omni_research._manifest import (
    FileRecord,
    Manifest,
    parse_manifest,
    read_manifest,
    read_remote_manifest,
    record_remote,
    rows_in,
    write_manifest,
    write_remote_manifest,
)
from omni_research._store import ObjectStore, is_uri
from omni_research._writelock import write_lock
from omni_research.config import MANIFEST_NAME
from omni_research.exceptions import (
    ConfigurationError,
    DataFormatError,
    ProductionDataError,
    WriteConflictError,
)
from omni_research.io._atomic import write_bytes_atomic

_WORKERS = 8


@dataclass(frozen=True, kw_only=True)
class SyncReport:
    """What :func:`sync` did.

    Attributes
    ----------
    source, destination : str
        The roots (URIs as given, local paths resolved).
    copied : tuple of str
        Files copied (relative paths), in path order.
    skipped : tuple of str
        Files the destination already held with the same sha256.
    bytes_copied : int
        Bytes of the copied files.
    """

    source: str
    destination: str
    copied: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    bytes_copied: int = 0
    records: dict[str, FileRecord] = field(default_factory=dict, repr=False)

    def __str__(self) -> str:
        return (
            f"synced {self.source} -> {self.destination}: copied {len(self.copied)} file(s) "
            f"({self.bytes_copied:,} bytes), skipped {len(self.skipped)} unchanged"
        )


class _Local:
    """A local data root as a sync end."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = _guard.check_path(root)
        self.name = str(self.root)

    def manifest(self) -> Manifest | None:
        if not (self.root / MANIFEST_NAME).exists():
            return None
        _guard.root_tier(self.root)  # a production root is refused before it is read
        return read_manifest(self.root)

    def get(self, relpath: str) -> bytes:
        return _guard.read_guarded(inside(self.root, relpath))

    def size(self, relpath: str) -> int | None:
        path = self.root / relpath
        return path.stat().st_size if path.is_file() else None

    def holds(
        self, relpath: str, record: FileRecord, known: FileRecord | None, size: int | None
    ) -> bool:
        path = self.root / relpath
        if known != record or not path.is_file():
            return False
        return hashlib.sha256(_guard.read_guarded(path)).hexdigest() == record.sha256

    def put(self, relpath: str, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        target = inside(self.root, relpath)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(target, data)

    def commit(self, source: Manifest, records: dict[str, FileRecord]) -> None:
        with write_lock(self.root):
            current = self.manifest()
            base = current if current is not None else _fresh(source)
            write_manifest(self.root, dataclasses.replace(base, files={**base.files, **records}))


class _Bucket:
    """A data root in a bucket as a sync end."""

    def __init__(self, uri: str, options: Mapping[str, object] | None) -> None:
        self.store = ObjectStore(uri, storage_options=options)
        self.name = self.store.uri
        self.sizes: dict[str, int] | None = None

    def manifest(self) -> Manifest | None:
        self.store.check_tiers()
        got = self.store.get_versioned(MANIFEST_NAME)
        return None if got is None else parse_manifest(got[0], self.store.uri_of(MANIFEST_NAME))

    def get(self, relpath: str) -> bytes:
        return self.store.get(relpath)

    def size(self, relpath: str) -> int | None:
        if self.sizes is None:
            self.sizes = {o.key: o.size for o in self.store.list()}
        return self.sizes.get(relpath)

    def holds(
        self, relpath: str, record: FileRecord, known: FileRecord | None, size: int | None
    ) -> bool:
        # the destination manifest's record, and an object of the source's size: an object
        # replaced or cut short behind the manifest's back is copied again
        held = self.size(relpath)
        return known == record and held is not None and (size is None or held == size)

    def put(self, relpath: str, data: bytes) -> None:
        self.store.put(relpath, data)

    def commit(self, source: Manifest, records: dict[str, FileRecord]) -> None:
        try:
            record_remote(self.store, records)
            return
        except ConfigurationError:
            if self.store.get_versioned(MANIFEST_NAME) is not None:
                raise
        fresh = _fresh(source)  # no manifest yet: create it (and only if still none)
        try:
            write_remote_manifest(self.store, dataclasses.replace(fresh, files=records), e_tag=None)
        except WriteConflictError:  # another writer created it first: merge into theirs
            record_remote(self.store, records)
        read_remote_manifest(self.store)  # what was written parses back


def _fresh(source: Manifest) -> Manifest:
    """A new destination manifest: the source's tier, schema and tables, no files yet."""
    return dataclasses.replace(source, files={})


def _end(root: str | os.PathLike[str], options: Mapping[str, object] | None) -> _Local | _Bucket:
    if isinstance(root, str) and is_uri(root):
        return _Bucket(root, options)
    return _Local(root)


def sync(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    /,
    *,
    storage_options: Mapping[str, object] | None = None,
    progress: Callable[[str], None] | None = None,
) -> SyncReport:
    """Copy a data root to another place (local folder or bucket), skipping equal files.

    Parameters
    ----------
    source, destination
        Local folders or object-store URIs (``s3://bucket/prefix``, ``gs://``, ``az://``).
    storage_options
        Credentials and settings for the bucket end(s) (Polars' names); unset ones come from
        the standard environment (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``, ...).
    progress
        Called with each relative path as it is copied.

    Returns
    -------
    SyncReport
        What was copied and skipped.

    Raises
    ------
    ProductionDataError
        If either end is production data (a manifest with tier production at or above it,
        an ``OMNI_PRODUCTION_PATHS`` prefix, a ``real_time`` part).
    DataFormatError
        If a source file's bytes differ from its manifest record (nothing of it is copied).
    StorageError
        If a store refuses or fails; the message names the URI.
    WriteConflictError
        If other writers kept replacing the destination manifest through every retry.

    Examples
    --------
    >>> import tempfile
    >>> from omni_research.testing import make_test_data
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = make_test_data(f"{tmp}/a", days=1)
    ...     first = sync(f"{tmp}/a", f"{tmp}/b")
    ...     again = sync(f"{tmp}/a", f"{tmp}/b")
    >>> len(first.copied) > 0, len(again.copied)
    (True, 0)
    """
    src, dest = _end(source, storage_options), _end(destination, storage_options)
    if src.name == dest.name:
        raise ConfigurationError(f"sync source and destination are the same root: {src.name}")
    manifest = src.manifest()
    if manifest is None:
        raise ConfigurationError(
            f"{src.name} is not a data root: {MANIFEST_NAME} is missing; expected a manifest "
            'declaring tier = "test" or "research"'
        )
    if manifest.tier == "production":
        raise ProductionDataError(f"refused to sync {src.name}: its manifest declares production")
    if manifest.tables.get("encryption"):
        raise ConfigurationError(
            f"{src.name} encrypts data at rest ([encryption] in its manifest), and the wrapped "
            "keys of its files live in side files beside them that sync does not carry; "
            "expected a plain root: sync a root without [encryption]"
        )
    existing = dest.manifest()
    known = existing.files if existing is not None else {}
    if existing is not None and existing.tier != manifest.tier:
        raise ConfigurationError(
            f"{dest.name} holds a {existing.tier}-tier root and {src.name} is {manifest.tier}; "
            "expected the same tier at both ends: sync into another prefix"
        )
    todo: list[str] = []
    skipped: list[str] = []
    for name in sorted(manifest.files):
        record = manifest.files[name]
        held = dest.holds(name, record, known.get(name), src.size(name))
        (skipped if held else todo).append(name)

    def copy(name: str) -> int:
        data = src.get(name)
        record = manifest.files[name]
        if hashlib.sha256(data).hexdigest() != record.sha256:
            raise DataFormatError(
                f"{src.name}/{name}: sha256 differs from its manifest's; nothing of it was "
                "copied. Run `omni-research verify` on the source and restore the file"
            )
        if rows_in(data, name) != record.rows:
            raise DataFormatError(
                f"{src.name}/{name}: row count differs from its manifest's ({record.rows}); "
                "nothing of it was copied. Run `omni-research verify` on the source"
            )
        dest.put(name, data)
        if progress is not None:
            progress(name)
        return len(data)

    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        sizes = list(pool.map(copy, todo))
    records = {name: manifest.files[name] for name in todo}
    if todo or existing is None:
        dest.commit(manifest, records)
    return SyncReport(
        source=src.name,
        destination=dest.name,
        copied=tuple(todo),
        skipped=tuple(skipped),
        bytes_copied=sum(sizes),
        records=records,
    )
