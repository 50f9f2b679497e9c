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

import polars as pl

from omni_research import _crypto
from omni_research._guard import read_guarded
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

    The production guard runs before the file is opened, and the file opened is the one it
    checked (one regular file; a folder is refused).
    """
    expected = polars_schema(kind)  # raises UnknownKindError first
    return parse_bytes(read_guarded(path), os.fspath(path), kind, expected)


def parse_bytes(data: bytes, source: str, kind: str, expected: pl.Schema) -> pl.DataFrame:
    """Parse the bytes of one file (already read through the guard) as ``kind``."""
    fmt = file_format(source)
    if not data:
        raise DataFormatError(f"{source}: the file is empty; expected {fmt} data of kind {kind}")
    if fmt == "parquet":
        return _read_parquet(data, source, kind, expected)
    text = _read_text(data, source, fmt)
    if fmt in ("csv", "csv.gz"):
        raw = _read_csv_text(source, text)
    else:
        raw = _read_json_text(source, text, lines=fmt == "jsonl")
    return conform(raw, kind, source=source)


def _read_parquet(data: bytes, source: str, kind: str, expected: pl.Schema) -> pl.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # an encrypted file needs its key from the KMS (KeyAccessError), and GCM authenticates it
    decrypted = _crypto.read_encrypted(source, data) if _crypto.is_encrypted(data) else None
    try:
        # Page checksums (written by the kit) catch flipped bytes inside data pages.
        table = (
            decrypted
            if decrypted is not None
            else pq.read_table(pa.BufferReader(data), page_checksum_verification=True)
        )
        # the kit needs no key-value metadata, and Polars panics on keys that are not UTF-8
        # (found by fuzzing: one flipped byte in "ARROW:schema")
        df = pl.from_arrow(table.replace_schema_metadata(None))
    except (
        pa.ArrowException,
        OSError,
        ValueError,
        pl.exceptions.PolarsError,  # a corrupt time zone name: ComputeError (found by fuzzing)
        pl.exceptions.PanicException,  # a non-UTF-8 type format string (found by fuzzing)
    ) as exc:
        raise DataFormatError(
            f"{source}: unreadable Parquet ({exc}); the file is truncated, corrupt or not "
            "Parquet. Restore it from the source or re-run the export that wrote it"
        ) from exc
    assert isinstance(df, pl.DataFrame)
    check_columns(df.schema, expected, kind, source=source)
    return df.select(expected.names())


def _read_text(data: bytes, source: str, fmt: FileFormat) -> str:
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


def _read_csv_text(source: str, text: str) -> pl.DataFrame:
    # Records are checked by the csv module over the whole text, not splitlines(): a quoted
    # field may hold a newline (and splitlines() also splits at \u2028, \x1c and the like
    # inside fields). A record is reported by the physical line it starts on. Polars then
    # builds the frame (fast, and it tells a quoted "" from an empty field, which is null).
    lines = io.StringIO(text.removeprefix("\ufeff"), newline="").readlines()
    reader = csv.reader(lines, strict=True)
    header: list[str] | None = None
    blank: list[int] = []  # 0-based indexes of blank lines after the header: no data, dropped
    records = 0
    start = 1
    try:
        for fields in reader:
            if header is None:
                if not fields:
                    break
                header = fields
            elif not fields or (len(fields) == 1 and not fields[0].strip()):
                blank.append(start - 1)
            elif len(fields) != len(header):
                cut = reader.line_num == len(lines) and not text.endswith(("\n", "\r"))
                why = "the file is cut mid-line" if cut else "a ragged row"
                raise DataFormatError(
                    f"{source}: line {start} has {len(fields)} fields, expected "
                    f"{len(header)} ({why}); restore the complete file"
                )
            else:
                records += 1
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataFormatError(
            f"{source}: line {start}: malformed CSV ({exc}); expected RFC 4180 quoting (a "
            'quoted field closed before the next comma or line end, "" for a quote inside it); '
            "the file is cut inside a quoted field or has a stray quote"
        ) from exc
    if header is None:
        raise DataFormatError(f"{source}: the file is empty; expected a CSV header line")
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise DataFormatError(
            f"{source}: the header names {', '.join(map(repr, twice))} more than once; "
            "expected each column once"
        )
    if blank:  # Polars would read a blank line as a row of nulls
        dropped = set(blank)
        text = "".join(line for i, line in enumerate(lines) if i not in dropped)
    try:
        frame = pl.read_csv(io.StringIO(text), infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise DataFormatError(f"{source}: malformed CSV ({exc})") from exc
    if frame.height != records:  # both parsers must see the same records, or neither is trusted
        raise DataFormatError(
            f"{source}: {records} records found but {frame.height} rows read; expected plain "
            "CSV (comma-separated, double quotes, \\n or \\r\\n line ends; a lone \\r is "
            "not supported): convert the line ends and read it again"
        )
    return frame


def _read_json_text(source: str, text: str, *, lines: bool) -> pl.DataFrame:
    if lines:
        # JSON lines end at "\n" only: a JSON string may hold a raw \u2028, where splitlines()
        # would cut. Lines are counted in the file, blank ones included.
        records = []
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataFormatError(
                    f"{source}: line {number}: malformed JSON ({exc.msg} at column {exc.colno}); "
                    "expected one JSON object per line"
                ) from exc
            except RecursionError:  # nesting deeper than the parser's stack (found by fuzzing)
                raise DataFormatError(
                    f"{source}: line {number}: JSON nested too deeply; expected one flat JSON "
                    "object per line"
                ) from None
            if not isinstance(record, dict):
                raise DataFormatError(
                    f"{source}: line {number} is a JSON {type(record).__name__}, not an object; "
                    "expected one JSON object per line"
                )
            records.append(record)
    else:
        try:
            loaded = json.loads(text)
            records = loaded if isinstance(loaded, list) else loaded.get("records")
        except (json.JSONDecodeError, AttributeError) as exc:
            raise DataFormatError(f"{source}: malformed JSON ({exc})") from exc
        except RecursionError:  # nesting deeper than the parser's stack (found by fuzzing)
            raise DataFormatError(
                f"{source}: JSON nested too deeply; expected an array of flat records"
            ) from None
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
    """Cast a frame of text columns to ``kind``'s dtypes, refusing anything that won't cast.

    Timestamps are stored in microseconds (``Datetime("us", "UTC")``, as every kind's schema
    says), so text with up to nine fractional digits is kept exactly when the digits below a
    microsecond are zeros, and refused, not truncated, when they are not.

    Parameters
    ----------
    raw : pl.DataFrame
        Every column a String, as read from CSV or JSON text.
    kind : str
        The data kind whose columns and dtypes the result must have.
    source : str
        Where the text came from, for the error message.

    Raises
    ------
    DataValidationError
        A column is missing or extra, or a value does not cast (naming column, row and value).
    """
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
            cast = _to_utc_datetime(values)
            bad = bad | (text.is_not_null() & cast.is_null())
            expect = "an RFC 3339 timestamp in UTC (ending in Z or +00:00)"
            _refuse(kind, source, name, text, bad, f"not {expect}", f"dtype {dtype}")
            fraction = text.str.extract(r"\.(\d+)(?:Z|\+00:00|\+0000)$", 1)
            _refuse(
                kind,
                source,
                name,
                text,
                fraction.str.slice(6).str.contains("[1-9]").fill_null(False),
                "finer than a microsecond",
                "microsecond precision",
                "; the kit stores timestamps in microseconds and does not drop digits "
                "silently: round them to 6 decimals at the source",
            )
        elif isinstance(dtype, pl.Date):
            cast = text.str.to_date("%Y-%m-%d", strict=False)
            bad = text.is_not_null() & cast.is_null()
            _refuse(kind, source, name, text, bad, "not a date YYYY-MM-DD", f"dtype {dtype}")
        elif dtype == pl.String:
            out[name] = text
            continue
        else:
            cast = text.str.strip_chars().cast(dtype, strict=False)
            bad = text.is_not_null() & cast.is_null()
            _refuse(kind, source, name, text, bad, f"not a {dtype} value", f"dtype {dtype}")
        out[name] = cast
    return pl.DataFrame(out)


def _to_utc_datetime(values: pl.Series) -> pl.Series:
    """Text to UTC datetimes, null where it does not parse (Polars infers the format from
    the first value and raises, even with ``strict=False``, when it cannot: found by
    fuzzing; every value is then refused by the caller, naming the first)."""
    try:
        cast = values.str.to_datetime(time_unit="us", strict=False)
    except pl.exceptions.ComputeError:
        cast = pl.Series(values.name, [None] * values.len(), pl.Datetime("us"))
    return cast.dt.replace_time_zone("UTC")


def _refuse(
    kind: str,
    source: str,
    name: str,
    text: pl.Series,
    bad: pl.Series,
    what: str,
    check: str,
    advice: str = "",
) -> None:
    """Raise DataValidationError naming column, count and first row when ``bad`` has a True."""
    if not bad.any():
        return
    rows = bad.arg_true()
    first = int(rows[0])
    raise DataValidationError(
        f"{kind} data from {source}: column {name!r} has {rows.len()} value(s) that are "
        f"{what} (first at row {first}: {text[first]!r}){advice}",
        pl.DataFrame(
            {
                "column": [name] * rows.len(),
                "check": [check] * rows.len(),
                "failure_case": text.gather(rows),
                "index": rows.cast(pl.Int64),
            }
        ),
    )
