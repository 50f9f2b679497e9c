"""`materialize`: indicator columns per symbol x month, resumable, the same on every engine."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import omni_research as omr
from omni_research._engine import Engine
from omni_research._layout import path_for
from omni_research._manifest import Manifest, read_manifest, record_files, write_manifest
from omni_research.exceptions import ConfigurationError, DataFormatError, UnknownKindError
from omni_research.indicators import get_indicator, materialize
from omni_research.io._atomic import write_parquet_atomic
from omni_research.testing import make_ohlcv
from tests._ray import shared_ray_cluster

INDICATORS = ["rsi", "macd", "bollinger", "adx", "average_true_range", "sma"]
SYMBOLS = ("BTCUSDT", "ETHUSDT")
START = dt.datetime(2025, 1, 25, tzinfo=dt.UTC)
DAYS = 12  # 2025-01-25 .. 2025-02-05: a January and a February shard per symbol


def _write_root(root: Path, *, start: dt.datetime = START, days: int = DAYS) -> Path:
    """A test root with 1m ohlcv of two symbols, one file per symbol and day."""
    root.mkdir(parents=True)
    write_manifest(root, Manifest(tier="test"))
    bars = make_ohlcv(symbols=SYMBOLS, n=days * 1440, start=start, seed=11)
    written = []
    keyed = bars.with_columns(_day=pl.col("timestamp").dt.date())
    for (symbol, day), part in keyed.group_by(["symbol", "_day"], maintain_order=True):
        path = path_for(root, "ohlcv", symbol=str(symbol), timeframe="1m", date=day)
        write_parquet_atomic(part.drop("_day"), path)
        written.append(path)
    record_files(root, written)
    return root


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_root(tmp_path_factory.mktemp("mat") / "root")


@pytest.fixture
def root(template: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "root"
    shutil.copytree(template, copy)
    return copy


def _indicator_files(root: Path) -> dict[str, str]:
    """Relative name -> sha256 of every indicators file on disk."""
    base = root / "historical" / "indicators"
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(base.rglob("*.parquet"))
    }


def _whole_series(root: Path) -> pl.DataFrame:
    """The reference: each symbol's whole series loaded at once, indicators over all of it."""
    bars = omr.open_catalog(root).load("ohlcv").sort("symbol", "timestamp")
    exprs = [e.cast(pl.Float64) for name in INDICATORS for e in get_indicator(name).exprs()]
    return pl.concat(
        part.select("timestamp", "symbol", "timeframe", *exprs)
        for _, part in bars.group_by("symbol", maintain_order=True)
    )


def _read_back(root: Path) -> pl.DataFrame:
    files = sorted((root / "historical" / "indicators").rglob("*.parquet"))
    return pl.concat(pl.read_parquet(f) for f in files).sort("symbol", "timestamp")


def test_materialize_equals_the_whole_series_computation_at_month_starts(root: Path) -> None:
    report = materialize(omr.open_catalog(root), INDICATORS)
    assert report.select("symbol", "month", "status", "files").rows() == [
        ("BTCUSDT", dt.date(2025, 1, 1), "written", 7),
        ("BTCUSDT", dt.date(2025, 2, 1), "written", 5),
        ("ETHUSDT", dt.date(2025, 1, 1), "written", 7),
        ("ETHUSDT", dt.date(2025, 2, 1), "written", 5),
    ]
    assert report["rows"].to_list() == [7 * 1440, 5 * 1440] * 2
    got = _read_back(root)
    expected = _whole_series(root)
    assert got.columns == expected.columns
    # exponential and Wilder indicators are bit-for-bit after the warm-up; rolling sums
    # differ by their rounding only
    assert_frame_equal(got, expected, check_exact=False, rel_tol=1e-12, abs_tol=1e-12)
    feb = pl.datetime(2025, 2, 1, time_zone="UTC")
    first = got.filter(pl.col("timestamp") == feb)
    assert first.height == 2
    for column in ("rsi", "macd", "macd_signal", "adx", "average_true_range"):
        assert (
            first[column].to_list() == expected.filter(pl.col("timestamp") == feb)[column].to_list()
        ), column
    files = read_manifest(root).files
    for name, sha in _indicator_files(root).items():
        assert files[name].sha256 == sha
    assert read_manifest(root).tables["indicators"]["1m"]["columns"] == got.columns


