"""Bad input gets a clear error naming the file and the problem; nothing is lost silently."""

from __future__ import annotations

import datetime as dt
import gzip
import re
from pathlib import Path

import polars as pl
import pytest

import omni_research as omr
from omni_research.exceptions import (
    DataFormatError,
    DataValidationError,
    UnknownKindError,
)
from omni_research.io._atomic import write_csv_atomic, write_parquet_atomic
from omni_research.testing import make_ohlcv


@pytest.fixture
def bars() -> pl.DataFrame:
    return make_ohlcv(n=50, seed=1)


def _csv_text(df: pl.DataFrame) -> str:
    return df.write_csv(datetime_format="%Y-%m-%dT%H:%M:%S%.6fZ")


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".csv.gz", ".json", ".jsonl"])
def test_read_round_trips_every_format(tmp_path: Path, bars: pl.DataFrame, suffix: str) -> None:
    path = tmp_path / f"bars{suffix}"
    if suffix == ".parquet":
        write_parquet_atomic(bars, path)
    elif suffix.startswith(".csv"):
        write_csv_atomic(bars, path)
    else:
        rows = bars.with_columns(pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
        if suffix == ".json":
            path.write_text(rows.write_json())
        else:
            path.write_text(rows.write_ndjson())
    back = omr.read(path, "ohlcv")
    assert back.equals(bars)


def test_read_truncated_parquet_raises_format_error(tmp_path: Path, bars: pl.DataFrame) -> None:
    path = tmp_path / "bars.parquet"
    write_parquet_atomic(bars, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=r"bars\.parquet: unreadable Parquet"):
        omr.read(path, "ohlcv")


def test_read_flipped_byte_in_parquet_page_raises_format_error(
    tmp_path: Path, bars: pl.DataFrame
) -> None:
    path = tmp_path / "bars.parquet"
    write_parquet_atomic(bars, path)
    data = bytearray(path.read_bytes())
    # flip bytes in the middle of the first data page (after the 4-byte magic + page header)
    for i in range(200, 208):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises((DataFormatError, DataValidationError), match=r"bars\.parquet"):
        omr.read(path, "ohlcv")


def test_read_corrupt_gzip_raises_format_error(tmp_path: Path, bars: pl.DataFrame) -> None:
    path = tmp_path / "bars.csv.gz"
    data = gzip.compress(_csv_text(bars).encode())
    path.write_bytes(data[:-30])
    with pytest.raises(DataFormatError, match=r"bars\.csv\.gz: corrupt or truncated gzip"):
        omr.read(path, "ohlcv")


def test_read_csv_cut_mid_line_raises_format_error(tmp_path: Path, bars: pl.DataFrame) -> None:
    path = tmp_path / "bars.csv"
    text = _csv_text(bars)
    path.write_text(text[: len(text) - 25])
    with pytest.raises(DataFormatError, match="cut mid-line"):
        omr.read(path, "ohlcv")


def test_read_csv_wrong_type_names_column_and_row(tmp_path: Path, bars: pl.DataFrame) -> None:
    path = tmp_path / "bars.csv"
    frame = bars.with_columns(pl.col("close").cast(pl.String))
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 7).then(pl.lit("n/a")).otherwise("close").alias("close")
    )
    path.write_text(_csv_text(frame))
    with pytest.raises(DataValidationError, match=r"column 'close'.*first at row 7: 'n/a'") as info:
        omr.read(path, "ohlcv")
    assert info.value.failure_cases["index"].to_list() == [7]


def test_read_csv_missing_column_raises_validation_error(
    tmp_path: Path, bars: pl.DataFrame
) -> None:
    path = tmp_path / "bars.csv"
    path.write_text(_csv_text(bars.drop("volume")))
    with pytest.raises(DataValidationError, match=r"bars\.csv: column 'volume': expected"):
        omr.read(path, "ohlcv")


def test_read_empty_file_raises_format_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.parquet"
    path.write_bytes(b"")
    with pytest.raises(DataFormatError, match=r"empty\.parquet: the file is empty"):
        omr.read(path, "ohlcv")


