"""The catalog: discover a data root's datasets, prune partitions, scan lazily, load validated."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from omni_research import _access, _audit, _crypto, _guard, _layout
from omni_research._manifest import (
    Manifest,
    measure,
    read_manifest,
    read_remote_manifest,
    rows_in,
)
from omni_research._store import ObjectStore, is_uri
from omni_research._time import TimeRange, parse_range
from omni_research._typing import KINDS, Tier
from omni_research.config import MANIFEST_NAME, data_test_root, settings
from omni_research.exceptions import (
    ConfigurationError,
    DataFormatError,
    DataValidationError,
    ProductionDataError,
    StorageError,
    UnknownKindError,
)
from omni_research.io._readers import check_columns, file_format, parse_bytes, read_file
from omni_research.schemas import polars_schema, validate

DATA_AREAS = ("historical", "test")
ROOT_FOLDERS = ("historical", "real_time", "test", "exports", "cache", "models", "backups", "logs")
ACCOUNT_KINDS = ("orders", "fills", "positions", "pnl")
_DIGITS = re.compile(r"(\d+)")
DATA_TEST = data_test_root()
_FETCHES = 8  # objects fetched from a bucket at once
DATASET_KINDS = (*KINDS, *_layout.DERIVED_KINDS)  # the dataset folders a root may hold


@dataclass(frozen=True, kw_only=True)
class DataFile:
    """One data file of a dataset, with the Hive partition values its path carries.

    ``path`` is the local file, or the object's URI for a catalog in a bucket.
    """

    path: Path | str
    relpath: str
    partitions: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class Dataset:
    """A dataset: ``<area>/<kind>`` under a data root (``path``: a folder or a URI)."""

    name: str
    kind: str
    area: str
    path: Path | str
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
            # no key-value metadata: Polars panics on a key that is not UTF-8, and on a
            # corrupt time zone name (found by fuzzing the footer)
            empty = pl.from_arrow(arrow.remove_metadata().empty_table())
        except (
            pa.ArrowException,
            OSError,
            ValueError,
            pl.exceptions.PolarsError,
            pl.exceptions.PanicException,
        ) as exc:
            raise DataFormatError(
                f"{path}: unreadable Parquet ({exc}); the file is truncated, corrupt or not "
                "Parquet. Restore it from the source or re-run the export that wrote it"
            ) from exc
    assert isinstance(empty, pl.DataFrame)
    return empty.schema


def _check_footer(ds: Dataset, f: DataFile, actual: pl.Schema, expected: pl.Schema) -> None:
    """A file's columns against the dataset's; for a derived dataset a file that differs from
    the manifest's table is a format problem (DataFormatError naming file and column)."""
    try:
        check_columns(actual, expected, ds.kind, source=str(f.path))
    except DataValidationError as exc:
        if ds.kind not in _layout.DERIVED_KINDS:
            raise
        raise DataFormatError(
            f"{exc} (the columns the manifest's [{ds.kind}.<timeframe>] table records). "
            f"Re-run indicators.materialize for this file's symbol and month"
        ) from None


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


