"""Importers for Bybit public market data into a research root of the catalog.

Three sources, converted into the canonical kinds of ``docs/data_model.md``:

* public trading-history dumps (gzip CSV, ``timestamp,symbol,side,size,price,
  tickDirection,trdMatchID,grossValue,homeNotional,foreignNotional`` and newer files with
  extra trailing columns such as ``RPI``) → ``historical/trades``;
* v5 ``/v5/market/kline`` responses (``result.list`` of string arrays, newest first)
  → ``historical/ohlcv``;
* v5 ``/v5/market/orderbook`` snapshot responses → ``historical/orderbook``.

Every import is idempotent and append-safe: rows already in the root (same trade id, or
same symbol and timestamp) are counted as duplicates and not written again. Every source
row is either imported or reported with its reason in :attr:`ImportSummary.rejects`.
Files are written staged: all new partition files are written in full first and only
then moved into place, so an import that fails part-way leaves the root as it was.

Writes are safe together and after crashes:

* every partition path is built by :mod:`omni_research._layout`, so a row whose symbol is
  not a plain exchange symbol (``BTC/USDT``, ``../../x``) is rejected with its reason and
  no path ever leaves the root;
* an import holds the root's write lock (:mod:`omni_research._writelock`) from reading the
  old partitions to writing the manifest, so concurrent imports serialise and lose nothing;
  staging files have unique names per writer;
* before moving files into place it writes a journal (``.omni-journal.json``); if it dies
  before the manifest is written, the next writer (or ``omni-research verify --repair``)
  records the journaled files from their data (:func:`omni_research._manifest.repair`).
* a root in a bucket (``s3://bucket/prefix``, ``storage_options=``) has no lock: each
  partition object is replaced by a conditional PUT over the version merged (a conflict
  means read and merge again), then the manifest is updated by a conditional PUT
  (:mod:`omni_research._root_writer`).

Trade dumps carry epoch seconds with a fraction (``1735689600.0974``, derivatives) or
integer epoch milliseconds (``1735689600097``, as Bybit's spot files do): the unit is
detected per file, and rows that do not fit it are rejected with the reason.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import itertools
import json
import logging
import os
import tempfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import polars as pl

from omni_research import _guard, _layout
from omni_research._store import ObjectStore, is_uri
from omni_research._typing import Kind
from omni_research._writelock import write_lock
from omni_research.exceptions import (
    ConfigurationError,
    DataFormatError,
    DataWriteError,
    OmniDataError,
)

__all__ = [
    "BYBIT_INTERVALS",
    "ImportSummary",
    "import_bybit_klines",
    "import_bybit_orderbook",
    "import_bybit_trades",
    "import_main",
]

log = logging.getLogger(__name__)

BYBIT_INTERVALS: dict[str, str] = {
    "1": "1m",
    "3": "3m",
    "5": "5m",
    "15": "15m",
    "30": "30m",
    "60": "1h",
    "120": "2h",
    "240": "4h",
    "360": "6h",
    "720": "12h",
    "D": "1d",
    "W": "1w",
}
"""Bybit v5 kline ``interval`` values and the kit's timeframe names ("M" has no fixed length)."""

_TRADE_HEADER = (
    "timestamp",
    "symbol",
    "side",
    "size",
    "price",
    "tickDirection",
    "trdMatchID",
    "grossValue",
    "homeNotional",
    "foreignNotional",
)
_LEVELS = 5
_REJECTS_SCHEMA = {"location": pl.String, "reason": pl.String, "raw": pl.String}


@dataclass(frozen=True, kw_only=True)
class ImportSummary:
    """What one import did.

    ``rows_read == imported + duplicates + rejected`` always holds.

    Attributes
    ----------
    source : str
        The file (or ``"<json>"`` for in-memory input) that was imported.
    kind : Kind
        The catalog kind written: ``trades``, ``ohlcv`` or ``orderbook``.
    rows_read : int
        Data rows found in the source.
    imported : int
        Rows written to the root.
    duplicates : int
        Valid rows left out because the root (or the source itself) already had them.
    rejected : int
        Rows refused, each listed in ``rejects`` with its reason.
    files : tuple of Path
        Partition files written (created or extended) in a local root.
    rejects : pl.DataFrame
        ``location`` (line number or JSON position), ``reason`` and ``raw`` text.
    objects : tuple of str
        Partition objects written (their URIs) when the root is in a bucket.
    repaired : tuple of str
        Files of an earlier interrupted write that this import found in the root's journal
        and recorded in the manifest before importing (see
        :func:`omni_research._manifest.repair`).
    """

    source: str
    kind: Kind
    rows_read: int
    imported: int
    duplicates: int
    rejected: int
    files: tuple[Path, ...] = ()
    rejects: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=_REJECTS_SCHEMA), compare=False
    )
    repaired: tuple[str, ...] = ()
    objects: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = (
            f"bybit {self.kind} import of {self.source}: read {self.rows_read}, imported "
            f"{self.imported}, duplicate {self.duplicates}, rejected {self.rejected}, "
            f"{len(self.files) + len(self.objects)} file(s) written"
        )
        if self.repaired:
            text += (
                f"; first repaired {len(self.repaired)} file(s) of an interrupted earlier "
                "write (recorded in the manifest from their data)"
            )
        return text