def test_read_unknown_kind_raises_lookup_error(tmp_path: Path, bars: pl.DataFrame) -> None:
    path = tmp_path / "bars.parquet"
    write_parquet_atomic(bars, path)
    with pytest.raises(UnknownKindError, match="unknown data kind 'candles'") as info:
        omr.read(path, "candles")
    assert isinstance(info.value, LookupError)


@pytest.mark.parametrize(
    ("stamp", "problem"),
    [("2025-01-06T00:00:00", "naive"), ("2025-01-06T02:00:00+02:00", "other zone")],
)
def test_read_csv_non_utc_timestamps_raise(
    tmp_path: Path, bars: pl.DataFrame, stamp: str, problem: str
) -> None:
    path = tmp_path / "bars.csv"
    text = _csv_text(bars).splitlines()
    first = text[1].split(",")
    first[0] = stamp
    text[1] = ",".join(first)
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(
        DataValidationError, match=r"column 'timestamp'.*not an RFC 3339 timestamp in UTC"
    ):
        omr.read(path, "ohlcv")


@pytest.mark.parametrize("zone", [None, "Europe/Berlin"])
def test_read_parquet_non_utc_timestamps_raise(
    tmp_path: Path, bars: pl.DataFrame, zone: str | None
) -> None:
    path = tmp_path / "bars.parquet"
    shifted = bars.with_columns(pl.col("timestamp").dt.convert_time_zone(zone or "UTC"))
    if zone is None:
        shifted = shifted.with_columns(pl.col("timestamp").dt.replace_time_zone(None))
    write_parquet_atomic(shifted, path)
    with pytest.raises(DataValidationError, match=r"bars\.parquet: column 'timestamp': expected"):
        omr.read(path, "ohlcv")


@pytest.mark.parametrize("lazy", [False, True], ids=["DataFrame", "LazyFrame"])
@pytest.mark.parametrize(
    ("change", "check"),
    [
        (
            pl.when(pl.int_range(pl.len()) == 3).then(float("nan")).otherwise(pl.col("close")),
            "close",
        ),
        (
            pl.when(pl.int_range(pl.len()) == 3).then(float("inf")).otherwise(pl.col("close")),
            "close",
        ),
        (pl.when(pl.int_range(pl.len()) == 3).then(-1.0).otherwise(pl.col("close")), "close"),
        (pl.when(pl.int_range(pl.len()) == 3).then(0.0).otherwise(pl.col("close")), "close"),
    ],
    ids=["nan", "inf", "negative", "zero"],
)
def test_validate_bad_prices_raise(
    bars: pl.DataFrame, change: pl.Expr, check: str, lazy: bool
) -> None:
    bad = bars.with_columns(change.alias("close"))
    frame = bad.lazy() if lazy else bad
    with pytest.raises(DataValidationError, match=rf"column '{check}' fails") as info:
        omr.validate(frame, "ohlcv")
    assert 3 in info.value.failure_cases["index"].to_list()


@pytest.mark.parametrize("lazy", [False, True], ids=["DataFrame", "LazyFrame"])
def test_validate_good_frame_returns_same_kind(bars: pl.DataFrame, lazy: bool) -> None:
    frame = bars.lazy() if lazy else bars
    out = omr.validate(frame, "ohlcv")
    assert isinstance(out, pl.LazyFrame) == lazy
    assert (out.collect() if isinstance(out, pl.LazyFrame) else out).equals(bars)


def test_validate_nan_high_is_not_let_through_by_ordering(bars: pl.DataFrame) -> None:
    # Polars orders NaN above every number: high >= max(open, close) alone would pass it.
    bad = bars.with_columns(
        pl.when(pl.int_range(pl.len()) == 5).then(float("nan")).otherwise("high").alias("high")
    )
    with pytest.raises(DataValidationError, match="column 'high' fails 'finite'"):
        omr.validate(bad, "ohlcv")


def test_validate_high_below_close_names_rule_and_time(bars: pl.DataFrame) -> None:
    bad = bars.with_columns(
        pl.when(pl.int_range(pl.len()) == 9).then(pl.col("low")).otherwise("high").alias("high")
    )
    with pytest.raises(
        DataValidationError,
        match=r"'high >= max\(open, close\)' in 1 row\(s\) \(first at row 9, 2025-01-06 00:09",
    ):
        omr.validate(bad, "ohlcv")


