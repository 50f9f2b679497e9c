"""Encryption at rest: Parquet modular encryption (AES-256-GCM) with keys from a KMS.

How a file is protected (docs/security.md, "Encryption at rest"):

* The root's manifest says which kinds are encrypted and under which master key::

      [encryption]
      algorithm = "AES_GCM_V1"
      [encryption.kinds]
      orders = "<master key id>"

* Each encrypted file gets its own random 256-bit *file key*. pyarrow writes the file with
  Parquet modular encryption (``AES_GCM_V1``, 256-bit data keys, every column and the
  footer encrypted, so the file begins and ends with ``PARE``); the data keys pyarrow makes
  are wrapped with the file key (AES-256-GCM) inside the file's footer metadata.
* The file key is wrapped by the KMS under the kind's master key and kept, with the
  file's row count, in the hidden side file ``.omni-keys.json`` of the file's folder,
  keyed by the sha256 of the encrypted bytes. The master key never reaches the data root,
  the manifest or the repository.
* Rotating a master key re-wraps file keys in the side files only: the data files, their
  sha256 and the manifest's file records do not change.
* ``verify`` needs no key: the sha256 is of the ciphertext, and the row count comes from
  the side file. Reading needs the KMS; a tampered file fails GCM authentication.

Imports only the guard, the KMS clients, ``config`` and ``exceptions`` (the writers in
``io._atomic`` and the manifest call it, never the other way round).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import threading
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omni_research import _guard
from omni_research._kms import Kms, check_key_id, data_root_of, kms_from_settings
from omni_research.config import MANIFEST_NAME, PARQUET_WRITE_OPTIONS
from omni_research.exceptions import (
    ConfigurationError,
    DataFormatError,
    KeyAccessError,
    OmniDataError,
)

if TYPE_CHECKING:
    import pyarrow as pa

ALGORITHM = "AES_GCM_V1"
KEYS_NAME = ".omni-keys.json"
"""The side file of a folder holding encrypted files: their wrapped file keys and rows."""
MAGIC = b"PARE"
SENSITIVE_KINDS = ("orders", "fills", "positions", "pnl", "decisions", "agent_metrics", "posts")
"""The kinds ``omni-research encrypt`` encrypts when no ``--kinds`` are given."""
AREAS = ("historical", "test")
"""The areas of a root whose ``<area>/<kind>/`` folders hold data files."""


def is_encrypted(data: bytes) -> bool:
    """Whether ``data`` is a Parquet file with an encrypted footer (``PARE`` magic)."""
    return len(data) >= 8 and data[:4] == MAGIC and data[-4:] == MAGIC


# ------------------------------------------------------------------------------ policy


@dataclass(frozen=True, kw_only=True)
class Policy:
    """A root's ``[encryption]`` table: which kinds are encrypted under which master key."""

    root: Path
    algorithm: str = ALGORITHM
    kinds: dict[str, str]


def read_policy(root: Path, tables: dict[str, Any] | None = None) -> Policy:
    """The ``[encryption]`` table of ``root`` (from ``tables``, or read from its manifest).

    Raises
    ------
    ConfigurationError
        If the table names another algorithm, an unknown kind or an invalid key id.
    """
    from omni_research._typing import KINDS

    if tables is None:
        raw = _guard.read_guarded(root / MANIFEST_NAME)
        if b"encryption" not in raw:  # every plain write asks: skip parsing a big manifest
            return Policy(root=root, kinds={})
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise ConfigurationError(
                f"{root / MANIFEST_NAME}: unreadable manifest ({type(exc).__name__}); its "
                "[encryption] table cannot be read, so nothing is written"
            ) from None
        tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    table = tables.get("encryption") or {}
    where = f"{root / MANIFEST_NAME}: [encryption]"
    algorithm = table.get("algorithm", ALGORITHM)
    if algorithm != ALGORITHM:
        raise ConfigurationError(
            f"{where} algorithm is {algorithm!r}; expected {ALGORITHM!r} (AES-256-GCM Parquet "
            "modular encryption), the only one the kit writes and reads"
        )
    kinds = table.get("kinds") or {}
    if not isinstance(kinds, dict):
        raise ConfigurationError(f'{where}.kinds must be a table of kind = "<master key id>"')
    for kind, key_id in kinds.items():
        if kind not in KINDS:
            raise ConfigurationError(
                f"{where}.kinds names {kind!r}; expected data kinds ({', '.join(KINDS)})"
            )
        check_key_id(key_id)
    return Policy(root=root, algorithm=algorithm, kinds=dict(kinds))


