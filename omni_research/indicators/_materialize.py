"""`materialize`: indicator columns computed per symbol and month, written as a dataset.

The job is a plan plus a ledger. The plan: one shard per symbol and calendar month of the
catalog's ``ohlcv`` (after pruning by ``symbols``, ``start``, ``end`` and ``timeframe``).
Each shard, on whatever engine runs it, opens the catalog itself from the root's path (the
production guard, the manifest's checksums, full validation and the audit line run on the
worker, as on a laptop), loads its month plus ``warmup`` bars before it, computes the
indicators and writes one Parquet file per day, atomically, laid out like ``ohlcv``::

    historical/indicators/symbol=<S>/timeframe=<TF>/date=<YYYY-MM-DD>/part-0.parquet

and returns the files' names, sha256 and row counts (never data). The ledger: the driver
records those in the root's manifest under its write lock as results arrive (in batches,
and whatever finished when a shard fails); a shard whose every file is recorded and present
is skipped on the next run, so a stopped job resumes where it stopped.
A task that dies half-way leaves no partial file (atomic writes), and one run again by Ray
writes the same bytes to the same names: no shard is lost or written twice.

``indicators`` is a derived dataset: its columns depend on the indicators asked for
(``timestamp``, ``symbol``, ``timeframe``, then one Float64 column per indicator output,
named as `Indicator.exprs` names them). The manifest's ``[indicators.<timeframe>]`` table
records those columns; a run asking for other indicators at the same timeframe is refused
rather than mixing files of two layouts. The catalog reads it like a kind
(``catalog.load("indicators", symbols=..., start=..., end=...)``: guard, checksums,
partition checks, roles of the market family, audit), checking every file's columns
against that table.

This module is the one place of ``indicators`` that opens a catalog: its workers must
(they are handed a root's path, never data); tests/test_architecture.py lists it as the
documented exception.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from omni_research._engine import Engine, check_engine, map_shards
from omni_research._layout import check_part, inside
from omni_research._manifest import FileRecord, read_manifest, write_manifest
from omni_research._time import parse_range, timeframe_duration_us
from omni_research._writelock import write_lock
from omni_research.config import PARQUET_WRITE_OPTIONS
from omni_research.exceptions import ConfigurationError
from omni_research.indicators._registry import get_indicator
from omni_research.io._atomic import write_bytes_atomic

DATASET = "indicators"
WARMUP_BARS = 2_000
"""Bars read before a shard's month by default. Measured on 30,000 random-walk bars: every
exponential and Wilder indicator (RSI, MACD, PPO, PVO, STC, ADX, ATR, KAMA, TSI, TRIX) is
bit-for-bit the whole-series value after 2,000 bars (RSI, PVO and STC are not after 500);
rolling-window ones differ from it only by the rounding of their running sums (at most
2e-9 relative, on near-zero values of CCI, DPO and Keltner)."""

CUMULATIVE = frozenset(
    {
        "acc_dist_index",
        "cumulative_return",
        "negative_volume_index",
        "on_balance_volume",
        "volume_price_trend",
    }
)
"""Indicators that sum from the first bar of the series: a month computed with any finite
warm-up is off by a constant, so `materialize` refuses them (compute them on a whole
series with ``catalog.load`` instead)."""

Spec = tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]


@dataclass(frozen=True, kw_only=True)
class _Job:
    """What every shard shares: the root's path and the indicator spec, never data."""

    root: str
    spec: Spec
    timeframe: str
    warmup: int
    start: dt.datetime | None
    end: dt.datetime | None


@dataclass(frozen=True, kw_only=True)
class _Shard:
    symbol: str
    month: dt.date  # first day of the month
    days: tuple[dt.date, ...]


def _normalise(indicators: object) -> Spec:
    """``["rsi", "macd"]`` or ``{"rsi": {"window": 21}}`` as a sorted, hashable spec."""
    if isinstance(indicators, str):
        indicators = [indicators]
    if isinstance(indicators, Mapping):
        items = list(indicators.items())
    elif isinstance(indicators, Sequence):
        items = [(name, {}) for name in indicators]
    else:
        raise ConfigurationError(
            f"materialize: indicators is a {type(indicators).__name__}; expected indicator "
            "names (['rsi', 'macd']) or names with parameters ({'rsi': {'window': 21}})"
        )
    if not items:
        raise ConfigurationError("materialize: no indicators given; expected e.g. ['rsi']")
    spec = []
    for name, params in items:
        if not isinstance(name, str):
            raise ConfigurationError(f"materialize: indicator name {name!r} is not a string")
        ind = get_indicator(name)  # UnknownKindError naming the known ones
        if name in CUMULATIVE:
            raise ConfigurationError(
                f"materialize: {name} sums from the first bar of the series, so a month "
                "computed on its own would be off by a constant; expected indicators with a "
                f"finite memory (not {', '.join(sorted(CUMULATIVE))}). Compute it on the "
                "whole series with catalog.load(...) instead"
            )
        if not isinstance(params, Mapping):
            raise ConfigurationError(f"materialize: parameters of {name} must be a dict")
        unknown = sorted(set(params) - set(ind.params))
        if unknown:
            raise ConfigurationError(
                f"materialize: {name} has no parameter(s) {unknown}; expected some of "
                f"{sorted(ind.params)}"
            )
        spec.append((name, tuple(sorted(dict(params).items()))))
    return tuple(spec)