# --------------------------------------------------------------------------- root handling


def _research_root(
    root: str | os.PathLike[str], storage_options: Mapping[str, object] | None = None
) -> Path | ObjectStore:
    """Guard the target root and make sure it is a research-tier data root (a local folder,
    or a root in a bucket: :func:`omni_research._root_writer.open_research_bucket`)."""
    if isinstance(root, str) and is_uri(root):
        from omni_research._root_writer import open_research_bucket

        return open_research_bucket(root, storage_options=storage_options, what="Bybit imports")
    if storage_options is not None:
        raise ConfigurationError(
            f"storage_options given for the local root {root!r}; they apply to object "
            "storage roots (s3://bucket/prefix) only"
        )
    _guard.check_path(root)
    path = Path(root)
    from omni_research.config import MANIFEST_NAME

    manifest = path / MANIFEST_NAME
    if not manifest.exists():
        raise ConfigurationError(
            f"{path} is not a data root: it has no {MANIFEST_NAME}. Create one declaring "
            'tier = "research" (and schema_version) before importing exchange data into it'
        )
    tier = _guard.root_tier(path)
    if tier != "research":
        raise ConfigurationError(
            f"{path} is a {tier!r}-tier root; Bybit imports go into a research-tier root "
            '(omni-data.toml with tier = "research"), so real data never mixes with test data'
        )
    return path


@dataclass(frozen=True, kw_only=True)
class _Written:
    imported: int
    duplicates: int
    files: tuple[Path, ...]
    repaired: tuple[str, ...]
    objects: tuple[str, ...] = ()


def _write_partitions(
    root: Path | ObjectStore,
    kind: Kind,
    new: pl.DataFrame,
    *,
    key: list[str],
    partition: Callable[[dict[str, Any]], str],
    partition_cols: list[str],
    lock_timeout: float | None,
) -> _Written:
    """Merge ``new`` into the root's partitions under the root's write lock (in a bucket:
    conditional PUTs, then the manifest, :func:`omni_research._root_writer.merge_into_bucket`).
    ``partition`` maps partition values to the file's path relative to the root."""
    from omni_research import _manifest

    before = new.height
    new = new.unique(subset=key, keep="first", maintain_order=True)
    duplicates = before - new.height
    if isinstance(root, ObjectStore):
        from omni_research._root_writer import merge_into_bucket

        if new.is_empty():
            return _Written(imported=0, duplicates=duplicates, files=(), repaired=())
        done = merge_into_bucket(
            root, kind, new, key=key, partition=partition, partition_cols=partition_cols
        )
        return _Written(
            imported=done.imported,
            duplicates=duplicates + done.duplicates,
            files=(),
            repaired=done.repaired,
            objects=done.files,
        )
    with write_lock(root, timeout=lock_timeout):
        # an earlier writer may have died between its replaces and its manifest write
        report = _manifest.repair(root)
        if report.journal_found:
            log.warning("%s", report)
        repaired = tuple(sorted(report.recorded))
        if new.is_empty():
            return _Written(imported=0, duplicates=duplicates, files=(), repaired=repaired)
        imported, more, files = _merge_under_lock(
            root, kind, new, key=key, partition=partition, partition_cols=partition_cols
        )
    return _Written(imported=imported, duplicates=duplicates + more, files=files, repaired=repaired)


