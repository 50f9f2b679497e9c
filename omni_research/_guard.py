"""The production guard: the first call of every read. There is no switch to turn it off.

The rules, as the operating system sees paths (docs/security.md states them for users):

* **One canonical path.** A local path is made absolute against the working directory,
  ``~`` is expanded, and symlinks are resolved component by component *before* ``..`` is
  applied, exactly as the kernel walks a path (``res/lnk/..`` is the parent of where
  ``res/lnk`` points, not ``res``). :func:`check_path` returns that path, and readers open
  that path and no other (:func:`open_guarded`).
* **Refused** when the canonical path, or the path as written, lies under a folder whose
  ``omni-data.toml`` says ``tier = "production"``; has a folder called ``real_time`` (any
  letter case); or starts with an ``OMNI_PRODUCTION_PATHS`` prefix (compared
  case-insensitively, the prefixes resolved the same way).
* **URIs** are told from paths by a strict parse: ``scheme://`` at the very start, with a
  scheme the kit knows (``s3``, ``s3a``, ``s3n``, ``gs``, ``gcs``, ``az``, ``abfs``,
  ``abfss``, ``file``). ``://`` anywhere else is part of a local path; an unknown scheme is
  refused. ``s3a://``/``s3n://`` name the same bucket as ``s3://`` (and ``gcs://`` as
  ``gs://``, ``abfs[s]://`` as ``az://``) when prefixes are compared.
* **What is opened is what was checked.** :func:`open_guarded` opens the canonical path
  without following a final symlink, then asks the kernel which file it opened
  (``/proc/self/fd``) and refuses when that is not the checked path (a folder swapped for
  a symlink in between). It opens regular files only, and refuses a file with more than one
  hard link: its other names could lie inside production, and no path check can see them
  (except inside the test root installed with the package, which installers such as uv
  hard-link from their cache).
* A NUL byte, a symlink loop or a path that is not text raises ``ConfigurationError``.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from omni_research._typing import Tier
from omni_research.config import MANIFEST_NAME, settings
from omni_research.exceptions import ConfigurationError, DataFormatError, ProductionDataError

SCHEMES: dict[str, str] = {
    "s3": "s3",
    "s3a": "s3",
    "s3n": "s3",
    "gs": "gs",
    "gcs": "gs",
    "az": "az",
    "abfs": "az",
    "abfss": "az",
    "file": "file",
}
"""URI schemes the guard knows, each mapped to the store it names."""

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_FOLDED = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):/(?!/)")  # s3://b/x after pathlib.Path()
_PROC_FD = "/proc/self/fd"


def uri_scheme(text: str | os.PathLike[str]) -> str | None:
    """The canonical scheme of a URI (``"s3"`` for ``s3a://...``), ``None`` for a local path.

    Only ``scheme://`` at the very start makes a URI; an unknown scheme raises
    ProductionDataError, because the guard cannot vouch for what it names.
    """
    if not isinstance(text, str):
        return None
    match = _SCHEME.match(text)
    if match is None:
        return None
    scheme = match.group(1).lower()
    if scheme not in SCHEMES:
        raise ProductionDataError(
            f"refused to read {text}: unknown URI scheme {match.group(1)!r}; expected a local "
            f"path or one of {', '.join(s + '://' for s in SCHEMES)}"
        )
    return SCHEMES[scheme]


def _text(path: str | os.PathLike[str]) -> str:
    try:
        text = os.fspath(path)
    except TypeError as exc:
        raise ConfigurationError(
            f"expected a path (str or os.PathLike), got {type(path).__name__}"
        ) from exc
    if isinstance(text, bytes):
        try:
            text = os.fsdecode(text)
        except UnicodeDecodeError as exc:  # pragma: no cover - fsdecode uses surrogateescape
            raise ConfigurationError(f"path {text!r} is not decodable") from exc
    if "\x00" in text:
        raise ConfigurationError(f"path {text!r} contains a NUL byte; expected a plain path")
    if not text:
        raise ConfigurationError("expected a path, got an empty string")
    return text


def canonical(path: str | os.PathLike[str]) -> Path:
    """The absolute path the OS opens for ``path``: ``~`` expanded, symlinks resolved in order.

    Raises
    ------
    ConfigurationError
        For a NUL byte, an empty path, a URI, or a symlink loop.
    """
    text = _text(path)
    if uri_scheme(text) is not None:
        raise ConfigurationError(f"{text} is a URI, not a local path")
    expanded = os.path.expanduser(text)
    # realpath walks the components in order and applies '..' to the resolved prefix, as the
    # kernel does; abspath()/normpath() first would collapse 'link/..' lexically (the bug).
    real = os.path.realpath(
        expanded if os.path.isabs(expanded) else os.path.join(os.getcwd(), expanded)
    )
    if os.path.islink(real):  # realpath stops inside a loop and returns a link
        raise ConfigurationError(
            f"{text}: symlink loop at {real}; expected a path that resolves to a file or folder"
        )
    return Path(real)


def _written(text: str) -> str:
    """The path as written, made absolute lexically (checked too: refusing more, never less)."""
    expanded = os.path.expanduser(text)
    return os.path.normpath(os.path.join(os.getcwd(), expanded))


def _manifest_tier(folder: str) -> Tier | None:
    manifest = os.path.join(folder, MANIFEST_NAME)
    try:
        info = os.stat(manifest)
    except OSError:
        return None
    return _read_tier(manifest, info.st_mtime_ns, info.st_size)


@lru_cache(maxsize=256)
def _read_tier(manifest: str, _mtime: int, _size: int) -> Tier:
    try:
        with open(manifest, "rb") as handle:
            tier = tomllib.load(handle).get("tier")
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ConfigurationError(
            f"manifest {manifest} is unreadable ({exc}); expected TOML with "
            'tier = "test" | "research" | "production"; fix or remove it'
        ) from exc
    if tier not in ("test", "research", "production"):
        raise ConfigurationError(
            f"manifest {manifest}: tier is {tier!r}; expected one of "
            '"test", "research", "production"'
        )
    return tier  # type: ignore[no-any-return]


def _refuse(path: object, why: str) -> ProductionDataError:
    return ProductionDataError(
        f"refused to read {os.fspath(path) if isinstance(path, str | os.PathLike) else path}: "
        f"{why}. Research reads test and research tiers only; copy the data you need into a "
        'research root (tier = "research") instead'
    )


def _uri_key(uri: str) -> str:
    """``store://rest`` with the scheme alias folded and the case folded, for comparing."""
    scheme = uri_scheme(uri)
    rest = uri.split("://", 1)[1]
    return f"{scheme}://{rest}".casefold().rstrip("/")


def _prefix_forms(prefix: str) -> list[str]:
    if uri_scheme(prefix) is not None:
        return [_uri_key(prefix)]
    forms = {_written(prefix), os.path.realpath(os.path.expanduser(prefix))}
    return [form.casefold().rstrip("/") or "/" for form in forms]


def _under(folded: str, prefix: str) -> bool:
    return folded == prefix or folded.startswith(prefix.rstrip("/") + "/")


def check_uri(uri: str) -> str:
    """Raise ProductionDataError if ``uri`` names production data; return it otherwise."""
    scheme = uri_scheme(uri)
    if scheme is None:
        raise ConfigurationError(f"{uri!r} is not a URI")
    key = _uri_key(uri)
    for prefix in settings().production_paths:
        for form in _prefix_forms(prefix):
            if _under(key, form):
                raise _refuse(uri, f"it lies under OMNI_PRODUCTION_PATHS entry {prefix!r}")
    if any(part.casefold() == "real_time" for part in uri.split("://", 1)[1].split("/")):
        raise _refuse(uri, "it lies under a real_time/ folder, which holds live production data")
    return uri


def manifest_tier(raw: bytes, where: str) -> Tier:
    """The tier an ``omni-data.toml``'s bytes declare (``where`` names it in errors)."""
    try:
        tier = tomllib.loads(raw.decode("utf-8")).get("tier")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ConfigurationError(
            f"manifest {where} is unreadable ({exc}); expected TOML with "
            'tier = "test" | "research" | "production"; fix or remove it'
        ) from exc
    if tier not in ("test", "research", "production"):
        raise ConfigurationError(
            f'manifest {where}: tier is {tier!r}; expected one of "test", "research", "production"'
        )
    return tier  # type: ignore[no-any-return]


def check_uri_tiers(uri: str, manifests: dict[str, bytes]) -> None:
    """Raise ProductionDataError if any manifest at or above the root ``uri`` (their URIs
    mapped to their bytes, as fetched from the store) declares tier production."""
    for where, raw in manifests.items():
        if manifest_tier(raw, where) == "production":
            raise _refuse(uri, f"{where} declares tier production")


def check_path(path: str | os.PathLike[str]) -> Path:
    """Raise ProductionDataError if ``path`` is, or lies under, production data.

    Call this before any byte of ``path`` is read, and open the path it returns.

    Returns
    -------
    Path
        The canonical path (see :func:`canonical`): the file the OS opens for ``path``.

    Raises
    ------
    ProductionDataError
        A production-tier root, a ``real_time`` folder, an ``OMNI_PRODUCTION_PATHS`` prefix,
        or an unknown URI scheme.
    ConfigurationError
        A URI of a known scheme (object storage is read through the catalog), a NUL byte, a
        symlink loop.
    """
    text = _text(path)
    if uri_scheme(text) is not None:
        check_uri(text)
        raise ConfigurationError(
            f"{text}: this function reads local files only; open object storage with "
            "open_catalog(<uri>)"
        )
    lost = _FOLDED.match(text)
    if lost and SCHEMES.get(lost.group(1).lower(), "file") != "file":
        uri = f"{lost.group(1)}://{text[lost.end() :]}"
        check_uri(uri)
        raise ConfigurationError(
            f"{text} is the URI {uri} with a slash lost (pathlib.Path folds '//'), not a "
            "local folder; nothing was read or created there. Pass object-storage roots "
            "as strings"
        )
    real = canonical(text)
    prefixes = [(prefix, _prefix_forms(prefix)) for prefix in settings().production_paths]
    for candidate in dict.fromkeys((str(real), _written(text))):
        folded = candidate.casefold()
        for prefix, forms in prefixes:
            if any(_under(folded, form) for form in forms):
                raise _refuse(text, f"it lies under OMNI_PRODUCTION_PATHS entry {prefix!r}")
        if any(part.casefold() == "real_time" for part in Path(candidate).parts):
            raise _refuse(
                text, "it lies under a real_time/ folder, which holds live production data"
            )
    folder = str(real) if real.is_dir() else str(real.parent)
    while True:
        if _manifest_tier(folder) == "production":
            raise _refuse(text, f"{os.path.join(folder, MANIFEST_NAME)} declares tier production")
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return real


def open_guarded(path: str | os.PathLike[str]) -> BinaryIO:
    """Guard ``path``, then open exactly the checked file for reading (binary).

    Raises
    ------
    ProductionDataError
        As :func:`check_path`; also when the file opened is not the file checked (swapped
        for a symlink in between) or the file has more than one hard link.
    DataFormatError
        When the path is missing, unreadable, or not a regular file (a folder, a device).
    """
    real = check_path(path)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(real, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refuse(path, f"{real} became a symlink after the guard checked it") from exc
        raise DataFormatError(f"{os.fspath(path)}: cannot open ({exc.strerror or exc})") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            what = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise DataFormatError(
                f"{os.fspath(path)} is {what}; expected one regular data file (read a folder "
                "of data through open_catalog(root), which guards every file it opens)"
            )
        if info.st_nlink > 1 and not _packaged(real):
            raise _refuse(
                path,
                f"the file has {info.st_nlink} hard links, and their other names may lie in "
                "production data where no path check can see them; copy the file instead",
            )
        opened = _opened_path(fd)
        if opened is not None and opened != str(real):
            raise _refuse(path, f"the OS opened {opened}, not the checked {real}")
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _packaged(real: Path) -> bool:
    """Inside the test root installed with the package (``omni_research/data_test``).

    Installers such as uv hard-link a wheel's files from their cache, so those files have
    several links; their other names are the installer's cache, and their bytes are checked
    against the package's own manifest on every catalog read.
    """
    installed = Path(__file__).resolve().parent / "data_test"
    return installed.is_dir() and real.is_relative_to(installed)


def _opened_path(fd: int) -> str | None:
    try:
        return os.readlink(os.path.join(_PROC_FD, str(fd)))
    except OSError:  # no /proc (not Linux): O_NOFOLLOW and the stat checks above remain
        return None


def read_guarded(path: str | os.PathLike[str]) -> bytes:
    """The bytes of one regular file, opened by :func:`open_guarded`."""
    with open_guarded(path) as handle:
        try:
            return handle.read()
        except OSError as exc:
            raise DataFormatError(f"{os.fspath(path)}: cannot read ({exc})") from exc


def root_tier(root: str | os.PathLike[str]) -> Tier:
    """The tier a data root's manifest declares (after the guard has passed it)."""
    folder = str(check_path(root))
    tier = _manifest_tier(folder)
    if tier is None:
        raise ConfigurationError(
            f"{folder} has no {MANIFEST_NAME}; expected a data root with a manifest declaring "
            'tier = "test" or "research" (see `omni-research make-test-data` for an example)'
        )
    return tier


def nearest_tier(path: str | os.PathLike[str]) -> Tier | None:
    """The tier of the nearest data root above ``path`` (None when there is none)."""
    real = canonical(path)
    folder = str(real) if real.is_dir() else str(real.parent)
    while True:
        tier = _manifest_tier(folder)
        if tier is not None:
            return tier
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent
