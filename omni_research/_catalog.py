"""The catalog: discover a data root's datasets, prune partitions, scan lazily, load validated."""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import polars as pl

from omni_research import _crypto, _guard, _layout
from omni_research._manifest import Manifest, measure, read_manifest
from omni_research._time import TimeRange, parse_range
from omni_research._typing import KINDS, Tier
from omni_research.config import data_test_root, settings
from omni_research.exceptions import (
    ConfigurationError,
    DataFormatError,
    DataValidationError,
    ProductionDataError,
    UnknownKindError,
)
from omni_research.io._readers import check_columns, file_format, parse_bytes, read_file
from omni_research.schemas import polars_schema, validate

DATA_AREAS = ("historical", "test")
ROOT_FOLDERS = ("historical", "real_time", "test", "exports", "cache", "models", "backups", "logs")
ACCOUNT_KINDS = ("orders", "fills", "positions", "pnl")
_DIGITS = re.compile(r"(\d+)")
DATA_TEST = data_test_root()


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


Symbols = list[str] | tuple[str, ...] | str | None


def _symbols(symbols: object) -> tuple[str, ...] | None:
    """``symbols`` as a tuple (``None``: every symbol; an empty tuple: none)."""
    if symbols is None:
        return None
    if isinstance(symbols, str):
        return (symbols,)
    if isinstance(symbols, bytes | dict) or not hasattr(symbols, "__iter__"):
        raise ConfigurationError(
            f"symbols={symbols!r} is a {type(symbols).__name__}; expected a symbol such as "
            "'BTCUSDT', a list of symbols, or None for all"
        )
    out = tuple(symbols)  # a generator is consumed once, here
    bad = [s for s in out if not isinstance(s, str)]
    if bad:
        raise ConfigurationError(
            f"symbols holds {bad[0]!r} ({type(bad[0]).__name__}); expected symbol strings "
            "such as 'BTCUSDT'"
        )
    return out


def _natural_key(path: Path) -> list[tuple[int, int | str]]:
    """Sort key reading digit runs as numbers: part-2 before part-10."""
    return [
        (1, int(piece)) if piece.isdigit() else (0, piece)
        for piece in _DIGITS.split(path.as_posix())
    ]


def _lineage_symbols(given: object, wanted: tuple[str, ...] | None) -> object:
    return given if isinstance(given, str | list | tuple | type(None)) else list(wanted or ())


