"""One writer at a time per data root: an exclusive ``flock`` on ``<root>/.omni-write.lock``.

Every writer of the kit (the Bybit importers, :func:`omni_research._manifest.record_files`,
``make-test-data``, ``verify --repair``) holds this lock while it reads an old partition,
merges, writes, and reads-modifies-writes the manifest, so concurrent writers serialise
instead of losing each other's rows.

Rules:

* The lock is the kernel's ``flock`` on the open file, not the file's existence. The
  kernel drops it when the holder's process ends, however it ends (kill -9 included), so
  a stale lock cannot block anyone: a ``.omni-write.lock`` left behind by a dead writer
  holds no lock and the next writer simply takes it. Never delete the file by hand to
  "unlock" a root: a live holder would keep writing.
* The holder removes the file just before it releases the lock; a waiter that then wins
  the lock on the removed file notices (its open file is no longer the one at the path)
  and tries again, so two writers never hold two different files.
* Taking the lock waits up to ``timeout`` seconds (default :data:`DEFAULT_TIMEOUT`), then
  raises :class:`~omni_research.exceptions.ConfigurationError` naming the root.
* The lock is re-entrant within a thread: a writer that already holds it may call
  another writer on the same root.
* Local file systems only: ``flock`` over NFS or SMB is not reliable.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from omni_research.exceptions import ConfigurationError

LOCK_NAME = ".omni-write.lock"
DEFAULT_TIMEOUT = 120.0
"""Seconds a writer waits for another writer of the same root before giving up."""

_held = threading.local()


def _depths() -> dict[str, int]:
    depths: dict[str, int] | None = getattr(_held, "depths", None)
    if depths is None:
        depths = {}
        _held.depths = depths
    return depths


def holds_lock(root: str | os.PathLike[str]) -> bool:
    """Whether this thread holds the write lock of ``root``."""
    return _depths().get(os.path.realpath(os.fspath(root)), 0) > 0


@contextlib.contextmanager
def write_lock(root: str | os.PathLike[str], *, timeout: float | None = None) -> Iterator[Path]:
    """Hold the exclusive write lock of the data root ``root`` for the ``with`` block.

    Parameters
    ----------
    root
        An existing data-root folder.
    timeout
        Seconds to wait for another writer (default :data:`DEFAULT_TIMEOUT`).

    Yields
    ------
    Path
        The lock file.

    Raises
    ------
    ConfigurationError
        If the root is not a folder, or the lock was not free within ``timeout`` seconds.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp, write_lock(tmp) as lock:
    ...     lock.name
    '.omni-write.lock'
    """
    key = os.path.realpath(os.fspath(root))
    lock_path = Path(key) / LOCK_NAME
    depths = _depths()
    if depths.get(key, 0):
        depths[key] += 1
        try:
            yield lock_path
        finally:
            depths[key] -= 1
        return
    wait = DEFAULT_TIMEOUT if timeout is None else float(timeout)
    fd = _acquire(lock_path, key, wait)
    depths[key] = 1
    try:
        yield lock_path
    finally:
        del depths[key]
        with contextlib.suppress(OSError):
            os.unlink(lock_path)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _acquire(lock_path: Path, root: str, wait: float) -> int:
    if not os.path.isdir(root):
        raise ConfigurationError(
            f"cannot lock data root {root}: it is not a folder; create the root first"
        )
    deadline = time.monotonic() + wait
    delay = 0.01
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot open the write lock {lock_path} of data root {root} ({exc}); "
                "expected a writable folder (and no symlink named like the lock)"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() >= deadline:
                raise ConfigurationError(
                    f"data root {root} is being written by another process: its write lock "
                    f"{lock_path} was not free within {wait:g} s; wait for that writer to "
                    "finish (or pass a longer lock timeout). A lock whose holder died is "
                    "released by the kernel, so this is a live writer"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
            continue
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(lock_path, follow_symlinks=False).st_ino
        except FileNotFoundError:
            same = False
        if same:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        # the holder removed the file between our open and our lock: try the new one
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
