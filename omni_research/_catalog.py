"""The catalog: discover a data root's datasets, prune partitions, scan lazily, load validated."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from omni_research import _guard
from omni_research._manifest import Manifest, read_manifest, sha256_file
from omni_research._typing import KINDS, Tier
from omni_research.config import settings
from omni_research.exceptions import (
    ConfigurationError,
    DataFormatError,
    DataValidationError,
    UnknownKindError,
)
from omni_research.io._readers import check_columns, file_format, read_file
from omni_research.schemas import polars_schema, validate

DATA_AREAS = ("historical", "test")
ROOT_FOLDERS = ("historical", "real_time", "test", "exports", "cache", "models", "backups", "logs")
ACCOUNT_KINDS = ("orders", "fills", "positions", "pnl")
_PARTITION = re.compile(r"^(symbol|timeframe|date)=(.+)$")
DATA_TEST = Path(__file__).resolve().parent.parent / "data_test"


@dataclass(frozen=True, kw_only=True)
class DataFile:
    """One data file of a dataset, with the Hive partition values its path carries."""

    path: Path
    relpath: str
    partitions: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class Dataset:
    """A dataset: ``<area>/<kind>`` under a data root."""

    name: str
    kind: str
    area: str
    path: Path
    format: str
    files: tuple[DataFile, ...]


@dataclass(frozen=True, kw_only=True)
class ReadRecord:
    """Lineage of one read: which files of which dataset, how many rows."""

    dataset: str
    kind: str
    files: tuple[str, ...]
    sha256: tuple[str, ...]
    rows: int | None
    filters: dict[str, Any] = field(default_factory=dict)


def _utc(value: dt.datetime | dt.date | str | None, name: str) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ConfigurationError(
                f"{name}={value!r} is not a date or ISO timestamp; expected e.g. 2025-01-06 "
                "or 2025-01-06T12:00Z"
            ) from exc
        # text without an offset is read as UTC, the only zone the kit speaks
        return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)
    if not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if value.tzinfo is None:
        raise ConfigurationError(
            f"{name}={value!r} is a naive datetime; expected a timezone-aware UTC datetime "
            "(e.g. datetime(2025, 1, 6, tzinfo=UTC))"
        )
    return value.astimezone(dt.UTC)


class Catalog:
    """The datasets of one data root (tier test or research), read lazily and validated.

    Use :func:`open_catalog` to make one.
    """

    def __init__(self, root: Path, manifest: Manifest) -> None:
        self.root = root
        self.manifest = manifest
        self.tier: Tier = manifest.tier
        self._datasets = self._discover()
        self._reads: list[ReadRecord] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"Catalog(root={str(self.root)!r}, tier={self.tier!r}, datasets={len(self._datasets)})"
        )

    # -- discovery -------------------------------------------------------------------------
    def _discover(self) -> dict[str, Dataset]:
        found: dict[str, Dataset] = {}
        for area in DATA_AREAS:
            base = self.root / area
            if not base.is_dir():
                continue
            for folder in sorted(p for p in base.iterdir() if p.is_dir()):
                if folder.name not in KINDS:
                    continue
                files = self._files(folder)
                if not files:
                    continue
                formats = {file_format(f.path) for f in files}
                if len(formats) > 1:
                    raise DataFormatError(
                        f"{folder}: mixes file formats {sorted(formats)}; expected one format "
                        "per dataset"
                    )
                name = f"{area}/{folder.name}"
                found[name] = Dataset(
                    name=name,
                    kind=folder.name,
                    area=area,
                    path=folder,
                    format=formats.pop(),
                    files=tuple(files),
                )
        return found

    def _files(self, folder: Path) -> list[DataFile]:
        out = []
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            try:
                file_format(path)
            except DataFormatError:
                continue
            parts = {}
            for part in path.relative_to(folder).parts[:-1]:
                match = _PARTITION.match(part)
                if match:
                    parts[match.group(1)] = match.group(2)
            out.append(
                DataFile(
                    path=path, relpath=path.relative_to(self.root).as_posix(), partitions=parts
                )
            )
        return out

    def datasets(self) -> pl.DataFrame:
        """One row per dataset: name, kind, tier, path, format, files, rows (from the manifest).

        Examples
        --------
        >>> import omni_research as omr
        >>> omr.open_catalog().datasets().select("name", "kind", "format").head(2)
        shape: (2, 3)
        ...
        """
        rows = []
        for ds in self._datasets.values():
            counts = [self.manifest.files.get(f.relpath) for f in ds.files]
            rows.append(
                {
                    "name": ds.name,
                    "kind": ds.kind,
                    "tier": self.tier,
                    "path": str(ds.path),
                    "format": ds.format,
                    "files": len(ds.files),
                    "rows": sum(c.rows for c in counts if c) if all(counts) else None,
                    "symbols": sorted(
                        {f.partitions["symbol"] for f in ds.files if "symbol" in f.partitions}
                    ),
                }
            )
        schema: dict[str, pl.DataType | type[pl.DataType]] = {
            "name": pl.String,
            "kind": pl.String,
            "tier": pl.String,
            "path": pl.String,
            "format": pl.String,
            "files": pl.Int64,
            "rows": pl.Int64,
            "symbols": pl.List(pl.String),
        }
        return pl.DataFrame(rows, schema=schema)

    def dataset(self, kind: str) -> Dataset:
        """The dataset of ``kind`` (``"ohlcv"``) or name (``"historical/ohlcv"``)."""
        if kind in self._datasets:
            return self._datasets[kind]
        matches = [ds for ds in self._datasets.values() if ds.kind == kind]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            names = ", ".join(ds.name for ds in matches)
            raise UnknownKindError(f"kind {kind!r} is in several datasets ({names}); name one")
        if kind not in KINDS:
            raise UnknownKindError(
                f"unknown data kind {kind!r}; expected one of: {', '.join(KINDS)}"
            )
        raise UnknownKindError(
            f"{self.root} has no {kind!r} dataset; it has: {', '.join(self._datasets) or 'none'}"
        )

    # -- reading ---------------------------------------------------------------------------
    def files(
        self,
        kind: str,
        *,
        symbols: list[str] | tuple[str, ...] | str | None = None,
        start: dt.datetime | dt.date | str | None = None,
        end: dt.datetime | dt.date | str | None = None,
        timeframe: str | None = None,
    ) -> list[DataFile]:
        """The files a read needs after partition pruning (the others are never opened)."""
        ds = self.dataset(kind)
        wanted = {symbols} if isinstance(symbols, str) else set(symbols or ())
        lo, hi = _utc(start, "start"), _utc(end, "end")
        keep = []
        for f in ds.files:
            part = f.partitions
            if wanted and "symbol" in part and part["symbol"] not in wanted:
                continue
            if timeframe and "timeframe" in part and part["timeframe"] != timeframe:
                continue
            if "date" in part:
                day = dt.date.fromisoformat(part["date"])
                if lo is not None and day < lo.date():
                    continue
                if hi is not None and dt.datetime.combine(day, dt.time(), dt.UTC) >= hi:
                    continue
            keep.append(f)
        return keep

    def scan(
        self,
        kind: str,
        *,
        symbols: list[str] | tuple[str, ...] | str | None = None,
        start: dt.datetime | dt.date | str | None = None,
        end: dt.datetime | dt.date | str | None = None,
        timeframe: str | None = None,
    ) -> pl.LazyFrame:
        """A LazyFrame of ``kind``, pruned to the partitions that can hold the rows asked for.

        ``start`` is inclusive and ``end`` exclusive (timestamps in UTC). Column names and
        dtypes of every file are checked before the scan; values are checked by :meth:`load`.
        """
        ds = self.dataset(kind)
        _guard.check_path(ds.path)
        chosen = self.files(kind, symbols=symbols, start=start, end=end, timeframe=timeframe)
        for f in chosen:
            _guard.check_path(f.path)
        expected = polars_schema(ds.kind)
        if not chosen:
            frame = pl.LazyFrame(schema=expected)
        elif ds.format == "parquet":
            for f in chosen:
                try:
                    actual = pl.read_parquet_schema(f.path)
                except (pl.exceptions.PolarsError, OSError) as exc:
                    raise DataFormatError(f"{f.path}: unreadable Parquet ({exc})") from exc
                check_columns(pl.Schema(actual), expected, ds.kind, source=str(f.path))
            frame = pl.scan_parquet([f.path for f in chosen]).select(expected.names())
        else:
            frame = pl.concat([read_file(f.path, ds.kind) for f in chosen]).lazy()
        frame = frame.filter(*self._predicates(ds.kind, symbols, start, end, timeframe))
        if self.tier == "research" and ds.kind in ACCOUNT_KINDS:
            frame = frame.with_columns(_pseudonymise("account_id"))
        self._remember(
            ds, chosen, None, dict(symbols=symbols, start=start, end=end, timeframe=timeframe)
        )
        return frame

    def _predicates(
        self, kind: str, symbols: Any, start: Any, end: Any, timeframe: str | None
    ) -> list[pl.Expr]:
        columns = polars_schema(kind)
        preds = [pl.lit(True)]
        if symbols and "symbol" in columns:
            preds.append(pl.col("symbol").is_in([symbols] if isinstance(symbols, str) else symbols))
        time_col = "timestamp" if "timestamp" in columns else "date"
        lo, hi = _utc(start, "start"), _utc(end, "end")
        bounds: list[dt.datetime | dt.date | None] = [lo, hi]
        if time_col == "date":  # daily records (pnl) compare by calendar day
            bounds = [None if b is None else b.date() for b in (lo, hi)]
        if bounds[0] is not None:
            preds.append(pl.col(time_col) >= bounds[0])
        if bounds[1] is not None:
            preds.append(pl.col(time_col) < bounds[1])
        if timeframe and "timeframe" in columns:
            preds.append(pl.col("timeframe") == timeframe)
        return preds

    def load(
        self,
        kind: str,
        *,
        symbols: list[str] | tuple[str, ...] | str | None = None,
        start: dt.datetime | dt.date | str | None = None,
        end: dt.datetime | dt.date | str | None = None,
        timeframe: str | None = None,
    ) -> pl.DataFrame:
        """:meth:`scan`, collected and validated in full; checksums checked against the manifest.

        Examples
        --------
        >>> import omni_research as omr
        >>> bars = omr.open_catalog().load("ohlcv", symbols="BTCUSDT", start="2025-01-06",
        ...                                end="2025-01-06T00:03Z")
        >>> bars.select("timestamp", "close").height
        3
        """
        ds = self.dataset(kind)
        chosen = self.files(kind, symbols=symbols, start=start, end=end, timeframe=timeframe)
        self._verify_checksums(chosen)
        frame = self.scan(kind, symbols=symbols, start=start, end=end, timeframe=timeframe)
        try:
            df = frame.collect()
        except pl.exceptions.PolarsError as exc:
            names = ", ".join(f.relpath for f in chosen)
            raise DataFormatError(f"{ds.name}: could not read {names}: {exc}") from exc
        source = f"{self.root}/{ds.name} ({len(chosen)} file(s))"
        try:
            validate(df, ds.kind, source=source)
        except DataValidationError as exc:
            raise self._blame_files(ds, chosen, exc) from None
        with self._lock:
            if self._reads and self._reads[-1].dataset == ds.name:
                last = self._reads.pop()
                self._reads.append(
                    ReadRecord(
                        dataset=last.dataset,
                        kind=last.kind,
                        files=last.files,
                        sha256=last.sha256,
                        rows=df.height,
                        filters=last.filters,
                    )
                )
        audit(self, ds.name, [f.relpath for f in chosen], df.height)
        return df

    def _blame_files(
        self, ds: Dataset, chosen: list[DataFile], error: DataValidationError
    ) -> DataValidationError:
        """Name the files that break a rule on their own; else the dataset as a whole."""
        messages, cases = [], []
        for f in chosen:
            try:
                validate(read_file(f.path, ds.kind), ds.kind, source=str(f.path))
            except DataValidationError as exc:
                messages.append(str(exc))
                cases.append(exc.failure_cases.with_columns(file=pl.lit(f.relpath)))
        if not messages:
            return error
        return DataValidationError("\n".join(messages), pl.concat(cases, how="diagonal_relaxed"))

    def _verify_checksums(self, chosen: list[DataFile]) -> None:
        for f in chosen:
            record = self.manifest.files.get(f.relpath)
            if record is not None and sha256_file(f.path) != record.sha256:
                raise DataFormatError(
                    f"{f.path}: sha256 differs from the manifest's; the file changed or is "
                    "corrupt. Run `omni-research verify` and restore it"
                )

    def _remember(
        self, ds: Dataset, chosen: list[DataFile], rows: int | None, filters: dict[str, Any]
    ) -> None:
        shas = tuple(
            self.manifest.files[f.relpath].sha256 if f.relpath in self.manifest.files else ""
            for f in chosen
        )
        clean = {
            k: (v if isinstance(v, str | list | tuple | type(None)) else str(v))
            for k, v in filters.items()
        }
        with self._lock:
            self._reads.append(
                ReadRecord(
                    dataset=ds.name,
                    kind=ds.kind,
                    files=tuple(f.relpath for f in chosen),
                    sha256=shas,
                    rows=rows,
                    filters=clean,
                )
            )

    @property
    def reads(self) -> list[ReadRecord]:
        """Lineage: every scan and load made through this catalog, in order."""
        with self._lock:
            return list(self._reads)

    def verify(self) -> pl.DataFrame:
        """Check every file against the manifest: one row per problem (empty when all is well)."""
        rows = []
        recorded = dict(self.manifest.files)
        for ds in self._datasets.values():
            for f in ds.files:
                record = recorded.pop(f.relpath, None)
                if record is None:
                    rows.append((f.relpath, "not in manifest", ""))
                elif sha256_file(f.path) != record.sha256:
                    rows.append((f.relpath, "sha256 mismatch", record.sha256))
        for name, record in recorded.items():
            path = self.root / name
            if not path.exists():
                rows.append((name, "missing", record.sha256))
            elif sha256_file(path) != record.sha256:
                rows.append((name, "sha256 mismatch", record.sha256))
        schema = {"file": pl.String, "problem": pl.String, "expected_sha256": pl.String}
        return pl.DataFrame(rows, schema=schema, orient="row")


def _pseudonymise(column: str) -> pl.Expr:
    import hashlib
    import hmac

    key = settings().require_pseudonym_key()

    def _hash(values: pl.Series) -> pl.Series:
        mapping = {
            v: "acct_" + hmac.new(key, v.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
            for v in values.unique().drop_nulls().to_list()
        }
        return values.replace_strict(mapping, default=None, return_dtype=pl.String)

    return pl.col(column).map_batches(_hash, return_dtype=pl.String)


def audit(
    catalog: Catalog | None,
    dataset: str,
    files: list[str],
    rows: int,
    *,
    root: Path | None = None,
    tier: str | None = None,
) -> None:
    """Append one JSON line to the audit log (outside every data root)."""
    log = settings().audit_log
    base = catalog.root if catalog is not None else root
    if catalog is not None and log.resolve().is_relative_to(catalog.root):
        raise ConfigurationError(
            f"audit log {log} lies inside the data root {base}; expected it outside every data "
            "root (set OMNI_AUDIT_LOG to a path elsewhere)"
        )
    entry = {
        "user": _user(),
        "time": dt.datetime.now(dt.UTC).isoformat(),
        "root": str(base) if base is not None else None,
        "tier": catalog.tier if catalog is not None else tier,
        "dataset": dataset,
        "files": files,
        "rows": rows,
    }
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def open_catalog(root: str | os.PathLike[str] | None = None) -> Catalog:
    """Open the data root at ``root`` (``None``: the shipped ``data_test/``).

    The production guard runs first: a production-tier root, a ``real_time/`` folder or a
    path under ``OMNI_PRODUCTION_PATHS`` raises ProductionDataError before anything is read.

    Examples
    --------
    >>> import omni_research as omr
    >>> catalog = omr.open_catalog()
    >>> catalog.tier
    'test'
    """
    path = Path(root) if root is not None else DATA_TEST
    _guard.check_path(path)
    resolved = path.expanduser().resolve()
    if not resolved.is_dir():
        raise ConfigurationError(f"data root {path} does not exist or is not a folder")
    _guard.root_tier(resolved)
    return Catalog(resolved, read_manifest(resolved))


def read(path: str | os.PathLike[str], kind: str) -> pl.DataFrame:
    """Read one file of any supported format and validate it against ``kind``'s schema.

    Examples
    --------
    >>> import omni_research as omr
    >>> f = omr.open_catalog().files("funding", symbols="BTCUSDT")[0].path
    >>> omr.read(f, "funding").columns
    ['timestamp', 'symbol', 'funding_rate', 'mark_price']
    """
    df = read_file(path, kind)
    validate(df, kind, source=os.fspath(path))
    if kind in ACCOUNT_KINDS and _guard.nearest_tier(path) == "research":
        df = df.with_columns(_pseudonymise("account_id"))
    audit(None, kind, [os.fspath(path)], df.height, root=Path(path).parent)
    return df
