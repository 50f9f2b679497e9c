"""Writes into a data root in a bucket (``s3://bucket/prefix``): data objects first, the
manifest last, and the manifest never overwritten over another writer's change.

A local root keeps its own path (:mod:`omni_research.io._atomic`, the root's write lock,
:func:`omni_research._manifest.record_files`). A bucket has no lock and no rename, so:

* the guard runs first: :func:`open_research_bucket` refuses a production URI and a root
  whose manifest (at or above it) declares production, before any PUT;
* every file is staged in a local temporary file, then uploaded in one PUT (atomic: readers
  see the old object or the new one). A partition that existed is replaced only over the
  version that was read (a conditional PUT): when another writer replaced it in between,
  the object is read again and merged again, so neither writer's rows are lost;
* only when every object is up, :func:`commit` records them in the manifest with a
  conditional PUT, re-reading and merging on a conflict. A record is written only while the
  object still holds the bytes this writer put (checked by sha256 after the manifest read),
  so a later writer's version is recorded by that writer, never overwritten by an older
  record;
* a run cut off between its objects and its manifest is finished by running it again: the
  rows are already in the objects (counted as duplicates, nothing written twice) and a
  touched partition whose object the manifest does not record as it is, is recorded from
  its data (:attr:`BucketMerge.repaired`). Objects the re-run does not touch stay reported
  by ``verify``.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from omni_research._layout import relpath_problem
from omni_research._manifest import (
    FileRecord,
    Manifest,
    read_remote_manifest,
    rows_in,
    update_remote_manifest,
    write_manifest,
)
from omni_research._store import ObjectStore

if TYPE_CHECKING:
    from omni_research._sync import SyncReport
from omni_research.exceptions import (
    ConfigurationError,
    DataFormatError,
    OmniDataError,
    WriteConflictError,
)

__all__ = [
    "BucketMerge",
    "Staged",
    "Upload",
    "commit",
    "merge_into_bucket",
    "open_research_bucket",
    "parquet_bytes",
    "staged_root",
    "upload",
    "upload_files",
]

log = logging.getLogger(__name__)

RETRIES = 5
"""Conditional-PUT conflicts a writer absorbs (re-read, merge, retry) before it gives up."""


@dataclass(frozen=True, kw_only=True)
class Upload:
    """One object written under a bucket root, and what the manifest should record of it."""

    relpath: str
    record: FileRecord


@dataclass(frozen=True, kw_only=True)
class BucketMerge:
    """What :func:`merge_into_bucket` did: rows imported and duplicate, objects written
    (URIs) and objects of an interrupted earlier run recorded from their data."""

    imported: int
    duplicates: int
    files: tuple[str, ...]
    repaired: tuple[str, ...]


def open_research_bucket(
    uri: str, *, storage_options: Mapping[str, object] | None, what: str
) -> ObjectStore:
    """The store of a research-tier root in a bucket, guarded before any write.

    Parameters
    ----------
    uri
        ``s3://bucket/prefix`` (``gs://``, ``az://``) of a root with a manifest.
    storage_options
        Credentials and settings (Polars' names); unset ones come from the environment.
    what
        What is written (``"Bybit imports"``), for the messages.

    Raises
    ------
    ProductionDataError
        If the URI is production data or a manifest at or above it declares production
        (only GETs of manifests have been made: nothing was written).
    ConfigurationError
        If the root has no manifest, is not research tier, or encrypts data at rest.
    StorageError
        If the store refuses or fails.
    """
    store = ObjectStore(uri, storage_options=storage_options)
    store.check_tiers()
    manifest, _ = read_remote_manifest(store)
    if manifest.tier != "research":
        raise ConfigurationError(
            f"{store.uri} is a {manifest.tier!r}-tier root; {what} go into a research-tier "
            '(omni-data.toml with tier = "research") root, so real data never mixes with '
            "test data"
        )
    if manifest.tables.get("encryption"):
        raise ConfigurationError(
            f"{store.uri} encrypts data at rest ([encryption] in its manifest), which the kit "
            "writes into local roots only (the wrapped keys live in side files); write into a "
            "local root and publish a plain one with `omni-research sync`"
        )
    return store


def upload_files(
    folder: str,
    files: Sequence[tuple[str, bytes]],
    *,
    storage_options: Mapping[str, object] | None,
) -> list[str]:
    """Upload files that are not catalog data (report exports) under the ``folder`` URI, in
    order, one PUT each (atomic), and return their URIs. No manifest records them (a local
    export is not recorded either).

    The guard runs first: a production URI, or a manifest at or above ``folder`` declaring
    production, is refused before any PUT.

    Raises
    ------
    ProductionDataError
        As above.
    StorageError
        If the store refuses or fails (naming the object's URI); files uploaded before it
        stay whole, the one that failed is not there or is the previous version.
    """
    store = ObjectStore(folder, storage_options=storage_options)
    store.check_tiers()
    for name, _ in files:
        problem = relpath_problem(name)
        if problem:
            raise ConfigurationError(f"{store.uri_of(name)}: not a plain file name: {problem}")
    out = []
    for name, data in files:
        store.put(name, data)
        out.append(store.uri_of(name))
    return out


def parquet_bytes(df: pl.DataFrame) -> bytes:
    """``df`` as the bytes a local root would hold (zstd, page checksums), staged in a local
    temporary file by :func:`omni_research.io._atomic.write_parquet_atomic`."""
    from omni_research.io._atomic import write_parquet_atomic

    with tempfile.TemporaryDirectory(prefix="omni-upload-") as tmp:
        path = Path(tmp) / "part-0.parquet"
        write_parquet_atomic(df, path)
        return path.read_bytes()


def upload(store: ObjectStore, relpath: str, data: bytes, *, over: object = None) -> Upload:
    """Upload one object in a single PUT and return what the manifest should record.

    ``over`` is the entity tag of the version read (replace only that one), ``None`` (create
    only: fail if another writer made it), or ``...`` (replace whatever is there).

    Raises
    ------
    WriteConflictError
        If the object changed (or appeared) since it was read.
    """
    record = FileRecord(sha256=hashlib.sha256(data).hexdigest(), rows=rows_in(data, relpath))
    if over is ...:
        store.put(relpath, data)
    else:
        store.put_if(relpath, data, e_tag=over if isinstance(over, str) else None)
    return Upload(relpath=relpath, record=record)


def commit(store: ObjectStore, uploads: Sequence[Upload], *, retries: int = RETRIES) -> Manifest:
    """Record ``uploads`` (objects already written) in the root's manifest, last.

    Read the manifest, keep each upload whose object still holds the bytes it put (another
    writer's newer version is recorded by that writer), write with a conditional PUT over
    the version read; on a conflict, read again and merge again.

    Raises
    ------
    WriteConflictError
        If other writers replaced the manifest through every retry (nothing was lost: the
        objects are up; run the write again to record them).
    """

    def still_ours(manifest: Manifest) -> dict[str, FileRecord] | None:
        keep: dict[str, FileRecord] = {}
        for item in uploads:
            got = store.get_versioned(item.relpath)
            if got is not None and hashlib.sha256(got[0]).hexdigest() == item.record.sha256:
                keep[item.relpath] = item.record
        if all(manifest.files.get(name) == rec for name, rec in keep.items()):
            return None
        return keep

    return update_remote_manifest(store, still_ours, retries=retries)


def merge_into_bucket(
    store: ObjectStore,
    kind: str,
    new: pl.DataFrame,
    *,
    key: list[str],
    partition: Callable[[dict[str, Any]], str],
    partition_cols: list[str],
    retries: int = RETRIES,
) -> BucketMerge:
    """Merge ``new`` rows into the root's daily partition objects, then record them.

    ``new`` is already free of duplicates among itself; rows whose ``key`` a partition
    already holds are counted as duplicates. ``partition`` maps the partition values (and
    ``date``) to the object's path relative to the root.

    Raises
    ------
    DataFormatError
        If an existing partition object cannot be read as ``kind`` (naming its URI).
    WriteConflictError
        If another writer kept replacing a partition or the manifest through every retry.
    """
    from omni_research.io._readers import parse_bytes
    from omni_research.schemas import polars_schema

    expected = polars_schema(kind)
    recorded = read_remote_manifest(store)[0].files
    uploads: list[Upload] = []
    repaired: list[str] = []
    imported = duplicates = 0
    groups = new.with_columns(_date=pl.col("timestamp").dt.date()).group_by(
        [*partition_cols, "_date"], maintain_order=True
    )
    for keys, part in groups:
        rel = partition(dict(zip([*partition_cols, "date"], keys, strict=True)))
        part = part.drop("_date")
        for attempt in range(retries + 1):
            got = store.get_versioned(rel)
            fresh = merged = part
            if got is not None:
                old = parse_bytes(got[0], store.uri_of(rel), kind, expected)
                fresh = part.join(old.select(key), on=key, how="anti", nulls_equal=True)
                if fresh.is_empty():
                    sha = hashlib.sha256(got[0]).hexdigest()
                    if recorded.get(rel, FileRecord(sha256="", rows=0)).sha256 != sha:
                        uploads.append(
                            Upload(
                                relpath=rel,
                                record=FileRecord(sha256=sha, rows=rows_in(got[0], rel)),
                            )
                        )
                        repaired.append(rel)
                    duplicates += part.height
                    break
                try:
                    merged = pl.concat([old, fresh.select(old.columns)], how="vertical_relaxed")
                except pl.exceptions.PolarsError as exc:
                    raise DataFormatError(
                        f"could not merge the {kind} rows into {store.uri_of(rel)} ({exc}); "
                        "nothing of this partition was written"
                    ) from exc
            data = parquet_bytes(merged.sort("timestamp", maintain_order=True))
            over = None if got is None else (got[1] if got[1] is not None else ...)
            try:
                uploads.append(upload(store, rel, data, over=over))
            except WriteConflictError:
                if attempt == retries:
                    raise
                log.info("%s changed while it was merged; reading it again", store.uri_of(rel))
                continue
            imported += fresh.height
            duplicates += part.height - fresh.height
            break
    if repaired:
        log.warning(
            "%s: %d object(s) of an interrupted earlier write were not recorded as they are; "
            "recorded them from their data: %s",
            store.uri,
            len(repaired),
            ", ".join(repaired),
        )
    if uploads:
        commit(store, uploads, retries=retries)
    written = tuple(store.uri_of(u.relpath) for u in uploads if u.relpath not in repaired)
    return BucketMerge(
        imported=imported,
        duplicates=duplicates,
        files=written,
        repaired=tuple(repaired),
    )


@dataclass(kw_only=True)
class Staged:
    """A local research root staged for a bucket root, and what was published from it."""

    path: Path
    uri: str
    published: SyncReport | None = None


@contextmanager
def staged_root(
    uri: str, *, storage_options: Mapping[str, object] | None = None
) -> Iterator[Staged]:
    """A temporary local research root whose files are published to the bucket root ``uri``
    when the block ends (also when it raises: what was committed is kept).

    For writers that work on local paths (the downloads): they write into the staged root
    as into any research root, then :func:`omni_research._sync.sync` uploads each file
    (skipping objects the bucket already holds with the same sha256) and records them with
    the conditional manifest PUT, data first. The bucket is guarded and checked to be a
    research root before the block runs, so nothing is requested from a provider for a
    production or non-research bucket. The limit: the block does not see what the bucket
    already holds, so a download re-fetches it (the upload then skips equal objects).

    Raises
    ------
    ProductionDataError, ConfigurationError, StorageError
        As :func:`open_research_bucket`, before the block runs.
    """
    from omni_research._sync import sync

    open_research_bucket(uri, storage_options=storage_options, what="downloads")
    with tempfile.TemporaryDirectory(prefix="omni-stage-") as tmp:
        staged = Staged(path=Path(tmp) / "root", uri=uri)
        staged.path.mkdir()
        write_manifest(staged.path, Manifest(tier="research", meta={"staged_for": uri}))
        try:
            yield staged
        except BaseException:
            # what the block committed before it stopped is published; the block's own error
            # is the one raised (a failed publish is logged: a rerun publishes again)
            try:
                staged.published = sync(staged.path, uri, storage_options=storage_options)
            except OmniDataError as exc:
                log.warning("%s: could not publish the staged files (%s)", uri, exc)
            raise
        staged.published = sync(staged.path, uri, storage_options=storage_options)
        log.info("%s", staged.published)