def _merge_under_lock(
    root: Path,
    kind: Kind,
    new: pl.DataFrame,
    *,
    key: list[str],
    partition: Callable[[dict[str, Any]], str],
    partition_cols: list[str],
) -> tuple[int, int, tuple[Path, ...]]:
    from omni_research import _manifest
    from omni_research.io import _atomic
    from omni_research.io._readers import read_file

    staged: list[tuple[Path, Path]] = []
    imported = duplicates = 0
    target = root
    try:
        for keys, part in new.with_columns(_date=pl.col("timestamp").dt.date()).group_by(
            [*partition_cols, "_date"], maintain_order=True
        ):
            values = dict(zip([*partition_cols, "date"], keys, strict=True))
            target = _layout.inside(root, partition(values))  # checked, proven inside the root
            _guard.check_path(target)
            part = part.drop("_date")
            if target.exists():
                old = read_file(target, kind)  # exact columns, page checksums verified
                fresh = part.join(old.select(key), on=key, how="anti", nulls_equal=True)
                duplicates += part.height - fresh.height
                if fresh.is_empty():
                    continue
                merged = pl.concat([old, fresh.select(old.columns)], how="vertical_relaxed")
            else:
                fresh = merged = part
            merged = merged.sort("timestamp", maintain_order=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=".staged", dir=target.parent
            )
            os.close(fd)
            tmp = Path(name)
            staged.append((tmp, target))
            _atomic.write_parquet_atomic(merged, tmp)
            imported += fresh.height
        files = tuple(t for _, t in staged)
        if not staged:
            return imported, duplicates, files
        # Only now, with every new file complete on disk, journal the moves and make them.
        _manifest.write_journal(root, staged)
        try:
            for tmp, target in staged:
                os.replace(tmp, target)
            _manifest.record_files(root, list(files))
        except (OSError, OmniDataError) as exc:
            raise DataWriteError(
                f"the {kind} import into {root} was interrupted after its journal was written "
                f"({exc}); the journal {root / _manifest.JOURNAL_NAME} lists the files: the "
                "next import, or `omni-research verify --repair`, records them from their "
                "data"
            ) from exc
        _manifest.clear_journal(root)
    except OSError as exc:
        if isinstance(exc, DataWriteError):
            raise
        raise DataWriteError(
            f"could not write {target} ({exc}); the import left the root as it was: free "
            "space or fix permissions and import again"
        ) from exc
    except pl.exceptions.PolarsError as exc:
        raise DataFormatError(
            f"could not merge the {kind} rows into {target} ({exc}); the import left the "
            "root as it was"
        ) from exc
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
    return imported, duplicates, files


def _finish(
    source: str, kind: Kind, rows_read: int, written: _Written, rejects: pl.DataFrame
) -> ImportSummary:
    summary = ImportSummary(
        source=source,
        kind=kind,
        rows_read=rows_read,
        imported=written.imported,
        duplicates=written.duplicates,
        rejected=rejects.height,
        files=written.files,
        rejects=rejects,
        repaired=written.repaired,
        objects=written.objects,
    )
    log.info("%s", summary)
    if rejects.height:
        log.warning(
            "bybit %s import of %s: %d row(s) rejected, first: %s (%s)",
            kind,
            source,
            rejects.height,
            rejects["reason"][0],
            rejects["location"][0],
        )
    return summary


def _first_reason(rules: list[tuple[pl.Expr, str]]) -> pl.Expr:
    """The reason of the first rule a row breaks (rules are "is bad" expressions), or null."""
    expr: Any = pl
    for bad, reason in rules:
        expr = expr.when(bad.fill_null(True)).then(pl.lit(reason))
    return expr.otherwise(pl.lit(None, pl.String)).alias("_reason")  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- trades


def _read_gzip_csv(path: Path) -> pl.DataFrame:
    try:
        raw = _guard.read_guarded(path)
        data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataFormatError(
            f"{path}: could not read the Bybit trade dump ({exc}); expected a complete gzip "
            "CSV as downloaded from public.bybit.com/trading/; download it again"
        ) from exc
    header = data.split(b"\n", 1)[0].decode("utf-8", "replace").strip().split(",")
    missing = [c for c in _TRADE_HEADER if c not in header]
    if missing:
        raise DataFormatError(
            f"{path}: not a Bybit derivatives trade dump: header {header} lacks {missing}; "
            f"expected {','.join(_TRADE_HEADER)} (extra trailing columns such as RPI are fine; "
            "spot dumps use another layout and are not supported)"
        )
    try:
        return pl.read_csv(data, infer_schema=False, truncate_ragged_lines=True)
    except pl.exceptions.PolarsError as exc:
        raise DataFormatError(f"{path}: the CSV could not be parsed ({exc})") from exc


def _epoch_text_to_us(col: str) -> pl.Expr:
    """Exact µs from epoch-seconds text such as ``1735689600.0974`` (no float rounding)."""
    text = pl.col(col).str.strip_chars()
    # at most 11 digits of seconds (year 5138): a 13-digit millisecond count is not seconds
    seconds = text.str.extract(r"^(\d{1,11})(?:\.\d*)?$", 1).cast(pl.Int64, strict=False)
    fraction = (
        text.str.extract(r"^\d+\.(\d*)$", 1)
        .fill_null("")
        .str.pad_end(6, "0")
        .str.slice(0, 6)  # finer than a microsecond is truncated
        .cast(pl.Int64, strict=False)
    )
    return seconds * 1_000_000 + fraction


def _epoch_ms_text_to_us(col: str) -> pl.Expr:
    """µs from integer epoch-milliseconds text such as ``1735689600097``."""
    text = pl.col(col).str.strip_chars()
    return text.str.extract(r"^(\d{12,14})$", 1).cast(pl.Int64, strict=False) * 1_000


def _timestamp_unit(raw: pl.DataFrame) -> str:
    """``"ms"`` when most timestamps are 13-digit integers (milliseconds), else ``"s"``."""
    if raw.is_empty():
        return "s"
    share = raw.select(
        pl.col("timestamp").str.strip_chars().str.contains(r"^\d{13}$").fill_null(False).mean()
    ).item()
    return "ms" if share is not None and share > 0.5 else "s"


# Trades before Bybit existed or after 2100 are not Bybit trades; the bounds also keep every
# timestamp inside what Python's datetime can hold ("year 56985 is out of range").
_FIRST_US = int(dt.datetime(2015, 1, 1, tzinfo=dt.UTC).timestamp()) * 1_000_000
_END_US = int(dt.datetime(2100, 1, 1, tzinfo=dt.UTC).timestamp()) * 1_000_000


def import_bybit_trades(
    path: str | os.PathLike[str],
    root: str | os.PathLike[str],
    /,
    *,
    symbol: str | None = None,
    lock_timeout: float | None = None,
    storage_options: Mapping[str, object] | None = None,
) -> ImportSummary:
    """Import one Bybit public trading-history dump into ``<root>/historical/trades``.

    Parameters
    ----------
    path
        A ``<SYMBOL><date>.csv.gz`` file from Bybit's public trading history (plain CSV
        is accepted too).
    root
        A research-tier data root (``omni-data.toml`` with ``tier = "research"``): a local
        folder, or a URI string (``s3://bucket/prefix``).
    symbol
        If given, rows of another symbol are rejected.
    lock_timeout
        Seconds to wait for another writer of ``root`` (default
        :data:`omni_research._writelock.DEFAULT_TIMEOUT`).
    storage_options
        Credentials and settings when ``root`` is in a bucket (``s3://bucket/prefix``;
        Polars' names); unset ones come from the environment (``AWS_ACCESS_KEY_ID``, ...).
        A bucket root is written object by object, then its manifest with a conditional
        PUT (:mod:`omni_research._root_writer`).

    Returns
    -------
    ImportSummary
        Rows read, imported, duplicate and rejected (with reasons); also logged.
        Timestamps are epoch seconds with a fraction or integer epoch milliseconds, detected
        per file; rows in the other unit, and rows whose symbol is not a plain exchange
        symbol (``^[A-Z0-9][A-Z0-9_-]{0,39}$``), are rejected with the reason.

    Raises
    ------
    ProductionDataError
        If ``path`` or ``root`` is production data (``real_time/``, a production tier).
    ConfigurationError
        If ``root`` is not a research-tier data root, ``symbol`` is not a plain symbol, or
        another writer holds the root's write lock for longer than ``lock_timeout``.
    DataFormatError
        If the file is not a complete Bybit trade dump.
    DataWriteError
        If a file of the root cannot be written (naming it).

    Examples
    --------
    >>> summary = import_bybit_trades("BTCUSDT2025-01-01.csv.gz", "research_root")
    ... # doctest: +SKIP
    >>> summary.imported + summary.duplicates + summary.rejected == summary.rows_read
    ... # doctest: +SKIP
    True
    """
    source = Path(path)
    if symbol is not None:
        _layout.check_part("symbol", symbol)
    _guard.check_path(source)
    target_root = _research_root(root, storage_options)
    raw = _read_gzip_csv(source)
    rows_read = raw.height
    if _timestamp_unit(raw) == "ms":
        us_expr = _epoch_ms_text_to_us("timestamp")
        unit_reason = (
            "timestamp is not integer epoch milliseconds like 1735689600097 (the unit of "
            "most of this file's timestamps)"
        )
    else:
        us_expr = _epoch_text_to_us("timestamp")
        unit_reason = "timestamp is not epoch seconds like 1735689600.0974"
    # the parsed values once per row (the timestamp's regexes above all): the rules and
    # the output read these columns instead of parsing the text again
    parsed = raw.with_columns(
        us_expr.alias("_us"),
        pl.col("size").str.strip_chars().cast(pl.Float64, strict=False).alias("_size"),
        pl.col("price").str.strip_chars().cast(pl.Float64, strict=False).alias("_price"),
        pl.col("symbol").str.strip_chars().alias("_symbol"),
    )
    us, size, price, sym = pl.col("_us"), pl.col("_size"), pl.col("_price"), pl.col("_symbol")
    rules: list[tuple[pl.Expr, str]] = [
        (us.is_null(), unit_reason),
        (
            (us < _FIRST_US) | (us >= _END_US),
            "timestamp is outside 2015-01-01 .. 2099-12-31 (check the unit: seconds or ms)",
        ),
        (sym.str.len_chars() == 0, "symbol is empty"),
        (
            ~sym.str.contains(_layout.SYMBOL_PATTERN),
            f"symbol is not a plain exchange symbol matching {_layout.SYMBOL_PATTERN} "
            "(it becomes a folder name)",
        ),
        (~pl.col("side").is_in(["Buy", "Sell"]), "side is not Buy or Sell"),
        (size.is_null(), "size is not a number"),
        (~size.is_finite() | (size <= 0), "size is not a positive finite number"),
        (price.is_null(), "price is not a number"),
        (~price.is_finite() | (price <= 0), "price is not a positive finite number"),
        (pl.col("trdMatchID").str.strip_chars().str.len_chars() == 0, "trdMatchID is empty"),
    ]
    if symbol is not None:
        rules.append((pl.col("symbol") != symbol, f"symbol is not the expected {symbol}"))
    checked = parsed.with_columns(
        _line=pl.int_range(2, pl.len() + 2, dtype=pl.Int64), _reason=_first_reason(rules)
    )
    rejects = checked.filter(pl.col("_reason").is_not_null()).select(
        pl.format("line {}", pl.col("_line")).alias("location"),
        pl.col("_reason").alias("reason"),
        pl.concat_str([pl.col(c).fill_null("") for c in raw.columns], separator=",").alias("raw"),
    )
    good = checked.filter(pl.col("_reason").is_null()).select(
        pl.from_epoch(us, time_unit="us").dt.replace_time_zone("UTC").alias("timestamp"),
        sym.alias("symbol"),
        pl.col("trdMatchID").str.strip_chars().alias("trade_id"),
        pl.col("side").str.to_lowercase(),
        price.alias("price"),
        size.alias("size"),
    )
    written = _write_partitions(
        target_root,
        "trades",
        good,
        key=["trade_id"],
        partition=lambda v: _layout.relpath_for("trades", symbol=v["symbol"], date=v["date"]),
        partition_cols=["symbol"],
        lock_timeout=lock_timeout,
    )
    return _finish(str(source), "trades", rows_read, written, rejects)


# --------------------------------------------------------------------------- JSON sources


def _load_json(source: str | os.PathLike[str] | Mapping[str, Any] | Sequence[Any]) -> tuple[
    str, list[Any]
]:  # fmt: skip
    """Return (label, list of response objects) from a path, JSON text or parsed JSON."""
    if isinstance(source, Mapping):
        return "<json>", [source]
    if isinstance(source, Sequence) and not isinstance(source, str):
        return "<json>", list(source)
    text: str
    label: str
    if isinstance(source, str) and source.lstrip()[:1] in ("{", "["):
        text, label = source, "<json>"
    else:
        path = Path(source)
        label = str(path)
        try:
            data = _guard.read_guarded(path)
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            text = data.decode("utf-8")
        except (OSError, EOFError, gzip.BadGzipFile, zlib.error, UnicodeDecodeError) as exc:
            raise DataFormatError(f"{path}: could not read the Bybit JSON ({exc})") from exc
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        # JSON lines: one response per line
        try:
            parsed = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise DataFormatError(
                f"{label}: not JSON or JSON lines ({exc}); expected a Bybit v5 REST response"
            ) from exc
    return label, parsed if isinstance(parsed, list) else [parsed]


def _result(response: Any, label: str, endpoint: str) -> dict[str, Any]:
    if not isinstance(response, Mapping):
        raise DataFormatError(f"{label}: expected a JSON object (a {endpoint} response)")
    ret_code = response.get("retCode", 0)
    if ret_code not in (0, "0"):
        raise DataFormatError(
            f"{label}: the {endpoint} response is an error (retCode {ret_code}, "
            f"retMsg {response.get('retMsg')!r}); import only successful responses"
        )
    result = response.get("result", response)
    if not isinstance(result, Mapping):
        raise DataFormatError(f"{label}: 'result' is not an object in the {endpoint} response")
    return dict(result)


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out and out not in (float("inf"), float("-inf")) else None


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _rejects_frame(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=_REJECTS_SCHEMA, orient="row")


def import_bybit_klines(
    source: str | os.PathLike[str] | Mapping[str, Any] | Sequence[Any],
    root: str | os.PathLike[str],
    /,
    *,
    symbol: str | None = None,
    interval: str = "1",
    lock_timeout: float | None = None,
    storage_options: Mapping[str, object] | None = None,
) -> ImportSummary:
    """Import Bybit v5 kline responses into ``<root>/historical/ohlcv``.

    Parameters
    ----------
    source
        A ``.json`` file (one response, a JSON list of responses, or JSON lines), JSON
        text, or the parsed response(s).
    root
        A research-tier data root.
    symbol
        The symbol, if a response lacks ``result.symbol``; a response naming another
        symbol is an error.
    interval
        The request's Bybit ``interval`` (``"1"``, ``"5"``, ``"60"``, ``"D"``, ...): the
        response does not repeat it.
    lock_timeout
        Seconds to wait for another writer of ``root``.
    storage_options
        As for :func:`import_bybit_trades` (a root in a bucket).

    Returns
    -------
    ImportSummary
        Rows read, imported, duplicate and rejected (with reasons); also logged. A bar
        still open at the response's ``time`` is rejected (Bybit returns the forming bar
        first) so it never freezes a partial bar into the catalog. Klines carry no trade
        count: ``trade_count`` is stored as null (unknown), which the schema allows. The
        bars of a response whose symbol is not a plain exchange symbol are rejected.

    Raises
    ------
    ProductionDataError
        If the source or ``root`` is production data.
    ConfigurationError
        If ``root`` is not a research root or ``interval`` is unknown.
    DataFormatError
        If the source is not a successful kline response.
    """
    if interval not in BYBIT_INTERVALS:
        raise ConfigurationError(
            f"interval {interval!r} is not a fixed-length Bybit kline interval; expected one "
            f"of {list(BYBIT_INTERVALS)}"
        )
    from omni_research.bars import timeframe_duration_us

    if symbol is not None:
        _layout.check_part("symbol", symbol)
    timeframe = BYBIT_INTERVALS[interval]
    step_ms = timeframe_duration_us(timeframe) // 1000
    target_root = _research_root(root, storage_options)
    label, responses = _load_json(source)
    rows: list[dict[str, Any]] = []
    rejects: list[tuple[str, str, str]] = []
    rows_read = 0
    for r_i, response in enumerate(responses):
        result = _result(response, label, "/v5/market/kline")
        sym = result.get("symbol") or symbol
        if not sym:
            raise ConfigurationError(f"{label}: the response names no symbol; pass symbol=")
        if symbol is not None and sym != symbol:
            raise DataFormatError(f"{label}: response is for {sym}, expected {symbol}")
        items = result.get("list")
        if not isinstance(items, list):
            raise DataFormatError(f"{label}: result.list is missing; not a kline response")
        now_ms = _int(response.get("time")) if isinstance(response, Mapping) else None
        bad_symbol = _layout.reason("symbol", sym)
        for i, item in enumerate(items):
            rows_read += 1
            where = f"response {r_i} result.list[{i}]"
            raw = json.dumps(item)
            if bad_symbol:
                rejects.append(
                    (where, f"symbol {sym!r} is not a plain exchange symbol: {bad_symbol}", raw)
                )
                continue
            if not isinstance(item, list) or len(item) < 7:
                rejects.append(
                    (where, "expected 7 fields [start, o, h, l, c, volume, turnover]", raw)
                )
                continue
            start = _int(item[0])
            o, h, lo, c, v, t = (_num(x) for x in item[1:7])
            if start is None or start < 0:
                reason = "startTime is not an integer of milliseconds"
            elif any(x is None for x in (o, h, lo, c, v, t)):
                reason = "a price or volume is not a finite number"
            elif min(o, h, lo, c) <= 0 or v < 0 or t < 0:  # type: ignore[type-var,operator]
                reason = "prices must be positive and volume, turnover non-negative"
            elif h < max(o, c, lo) or lo > min(o, c):  # type: ignore[type-var,operator]
                reason = "OHLC rule broken: expected high >= max(open, close, low), low <= min"
            elif start % step_ms:
                reason = f"startTime is not aligned to the {timeframe} interval"
            elif now_ms is not None and start + step_ms > now_ms:
                reason = "bar still open at the response time; import it once it has closed"
            else:
                reason = ""
            if reason:
                rejects.append((where, reason, raw))
                continue
            rows.append(
                {"ms": start, "symbol": sym, "open": o, "high": h, "low": lo, "close": c,
                 "volume": v, "turnover": t}
            )  # fmt: skip
    good = pl.DataFrame(
        rows,
        schema={
            "ms": pl.Int64,
            "symbol": pl.String,
            "open": pl.Float64,
            "high": pl.Float64,
            "low": pl.Float64,
            "close": pl.Float64,
            "volume": pl.Float64,
            "turnover": pl.Float64,
        },
    ).select(
        pl.from_epoch("ms", time_unit="ms").cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        .alias("timestamp"),
        "symbol",
        pl.lit(timeframe, pl.String).alias("timeframe"),
        "open", "high", "low", "close", "volume", "turnover",
        # Klines carry no trade count and the ohlcv schema wants a non-null count: 0 here
        # means "unknown", as the docstring says.
        pl.lit(None, pl.Int64).alias("trade_count"),
    ).sort("symbol", "timestamp", maintain_order=True)  # fmt: skip
    written = _write_partitions(
        target_root,
        "ohlcv",
        good,
        key=["symbol", "timeframe", "timestamp"],
        partition=lambda v: _layout.relpath_for(
            "ohlcv", symbol=v["symbol"], timeframe=v["timeframe"], date=v["date"]
        ),
        partition_cols=["symbol", "timeframe"],
        lock_timeout=lock_timeout,
    )
    return _finish(label, "ohlcv", rows_read, written, _rejects_frame(rejects))