def test_validate_duplicate_timestamp_raises(bars: pl.DataFrame) -> None:
    bad = pl.concat([bars.head(10), bars.slice(9, 41)])
    with pytest.raises(DataValidationError, match="unique and sorted"):
        omr.validate(bad, "ohlcv")


def test_validate_unsorted_rows_raise(bars: pl.DataFrame) -> None:
    bad = pl.concat([bars.slice(1, 1), bars.slice(0, 1), bars.slice(2)])
    with pytest.raises(DataValidationError, match="unique and sorted") as info:
        omr.validate(bad, "ohlcv")
    assert info.value.failure_cases["index"].to_list() == [1]


def test_validate_sort_rule_equals_unique_and_sorted_on_random_frames() -> None:
    # the cheap rule must agree with the plain definition it replaces
    import numpy as np

    rng = np.random.default_rng(5)
    for _ in range(50):
        n = 12
        df = pl.DataFrame(
            {
                "symbol": rng.choice(["A", "B"], n),
                "timeframe": rng.choice(["1m", "5m"], n),
                "timestamp": rng.integers(0, 4, n),
            }
        )
        from omni_research.schemas._rules import strictly_increasing

        cheap = bool(
            df.select(strictly_increasing("symbol", "timeframe", "timestamp").all()).item()
        )
        keys = df.rows()
        plain = keys == sorted(keys) and len(set(keys)) == len(keys)
        assert cheap == plain


def test_atomic_writes_get_ordinary_permissions(tmp_path: Path, bars: pl.DataFrame) -> None:
    import os

    mask = os.umask(0o022)
    try:
        path = write_parquet_atomic(bars, tmp_path / "bars.parquet")
        assert path.stat().st_mode & 0o777 == 0o644
        path.chmod(0o600)
        write_parquet_atomic(bars, path)  # an existing file keeps its mode
        assert path.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(mask)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# --------------------------------------------------------------------------- CSV and JSON text


def _write_rows(path: Path, header: str, records: list[str], end: str = "\n") -> str:
    text = end.join([header, *records]) + end
    path.write_text(text, newline="")
    return text


def _csv_records(df: pl.DataFrame) -> tuple[str, list[str]]:
    """The header and each row's CSV record (a record may span lines), as Polars writes them."""
    header = _csv_text(df.head(0)).rstrip("\n")
    rows = [
        _csv_text(df.slice(i, 1)).split("\n", 1)[1].removesuffix("\n") for i in range(df.height)
    ]
    return header, rows


@pytest.mark.parametrize(
    ("end", "trailer"),
    [("\n", "\n"), ("\n", "\n\n"), ("\r\n", "\r\n"), ("\n", "")],
    ids=["blank-line", "two-blank-lines", "crlf-blank-line", "no-final-newline"],
)
def test_read_csv_blank_trailing_lines_are_valid(
    tmp_path: Path, bars: pl.DataFrame, end: str, trailer: str
) -> None:
    path = tmp_path / "bars.csv"
    lines = _csv_text(bars).splitlines()
    path.write_text(end.join(lines) + trailer, newline="")
    assert omr.read(path, "ohlcv").equals(bars)


@pytest.fixture
def decisions() -> pl.DataFrame:
    df = omr.open_catalog().scan("decisions").head(12).collect()
    reasons = df["reason"].to_list()
    reasons[2] = 'first line\nsecond, with a comma and "quotes"'
    reasons[4] = ""  # an empty string, not null
    reasons[6] = "ends with a line separator\u2028and a CRLF\r\nin the field"
    return df.with_columns(reason=pl.Series(reasons))


def test_read_csv_newline_inside_quoted_field_is_kept(
    tmp_path: Path, decisions: pl.DataFrame
) -> None:
    path = tmp_path / "decisions.csv"
    path.write_text(_csv_text(decisions), newline="")
    back = omr.read(path, "decisions")
    assert back.equals(decisions)
    assert back["reason"][2] == 'first line\nsecond, with a comma and "quotes"'
    assert back["reason"][4] == ""
    assert decisions["order_id"].null_count() > 0  # nulls came back as nulls, not ""
    assert back["order_id"].null_count() == decisions["order_id"].null_count()


