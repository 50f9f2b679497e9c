"""The one home of the data root's Hive layout: the write paths and the query paths.

::

    <root>/<area>/<kind>/symbol=<SYMBOL>/timeframe=<TF>/date=<YYYY-MM-DD>/<name>

``area`` is ``historical`` or ``test``; ``symbol``, ``timeframe`` and ``date`` appear only
where the kind is partitioned by them. Every value that becomes a path part is checked
against a strict pattern (:data:`PATTERNS`), so a value read from a file (a dump's
``symbol`` column, say) can never add a folder level, climb out with ``..`` or name a
folder no filter can reach. Every path built here is also proven, after resolving
symlinks as the OS does, to lie inside its root. Writers build their paths with
:func:`path_for` (or :func:`inside` for files outside the data areas); the catalog reads
partition values back with :func:`parse`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path, PurePosixPath

from omni_research._typing import KINDS, TIMEFRAMES
from omni_research.exceptions import ConfigurationError

AREAS: tuple[str, ...] = ("historical", "test")
"""The data areas of a root (``real_time/`` is production and never part of the layout)."""

DERIVED_KINDS: tuple[str, ...] = ("indicators",)
"""Datasets the kit writes from other datasets (``indicators.materialize``). Laid out and read
like a kind; their columns beyond the base schema are the ones the manifest's
``[<kind>.<timeframe>]`` table records, so they are not in :data:`KINDS`."""

PARTITION_KEYS: tuple[str, ...] = ("symbol", "timeframe", "date")
"""Hive partition keys, in the order they nest."""

SYMBOL_PATTERN = r"^[A-Z0-9][A-Z0-9_-]{0,39}$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,119}$"

PATTERNS: dict[str, str] = {
    "symbol": SYMBOL_PATTERN,
    "timeframe": "^(" + "|".join(TIMEFRAMES) + ")$",
    "date": DATE_PATTERN,
    "kind": "^(" + "|".join((*KINDS, *DERIVED_KINDS)) + ")$",
    "area": "^(" + "|".join(AREAS) + ")$",
    "name": NAME_PATTERN,
}
"""The pattern each path-part value must match in full (symbols like ``BTCUSDT``,
``1000PEPEUSDT`` or ``BTC-27DEC24``; ISO dates; the kit's timeframes, kinds and areas)."""

_COMPILED = {key: re.compile(pattern) for key, pattern in PATTERNS.items()}


def check_part(key: str, value: object) -> str:
    """Return ``value`` as a path part if it matches ``PATTERNS[key]``; else raise.

    Parameters
    ----------
    key
        ``symbol``, ``timeframe``, ``date``, ``kind``, ``area`` or ``name``.
    value
        The value (a ``datetime.date`` is accepted for ``date``).

    Raises
    ------
    ConfigurationError
        Naming the value, the pattern and what to do.

    Examples
    --------
    >>> check_part("symbol", "1000PEPEUSDT")
    '1000PEPEUSDT'
    """
    if key == "date" and isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = value.isoformat()
    pattern = _COMPILED.get(key)
    if pattern is None:
        raise ConfigurationError(f"unknown path part {key!r}; expected one of {list(PATTERNS)}")
    problem = reason(key, value)
    if problem:
        raise ConfigurationError(
            f"{key} {value!r} cannot be part of a data path: {problem}; use a plain value "
            "(symbols are upper-case exchange symbols such as BTCUSDT)"
        )
    return str(value)


def reason(key: str, value: object) -> str:
    """Why ``value`` cannot be the ``key`` part of a path ("" when it can)."""
    if not isinstance(value, str):
        return f"expected a string matching {PATTERNS[key]}, got {type(value).__name__}"
    if not _COMPILED[key].fullmatch(value):
        return f"it does not match {PATTERNS[key]}"
    if key == "name" and ".." in value:
        return "a file name must not contain '..'"
    if key == "date":
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return "it is not a calendar date (expected YYYY-MM-DD)"
    return ""


def inside(root: str | os.PathLike[str], relpath: str | PurePosixPath) -> Path:
    """``root / relpath``, proven to lie inside ``root`` after resolving symlinks.

    Parameters
    ----------
    root
        The data root.
    relpath
        A relative POSIX path (checked by :func:`check_relpath`).

    Raises
    ------
    ConfigurationError
        If the path is not a plain relative path, or resolves outside ``root`` (a
        symlinked folder pointing elsewhere, say).
    """
    text = check_relpath(str(relpath))
    path = Path(root) / text
    base = os.path.realpath(os.fspath(root))
    real = os.path.realpath(os.fspath(path))
    if os.path.commonpath([base, real]) != base or real == base:
        raise ConfigurationError(
            f"{path} resolves to {real}, outside the data root {base}; the kit writes only "
            "inside its root: remove the symlink that leads out of it"
        )
    return path


def check_relpath(relpath: str) -> str:
    """Return ``relpath`` if it is a plain relative POSIX path inside a root; else raise.

    Refused: a leading ``/``, a ``..``, ``.`` or empty part, a backslash, a NUL byte, and a
    ``real_time`` part in any letter case (live production data).
    """
    problem = relpath_problem(relpath)
    if problem:
        raise ConfigurationError(
            f"path {relpath!r} is not a relative path inside a data root: {problem}"
        )
    return relpath


def relpath_problem(relpath: object) -> str:
    """Why ``relpath`` is not a plain relative POSIX path inside a root ("" when it is)."""
    if not isinstance(relpath, str):
        return f"expected a string, got {type(relpath).__name__}"
    if not relpath:
        return "it is empty"
    if "\x00" in relpath:
        return "it contains a NUL byte"
    if "\\" in relpath:
        return "it contains a backslash; expected '/' separators"
    if relpath.startswith("/"):
        return "it is absolute (starts with '/')"
    parts = relpath.split("/")
    if any(part == "" for part in parts):
        return "it has an empty part ('//' or a trailing '/')"
    if any(part in (".", "..") for part in parts):
        return "it has a '.' or '..' part"
    if any(part.casefold() == "real_time" for part in parts):
        return "it has a real_time part (live production data is never part of a root)"
    return ""


def relpath_for(
    kind: str,
    *,
    area: str = "historical",
    symbol: str | None = None,
    timeframe: str | None = None,
    date: str | dt.date | None = None,
    name: str = "part-0.parquet",
) -> str:
    """The relative POSIX path of a data file, every part checked (see :func:`path_for`)."""
    parts = [check_part("area", area), check_part("kind", kind)]
    for key, value in (("symbol", symbol), ("timeframe", timeframe), ("date", date)):
        if value is not None:
            parts.append(f"{key}={check_part(key, value)}")
    parts.append(check_part("name", name))
    return "/".join(parts)


def path_for(
    root: str | os.PathLike[str],
    kind: str,
    *,
    area: str = "historical",
    symbol: str | None = None,
    timeframe: str | None = None,
    date: str | dt.date | None = None,
    name: str = "part-0.parquet",
) -> Path:
    """The path of a data file in the Hive layout, proven to lie inside ``root``.

    Parameters
    ----------
    root
        The data root.
    kind
        One of the kit's kinds (``ohlcv``, ``trades``, ...).
    area
        ``historical`` or ``test``.
    symbol, timeframe, date
        Partition values; ``None`` leaves that level out.
    name
        The file name.

    Returns
    -------
    Path
        ``root/area/kind/symbol=.../timeframe=.../date=.../name``.

    Raises
    ------
    ConfigurationError
        If a value does not match its pattern in :data:`PATTERNS` (the message names the
        value and the pattern), or the path resolves outside ``root``.

    Examples
    --------
    >>> path_for("/data", "ohlcv", symbol="BTCUSDT", timeframe="1m", date="2025-01-06")
    PosixPath('/data/historical/ohlcv/symbol=BTCUSDT/timeframe=1m/date=2025-01-06/part-0.parquet')
    """
    relpath = relpath_for(kind, area=area, symbol=symbol, timeframe=timeframe, date=date, name=name)
    return inside(root, relpath)


def parse(relpath: str | os.PathLike[str]) -> dict[str, str]:
    """The Hive partition values (``symbol``, ``timeframe``, ``date``) a relative path carries.

    Parts that are not ``key=value`` with a known key are not partitions and are skipped.

    Raises
    ------
    ConfigurationError
        If a partition value breaks its pattern (``date=yesterday``), or a key repeats.

    Examples
    --------
    >>> parse("historical/ohlcv/symbol=BTCUSDT/timeframe=1m/date=2025-01-06/part-0.parquet")
    {'symbol': 'BTCUSDT', 'timeframe': '1m', 'date': '2025-01-06'}
    """
    text = PurePosixPath(os.fspath(relpath)).as_posix()
    found: dict[str, str] = {}
    for part in text.split("/")[:-1]:
        key, sep, value = part.partition("=")
        if not sep or key not in PARTITION_KEYS:
            continue
        if key in found:
            raise ConfigurationError(
                f"{text}: partition key {key!r} appears twice; expected each of "
                f"{list(PARTITION_KEYS)} at most once"
            )
        problem = reason(key, value)
        if problem:
            raise ConfigurationError(
                f"{text}: folder {part!r} is not a valid {key} partition: {problem}; rename "
                "or remove that folder"
            )
        found[key] = value
    return found
