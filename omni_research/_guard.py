"""The production guard: the first call of every read. There is no switch to turn it off.

A path is refused when, after resolving symlinks, ``..`` and relative parts (and also as
written), any of these holds:

* it lies under a folder whose ``omni-data.toml`` says ``tier = "production"``;
* any of its folders is called ``real_time`` (in any letter case);
* it starts with a prefix listed in ``OMNI_PRODUCTION_PATHS`` (compared case-insensitively,
  after resolving the prefix too).
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path

from omni_research._typing import Tier
from omni_research.config import MANIFEST_NAME, settings
from omni_research.exceptions import ConfigurationError, ProductionDataError

_URI_MARK = "://"


def _candidates(path: str | os.PathLike[str]) -> list[str]:
    text = os.fspath(path)
    if _URI_MARK in text:
        return [text]
    literal = os.path.normpath(os.path.abspath(os.path.expanduser(text)))
    resolved = os.path.realpath(literal)
    return [literal] if literal == resolved else [literal, resolved]


def _manifest_tier(folder: str) -> Tier | None:
    manifest = os.path.join(folder, MANIFEST_NAME)
    try:
        stat = os.stat(manifest)
    except OSError:
        return None
    return _read_tier(manifest, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=256)
def _read_tier(manifest: str, _mtime: int, _size: int) -> Tier:
    try:
        with open(manifest, "rb") as handle:
            tier = tomllib.load(handle).get("tier")
    except (OSError, tomllib.TOMLDecodeError) as exc:
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


def _refuse(path: str | os.PathLike[str], why: str) -> ProductionDataError:
    return ProductionDataError(
        f"refused to read {os.fspath(path)}: {why}. Research reads test and research tiers "
        'only; copy the data you need into a research root (tier = "research") instead'
    )


def check_path(path: str | os.PathLike[str]) -> None:
    """Raise ProductionDataError if ``path`` is, or lies under, production data.

    Call this before any byte of ``path`` is read.
    """
    prefixes = settings().production_paths
    for candidate in _candidates(path):
        folded = candidate.casefold()
        for prefix in prefixes:
            for form in _candidates(prefix):
                pf = form.casefold().rstrip("/\\")
                if folded == pf or folded.startswith(pf + os.sep) or folded.startswith(pf + "/"):
                    raise _refuse(path, f"it lies under OMNI_PRODUCTION_PATHS entry {prefix!r}")
        if _URI_MARK in candidate:
            continue
        parts = Path(candidate).parts
        if any(part.casefold() == "real_time" for part in parts):
            raise _refuse(
                path, "it lies under a real_time/ folder, which holds live production data"
            )
        folder = candidate if os.path.isdir(candidate) else os.path.dirname(candidate)
        while True:
            if _manifest_tier(folder) == "production":
                raise _refuse(
                    path, f"{os.path.join(folder, MANIFEST_NAME)} declares tier production"
                )
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent


def root_tier(root: str | os.PathLike[str]) -> Tier:
    """The tier a data root's manifest declares (after the guard has passed it)."""
    check_path(root)
    folder = os.path.realpath(os.fspath(root))
    tier = _manifest_tier(folder)
    if tier is None:
        raise ConfigurationError(
            f"{folder} has no {MANIFEST_NAME}; expected a data root with a manifest declaring "
            'tier = "test" or "research" (see `omni-research make-test-data` for an example)'
        )
    return tier


def nearest_tier(path: str | os.PathLike[str]) -> Tier | None:
    """The tier of the nearest data root above ``path`` (None when there is none)."""
    folder = os.path.realpath(os.fspath(path))
    folder = folder if os.path.isdir(folder) else os.path.dirname(folder)
    while True:
        tier = _manifest_tier(folder)
        if tier is not None:
            return tier
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent
