"""Read one file of any supported format into a frame of a kind's exact columns and dtypes.

Everything a library would let through silently is caught here: a CSV cut mid-line, a corrupt
gzip, values of the wrong type, naive or non-UTC timestamps, empty files.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import zlib
from pathlib import Path

import polars as pl

from omni_research._guard import check_path
from omni_research._typing import FileFormat
from omni_research.exceptions import DataFormatError, DataValidationError
from omni_research.schemas import polars_schema

SUFFIXES: dict[str, FileFormat] = {
    ".parquet": "parquet",
    ".csv": "csv",
    ".csv.gz": "csv.gz",
    ".json": "json",
    ".jsonl": "jsonl",
}
# RFC 3339 with a UTC offset only; naive and other zones are refused, not converted.
_UTC_TEXT = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|\+00:00|\+0000)$"


def file_format(path: str | os.PathLike[str]) -> FileFormat:
    """The format of ``path`` from its name; DataFormatError for anything else."""
    name = os.fspath(path).lower()
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return SUFFIXES[suffix]
    raise DataFormatError(
        f"{os.fspath(path)}: unsupported file type; expected one of {', '.join(SUFFIXES)}"
    )


def read_file(path: str | os.PathLike[str], kind: str) -> pl.DataFrame:
    """Read ``path`` as ``kind``: exact columns and dtypes, not yet rule-checked.

    The production guard runs before the file is opened.
    """
    check_path(path)
    source = Path(path)
    fmt = file_format(source)
    expected = polars_schema(kind)  # raises UnknownKindError first
    try:
        size = source.stat().st_size
    except OSError as exc:
        raise DataFormatError(f"{source}: cannot open ({exc.strerror or exc})") from exc
    if size == 0:
        raise DataFormatError(f"{source}: the file is empty; expected {fmt} data of kind {kind}")
    if fmt == "parquet":
        return _read_parquet(source, kind, expected)
    text = _read_text(source, fmt)
    if fmt in ("csv", "csv.gz"):
        raw = _read_csv_text(source, text)
    else:
        raw = _read_json_text(source, text, lines=fmt == "jsonl")
    return conform(raw, kind, source=str(source))


def _read_parquet(source: Path, kind: str, expected: pl.Schema) -> pl.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # Page checksums (written by the kit) catch flipped bytes inside data pages.
        table = pq.read_table(source, page_checksum_verification=True)
        df = pl.from_arrow(table)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataFormatError(
            f"{source}: unreadable Parquet ({exc}); the file is truncated, corrupt or not "
            "Parquet. Restore it from the source or re-run the export that wrote it"
        ) from exc
    assert isinstance(df, pl.DataFrame)
    check_columns(df.schema, expected, kind, source=str(source))
    return df.select(expected.names())


def _read_text(source: Path, fmt: FileFormat) -> str:
    data = source.read_bytes()
    if fmt == "csv.gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataFormatError(
                f"{source}: corrupt or truncated gzip ({exc}); expected a complete .csv.gz file"
            ) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{source}: not UTF-8 text ({exc})") from exc


def _read_csv_text(source: Path, text: str) -> pl.DataFrame:
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise DataFormatError(f"{source}: the file is empty; expected a CSV header line")
    header = next(csv.reader([lines[0]]))
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = next(csv.reader([line]))
        if len(fields) != len(header):
            cut = number == len(lines) and not text.endswith("\n")
            why = "the file is cut mid-line" if cut else "a ragged row"
            raise DataFormatError(
                f"{source}: line {number} has {len(fields)} fields, expected {len(header)} "
                f"({why}); restore the complete file"
            )
    try:
        return pl.read_csv(io.StringIO(text), infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise DataFormatError(f"{source}: malformed CSV ({exc})") from exc


def _read_json_text(source: Path, text: str, *, lines: bool) -> pl.DataFrame:
    try:
        if lines:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            loaded = json.loads(text)
            records = loaded if isinstance(loaded, list) else loaded.get("records")
    except (json.JSONDecodeError, AttributeError) as exc:
        raise DataFormatError(f"{source}: malformed JSON ({exc})") from exc
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise DataFormatError(
            f"{source}: expected a JSON array of records (or JSON lines, one object each)"
        )
    if not records:
        raise DataFormatError(f"{source}: holds no records")
    columns = list(dict.fromkeys(key for record in records for key in record))
    # Every value as text first, so that conform() applies one strict set of casts.
    data = {
        col: [None if r.get(col) is None else _as_text(r[col]) for r in records] for col in columns
    }
    return pl.DataFrame(data, schema=dict.fromkeys(columns, pl.String))


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def check_columns(actual: pl.Schema, expected: pl.Schema, kind: str, *, source: str) -> None:
    """Raise DataValidationError when columns are missing or carry the wrong dtype."""
    problems = []
    for name, dtype in expected.items():
        if name not in actual:
            problems.append((name, "column_in_dataframe", "missing"))
        elif actual[name] != dtype:
            problems.append((name, f"dtype {dtype}", str(actual[name])))
    extra = [name for name in actual if name not in expected]
    problems += [(name, "no extra columns", "present") for name in extra]
    if problems:
        cases = pl.DataFrame(
            problems, schema=["column", "check", "failure_case"], orient="row"
        ).with_columns(index=pl.lit(None, pl.Int64))
        detail = "; ".join(f"column {c!r}: expected {chk}, got {got}" for c, chk, got in problems)
        raise DataValidationError(
            f"{kind} data from {source}: {detail}. Expected exactly the columns "
            f"{', '.join(f'{n} ({t})' for n, t in expected.items())}",
            cases,
        )


def conform(raw: pl.DataFrame, kind: str, *, source: str) -> pl.DataFrame:
    """Cast a frame of text columns to ``kind``'s dtypes, refusing anything that won't cast."""
    expected = polars_schema(kind)
    check_columns(
        pl.Schema(dict.fromkeys(raw.columns, pl.String)),
        pl.Schema(dict.fromkeys(expected.names(), pl.String)),
        kind,
        source=source,
    )
    out = {}
    for name, dtype in expected.items():
        text = raw[name]
        if isinstance(dtype, pl.Datetime):
            bad = text.is_not_null() & ~text.str.contains(_UTC_TEXT)
            values = text.str.replace(r"(Z|\+00:00|\+0000)$", "").str.replace(" ", "T")
            cast = values.str.to_datetime(time_unit="us", strict=False).dt.replace_time_zone("UTC")
            bad = bad | (text.is_not_null() & cast.is_null())
            expect = "an RFC 3339 timestamp in UTC (ending in Z or +00:00)"
        elif isinstance(dtype, pl.Date):
            cast = text.str.to_date("%Y-%m-%d", strict=False)
            bad = text.is_not_null() & cast.is_null()
            expect = "a date YYYY-MM-DD"
        elif dtype == pl.String:
            out[name] = text
            continue
        else:
            cast = text.str.strip_chars().cast(dtype, strict=False)
            bad = text.is_not_null() & cast.is_null()
            expect = f"a {dtype} value"
        if bad.any():
            rows = bad.arg_true()
            first = int(rows[0])
            raise DataValidationError(
                f"{kind} data from {source}: column {name!r} has {rows.len()} value(s) that are "
                f"not {expect} (first at row {first}: {text[first]!r})",
                pl.DataFrame(
                    {
                        "column": [name] * rows.len(),
                        "check": [f"dtype {dtype}"] * rows.len(),
                        "failure_case": text.gather(rows),
                        "index": rows.cast(pl.Int64),
                    }
                ),
            )
        out[name] = cast
    return pl.DataFrame(out)
