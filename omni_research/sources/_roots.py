"""Research roots: making one (:func:`init_root`) and proving a download may write into one."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Literal

from omni_research import _guard
from omni_research._layout import inside
from omni_research._manifest import Manifest, read_manifest, write_manifest
from omni_research._writelock import LOCK_NAME, write_lock
from omni_research.config import MANIFEST_NAME
from omni_research.exceptions import ConfigurationError, DataWriteError

__all__ = ["ROOT_FOLDERS", "init_root", "research_root"]

ROOT_FOLDERS: tuple[str, ...] = (
    "historical",
    "test",
    "exports",
    "cache",
    "models",
    "backups",
    "logs",
)
"""The folders of a data root the kit makes (OMNI's ``data/`` layout without ``real_time/``,
which holds live production data and is never made by the kit)."""

CREATED_BY = "omni-research init-root"


def init_root(
    path: str | os.PathLike[str], /, *, tier: Literal["research", "test"] = "research"
) -> Path:
    """Create a data root with the OMNI layout and its manifest, or accept an existing one.

    Parameters
    ----------
    path
        A new or empty folder, or a root of the same tier made before (then nothing is
        changed but missing layout folders).
    tier
        ``"research"`` (downloads write only into research roots) or ``"test"``. The kit
        never makes a production root.

    Returns
    -------
    Path
        The root.

    Raises
    ------
    ProductionDataError
        If ``path`` lies in production data (a production root, a ``real_time/`` folder,
        an ``OMNI_PRODUCTION_PATHS`` prefix); nothing is created.
    ConfigurationError
        If ``tier`` is not research or test, or ``path`` is a non-empty folder that is not
        a data root of that tier (the message says what it found).

    Examples
    --------
    >>> import tempfile, omni_research as omr
    >>> from omni_research.sources import init_root
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     root = init_root(f"{tmp}/research")
    ...     omr.open_catalog(root).tier, sorted(p.name for p in root.iterdir())[:3]
    ('research', ['backups', 'cache', 'exports'])
    """
    if tier not in ("research", "test"):
        raise ConfigurationError(
            f"tier is {tier!r}; init_root makes research or test roots only (production "
            "roots are made by OMNI itself, never by the research kit)"
        )
    _guard.check_path(path)
    root = Path(path).expanduser()
    if root.is_symlink() or (root.exists() and not root.is_dir()):
        raise ConfigurationError(
            f"refused to make a data root at {root}: it is not a plain folder (a file or a "
            "symlink); pass a new folder"
        )
    _check_reusable(root, tier)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataWriteError(f"could not create the data root {root}: {exc}") from exc
    with write_lock(root):
        existing = _check_reusable(root, tier)  # again under the lock: another writer?
        try:
            for name in ROOT_FOLDERS:
                inside(root, name).mkdir(exist_ok=True)
        except OSError as exc:
            raise DataWriteError(f"could not create the folders of {root}: {exc}") from exc
        if not existing:
            created = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
            write_manifest(
                root, Manifest(tier=tier, meta={"created_by": CREATED_BY, "created": created})
            )
    return root


def _check_reusable(root: Path, tier: str) -> bool:
    """True when ``root`` is already a root of ``tier``; False when empty or missing."""
    if not root.exists():
        return False
    entries = sorted(p.name for p in root.iterdir() if p.name != LOCK_NAME)
    if not entries:
        return False
    if MANIFEST_NAME in entries:
        found = read_manifest(root).tier
        if found == tier:
            return True
        what = f'its {MANIFEST_NAME} declares tier = "{found}"'
    else:
        what = f"it has no {MANIFEST_NAME}, so it is not a data root"
    shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
    raise ConfigurationError(
        f"refused to make a {tier} root at {root}: the folder is not empty ({len(entries)} "
        f"entries: {shown}) and {what}; pass a new or empty folder"
    )


def research_root(root: str | os.PathLike[str], /) -> Path:
    """Guard ``root`` and prove it is a research root; the first call of every download.

    Runs before any network traffic: a production root, a ``real_time/`` folder or an
    ``OMNI_PRODUCTION_PATHS`` prefix raises ProductionDataError here.

    Raises
    ------
    ProductionDataError
        As the guard.
    ConfigurationError
        If ``root`` is not a data root, or its tier is not ``research``.
    """
    _guard.check_path(root)
    path = Path(root).expanduser()
    if not (path / MANIFEST_NAME).is_file():
        raise ConfigurationError(
            f"{path} is not a data root (no {MANIFEST_NAME}); create one with "
            f"`omni-research init-root {path}` (omni_research.sources.init_root) first"
        )
    tier = _guard.root_tier(path)
    if tier != "research":
        raise ConfigurationError(
            f"{path} is a {tier!r}-tier root; downloads write only into research roots "
            "(make one with omni_research.sources.init_root), so real data never mixes "
            "with test data"
        )
    return path