def _exprs(spec: Spec) -> list[pl.Expr]:
    exprs: list[pl.Expr] = []
    for name, params in spec:
        exprs += [e.cast(pl.Float64) for e in get_indicator(name).exprs(**dict(params))]
    return exprs


def _columns(spec: Spec) -> list[str]:
    names = [e.meta.output_name() for e in _exprs(spec)]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigurationError(f"materialize: output column(s) {repeated} would repeat")
    return ["timestamp", "symbol", "timeframe", *names]


def _relpath(symbol: str, timeframe: str, day: dt.date) -> str:
    return (
        f"historical/{DATASET}/symbol={check_part('symbol', symbol)}/"
        f"timeframe={check_part('timeframe', timeframe)}/date={check_part('date', day)}/"
        "part-0.parquet"
    )


def _next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def _parquet_bytes(df: pl.DataFrame) -> bytes:
    """The same Parquet as the kit's other writers (zstd, page checksums), as bytes, so
    the sha256 recorded is that of the bytes written."""
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(df.to_arrow(), buffer, **PARQUET_WRITE_OPTIONS)
    return buffer.getvalue()


def _run_shard(job: _Job, shard: _Shard) -> list[tuple[str, str, int]]:
    """One symbol-month on a worker: read through the catalog, compute, write, report."""
    from omni_research._catalog import worker_catalog  # workers open the root themselves

    catalog = worker_catalog(job.root)
    begin = max(_at(shard.month), job.start) if job.start else _at(shard.month)
    stop = _at(_next_month(shard.month))
    stop = min(stop, job.end) if job.end else stop
    lead = dt.timedelta(microseconds=job.warmup * timeframe_duration_us(job.timeframe))
    bars = catalog.load(
        "ohlcv", symbols=shard.symbol, timeframe=job.timeframe, start=begin - lead, end=stop
    ).sort("timestamp")
    out = (
        bars.select("timestamp", "symbol", pl.col("timeframe").cast(pl.String), *_exprs(job.spec))
        .filter(pl.col("timestamp") >= begin)
        .with_columns(_day=pl.col("timestamp").dt.date())
    )
    records = []
    for day in shard.days:
        part = out.filter(pl.col("_day") == day).drop("_day")
        data = _parquet_bytes(part)
        relpath = _relpath(shard.symbol, job.timeframe, day)
        write_bytes_atomic(inside(job.root, relpath), data)
        records.append((relpath, hashlib.sha256(data).hexdigest(), part.height))
    return records


def _plan(
    catalog: Any, symbols: object, start: object, end: object, timeframe: str
) -> list[_Shard]:
    files = catalog.files("ohlcv", symbols=symbols, start=start, end=end, timeframe=timeframe)
    months: dict[tuple[str, dt.date], set[dt.date]] = {}
    for f in files:
        part = f.partitions
        if "symbol" not in part or "date" not in part:
            raise ConfigurationError(
                f"materialize: {f.relpath} is not partitioned by symbol and date; expected "
                "ohlcv laid out as symbol=<S>/timeframe=<TF>/date=<YYYY-MM-DD>/"
            )
        day = dt.date.fromisoformat(part["date"])
        months.setdefault((part["symbol"], day.replace(day=1)), set()).add(day)
    return [
        _Shard(symbol=symbol, month=month, days=tuple(sorted(days)))
        for (symbol, month), days in sorted(months.items())
    ]


def _spec_table(spec: Spec, columns: list[str], warmup: int) -> dict[str, Any]:
    return {
        "spec": json.dumps([[name, dict(params)] for name, params in spec], sort_keys=True),
        "columns": columns,
        "warmup": warmup,
    }


def _check_spec(root: Path, timeframe: str, table: dict[str, Any]) -> None:
    recorded = read_manifest(root).tables.get(DATASET, {}).get(timeframe)
    if recorded is not None and recorded.get("columns") != table["columns"]:
        raise ConfigurationError(
            f"materialize: {root}/historical/{DATASET} (timeframe {timeframe}) holds columns "
            f"{recorded.get('columns')}, this run asks for {table['columns']}; expected the "
            "same indicators as the files already written. Delete that timeframe's folder "
            "and its manifest entries to change them"
        )


def _done(root: Path, files: Mapping[str, FileRecord], shard: _Shard, timeframe: str) -> bool:
    names = [_relpath(shard.symbol, timeframe, day) for day in shard.days]
    return all(name in files and os.path.exists(root / name) for name in names)


def _record(
    root: Path, timeframe: str, table: dict[str, Any], records: list[tuple[str, str, int]]
) -> None:
    with write_lock(root):
        manifest = read_manifest(root)
        files = dict(manifest.files)
        for relpath, sha256, rows in records:
            files[relpath] = FileRecord(sha256=sha256, rows=rows)
        tables = dict(manifest.tables)
        tables[DATASET] = {**tables.get(DATASET, {}), timeframe: table}
        write_manifest(root, dataclasses.replace(manifest, files=files, tables=tables))