def _book_side(levels: Any, descending: bool) -> tuple[list[float] | None, list[float], str]:
    """Top levels of one side as (prices, sizes, reason); prices None when rejected."""
    if not isinstance(levels, list) or len(levels) < _LEVELS:
        return None, [], f"fewer than {_LEVELS} levels (request limit={_LEVELS} or more)"
    prices: list[float] = []
    sizes: list[float] = []
    for level in levels[:_LEVELS]:
        if not isinstance(level, list) or len(level) < 2:
            return None, [], "a level is not a [price, size] pair"
        px, sz = _num(level[0]), _num(level[1])
        if px is None or sz is None or px <= 0 or sz <= 0:
            return None, [], "a level's price or size is not a positive number"
        prices.append(px)
        sizes.append(sz)
    ordered = all((a > b) if descending else (a < b) for a, b in itertools.pairwise(prices))
    if not ordered:
        return None, [], "levels are not sorted best first"
    return prices, sizes, ""


def import_bybit_orderbook(
    source: str | os.PathLike[str] | Mapping[str, Any] | Sequence[Any],
    root: str | os.PathLike[str],
    /,
    *,
    symbol: str | None = None,
    lock_timeout: float | None = None,
    storage_options: Mapping[str, object] | None = None,
) -> ImportSummary:
    """Import Bybit v5 order-book snapshot responses into ``<root>/historical/orderbook``.

    Parameters
    ----------
    source
        A ``.json`` file (one response, a JSON list, or JSON lines, one snapshot each),
        JSON text, or the parsed response(s).
    root
        A research-tier data root.
    symbol
        If given, snapshots of another symbol are rejected.
    lock_timeout
        Seconds to wait for another writer of ``root``.
    storage_options
        As for :func:`import_bybit_trades` (a root in a bucket).

    Returns
    -------
    ImportSummary
        One row per snapshot: the top 5 levels of each side, stamped with ``result.ts``
        (ms). Snapshots with fewer than 5 levels a side are rejected with the reason.

    Raises
    ------
    ProductionDataError
        If the source or ``root`` is production data.
    ConfigurationError
        If ``root`` is not a research root.
    DataFormatError
        If the source is not a successful order-book response.
    """
    if symbol is not None:
        _layout.check_part("symbol", symbol)
    target_root = _research_root(root, storage_options)
    label, responses = _load_json(source)
    rows: list[dict[str, Any]] = []
    rejects: list[tuple[str, str, str]] = []
    for r_i, response in enumerate(responses):
        result = _result(response, label, "/v5/market/orderbook")
        where = f"snapshot {r_i}"
        raw = json.dumps(result)[:500]
        sym, ts = result.get("s"), _int(result.get("ts"))
        bid_px, bid_sz, bid_reason = _book_side(result.get("b"), descending=True)
        ask_px, ask_sz, ask_reason = _book_side(result.get("a"), descending=False)
        if not sym:
            reason = "no symbol ('s')"
        elif bad_symbol := _layout.reason("symbol", sym):
            reason = f"symbol {sym!r} is not a plain exchange symbol: {bad_symbol}"
        elif symbol is not None and sym != symbol:
            reason = f"symbol {sym} is not the expected {symbol}"
        elif ts is None or not _FIRST_US // 1000 <= ts < _END_US // 1000:
            reason = "'ts' is not an integer of milliseconds in 2015 .. 2099"
        elif bid_px is None:
            reason = f"bids: {bid_reason}"
        elif ask_px is None:
            reason = f"asks: {ask_reason}"
        elif bid_px[0] >= ask_px[0]:
            reason = "crossed book: best bid is not below best ask"
        else:
            reason = ""
        if reason or bid_px is None or ask_px is None:
            rejects.append((where, reason, raw))
            continue
        row: dict[str, Any] = {"ms": ts, "symbol": sym}
        for i in range(_LEVELS):
            row[f"bid_px_{i + 1}"] = bid_px[i]
            row[f"bid_sz_{i + 1}"] = bid_sz[i]
        for i in range(_LEVELS):
            row[f"ask_px_{i + 1}"] = ask_px[i]
            row[f"ask_sz_{i + 1}"] = ask_sz[i]
        rows.append(row)
    level_cols = [f"{s}_{k}_{i}" for s in ("bid", "ask") for k in ("px", "sz") for i in range(1, 6)]
    schema: dict[str, Any] = {"ms": pl.Int64, "symbol": pl.String}
    schema.update({c: pl.Float64 for c in level_cols})
    good = (
        pl.DataFrame(rows, schema=schema)
        .select(
            pl.from_epoch("ms", time_unit="ms")
            .cast(pl.Datetime("us"))
            .dt.replace_time_zone("UTC")
            .alias("timestamp"),
            "symbol",
            *level_cols,
        )
        .sort("symbol", "timestamp", maintain_order=True)
    )
    written = _write_partitions(
        target_root,
        "orderbook",
        good,
        key=["symbol", "timestamp"],
        partition=lambda v: _layout.relpath_for("orderbook", symbol=v["symbol"], date=v["date"]),
        partition_cols=["symbol"],
        lock_timeout=lock_timeout,
    )
    return _finish(label, "orderbook", len(responses), written, _rejects_frame(rejects))