def test_materialize_resumes_only_the_missing_shard_and_then_does_nothing(root: Path) -> None:
    materialize(omr.open_catalog(root), INDICATORS)
    before = _indicator_files(root)
    lost = "historical/indicators/symbol=ETHUSDT/timeframe=1m/date=2025-02-03/part-0.parquet"
    (root / lost).unlink()
    manifest = read_manifest(root)
    files = {k: v for k, v in manifest.files.items() if k != lost}
    write_manifest(root, Manifest(tier=manifest.tier, files=files, tables=manifest.tables))

    again = materialize(omr.open_catalog(root), INDICATORS)
    assert again.filter(pl.col("status") == "written").select("symbol", "month").rows() == [
        ("ETHUSDT", dt.date(2025, 2, 1))
    ]
    assert _indicator_files(root) == before  # the same bytes, the lost file back
    assert read_manifest(root).files[lost].sha256 == before[lost]
    third = materialize(omr.open_catalog(root), INDICATORS)
    assert set(third["status"]) == {"skipped"}
    assert third["rows"].sum() == 0


def test_materialize_range_and_symbols_prune_the_shards(root: Path) -> None:
    report = materialize(
        omr.open_catalog(root), ["rsi"], symbols="BTCUSDT", start="2025-02-02", end="2025-02-03"
    )
    assert report.select("symbol", "month", "files", "rows").rows() == [
        ("BTCUSDT", dt.date(2025, 2, 1), 2, 2 * 1440)
    ]
    got = _read_back(root)
    assert got["timestamp"].min() == dt.datetime(2025, 2, 2, tzinfo=dt.UTC)
    bars = omr.open_catalog(root).load("ohlcv", symbols="BTCUSDT")
    expected = bars.select("timestamp", get_indicator("rsi").exprs()[0]).filter(
        pl.col("timestamp").is_between(
            dt.datetime(2025, 2, 2, tzinfo=dt.UTC),
            dt.datetime(2025, 2, 4, tzinfo=dt.UTC),
            closed="left",
        )
    )
    assert got["rsi"].to_list() == expected["rsi"].to_list()


