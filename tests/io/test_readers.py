"""Bad input gets a clear error naming the file and the problem; nothing is lost silently."""

from __future__ import annotations

import gzip
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