class _Ledger:
    """Records finished shards' files as results arrive: every ``every`` shards or
    ``seconds``, and at the end (also when a later shard fails), so a job stopped half-way
    keeps what it finished without rewriting the manifest once per shard."""

    def __init__(self, root: Path, timeframe: str, table: dict[str, Any]) -> None:
        self.root, self.timeframe, self.table = root, timeframe, table
        self.pending: list[tuple[str, str, int]] = []
        self.shards, self.last = 0, time.monotonic()

    def add(self, shard: _Shard, records: list[tuple[str, str, int]]) -> None:
        self.pending += records
        self.shards += 1
        if self.shards >= 32 or time.monotonic() - self.last > 30.0:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            _record(self.root, self.timeframe, self.table, self.pending)
        self.pending, self.shards, self.last = [], 0, time.monotonic()


def materialize(
    catalog: Any,
    indicators: Sequence[str] | Mapping[str, Mapping[str, Any]],
    /,
    *,
    symbols: str | Sequence[str] | None = None,
    start: dt.datetime | dt.date | str | None = None,
    end: dt.datetime | dt.date | str | None = None,
    timeframe: str = "1m",
    engine: Engine = "serial",
    warmup: int = WARMUP_BARS,
) -> pl.DataFrame:
    """Compute indicator columns per symbol and write them as the ``indicators`` dataset.

    Parameters
    ----------
    catalog : Catalog
        An open catalog of a local root (:func:`omni_research.open_catalog`); its root is
        written to, and each shard opens it again from the root's path on its worker. A
        root in object storage is refused (its writes do not go through the store yet).
    indicators : list of str or dict
        Registry names (``["rsi", "macd", "bollinger"]``), or names with parameters
        (``{"rsi": {"window": 21}, "macd": {}}``). Cumulative indicators (:data:`CUMULATIVE`)
        are refused.
    symbols, start, end, timeframe
        Which ``ohlcv`` to read, as for ``Catalog.scan`` (``start`` inclusive, ``end``
        exclusive; a bare date as end includes that day).
    engine : {"serial", "process", "ray"}
        Where the shards (symbol x month) run; every engine writes the same files.
    warmup : int
        Bars read before each month so that indicator values at the month's start equal a
        computation over the whole series (:data:`WARMUP_BARS`).

    Returns
    -------
    pl.DataFrame
        One row per shard: ``symbol``, ``month``, ``status`` (``written`` or ``skipped``:
        already recorded in the manifest and present), ``files``, ``rows`` (rows written;
        0 when skipped).

    Raises
    ------
    ConfigurationError
        For an unknown engine, a cumulative indicator, unknown parameters, or indicators
        other than those the dataset already holds at this timeframe.
    UnknownKindError
        For an unknown indicator name.
    DataFormatError, DataValidationError, ProductionDataError
        From a shard's read, as the catalog raises them.

    Examples
    --------
    >>> import omni_research as omr
    >>> from omni_research.indicators import materialize
    >>> report = materialize(omr.open_catalog(root), ["rsi", "macd"])  # doctest: +SKIP
    >>> omr.open_catalog(root).load("indicators", symbols="BTCUSDT")  # doctest: +SKIP
    """
    kind = check_engine(engine, where="materialize")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ConfigurationError(f"materialize: warmup={warmup!r}; expected bars, >= 0")
    if getattr(catalog, "store", None) is not None or not isinstance(catalog.root, Path):
        raise ConfigurationError(
            f"materialize: {catalog.root} is a root in object storage; materialize writes "
            "and records its files in a local root only (for now). Run it on a local copy "
            "(omni-research sync) or read the bucket with quality_catalog"
        )
    spec = _normalise(indicators)
    table = _spec_table(spec, _columns(spec), warmup)
    root = Path(catalog.root)
    span = parse_range(start, end, where="materialize")
    _check_spec(root, timeframe, table)
    shards = _plan(catalog, symbols, start, end, timeframe)
    files = read_manifest(root).files
    todo = [s for s in shards if not _done(root, files, s, timeframe)]
    job = _Job(
        root=str(root),
        spec=spec,
        timeframe=timeframe,
        warmup=warmup,
        start=span.start,
        end=span.end,
    )
    ledger = _Ledger(root, timeframe, table)
    try:
        results = map_shards(
            _run_shard, todo, context=job, engine=kind, label="materialize", on_result=ledger.add
        )
    finally:
        ledger.flush()  # what finished is recorded even when a later shard failed
    written = {(s.symbol, s.month): rs for s, rs in zip(todo, results, strict=True)}
    rows = []
    for s in shards:
        done = written.get((s.symbol, s.month))
        rows.append(
            {
                "symbol": s.symbol,
                "month": s.month,
                "status": "skipped" if done is None else "written",
                "files": len(s.days),
                "rows": 0 if done is None else sum(r[2] for r in done),
            }
        )
    schema = {
        "symbol": pl.String,
        "month": pl.Date,
        "status": pl.String,
        "files": pl.Int64,
        "rows": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema)