@pytest.mark.parametrize(
    ("indicators", "error", "match"),
    [
        (["on_balance_volume"], ConfigurationError, "sums from the first bar"),
        (["rsi_typo"], UnknownKindError, "unknown indicator 'rsi_typo'"),
        ({"rsi": {"windw": 3}}, ConfigurationError, r"no parameter\(s\) \['windw'\]"),
        ([], ConfigurationError, "no indicators given"),
    ],
)
def test_materialize_refuses_bad_indicator_specs(
    root: Path, indicators: object, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        materialize(omr.open_catalog(root), indicators)  # type: ignore[arg-type]
    assert not (root / "historical" / "indicators").exists()


def test_materialize_refuses_other_indicators_at_the_same_timeframe(root: Path) -> None:
    materialize(omr.open_catalog(root), ["rsi"], symbols="BTCUSDT")
    with pytest.raises(ConfigurationError, match=r"holds columns .*rsi.*asks for .*macd"):
        materialize(omr.open_catalog(root), ["macd"], symbols="BTCUSDT")


def test_materialize_unknown_engine_names_the_choices(root: Path) -> None:
    with pytest.raises(ConfigurationError, match="'serial', 'process', 'ray'"):
        materialize(omr.open_catalog(root), ["rsi"], engine="dask")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- engines


@pytest.fixture(scope="module")
def serial_files(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    copy = tmp_path_factory.mktemp("serial") / "root"
    shutil.copytree(template, copy)
    materialize(omr.open_catalog(copy), INDICATORS)
    return _indicator_files(copy)


@pytest.mark.xdist_group("ray")
@pytest.mark.parametrize("engine", ["process", "ray"])
def test_every_engine_writes_the_serial_files_byte_for_byte(
    engine: Engine, root: Path, serial_files: dict[str, str], request: pytest.FixtureRequest
) -> None:
    if engine == "ray":
        cluster = shared_ray_cluster(request.config)
        assert cluster.nodes == 2
    report = materialize(omr.open_catalog(root), INDICATORS, engine=engine)
    assert set(report["status"]) == {"written"}
    assert _indicator_files(root) == serial_files
    recorded = read_manifest(root).files
    assert {k: recorded[k].sha256 for k in serial_files} == serial_files


@pytest.mark.xdist_group("ray")
def test_a_killed_node_loses_and_duplicates_no_shard(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    cluster = shared_ray_cluster(request.config)
    # six shards (3 months x 2 symbols) on two one-CPU nodes; the second node's raylet is
    # killed once the first shard's files are on disk, while others run
    root = _write_root(tmp_path / "root", start=dt.datetime(2025, 1, 27, tzinfo=dt.UTC), days=38)
    reference = tmp_path / "reference"
    shutil.copytree(root, reference)
    materialize(omr.open_catalog(reference), ["rsi", "macd"])
    expected = _indicator_files(reference)
    result: list[pl.DataFrame] = []
    failure: list[BaseException] = []

    def job() -> None:
        try:
            result.append(materialize(omr.open_catalog(root), ["rsi", "macd"], engine="ray"))
        except BaseException as exc:  # pragma: no cover - reported below
            failure.append(exc)

    worker = threading.Thread(target=job)
    worker.start()
    deadline = time.monotonic() + 120
    out = root / "historical" / "indicators"
    while not (out.exists() and any(out.rglob("*.parquet"))) and time.monotonic() < deadline:
        time.sleep(0.05)
    killed_mid_job = worker.is_alive()
    cluster.kill_node()
    worker.join(timeout=180)
    assert not worker.is_alive() and not failure, failure
    assert killed_mid_job, "the job ended before the node was killed"
    report = result[0]
    assert report.height == 6 and set(report["status"]) == {"written"}
    assert _indicator_files(root) == expected  # every shard's files, once, as serial wrote
    manifest = read_manifest(root).files
    names = [k for k in manifest if k.startswith("historical/indicators/")]
    assert sorted(names) == sorted(expected)  # no shard lost, none recorded twice
    assert sum(manifest[k].rows for k in names) == 2 * 38 * 1440
    leftovers = [p for p in out.rglob(".*") if p.is_file()]
    assert report["rows"].sum() == 2 * 38 * 1440
    assert all(p.name.endswith(".tmp") for p in leftovers)


def test_materialize_refuses_a_root_in_object_storage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the catalog's shape for a bucket root: a URI string and a store; nothing may be
    # written to a local folder named after the URI
    class BucketCatalog:
        root = "s3://research/omni"
        store = object()

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match=r"s3://research/omni is a root in object"):
        materialize(BucketCatalog(), ["rsi"])
    assert list(tmp_path.iterdir()) == []


def test_a_failing_shard_keeps_the_shards_finished_before_it(root: Path) -> None:
    # ETHUSDT's February shard (the last of four, serial order) meets a corrupt file: the
    # catalog refuses it; the three shards before it stay recorded and are not redone
    bad = root / "historical/ohlcv/symbol=ETHUSDT/timeframe=1m/date=2025-02-03/part-0.parquet"
    good = bad.read_bytes()
    bad.write_bytes(good[:-8] + b"\0" * 8)
    with pytest.raises(DataFormatError, match=r"date=2025-02-03.*unreadable Parquet"):
        materialize(omr.open_catalog(root), ["rsi"])
    recorded = [k for k in read_manifest(root).files if k.startswith("historical/indicators/")]
    assert len(recorded) == 7 + 5 + 7  # BTCUSDT January and February, ETHUSDT January
    assert not any("symbol=ETHUSDT/timeframe=1m/date=2025-02" in k for k in recorded)
    bad.write_bytes(good)
    again = materialize(omr.open_catalog(root), ["rsi"])
    assert again.filter(pl.col("status") == "written").select("symbol", "month").rows() == [
        ("ETHUSDT", dt.date(2025, 2, 1))
    ]