def test_read_csv_ragged_row_after_a_multiline_field_names_its_first_line(
    tmp_path: Path, decisions: pl.DataFrame
) -> None:
    path = tmp_path / "decisions.csv"
    header, records = _csv_records(decisions)
    records[5] = records[5].rsplit(",", 1)[0]  # drop the last field of row 5
    _write_rows(path, header, records)
    # header 1, rows 0-1 lines 2-3, row 2 lines 4-5, rows 3-4 lines 6-7: row 5 starts at 8
    assert sum(r.count("\n") + 1 for r in records[:5]) + 2 == 8
    with pytest.raises(
        DataFormatError,
        match=r"decisions\.csv: line 8 has 7 fields, expected 8 \(a ragged row\); restore the "
        r"complete file$",
    ):
        omr.read(path, "decisions")


def test_read_csv_ragged_row_names_its_line(tmp_path: Path, bars: pl.DataFrame) -> None:
    path = tmp_path / "bars.csv"
    header, records = _csv_records(bars)
    records[2] += ",1.0"
    _write_rows(path, header, records)
    with pytest.raises(
        DataFormatError, match=r"bars\.csv: line 4 has 11 fields, expected 10 \(a ragged row\)"
    ):
        omr.read(path, "ohlcv")


def test_read_csv_cut_mid_line_names_the_last_line(tmp_path: Path, bars: pl.DataFrame) -> None:
    path = tmp_path / "bars.csv"
    text = _csv_text(bars)
    cut = text[: len(text) - 25]
    path.write_text(cut)
    fields = cut.rsplit("\n", 1)[1].count(",") + 1
    assert fields < 10
    with pytest.raises(
        DataFormatError,
        match=rf"bars\.csv: line 51 has {fields} fields, expected 10 \(the file is cut mid-line\)",
    ):
        omr.read(path, "ohlcv")


def test_read_csv_unclosed_quote_names_its_line(tmp_path: Path, bars: pl.DataFrame) -> None:
    path = tmp_path / "bars.csv"
    header, records = _csv_records(bars)
    records[2] = records[2].replace(",", ',"', 1)  # a quote opened in row 2 and never closed
    _write_rows(path, header, records)
    with pytest.raises(
        DataFormatError, match=r"bars\.csv: line 4: malformed CSV \(unexpected end of data\)"
    ):
        omr.read(path, "ohlcv")


def test_read_csv_text_keeps_quoted_empty_strings_and_nulls_apart() -> None:
    from omni_research.io._readers import _read_csv_text

    text = 'a,b,c\n"",,x\n"y\nz",,""\n\n'
    frame = _read_csv_text(Path("t.csv"), text)
    assert frame.to_dict(as_series=False) == {
        "a": ["", "y\nz"],
        "b": [None, None],
        "c": ["x", ""],
    }
    assert frame.schema == pl.Schema(dict.fromkeys("abc", pl.String))


def test_read_csv_text_skips_blank_lines_between_records() -> None:
    from omni_research.io._readers import _read_csv_text

    frame = _read_csv_text(Path("t.csv"), "a,b\n1,2\n\n   \n3,4\n\n")
    assert frame.to_dict(as_series=False) == {"a": ["1", "3"], "b": ["2", "4"]}


def test_read_csv_text_with_lone_carriage_returns_raises_instead_of_losing_rows() -> None:
    from omni_research.io._readers import _read_csv_text

    with pytest.raises(
        DataFormatError,
        match=r"t\.csv: 2 records found but 0 rows read; expected plain CSV .*a lone \\r is "
        r"not supported\): convert the line ends and read it again$",
    ):
        _read_csv_text(Path("t.csv"), "a,b\r1,2\r3,4\r")