def policy_table(policy: Policy) -> dict[str, Any]:
    """The manifest table for ``policy`` (what :func:`read_policy` reads back)."""
    return {"algorithm": policy.algorithm, "kinds": dict(sorted(policy.kinds.items()))}


def kind_of(root: Path, path: Path) -> str | None:
    """The kind of a data file (``<area>/<kind>/...`` under the root), if it has one."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return None
    if len(parts) >= 3 and parts[0] in AREAS:
        return parts[1]
    return None


def key_for(path: str | os.PathLike[str]) -> tuple[Policy, str] | None:
    """``(policy, master key id)`` when ``path`` is a file of an encrypted kind, else None."""
    full = Path(os.path.abspath(os.fspath(path)))
    root = data_root_of(full)
    if root is None:
        return None
    kind = kind_of(root, full)
    if kind is None:
        return None
    policy = read_policy(root)
    key_id = policy.kinds.get(kind)
    return None if key_id is None else (policy, key_id)


# -------------------------------------------------------------------- the side key store


@dataclass(frozen=True, kw_only=True)
class KeyEntry:
    """What the side file knows of one encrypted file (keyed by its sha256)."""

    key_id: str
    wrapped: bytes
    rows: int
    name: str

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "wrapped_key": base64.b64encode(self.wrapped).decode("ascii"),
            "rows": self.rows,
            "name": self.name,
        }


def _entry(where: Path, sha: str, raw: object) -> KeyEntry:
    try:
        assert isinstance(raw, dict)
        rows = raw["rows"]
        if not isinstance(rows, int) or rows < 0:
            raise TypeError("rows")
        return KeyEntry(
            key_id=check_key_id(str(raw["key_id"])),
            wrapped=base64.b64decode(raw["wrapped_key"], validate=True),
            rows=rows,
            name=str(raw.get("name", "")),
        )
    except (AssertionError, KeyError, TypeError, ValueError, ConfigurationError) as exc:
        raise DataFormatError(
            f"{where}: entry {sha[:12]} is malformed ({type(exc).__name__}); expected "
            "key_id, wrapped_key (base64) and rows. Restore the folder's key file from backup"
        ) from None


def read_keys(folder: Path) -> dict[str, KeyEntry]:
    """The entries of ``folder``'s side file (empty when there is none)."""
    path = folder / KEYS_NAME
    if not os.path.lexists(path):
        return {}
    try:
        data = json.loads(_guard.read_guarded(path).decode("utf-8"))
        files = data["files"]
        if not isinstance(files, dict):
            raise TypeError("files")
    except (ValueError, KeyError, TypeError) as exc:
        raise DataFormatError(
            f"{path}: unreadable key file ({type(exc).__name__}); expected the JSON the kit "
            "writes. Restore it from backup: without it the folder's encrypted files cannot "
            "be read"
        ) from None
    return {sha: _entry(path, sha, raw) for sha, raw in files.items()}