def import_main(
    paths: Sequence[str],
    root: str,
    *,
    kind: str | None = None,
    symbol: str | None = None,
    interval: str = "1",
    out: TextIO | None = None,
) -> int:
    """Entry point for an ``omni-research import-bybit`` command: import files, print summaries.

    Parameters
    ----------
    paths
        Files to import, in order.
    root
        A research-tier data root.
    kind
        ``"trades"``, ``"klines"`` or ``"orderbook"``; by default guessed per file (CSV
        dumps are trades; JSON with ``result.list`` klines, with ``result.b`` order books).
    symbol, interval
        Passed to the importers (``interval`` only to klines).
    out
        Where to print (default standard output).

    Returns
    -------
    int
        0 when every file was imported (rows may still be rejected: they are listed),
        2 when a file could not be imported at all.
    """
    import sys

    stream = out if out is not None else sys.stdout
    code = 0
    for path in paths:
        try:
            which = kind or _guess_kind(Path(path))
            summary: ImportSummary
            if which == "trades":
                summary = import_bybit_trades(path, root, symbol=symbol)
            elif which == "klines":
                summary = import_bybit_klines(path, root, symbol=symbol, interval=interval)
            elif which == "orderbook":
                summary = import_bybit_orderbook(path, root, symbol=symbol)
            else:
                raise ConfigurationError(
                    f"kind {which!r} is not importable; expected trades, klines or orderbook"
                )
        except OmniDataError as exc:
            print(f"omni-research import-bybit: {exc}", file=stream)
            code = 2
            continue
        print(summary, file=stream)
        for location, reason, _raw in summary.rejects.head(10).iter_rows():
            print(f"  rejected {location}: {reason}", file=stream)
        if summary.rejected > 10:
            print(f"  ... and {summary.rejected - 10} more rejected rows", file=stream)
    return code


def _guess_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        return "trades"
    try:
        head = _guard.read_guarded(path)[:65536]
        if head[:2] == b"\x1f\x8b":
            head = gzip.decompress(_guard.read_guarded(path))[:65536]
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataFormatError(f"{path}: could not read it ({exc})") from exc
    text = head.decode("utf-8", "replace")
    if '"list"' in text:
        return "klines"
    if '"b"' in text and '"a"' in text:
        return "orderbook"
    raise DataFormatError(
        f"{path}: cannot tell what Bybit data this is; expected a trade dump (.csv.gz), a "
        "v5 kline response (result.list) or a v5 order-book response (result.b, result.a); "
        "pass kind="
    )
