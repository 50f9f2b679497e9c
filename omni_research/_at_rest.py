"""Encrypting a data root in place, and rotating its master keys without rewriting data.

:func:`encrypt_root` (``omni-research encrypt``) turns the plain files of sensitive kinds
into encrypted Parquet, one file at a time: each is staged, journaled, moved into place
and recorded in the manifest under the root's write lock, so an interrupted run leaves
every file either plain or encrypted (never half), and running it again finishes the
job. CSV and JSON files of those kinds become ``.parquet`` files of the same stem.

:func:`rotate_master_key` (``omni-research rotate-key``) re-wraps every file key of the
chosen kinds under a new master key: only the side files ``.omni-keys.json`` and the
manifest's ``[encryption]`` table change, never a data file or its sha256.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from omni_research import _crypto, _guard, _manifest
from omni_research._kms import Kms, check_key_id, kms_from_settings
from omni_research._writelock import write_lock
from omni_research.exceptions import ConfigurationError, DataFormatError, KeyAccessError
from omni_research.io import _atomic
from omni_research.io._readers import file_format, parse_bytes
from omni_research.schemas import polars_schema

if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True, kw_only=True)
class EncryptReport:
    """What :func:`encrypt_root` did.

    Attributes
    ----------
    root : Path
        The data root.
    kinds : dict of str to str
        Every encrypted kind of the root and its master key id, after the run.
    encrypted : tuple of str
        Files encrypted by this run (relative paths, as written).
    already : tuple of str
        Files that were already encrypted (a resumed run skips them).
    """

    root: Path
    kinds: dict[str, str]
    encrypted: tuple[str, ...] = ()
    already: tuple[str, ...] = ()

    def __str__(self) -> str:
        keys = ", ".join(f"{kind} -> {key}" for kind, key in sorted(self.kinds.items()))
        return (
            f"encrypted {len(self.encrypted)} file(s) of {self.root} "
            f"({len(self.already)} already encrypted); master keys: {keys or 'none'}"
        )


@dataclass(frozen=True, kw_only=True)
class RotateReport:
    """What :func:`rotate_master_key` did: file keys re-wrapped per kind, the new key id."""

    root: Path
    new_key_id: str
    rewrapped: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        done = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.rewrapped.items()))
        return (
            f"re-wrapped file keys under master key {self.new_key_id!r} in {self.root} "
            f"({done or 'nothing to do'}); no data file was rewritten"
        )


def _data_files(base: Path, kind: str) -> list[Path]:
    out = []
    for area in _crypto.AREAS:
        folder = base / area / kind
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.name.startswith(".") or not path.is_file():
                continue
            try:
                file_format(path)
            except DataFormatError:
                continue
            out.append(path)
    return out


def _probe(kms: Kms, key_id: str) -> None:
    """Fail before any file is touched when the master key cannot wrap and unwrap."""
    probe = os.urandom(32)
    if kms.unwrap(kms.wrap(probe, key_id), key_id) != probe:
        raise KeyAccessError(f"master key {key_id!r} at {kms.name} does not round-trip a key")


def _relname(base: Path, path: Path) -> str:
    return path.relative_to(base).as_posix()


def _target(path: Path) -> Path:
    fmt = file_format(path)
    if fmt == "parquet":
        return path
    return path.with_name(path.name[: -len(fmt) - 1] + ".parquet")


def encrypt_root(
    root: str | os.PathLike[str],
    *,
    key_id: str | None = None,
    kinds: Iterable[str] | None = None,
    kms: Kms | None = None,
    progress: Callable[[Path], None] | None = None,
) -> EncryptReport:
    """Encrypt the files of ``kinds`` in the data root ``root`` in place, resumably.

    The manifest's ``[encryption]`` table is written first (so importers and downloaders
    write those kinds encrypted from then on), then each plain file is replaced by its
    encrypted version atomically and recorded (sha256 of the ciphertext, rows). A kind
    already encrypted keeps its master key. Each file's sha256 is checked against the
    manifest before it is encrypted: a changed file is refused, not laundered.

    Parameters
    ----------
    root
        The data root (test or research tier).
    key_id
        The master key id in the KMS for kinds not yet encrypted (needed only when one
        of ``kinds`` is not encrypted yet).
    kinds
        The kinds to encrypt; default :data:`omni_research._crypto.SENSITIVE_KINDS`.
    kms
        The key management service; default the one ``OMNI_KMS`` names.
    progress
        Called with each file's path after it is encrypted and recorded.

    Raises
    ------
    KeyAccessError
        If the master key cannot be used (checked before any file is touched).
    DataFormatError
        If a file's sha256 differs from the manifest's (run ``omni-research verify``).
    """
    _guard.check_path(root)
    base = Path(os.path.realpath(os.fspath(root)))
    _guard.root_tier(base)
    chosen = tuple(dict.fromkeys(kinds or _crypto.SENSITIVE_KINDS))
    for kind in chosen:
        polars_schema(kind)  # UnknownKindError for a kind that does not exist
    client = kms if kms is not None else kms_from_settings()
    encrypted: list[str] = []
    already: list[str] = []
    with write_lock(base):
        _manifest.repair(base)  # an interrupted earlier run: record its journaled move
        manifest = _manifest.read_manifest(base)
        policy = _crypto.read_policy(base, manifest.tables)
        new = [kind for kind in chosen if kind not in policy.kinds]
        if new and key_id is None:
            raise ConfigurationError(
                f"{base}: {', '.join(new)} not encrypted yet; name the master key that will "
                "protect them (--key-id, the KMIP unique identifier or the key file's name)"
            )
        wanted = {kind: policy.kinds.get(kind) or check_key_id(str(key_id)) for kind in chosen}
        for used in sorted(set(wanted.values())):
            _probe(client, used)
        if any(kind not in policy.kinds for kind in chosen):
            policy = dataclasses.replace(policy, kinds={**policy.kinds, **wanted})
            tables = {**manifest.tables, "encryption": _crypto.policy_table(policy)}
            _manifest.write_manifest(base, dataclasses.replace(manifest, tables=tables))
        for kind in chosen:
            schema = polars_schema(kind)
            folders = set()
            for path in _data_files(base, kind):
                folders.add(path.parent)
                done = _encrypt_file(base, path, kind, schema, client)
                (encrypted if done else already).append(_relname(base, _target(path)))
                if done and progress is not None:
                    progress(path)
            for folder in sorted(folders):
                _crypto.prune_keys(folder)
        kinds_after = _crypto.read_policy(base).kinds
    return EncryptReport(
        root=base, kinds=kinds_after, encrypted=tuple(encrypted), already=tuple(already)
    )


def _encrypt_file(base: Path, path: Path, kind: str, schema: pl.Schema, kms: Kms) -> bool:
    """Encrypt one file in place (journaled); False when it was already encrypted."""
    name = _relname(base, path)
    target = _target(path)
    data = _guard.read_guarded(path)
    manifest = _manifest.read_manifest(base)
    record = manifest.files.get(name)
    if file_format(path) == "parquet" and _crypto.is_encrypted(data):
        return False
    if record is None and target != path and _relname(base, target) in manifest.files:
        # converted and recorded by an interrupted run, which died before removing it
        path.unlink()
        return False
    if record is None:
        raise DataFormatError(
            f"{path}: not in the manifest, so it is not encrypted (that would make a file of "
            "unknown origin look genuine); run `omni-research verify`, remove the file or "
            "import it through the kit, then run `omni-research encrypt` again"
        )
    if hashlib.sha256(data).hexdigest() != record.sha256:
        raise DataFormatError(
            f"{path}: sha256 differs from the manifest's, so it is not encrypted (that "
            "would make a changed file look genuine); run `omni-research verify` and restore "
            "it, then run `omni-research encrypt` again"
        )
    frame = parse_bytes(data, str(path), kind, schema)
    fd, staged_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".staged", dir=target.parent
    )
    os.close(fd)
    staged = Path(staged_name)
    try:
        encrypted = _crypto.encrypt_for_path(frame.to_arrow(), staged, kms=kms)
        if encrypted is None:
            raise ConfigurationError(f"{base}: {kind} is not in [encryption]; nothing written")
        _atomic.write_bytes_atomic(staged, encrypted)
        _manifest.write_journal(base, [(staged, target)])
        os.replace(staged, target)
        _manifest.record_files(base, [target])
        if target != path:
            after = _manifest.read_manifest(base)
            files = {k: v for k, v in after.files.items() if k != name}
            _manifest.write_manifest(base, dataclasses.replace(after, files=files))
            path.unlink()
        _manifest.clear_journal(base)
    finally:
        staged.unlink(missing_ok=True)
    return True


def rotate_master_key(
    root: str | os.PathLike[str],
    *,
    new_key_id: str,
    kinds: Iterable[str] | None = None,
    kms: Kms | None = None,
) -> RotateReport:
    """Re-wrap the file keys of ``kinds`` (default: every encrypted kind) under
    ``new_key_id``, without rewriting any data file.

    Each folder's side file is rewritten atomically; the manifest's ``[encryption]`` table
    then names the new key. Interrupted, it can be run again: keys already under the new
    master key are skipped. The old master key may be revoked once it returns.

    Raises
    ------
    KeyAccessError
        If the old or the new master key cannot be used (naming the folder and key id).
    ConfigurationError
        If a kind asked for is not encrypted in this root.
    """
    _guard.check_path(root)
    base = Path(os.path.realpath(os.fspath(root)))
    check_key_id(new_key_id)
    client = kms if kms is not None else kms_from_settings()
    rewrapped: dict[str, int] = {}
    with write_lock(base):
        manifest = _manifest.read_manifest(base)
        policy = _crypto.read_policy(base, manifest.tables)
        chosen = tuple(dict.fromkeys(kinds or policy.kinds))
        missing = [kind for kind in chosen if kind not in policy.kinds]
        if missing:
            raise ConfigurationError(
                f"{base}: {', '.join(missing)} not encrypted in this root (its [encryption] "
                f"table lists {', '.join(policy.kinds) or 'no kind'}); run `omni-research "
                "encrypt` first"
            )
        _probe(client, new_key_id)
        for kind in chosen:
            rewrapped[kind] = 0
            for area in _crypto.AREAS:
                for keys in sorted((base / area / kind).rglob(_crypto.KEYS_NAME)):
                    rewrapped[kind] += _rewrap_folder(keys.parent, client, new_key_id)
        policy = dataclasses.replace(
            policy, kinds={**policy.kinds, **dict.fromkeys(chosen, new_key_id)}
        )
        tables = {**manifest.tables, "encryption": _crypto.policy_table(policy)}
        latest = _manifest.read_manifest(base)
        _manifest.write_manifest(base, dataclasses.replace(latest, tables=tables))
    return RotateReport(root=base, new_key_id=new_key_id, rewrapped=rewrapped)


def _rewrap_folder(folder: Path, kms: Kms, new_key_id: str) -> int:
    count = 0
    with _crypto.key_store(folder) as entries:
        for sha, entry in list(entries.items()):
            if entry.key_id == new_key_id:
                continue
            try:
                key = kms.unwrap(entry.wrapped, entry.key_id)
            except KeyAccessError as exc:
                raise KeyAccessError(
                    f"{folder / (entry.name or sha[:12])}: its file key is wrapped under "
                    f"master key {entry.key_id!r}, which could not be used to re-wrap it: "
                    f"{exc}. Nothing of this folder was changed"
                ) from None
            entries[sha] = dataclasses.replace(
                entry, key_id=new_key_id, wrapped=kms.wrap(key, new_key_id)
            )
            count += 1
    return count
