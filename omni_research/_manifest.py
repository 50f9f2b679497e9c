"""The data root's manifest, ``omni-data.toml``: tier, schema version, and every data file's
sha256 and row count, so that ``omni-research verify`` can find a single flipped byte."""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from omni_research._typing import Tier
from omni_research.config import MANIFEST_NAME, SCHEMA_VERSION
from omni_research.exceptions import ConfigurationError
from omni_research.io._atomic import write_text_atomic


@dataclass(frozen=True, kw_only=True)
class FileRecord:
    """What the manifest knows of one data file."""

    sha256: str
    rows: int


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """A data root's manifest."""

    tier: Tier
    schema_version: str = SCHEMA_VERSION
    meta: dict[str, Any] = field(default_factory=dict)
    files: dict[str, FileRecord] = field(default_factory=dict)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(root: str | os.PathLike[str]) -> Manifest:
    """Read ``<root>/omni-data.toml``."""
    path = Path(root) / MANIFEST_NAME
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"{root} is not a data root: {MANIFEST_NAME} is missing; expected a manifest "
            'declaring tier = "test" or "research"'
        ) from exc
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"{path}: unreadable manifest ({exc})") from exc
    files = {
        name: FileRecord(sha256=str(rec["sha256"]), rows=int(rec["rows"]))
        for name, rec in data.pop("files", {}).items()
    }
    tier = data.pop("tier", None)
    if tier not in ("test", "research", "production"):
        raise ConfigurationError(f"{path}: tier is {tier!r}; expected test, research or production")
    version = str(data.pop("schema_version", SCHEMA_VERSION))
    return Manifest(tier=tier, schema_version=version, meta=data, files=files)


def _toml_value(value: Any) -> str:
    # json's string escaping is valid TOML basic-string escaping
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))


def write_manifest(root: str | os.PathLike[str], manifest: Manifest) -> Path:
    """Write the manifest atomically, files sorted by path so it diffs cleanly."""
    lines = [
        "# omni_research data root manifest: written by the kit, checked by `omni-research verify`",
        f"tier = {_toml_value(manifest.tier)}",
        f"schema_version = {_toml_value(manifest.schema_version)}",
    ]
    lines += [f"{key} = {_toml_value(value)}" for key, value in sorted(manifest.meta.items())]
    for name in sorted(manifest.files):
        record = manifest.files[name]
        lines += [
            "",
            f"[files.{json.dumps(name)}]",
            f'sha256 = "{record.sha256}"',
            f"rows = {record.rows}",
        ]
    return write_text_atomic(Path(root) / MANIFEST_NAME, "\n".join(lines) + "\n")


def count_rows(path: Path) -> int:
    """Rows of a data file, from Parquet metadata or by reading a small text file."""
    from omni_research.io._readers import file_format

    fmt = file_format(path)
    if fmt == "parquet":
        return int(pl.scan_parquet(path).select(pl.len()).collect().item())
    if fmt == "jsonl":
        return sum(1 for line in path.read_text("utf-8").splitlines() if line.strip())
    if fmt == "json":
        loaded = json.loads(path.read_text("utf-8"))
        return len(loaded if isinstance(loaded, list) else loaded.get("records", []))
    import gzip

    data = path.read_bytes()
    text = (gzip.decompress(data) if fmt == "csv.gz" else data).decode("utf-8")
    return max(0, sum(1 for line in text.splitlines() if line.strip()) - 1)


def record_files(root: str | os.PathLike[str], paths: list[Path] | list[str]) -> Manifest:
    """Record (or refresh) the sha256 and row count of ``paths`` in the root's manifest."""
    base = Path(root).resolve()
    manifest = read_manifest(base)
    files = dict(manifest.files)
    for path in paths:
        full = Path(path).resolve()
        name = full.relative_to(base).as_posix()
        files[name] = FileRecord(sha256=sha256_file(full), rows=count_rows(full))
    updated = Manifest(
        tier=manifest.tier, schema_version=manifest.schema_version, meta=manifest.meta, files=files
    )
    write_manifest(base, updated)
    return updated