def _write_keys(folder: Path, entries: dict[str, KeyEntry]) -> None:
    """Write the side file atomically (temp file, fsync, replace)."""
    target = folder / KEYS_NAME
    _guard.check_path(folder)
    text = json.dumps(
        {
            "version": 1,
            "algorithm": ALGORITHM,
            "files": {sha: entries[sha].to_json() for sha in sorted(entries)},
        },
        indent=1,
    )
    fd, tmp = tempfile.mkstemp(prefix=f"{KEYS_NAME}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def key_store(folder: Path) -> Iterator[dict[str, KeyEntry]]:
    """The side file's entries under an exclusive lock of the folder; written back on exit.

    Writers of one folder (an import, ``encrypt``, ``rotate-key``) serialise on the lock,
    so no writer loses another's entry.
    """
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        entries = read_keys(folder)
        before = dict(entries)
        yield entries
        if entries != before:
            _write_keys(folder, entries)
    finally:
        os.close(fd)  # closing the descriptor drops the lock


def entry_for(source: str | os.PathLike[str], data: bytes) -> KeyEntry:
    """The side-file entry of the encrypted file ``source`` whose bytes are ``data``."""
    text = os.fspath(source)
    if _guard.uri_scheme(text) is not None:
        raise DataFormatError(
            f"{text}: encrypted Parquet in a root in a bucket is not supported yet (the "
            f"wrapped file keys live in the local folder's {KEYS_NAME}); keep encrypted kinds "
            "in a local root"
        )
    path = Path(text)
    sha = hashlib.sha256(data).hexdigest()
    entry = read_keys(path.parent).get(sha)
    if entry is None:
        raise DataFormatError(
            f"{path}: encrypted, but {path.parent / KEYS_NAME} holds no key for it (sha256 "
            f"{sha[:12]}); the file was changed or its key file lost. Restore both from backup"
        )
    return entry


def recorded_rows(path: str | os.PathLike[str], data: bytes) -> int:
    """Rows of an encrypted file, from its side-file entry (no key needed: for ``verify``).

    A file whose bytes match no entry (changed since it was written) gets the rows of the
    entry written under its name, so that ``verify`` reports its sha256 mismatch rather
    than an unreadable file; with no such entry it raises DataFormatError.
    """
    try:
        return entry_for(path, data).rows
    except DataFormatError:
        if _guard.uri_scheme(os.fspath(path)) is not None:
            raise
        full = Path(os.fspath(path))
        named = [e for e in read_keys(full.parent).values() if e.name == full.name]
        if len(named) != 1:
            raise
        return named[0].rows


# ---------------------------------------------------------------------- encrypt, decrypt


def _file_key_client(file_key: bytes) -> Any:
    """A pyarrow KMS client whose only "master key" is the file key, held in memory."""
    import pyarrow.parquet.encryption as pe
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    class _FileKeyClient(pe.KmsClient):  # type: ignore[misc]
        def wrap_key(self, key_bytes: bytes, master_key_identifier: str) -> str:
            nonce = os.urandom(12)
            sealed = AESGCM(file_key).encrypt(nonce, key_bytes, master_key_identifier.encode())
            return base64.b64encode(nonce + sealed).decode("ascii")

        def unwrap_key(self, wrapped_key: str, master_key_identifier: str) -> bytes:
            raw = base64.b64decode(wrapped_key)
            opened: bytes = AESGCM(file_key).decrypt(
                raw[:12], raw[12:], master_key_identifier.encode()
            )
            return opened

    return _FileKeyClient()


def encrypt_table(table: pa.Table, *, kms: Kms, key_id: str, source: str) -> tuple[bytes, KeyEntry]:
    """Encrypt ``table`` as Parquet bytes and the side-file entry that opens them.

    The bytes are zstd Parquet with page checksums, every column and the footer encrypted
    with AES-256-GCM under fresh 256-bit data keys; the file key that wraps those keys is
    itself wrapped by ``kms`` under ``key_id``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    import pyarrow.parquet.encryption as pe

    file_key = os.urandom(32)
    wrapped = kms.wrap(file_key, key_id)
    factory = pe.CryptoFactory(lambda _config: _file_key_client(file_key))
    config = pe.EncryptionConfiguration(
        footer_key=key_id,
        uniform_encryption=True,
        encryption_algorithm=ALGORITHM,
        data_key_length_bits=256,
        plaintext_footer=False,
        double_wrapping=False,
        internal_key_material=True,
    )
    properties = factory.file_encryption_properties(pe.KmsConnectionConfig(), config)
    sink = pa.BufferOutputStream()
    pq.write_table(
        table,
        sink,
        **PARQUET_WRITE_OPTIONS,
        encryption_properties=properties,
    )
    data: bytes = sink.getvalue().to_pybytes()
    return data, KeyEntry(key_id=key_id, wrapped=wrapped, rows=table.num_rows, name=source)


def file_key(
    path: str | os.PathLike[str], data: bytes, *, kms: Kms | None = None
) -> tuple[bytes, KeyEntry]:
    """Unwrap the file key of the encrypted file ``path`` (bytes ``data``) through the KMS.

    Raises
    ------
    KeyAccessError
        Naming the file and the master key id when the KMS is not configured, unreachable,
        refuses, or the key does not open the wrapped file key.
    """
    entry = entry_for(path, data)
    try:
        client = kms if kms is not None else kms_from_settings()
        return _unwrap_cached(client, entry), entry
    except KeyAccessError as exc:
        raise KeyAccessError(
            f"{path}: encrypted under master key {entry.key_id!r}, which could not be used: {exc}"
        ) from None
    except ConfigurationError as exc:
        raise KeyAccessError(
            f"{path}: encrypted under master key {entry.key_id!r}, but the key management "
            f"service is misconfigured: {exc}"
        ) from None


KEY_CACHE_SECONDS = 300.0
"""How long an unwrapped file key from a remote KMS is kept in memory (pyarrow's own cache
keeps keys 600 s): a scan's footer check and its read, and repeated loads, then cost one
KMS round trip per file, not one per use. A revoked master key stops working in a running
process after at most this long; :func:`forget_keys` drops every cached key at once."""
_cache: dict[tuple[object, str, bytes], tuple[float, bytes]] = {}
_cache_lock = threading.Lock()


def forget_keys() -> None:
    """Drop every unwrapped file key this process keeps (see :data:`KEY_CACHE_SECONDS`)."""
    with _cache_lock:
        _cache.clear()


def _unwrap_cached(kms: Kms, entry: KeyEntry) -> bytes:
    """Unwrap through ``kms``, reusing a key it unwrapped within the cache lifetime.

    Only KMS clients that ask for it are cached (a KMIP server is a network round trip; a
    local key file is cheap, and its mode is checked again at every use). The cache key is
    the client itself (server and client certificate), the master key id and the wrapped
    bytes, so another identity never gets a key it could not unwrap itself.
    """
    if not getattr(kms, "cache_unwrapped", False):
        return kms.unwrap(entry.wrapped, entry.key_id)
    slot = (kms, entry.key_id, entry.wrapped)
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(slot)
    if hit is not None and now - hit[0] < KEY_CACHE_SECONDS:
        return hit[1]
    key = kms.unwrap(entry.wrapped, entry.key_id)
    with _cache_lock:
        for old in [k for k, (at, _key) in _cache.items() if now - at >= KEY_CACHE_SECONDS]:
            del _cache[old]
        _cache[slot] = (now, key)
    return key


def decrypt_table(
    data: bytes, *, key: bytes, source: str, schema_only: bool = False
) -> pa.Table | pa.Schema:
    """Decrypt Parquet bytes with their file key; a tampered file raises DataFormatError."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import pyarrow.parquet.encryption as pe
    from cryptography.exceptions import InvalidTag

    factory = pe.CryptoFactory(lambda _config: _file_key_client(key))
    properties = factory.file_decryption_properties(
        pe.KmsConnectionConfig(), pe.DecryptionConfiguration()
    )
    try:
        if schema_only:
            return pq.read_schema(pa.BufferReader(data), decryption_properties=properties)
        return pq.read_table(
            pa.BufferReader(data),
            decryption_properties=properties,
            page_checksum_verification=True,
        )
    except (pa.ArrowException, OSError, ValueError, InvalidTag) as exc:
        raise DataFormatError(
            f"{source}: encrypted Parquet that does not decrypt: AES-GCM authentication "
            f"failed or the file is damaged ({type(exc).__name__}); the ciphertext was "
            "changed or truncated. Nothing of it was decoded: restore the file from backup"
        ) from None


def read_encrypted(path: str | os.PathLike[str], data: bytes) -> pa.Table:
    """Decrypt the encrypted Parquet file ``path`` whose (guarded, checked) bytes are ``data``."""
    import pyarrow as pa

    key, _entry = file_key(path, data)
    table = decrypt_table(data, key=key, source=os.fspath(path))
    assert not isinstance(table, pa.Schema)
    return table


def read_encrypted_schema(path: Path) -> pa.Schema | None:
    """The columns of ``path`` if it is encrypted (read through the guard and the KMS);
    None for a plain file."""
    import pyarrow as pa

    with _guard.open_guarded(path) as handle:
        if handle.read(len(MAGIC)) != MAGIC:
            return None
    data = _guard.read_guarded(path)
    if not is_encrypted(data):
        return None
    key, _entry = file_key(path, data)
    schema = decrypt_table(data, key=key, source=str(path), schema_only=True)
    assert isinstance(schema, pa.Schema)
    return schema


def encrypt_for_path(
    table: pa.Table, path: str | os.PathLike[str], *, kms: Kms | None = None
) -> bytes | None:
    """Encrypted bytes for ``path`` when its root encrypts its kind (entry recorded), else
    None. The side-file entry is written before the caller moves the bytes into place, so
    an encrypted file is never without its key."""
    found = key_for(path)
    if found is None:
        return None
    _policy, key_id = found
    full = Path(os.path.abspath(os.fspath(path)))
    name = full.name
    if name.startswith(".") and name.endswith((".staged", ".tmp")):  # a writer's staging file
        name = name[1:].rsplit(".", 2)[0]
    client = kms if kms is not None else kms_from_settings()
    data, entry = encrypt_table(table, kms=client, key_id=key_id, source=name)
    with key_store(full.parent) as entries:
        entries[hashlib.sha256(data).hexdigest()] = entry
    return data


def unencrypted(
    root: Path, tables: dict[str, Any], files: list[tuple[str, str, Path]]
) -> list[tuple[str, str, str]]:
    """``verify``'s rows for files of a kind the ``[encryption]`` table names that are not
    encrypted Parquet (``files``: relative path, kind, path). Reads 4 bytes of each."""
    try:
        kinds = read_policy(root, tables).kinds
    except ConfigurationError as exc:
        return [(MANIFEST_NAME, f"malformed [encryption] table: {exc}", "")]
    rows = []
    for name, kind, path in files:
        if kind not in kinds:
            continue
        try:
            with _guard.open_guarded(path) as handle:
                head = handle.read(len(MAGIC))
        except (OmniDataError, OSError):
            continue  # refused or unreadable: verify's other checks name it
        if head != MAGIC:
            rows.append(
                (
                    name,
                    f"not encrypted: {kind} is encrypted in this root (master key "
                    f"{kinds[kind]!r}); run `omni-research encrypt --root {root}`",
                    "",
                )
            )
    return rows


def prune_keys(folder: Path) -> int:
    """Drop side-file entries that match no file of ``folder`` (call under the root's write
    lock, so no writer is between its entry and its move); returns how many were dropped."""
    with key_store(folder) as entries:
        live = set()
        for child in folder.iterdir():
            if child.is_file() and not child.name.startswith(".") and child.suffix == ".parquet":
                live.add(hashlib.sha256(_guard.read_guarded(child)).hexdigest())
        stale = [sha for sha in entries if sha not in live]
        for sha in stale:
            del entries[sha]
    return len(stale)