class Catalog:
    """The datasets of one data root (tier test or research), read lazily and validated.

    Use :func:`open_catalog` to make one.
    """

    def __init__(
        self, root: Path | str, manifest: Manifest, *, store: ObjectStore | None = None
    ) -> None:
        self.root = root
        # a catalog in a bucket reads through its store; a local one through the guard
        self.store = store
        self._log_root = root if isinstance(root, Path) else None
        self._footers: dict[str, pl.Schema] = {}  # Parquet schemas of a bucket's objects
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
        if self.store is not None:
            return self._discover_store(self.store)
        found: dict[str, Dataset] = {}
        for area in DATA_AREAS:
            base = Path(self.root) / area
            if not base.is_dir():
                continue
            for folder in sorted(p for p in base.iterdir() if p.is_dir()):
                if folder.name not in DATASET_KINDS:
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

    def _discover_store(self, store: ObjectStore) -> dict[str, Dataset]:
        """The datasets of a root in a bucket, from one listing of its objects."""
        folders: dict[tuple[str, str], list[DataFile]] = {}
        for obj in store.list():
            parts = obj.key.split("/")
            if len(parts) < 3 or parts[0] not in DATA_AREAS or parts[1] not in DATASET_KINDS:
                continue
            if parts[-1].startswith("."):
                continue
            try:
                file_format(obj.key)
            except DataFormatError:
                continue
            try:
                partitions = _layout.parse("/".join(parts[2:]))
            except ConfigurationError as exc:
                raise DataFormatError(f"{store.uri}: {exc}") from None
            folders.setdefault((parts[0], parts[1]), []).append(
                DataFile(path=store.uri_of(obj.key), relpath=obj.key, partitions=partitions)
            )
        found: dict[str, Dataset] = {}
        for (area, kind), files in sorted(folders.items()):
            files.sort(key=lambda f: _natural_key(Path(f.relpath)))
            formats = {file_format(f.relpath) for f in files}
            if len(formats) > 1:
                raise DataFormatError(
                    f"{store.uri_of(f'{area}/{kind}')}: mixes file formats {sorted(formats)}; "
                    "expected one format per dataset"
                )
            found[f"{area}/{kind}"] = Dataset(
                name=f"{area}/{kind}",
                kind=kind,
                area=area,
                path=store.uri_of(f"{area}/{kind}"),
                format=formats.pop(),
                files=tuple(files),
            )
        return found

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
        if kind not in DATASET_KINDS:
            raise UnknownKindError(
                f"unknown data kind {kind!r}; expected one of: {', '.join(DATASET_KINDS)}"
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
        ds = self.dataset(kind)
        self._reader(ds)
        return self._prune(ds, _symbols(symbols), span, timeframe)

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
        user = self._reader(ds)  # roles first: a refused kind has no byte read
        with _audit.refusals(self.root, tier=self.tier, dataset=ds.name, kind=ds.kind):
            self._check(ds.path)
            _audit.open_log(self._log_root).close()  # a read that cannot be audited stops here
            wanted = _symbols(symbols)
            span = parse_range(start, end, where=f"Catalog.scan({kind!r})")
            chosen = self._prune(ds, wanted, span, timeframe)
            expected = self._expected(ds, chosen)
            if ds.format == "parquet":
                for f, schema in zip(chosen, self._schemas(chosen), strict=True):
                    _check_footer(ds, f, schema, expected)
            else:
                for f in chosen:
                    self._check(f.path)
            frame = self._source(ds, chosen, expected, user)
            frame = frame.filter(*self._predicates(ds.kind, wanted, span, timeframe))
            if self.tier == "research" and ds.kind in ACCOUNT_KINDS:
                frame = frame.with_columns(_pseudonymise("account_id"))
        filters = dict(
            symbols=_lineage_symbols(symbols, wanted), start=start, end=end, timeframe=timeframe
        )
        self._remember(ds, chosen, None, filters)
        return frame, ds, chosen

    def _expected(self, ds: Dataset, chosen: list[DataFile]) -> pl.Schema:
        """The columns every chosen file must have: the kind's schema, or for a derived
        dataset (``indicators``) its base columns plus the Float64 columns the manifest's
        ``[<kind>.<timeframe>]`` table records for the timeframes read."""
        base = polars_schema(ds.kind)
        if ds.kind not in _layout.DERIVED_KINDS:
            return base
        recorded = self.manifest.tables.get(ds.kind)
        layouts: dict[tuple[str, ...], list[str]] = {}
        for tf in sorted({f.partitions.get("timeframe", "") for f in chosen}):
            entry = recorded.get(tf) if isinstance(recorded, dict) else None
            columns = entry.get("columns") if isinstance(entry, dict) else None
            if (
                not isinstance(columns, list)
                or not all(isinstance(c, str) for c in columns)
                or columns[: len(base)] != base.names()
            ):
                raise DataFormatError(
                    f"{self.root}/{ds.name}: the manifest's [{ds.kind}.{tf or '?'}] table "
                    f"does not list the columns (got {columns!r}); expected {base.names()} "
                    "then the indicator columns. Re-run indicators.materialize on this root"
                )
            layouts.setdefault(tuple(columns), []).append(tf)
        if len(layouts) > 1:
            found = "; ".join(f"{', '.join(tfs)}: {list(c)}" for c, tfs in layouts.items())
            raise ConfigurationError(
                f"{self.root}/{ds.name}: the timeframes read hold different columns ({found}); "
                "pass timeframe= to read one of them"
            )
        columns = next(iter(layouts), tuple(base.names()))
        return pl.Schema({c: base.get(c, pl.Float64) for c in columns})

    def _reader(self, ds: Dataset) -> str:
        """Who reads ``ds``; AccessDeniedError (audited) unless the root's roles allow it."""
        with _audit.refusals(self.root, tier=self.tier, dataset=ds.name, kind=ds.kind):
            return _access.check_read(self.manifest, ds.kind, root=self.root).user

    def _source(
        self, ds: Dataset, chosen: list[DataFile], expected: pl.Schema, user: str
    ) -> pl.LazyFrame:
        """A lazy scan whose reads happen at collect time, each one guarded and checked."""
        from polars.io.plugins import register_io_source

        def read(
            with_columns: list[str] | None,
            predicate: pl.Expr | None,
            n_rows: int | None,
            _batch_size: int | None,
        ) -> Iterator[pl.DataFrame]:
            with _audit.ReadAudit(
                root=self.root,
                tier=self.tier,
                dataset=ds.name,
                kind=ds.kind,
                files=[f.relpath for f in chosen],
                user=user,
                log_root=self._log_root,
            ) as line:
                for df in self._checked_frames(ds, chosen, expected):
                    if n_rows is not None and line.rows >= n_rows:
                        break
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
        data = self._bytes(f)
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

    # -- local folder or bucket ---------------------------------------------------------------
    def _check(self, path: Path | str) -> None:
        """The guard on a file or folder of this root (a path, or an object's URI)."""
        if self.store is not None:
            _guard.check_uri(str(path))
        else:
            _guard.check_path(path)

    def _bytes(self, f: DataFile) -> bytes:
        """The bytes of one file, read once after the guard (locally: the checked file)."""
        if self.store is not None:
            return self.store.get(f.relpath)
        return _guard.read_guarded(f.path)

    def _schemas(self, chosen: list[DataFile]) -> list[pl.Schema]:
        """The Parquet footers' schemas (from a bucket: ranged reads, several at a time)."""
        store = self.store
        if store is None:
            return [_parquet_schema(Path(f.path)) for f in chosen]
        # an object's footer is read once per catalog: the manifest is fixed at open, and
        # an object replaced since fails its sha256 check at collect time anyway
        todo = [f for f in chosen if f.relpath not in self._footers]
        with ThreadPoolExecutor(max_workers=_FETCHES) as pool:
            for f, schema in zip(
                todo, pool.map(lambda f: _remote_parquet_schema(store, f), todo), strict=True
            ):
                self._footers[f.relpath] = schema
        return [self._footers[f.relpath] for f in chosen]

    def _checked_frames(
        self, ds: Dataset, chosen: list[DataFile], expected: pl.Schema
    ) -> Iterator[pl.DataFrame]:
        """:meth:`_read_checked` of each file, in order. From a bucket, the next few files
        are fetched and checked while one is consumed; a read that stops early (``head``,
        an error) cancels the rest."""
        if self.store is None:
            for f in chosen:
                yield self._read_checked(ds, f, expected)
            return
        pool = ThreadPoolExecutor(max_workers=_FETCHES)
        try:
            pending: list[Future[pl.DataFrame]] = []
            queue = iter(chosen)
            for f in queue:
                pending.append(pool.submit(self._read_checked, ds, f, expected))
                if len(pending) >= _FETCHES:
                    break
            while pending:
                df = pending.pop(0).result()
                nxt = next(queue, None)
                if nxt is not None:
                    pending.append(pool.submit(self._read_checked, ds, nxt, expected))
                yield df
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _read_file(self, f: DataFile, ds: Dataset) -> pl.DataFrame:
        """One file of ``ds`` (exact columns and dtypes), not checked against the manifest."""
        return parse_bytes(self._bytes(f), str(f.path), ds.kind, self._expected(ds, [f]))

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
                validate(self._read_file(f, ds), ds.kind, source=str(f.path))
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
        ``not encrypted: ...`` for a plain file of a kind the root's ``[encryption]`` table
        names, and ``refused: ...`` when the guard refuses a file (a symlink into production,
        say): nothing is hashed before the guard has passed it.
        """
        if self.store is not None:
            return self._verify_store(self.store)
        rows: list[tuple[str, str, str]] = []
        recorded = dict(self.manifest.files)
        for ds in self._datasets.values():
            for f in ds.files:
                record = recorded.pop(f.relpath, None)
                if record is None:
                    rows.append((f.relpath, "not in manifest", ""))
                else:
                    rows += _file_problems(Path(f.path), f.relpath, record.sha256, record.rows)
        rows += _crypto.unencrypted(  # a plaintext file of a kind the root encrypts
            Path(self.root),
            self.manifest.tables,
            [
                (f.relpath, ds.kind, Path(f.path))
                for ds in self._datasets.values()
                for f in ds.files
            ],
        )
        for name, record in recorded.items():
            path = Path(self.root) / name  # read_manifest proved name a plain relative path
            if not os.path.lexists(path):
                rows.append((name, "missing", record.sha256))
            else:
                rows += _file_problems(path, name, record.sha256, record.rows)
        schema = {"file": pl.String, "problem": pl.String, "expected_sha256": pl.String}
        return pl.DataFrame(rows, schema=schema, orient="row")

    def _verify_store(self, store: ObjectStore) -> pl.DataFrame:
        """:meth:`verify` of a root in a bucket: every object listed and recorded is hashed."""
        listed = {o.key for o in store.list()}
        rows: list[tuple[str, str, str]] = []
        known = {f.relpath for ds in self._datasets.values() for f in ds.files}
        unrecorded = sorted(known - self.manifest.files.keys())
        rows += [(name, "not in manifest", "") for name in unrecorded]
        present = [n for n in sorted(self.manifest.files) if n in listed]
        rows += [
            (n, "missing", self.manifest.files[n].sha256)
            for n in sorted(self.manifest.files)
            if n not in listed
        ]

        def problems(name: str) -> list[tuple[str, str, str]]:
            record = self.manifest.files[name]
            try:
                data = store.get(name)
                if hashlib.sha256(data).hexdigest() != record.sha256:
                    return [(name, "sha256 mismatch", record.sha256)]
                counted = rows_in(data, store.uri_of(name))
            except ProductionDataError as exc:
                return [(name, f"refused: {exc}", record.sha256)]
            except DataFormatError as exc:
                return [(name, f"unreadable: {exc}", record.sha256)]
            if counted != record.rows:
                problem = f"rows mismatch: manifest {record.rows}, file {counted}"
                return [(name, problem, record.sha256)]
            return []

        with ThreadPoolExecutor(max_workers=_FETCHES) as pool:
            for found in pool.map(problems, present):
                rows += found
        rows.sort(key=lambda r: r[0])
        schema = {"file": pl.String, "problem": pl.String, "expected_sha256": pl.String}
        return pl.DataFrame(rows, schema=schema, orient="row")


def _remote_parquet_schema(store: ObjectStore, f: DataFile) -> pl.Schema:
    """The columns of a Parquet object, from its footer (ranged reads through the store)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with store.open_reader(f.relpath) as handle:
        try:
            arrow = pq.read_schema(handle)
        except StorageError:
            raise
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise DataFormatError(
                f"{f.path}: unreadable Parquet ({exc}); the object is truncated, corrupt or "
                "not Parquet. Publish it again from its source root (omni-research sync)"
            ) from exc
    empty = pl.from_arrow(arrow.empty_table())
    assert isinstance(empty, pl.DataFrame)
    return empty.schema


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


def open_catalog(
    root: str | os.PathLike[str] | None = None,
    *,
    storage_options: Mapping[str, object] | None = None,
) -> Catalog:
    """Open the data root at ``root`` (``None``: the shipped ``data_test/``).

    ``root`` may be a local folder or a root in object storage (``s3://bucket/prefix``,
    ``gs://``, ``az://`` and their aliases ``s3a://``, ``gcs://``, ``abfss://``). A bucket
    root reads with credentials from ``storage_options`` (Polars' names:
    ``aws_access_key_id``, ``aws_secret_access_key``, ``aws_endpoint_url``, ``aws_region``,
    ``aws_allow_http``, ...) or from the standard environment (``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, ``AWS_REGION``, ...). Scans, loads and
    :meth:`Catalog.verify` then fetch each object once, check its sha256 and row count
    against the manifest, and parse the checked bytes; a store failure (a wrong credential,
    a missing bucket, a dropped connection) raises StorageError naming the URI.

    The production guard runs first: a production-tier root (a manifest with tier production
    at the root or above it), a ``real_time/`` folder or a path under
    ``OMNI_PRODUCTION_PATHS`` raises ProductionDataError before anything is read.

    Examples
    --------
    >>> import omni_research as omr
    >>> catalog = omr.open_catalog()
    >>> catalog.tier
    'test'
    """
    if isinstance(root, str) and is_uri(root):
        with _audit.refusals(root):  # a refused root is audited too
            store = ObjectStore(root, storage_options=storage_options)
            store.check_tiers()
            manifest = read_remote_manifest(store)[0]
            if manifest.tier == "production":  # pragma: no cover - check_tiers refused it
                raise ProductionDataError(f"refused to read {root}: tier production")
            return Catalog(store.uri, manifest, store=store)
    if storage_options is not None:
        raise ConfigurationError(
            f"storage_options given for the local root {root!r}; they apply to object "
            "storage only (s3://, gs://, az://)"
        )
    path = Path(root) if root is not None else DATA_TEST
    with _audit.refusals(path):  # a refused root is audited too
        resolved = _guard.check_path(path)
        if not resolved.is_dir():
            raise ConfigurationError(f"data root {path} does not exist or is not a folder")
        _guard.root_tier(resolved)
        return Catalog(resolved, read_manifest(resolved))


def worker_catalog(root: str) -> Catalog:
    """``open_catalog(root)`` for a job's worker, kept per process while the manifest stays.

    Shards of one job run one after another in a worker process; each would list the root
    and read its manifest again. The catalog is kept while the manifest's inode, size and
    modification time stay the same; a root in a bucket is opened for every shard.
    """
    from omni_research._engine import worker_cache

    try:
        st = os.stat(os.path.join(root, MANIFEST_NAME))
        stamp: object = (st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:  # a root in a bucket, or none: open it for every shard
        stamp = None
    return worker_cache(f"catalog:{root}", stamp, lambda: open_catalog(root))


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
    with _audit.refusals(path, kind=kind):
        real = _guard.check_path(path)
        tier = _guard.nearest_tier(real)
        user = _file_reader(real, kind)
    with _audit.ReadAudit(
        root=real.parent, tier=tier, dataset=None, kind=kind, files=[str(real)], user=user
    ) as line:
        df = read_file(real, kind)
        validate(df, kind, source=os.fspath(path))
        if kind in ACCOUNT_KINDS and tier == "research":
            df = df.with_columns(_pseudonymise("account_id"))
        line.rows = df.height
    return df


def _file_reader(real: Path, kind: str) -> str | None:
    """Who reads the file ``real`` as ``kind``: the roles of its nearest root must allow
    ``kind`` and the kind of the dataset folder it lies in (``<area>/<kind>/...``)."""
    folder = real.parent
    while not (folder / MANIFEST_NAME).is_file():
        if folder.parent == folder:
            return None  # not inside a data root: no access table applies
        folder = folder.parent
    manifest = read_manifest(folder)
    parts = real.relative_to(folder).parts
    kinds = [kind]
    if len(parts) > 2 and parts[0] in DATA_AREAS and parts[1] in KINDS and parts[1] != kind:
        kinds.append(parts[1])
    user = None
    for each in kinds:
        user = _access.check_read(manifest, each, root=folder).user
    return user
