"""Atomic writers: temporary file in the same folder, fsync, os.replace, fsync the folder.

A writer killed half-way leaves the previous version intact (measured: a killed
``write_parquet`` otherwise leaves an unreadable file). The temporary names are unique
per writer (``tempfile.mkstemp``), so concurrent writers never share a staging file.
Every writer runs the production guard on its target first, and an OS error while
writing becomes a :class:`~omni_research.exceptions.DataWriteError` naming the file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl

from omni_research import _guard
from omni_research.config import PARQUET_WRITE_OPTIONS
from omni_research.exceptions import ConfigurationError, DataWriteError


@contextlib.contextmanager
def _atomic_target(path: str | os.PathLike[str]) -> Iterator[Path]:
    target = Path(path)
    _guard.check_path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise DataWriteError(
            f"could not write {target}: {exc}; expected a writable folder with free space"
        ) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes the file private (0600); give it the mode a plain open() would
        os.chmod(tmp, target.stat().st_mode & 0o777 if target.exists() else 0o666 & ~_umask())
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, DataWriteError):
            raise
        raise DataWriteError(
            f"could not write {target}: {exc}; expected a writable folder with free space"
        ) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some filesystems do not allow opening folders
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    with _atomic_target(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically and return the path."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_with_atomic(path: str | os.PathLike[str], writer: Callable[[Path], object]) -> Path:
    """Call ``writer(tmp_path)`` and move the result onto ``path`` atomically."""
    with _atomic_target(path) as tmp:
        writer(tmp)
    return Path(path)


def write_parquet_atomic(df: pl.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``df`` as zstd Parquet with page checksums, atomically.

    Page checksums let pyarrow detect flipped bytes inside a data page, which Polars
    and pyarrow otherwise read back as wrong values without an error. When the file's root
    encrypts its kind (the manifest's ``[encryption]`` table), it is written encrypted
    (:mod:`omni_research._crypto`).
    """
    import pyarrow.parquet as pq

    from omni_research import _crypto

    # a kind the root's manifest lists under [encryption] is written encrypted, never plain
    encrypted = _crypto.encrypt_for_path(df.to_arrow(), path)
    if encrypted is not None:
        return write_bytes_atomic(path, encrypted)

    def _write(tmp: Path) -> None:
        pq.write_table(df.to_arrow(), tmp, **PARQUET_WRITE_OPTIONS)

    return write_with_atomic(path, _write)


def write_csv_atomic(df: pl.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``df`` as CSV (gzip when the name ends in ``.gz``), atomically.

    A kind its root encrypts is refused (ConfigurationError): it is stored as encrypted
    Parquet only (:func:`write_parquet_atomic`).
    """
    import gzip

    from omni_research import _crypto

    if _crypto.key_for(path) is not None:
        raise ConfigurationError(
            f"{path}: its kind is encrypted in this data root ([encryption] in the manifest), "
            "so it cannot be written as plain CSV; write it as Parquet (encrypted)"
        )

    text = df.write_csv(datetime_format="%Y-%m-%dT%H:%M:%S%.6fZ")
    data = text.encode("utf-8")
    if str(path).endswith(".gz"):
        # mtime=0 keeps the bytes reproducible from run to run
        data = gzip.compress(data, compresslevel=9, mtime=0)
    return write_bytes_atomic(path, data)