def _parquet_schema(path: Path) -> pl.Schema:
    """The columns of a Parquet file, read from its footer through the guard."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    encrypted = _crypto.read_encrypted_schema(path)  # None for a plain file
    with _guard.open_guarded(path) as handle:
        try:
            arrow = encrypted if encrypted is not None else pq.read_schema(handle)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise DataFormatError(
                f"{path}: unreadable Parquet ({exc}); the file is truncated, corrupt or not "
                "Parquet. Restore it from the source or re-run the export that wrote it"
            ) from exc
    empty = pl.from_arrow(arrow.empty_table())
    assert isinstance(empty, pl.DataFrame)
    return empty.schema


def _check_partitions(df: pl.DataFrame, f: DataFile) -> None:
    """Every row of a file must carry the partition values of its folders."""
    checks: list[tuple[str, pl.Expr, str | dt.date]] = []
    for key in ("symbol", "timeframe"):
        if key in f.partitions and key in df.columns:
            checks.append((key, pl.col(key), f.partitions[key]))
    if "date" in f.partitions:
        day = dt.date.fromisoformat(f.partitions["date"])
        if "timestamp" in df.columns:
            checks.append(("timestamp", pl.col("timestamp").dt.date(), day))
        elif "date" in df.columns:
            checks.append(("date", pl.col("date"), day))
    for column, expr, value in checks:
        bad = df.select((expr != value) | expr.is_null()).to_series()
        if bad.any():
            first = int(bad.arg_true()[0])
            raise DataValidationError(
                f"{f.path}: {int(bad.sum())} row(s) do not belong in this partition folder "
                f"(first at row {first}: {column} = {df[column][first]!r}); expected every row "
                f"of {f.relpath} to have {column} matching {str(value)!r}. Move the rows to the "
                "partition they belong to",
                pl.DataFrame(
                    {
                        "column": [column],
                        "check": [f"partition {value}"],
                        "failure_case": [str(df[column][first])],
                        "index": [first],
                        "file": [f.relpath],
                    }
                ),
            )


class _AuditLine:
    """One audit line per read: the log is opened before any data byte is read (a log that
    cannot be written stops the read), and the line is written when the read ends."""

    def __init__(self, catalog: Catalog | None, dataset: str, files: list[str], **where: Any):
        self.catalog, self.dataset, self.files, self.where = catalog, dataset, files, where
        self.rows = 0
        self._handle: IO[str] | None = None

    def __enter__(self) -> _AuditLine:
        self._handle = _open_audit_log(self.catalog)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._handle is not None
        with self._handle:
            entry = _audit_entry(self.catalog, self.dataset, self.files, self.rows, **self.where)
            if exc is not None and not isinstance(exc, GeneratorExit):
                entry["error"] = type(exc).__name__
            self._handle.write(json.dumps(entry) + "\n")


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
            f"omni_research.Catalog(root={str(self.root)!r}, tier={self.tier!r}, "
            f"datasets={len(self._datasets)})"
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
        for path in sorted(folder.rglob("*"), key=_natural_key):
            if path.name.startswith(".") or not path.is_file():
                continue
            try:
                file_format(path)
            except DataFormatError:
                continue
            relpath = path.relative_to(self.root).as_posix()
            try:
                parts = _layout.parse(path.relative_to(folder).as_posix())
            except ConfigurationError as exc:
                raise DataFormatError(f"{self.root}: {exc}") from None
            out.append(DataFile(path=path, relpath=relpath, partitions=parts))
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
        symbols: Symbols = None,
        start: dt.datetime | dt.date | str | None = None,
        end: dt.datetime | dt.date | str | None = None,
        timeframe: str | None = None,
    ) -> list[DataFile]:
        """The files a read needs after partition pruning (the others are never opened)."""
        span = parse_range(start, end, where=f"Catalog.files({kind!r})")
        return self._prune(self.dataset(kind), _symbols(symbols), span, timeframe)

    @staticmethod
    def _prune(
        ds: Dataset, wanted: tuple[str, ...] | None, span: TimeRange, timeframe: str | None
    ) -> list[DataFile]:
        keep = []
        for f in ds.files:
            part = f.partitions
            if wanted is not None and "symbol" in part and part["symbol"] not in wanted:
                continue
            if timeframe and "timeframe" in part and part["timeframe"] != timeframe:
                continue
            if "date" in part:
                day = dt.date.fromisoformat(part["date"])
                if span.start is not None and day < span.start.date():
                    continue
                if span.end is not None and dt.datetime.combine(day, dt.time(), dt.UTC) >= span.end:
                    continue
            keep.append(f)
        return keep

    def scan(
        self,
        kind: str,
        *,
        symbols: Symbols = None,
        start: dt.datetime | dt.date | str | None = None,
        end: dt.datetime | dt.date | str | None = None,
        timeframe: str | None = None,
    ) -> pl.LazyFrame:
        """A LazyFrame of ``kind``, pruned to the partitions that can hold the rows asked for.

        ``start`` is inclusive; ``end`` is exclusive when it has a time of day, and a bare
        date (``"2025-01-08"``) includes that whole day (timestamps in UTC; one parser,
        :func:`omni_research._time.parse_range`, for the whole kit). Column names and
        dtypes of every file are checked now. When the frame is collected, every file is
        opened through the production guard again (what is read is what is checked, even if
        a file was swapped since), its sha256 and row count are checked against the manifest,
        its rows are checked against its partition folders, and one audit line is written;
        :meth:`load` adds the full validation of values.
        """
        return self._scan(kind, symbols, start, end, timeframe)[0]

    def _scan(
        self,
        kind: str,
        symbols: Symbols,
        start: dt.datetime | dt.date | str | None,
        end: dt.datetime | dt.date | str | None,
        timeframe: str | None,
    ) -> tuple[pl.LazyFrame, Dataset, list[DataFile]]:
        """:meth:`scan`, also returning the dataset and the pruned files (for :meth:`load`)."""
        ds = self.dataset(kind)
        _guard.check_path(ds.path)
        _open_audit_log(self).close()  # a read that cannot be audited stops before any byte
        wanted = _symbols(symbols)
        span = parse_range(start, end, where=f"Catalog.scan({kind!r})")
        chosen = self._prune(ds, wanted, span, timeframe)
        expected = polars_schema(ds.kind)
        if ds.format == "parquet":
            for f in chosen:
                check_columns(_parquet_schema(f.path), expected, ds.kind, source=str(f.path))
        else:
            for f in chosen:
                _guard.check_path(f.path)
        frame = self._source(ds, chosen, expected)
        frame = frame.filter(*self._predicates(ds.kind, wanted, span, timeframe))
        if self.tier == "research" and ds.kind in ACCOUNT_KINDS:
            frame = frame.with_columns(_pseudonymise("account_id"))
        filters = dict(
            symbols=_lineage_symbols(symbols, wanted), start=start, end=end, timeframe=timeframe
        )
        self._remember(ds, chosen, None, filters)
        return frame, ds, chosen

    def _source(self, ds: Dataset, chosen: list[DataFile], expected: pl.Schema) -> pl.LazyFrame:
        """A lazy scan whose reads happen at collect time, each one guarded and checked."""
        from polars.io.plugins import register_io_source

        def read(
            with_columns: list[str] | None,
            predicate: pl.Expr | None,
            n_rows: int | None,
            _batch_size: int | None,
        ) -> Iterator[pl.DataFrame]:
            with _AuditLine(self, ds.name, [f.relpath for f in chosen]) as line:
                for f in chosen:
                    if n_rows is not None and line.rows >= n_rows:
                        break
                    df = self._read_checked(ds, f, expected)
                    if predicate is not None:
                        df = df.filter(predicate)
                    if with_columns is not None:
                        df = df.select(with_columns)
                    if n_rows is not None:
                        df = df.head(n_rows - line.rows)
                    line.rows += df.height
                    yield df

        return register_io_source(
            read,
            schema=expected,
            explain_name=f"guarded {ds.format}",
            explain_detail=f"{ds.name}: {len(chosen)} file(s)",
        )

    def _read_checked(self, ds: Dataset, f: DataFile, expected: pl.Schema) -> pl.DataFrame:
        """One file through the guard, checked against the manifest and its partitions."""
        data = _guard.read_guarded(f.path)
        record = self.manifest.files.get(f.relpath)
        if record is not None and hashlib.sha256(data).hexdigest() != record.sha256:
            raise DataFormatError(
                f"{f.path}: sha256 differs from the manifest's; the file changed or is "
                "corrupt. Run `omni-research verify` and restore it"
            )
        df = parse_bytes(data, str(f.path), ds.kind, expected)
        if record is not None and df.height != record.rows:
            raise DataFormatError(
                f"{f.path}: holds {df.height} rows, the manifest says {record.rows}; expected "
                "the manifest's count. Run `omni-research verify --repair` after restoring it"
            )
        _check_partitions(df, f)
        return df

    def _predicates(
        self, kind: str, wanted: tuple[str, ...] | None, span: TimeRange, timeframe: str | None
    ) -> list[pl.Expr]:
        columns = polars_schema(kind)
        preds = [pl.lit(True)]
        if wanted and "symbol" in columns:
            preds.append(pl.col("symbol").is_in(wanted))
        time_col = "timestamp" if "timestamp" in columns else "date"
        bounds: list[dt.datetime | dt.date | None] = [span.start, span.end]
        if time_col == "date":  # daily records (pnl) compare by calendar day
            bounds = [None if b is None else b.date() for b in (span.start, span.end)]
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
        symbols: Symbols = None,
        start: dt.datetime | dt.date | str | None = None,
        end: dt.datetime | dt.date | str | None = None,
        timeframe: str | None = None,
    ) -> pl.DataFrame:
        """:meth:`scan`, collected and validated in full (values and every rule).

        Examples
        --------
        >>> import omni_research as omr
        >>> bars = omr.open_catalog().load("ohlcv", symbols="BTCUSDT", start="2025-01-06",
        ...                                end="2025-01-06T00:03Z")
        >>> bars.select("timestamp", "close").height
        3
        """
        frame, ds, chosen = self._scan(kind, symbols, start, end, timeframe)
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
        """Check every file against the manifest: one row per problem (empty when all is well).

        Problems: ``not in manifest``, ``missing``, ``sha256 mismatch``, ``rows mismatch``,
        and ``refused: ...`` when the guard refuses a file (a symlink into production, say):
        nothing is hashed before the guard has passed it.
        """
        rows: list[tuple[str, str, str]] = []
        recorded = dict(self.manifest.files)
        for ds in self._datasets.values():
            for f in ds.files:
                record = recorded.pop(f.relpath, None)
                if record is None:
                    rows.append((f.relpath, "not in manifest", ""))
                else:
                    rows += _file_problems(f.path, f.relpath, record.sha256, record.rows)
        for name, record in recorded.items():
            path = self.root / name  # read_manifest proved name a plain relative path
            if not os.path.lexists(path):
                rows.append((name, "missing", record.sha256))
            else:
                rows += _file_problems(path, name, record.sha256, record.rows)
        schema = {"file": pl.String, "problem": pl.String, "expected_sha256": pl.String}
        return pl.DataFrame(rows, schema=schema, orient="row")


def _file_problems(path: Path, name: str, sha256: str, rows: int) -> list[tuple[str, str, str]]:
    try:
        measured = measure(path)  # one guarded read for both checks
        if measured.sha256 != sha256:
            return [(name, "sha256 mismatch", sha256)]
        counted = measured.rows
    except ProductionDataError as exc:
        return [(name, f"refused: {exc}", sha256)]
    except DataFormatError as exc:
        return [(name, f"unreadable: {exc}", sha256)]
    if counted != rows:
        return [(name, f"rows mismatch: manifest {rows}, file {counted}", sha256)]
    return []


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


def _open_audit_log(catalog: Catalog | None) -> IO[str]:
    """Open the audit log for appending, or raise before anything is read."""
    log = settings().audit_log
    if catalog is not None and log.resolve().is_relative_to(catalog.root):
        raise ConfigurationError(
            f"audit log {log} lies inside the data root {catalog.root}; expected it outside "
            "every data root (set OMNI_AUDIT_LOG to a path elsewhere)"
        )
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        return open(log, "a", encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"audit log {log} cannot be written ({exc.strerror or exc}); every read is "
            "audited, so nothing was read. Set OMNI_AUDIT_LOG to a writable file outside "
            "every data root"
        ) from exc


def _audit_entry(
    catalog: Catalog | None,
    dataset: str,
    files: list[str],
    rows: int,
    *,
    root: Path | None = None,
    tier: str | None = None,
) -> dict[str, Any]:
    base = catalog.root if catalog is not None else root
    return {
        "user": _user(),
        "time": dt.datetime.now(dt.UTC).isoformat(),
        "root": str(base) if base is not None else None,
        "tier": catalog.tier if catalog is not None else tier,
        "dataset": dataset,
        "files": files,
        "rows": rows,
    }


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
    resolved = _guard.check_path(path)
    if not resolved.is_dir():
        raise ConfigurationError(f"data root {path} does not exist or is not a folder")
    _guard.root_tier(resolved)
    return Catalog(resolved, read_manifest(resolved))


def read(path: str | os.PathLike[str], kind: str) -> pl.DataFrame:
    """Read one file of any supported format and validate it against ``kind``'s schema.

    The production guard runs first, and the file opened is the one it checked: one regular
    file (a folder is refused: read folders through :func:`open_catalog`). The read is
    audited; an audit log that cannot be written stops it before the file is opened.

    Examples
    --------
    >>> import omni_research as omr
    >>> f = omr.open_catalog().files("funding", symbols="BTCUSDT")[0].path
    >>> omr.read(f, "funding").columns
    ['timestamp', 'symbol', 'funding_rate', 'mark_price']
    """
    real = _guard.check_path(path)
    tier = _guard.nearest_tier(real)
    with _AuditLine(None, kind, [str(real)], root=real.parent, tier=tier) as line:
        df = read_file(real, kind)
        validate(df, kind, source=os.fspath(path))
        if kind in ACCOUNT_KINDS and tier == "research":
            df = df.with_columns(_pseudonymise("account_id"))
        line.rows = df.height
    return df