def test_read_csv_header_naming_a_column_twice_raises(tmp_path: Path, bars: pl.DataFrame) -> None:
    path = tmp_path / "bars.csv"
    header, records = _csv_records(bars)
    _write_rows(path, header.replace("turnover", "volume"), records)
    with pytest.raises(
        DataFormatError, match=r"bars\.csv: the header names 'volume' more than once"
    ):
        omr.read(path, "ohlcv")


def _jsonl_lines(bars: pl.DataFrame) -> list[str]:
    rows = bars.with_columns(pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
    return rows.write_ndjson().splitlines()


@pytest.mark.parametrize(("blank_at", "line"), [(None, 6), (2, 7)], ids=["dense", "blank-line"])
def test_read_jsonl_bad_line_is_reported_by_its_number(
    tmp_path: Path, bars: pl.DataFrame, blank_at: int | None, line: int
) -> None:
    path = tmp_path / "bars.jsonl"
    lines = _jsonl_lines(bars)
    lines[5] = '{"timestamp": oops}'  # line 6 of the file
    if blank_at is not None:
        lines.insert(blank_at, "")  # a blank line still counts as a line
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        DataFormatError,
        match=rf"bars\.jsonl: line {line}: malformed JSON \(Expecting value at column 15\); "
        "expected one JSON object per line$",
    ):
        omr.read(path, "ohlcv")


def test_read_jsonl_line_that_is_not_an_object_raises(tmp_path: Path, bars: pl.DataFrame) -> None:
    path = tmp_path / "bars.jsonl"
    lines = _jsonl_lines(bars)
    lines[3] = "[1, 2]"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=r"bars\.jsonl: line 4 is a JSON list, not an object"):
        omr.read(path, "ohlcv")


def test_read_jsonl_keeps_a_line_separator_inside_a_string(
    tmp_path: Path, decisions: pl.DataFrame
) -> None:
    path = tmp_path / "decisions.jsonl"
    rows = decisions.with_columns(pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
    text = rows.write_ndjson()
    assert "\u2028" in text  # written raw, as JSON allows: splitlines() would cut there
    path.write_text(text)
    assert omr.read(path, "decisions").equals(decisions)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
@pytest.mark.parametrize(
    "stamp", ["2025-01-06T00:03:00.000000001Z", "2025-01-06T00:03:00.123456789+00:00"]
)
def test_read_nanosecond_timestamps_are_refused_not_truncated(
    tmp_path: Path, bars: pl.DataFrame, suffix: str, stamp: str
) -> None:
    path = tmp_path / f"bars{suffix}"
    rows = bars.with_columns(pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
    rows = rows.with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(pl.lit(stamp))
        .otherwise("timestamp")
        .alias("timestamp")
    )
    path.write_text(rows.write_csv() if suffix == ".csv" else rows.write_ndjson())
    with pytest.raises(
        DataValidationError,
        match=rf"bars\{suffix}: column 'timestamp' has 1 value\(s\) that are finer than a "
        rf"microsecond \(first at row 3: '{re.escape(stamp)}'\); the kit stores timestamps in "
        "microseconds and does not drop digits silently: round them to 6 decimals at the source$",
    ) as info:
        omr.read(path, "ohlcv")
    cases = info.value.failure_cases
    assert cases.select("column", "check", "failure_case", "index").rows() == [
        ("timestamp", "microsecond precision", stamp, 3)
    ]


def test_conform_keeps_nine_digit_timestamps_with_zero_nanoseconds_exactly(
    bars: pl.DataFrame,
) -> None:
    from omni_research.io._readers import conform

    text = bars.with_columns(pl.all().cast(pl.String))
    stamps = bars["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S%.6f000Z").to_list()
    stamps[3] = "2025-01-06T00:03:00.123456000Z"
    out = conform(text.with_columns(timestamp=pl.Series(stamps)), "ohlcv", source="mem")
    assert out["timestamp"][3] == dt.datetime(2025, 1, 6, 0, 3, 0, 123456, tzinfo=dt.UTC)
    assert out.drop("timestamp").equals(bars.drop("timestamp"))
    assert out["timestamp"].gather([0, 1, 2, 4]).equals(bars["timestamp"].gather([0, 1, 2, 4]))
