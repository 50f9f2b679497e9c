"""`quality_catalog`: per-symbol shards give the whole-dataset reports, on every engine."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import omni_research as omr
from omni_research._engine import Engine
from omni_research._manifest import record_files
from omni_research._sync import sync
from omni_research.exceptions import UnknownKindError
from omni_research.io._atomic import write_parquet_atomic
from omni_research.quality import quality_catalog, quality_report
from omni_research.testing import SeaweedServer
from tests._ray import shared_ray_cluster

ORDER = ["dataset", "check", "symbol", "first_timestamp"]


def _comparable(report: pl.DataFrame) -> pl.DataFrame:
    """The report without the text of its examples: which rows a check keeps as examples
    is not fixed by quality_report's streaming queries (trades_vs_bars picked different
    minutes run to run); how many it keeps is."""
    return report.with_columns(pl.col("examples").list.len())


def _whole_dataset_reports(root: Path) -> pl.DataFrame:
    """The reference: one quality_report per whole dataset, as the CLI runs them."""
    catalog = omr.open_catalog(root)
    listing = catalog.datasets()
    reports = []
    for name, kind in listing.select("name", "kind").iter_rows():
        if kind not in ("ohlcv", "trades", "orderbook"):
            continue
        extra: dict[str, Any] = {}
        if kind == "ohlcv":
            extra["trades"] = catalog.scan("trades")
        reports.append(quality_report(catalog.scan(name), kind, dataset=name, **extra))
    return pl.concat(reports)


@pytest.fixture
def flawed_root(small_root: Path) -> Path:
    """The 2-day root with a zero-volume run and a stale close written into ETHUSDT's bars."""
    catalog = omr.open_catalog(small_root)
    f = catalog.files("ohlcv", symbols="ETHUSDT")[0]
    df = pl.read_parquet(f.path)
    rows = pl.int_range(pl.len())
    df = df.with_columns(
        volume=pl.when(rows.is_between(100, 120)).then(0.0).otherwise(pl.col("volume")),
        turnover=pl.when(rows.is_between(100, 120)).then(0.0).otherwise(pl.col("turnover")),
    )
    write_parquet_atomic(df, f.path)
    record_files(small_root, [f.path])
    return small_root


def test_quality_catalog_equals_the_whole_dataset_reports(flawed_root: Path) -> None:
    got = quality_catalog(omr.open_catalog(flawed_root))
    expected = _whole_dataset_reports(flawed_root)
    assert got.height > 0
    assert "zero_volume_run" in got["check"].to_list()
    assert_frame_equal(_comparable(got).sort(ORDER), _comparable(expected).sort(ORDER))


def test_quality_catalog_filters_kinds_and_symbols(flawed_root: Path) -> None:
    got = quality_catalog(omr.open_catalog(flawed_root), kinds=["ohlcv"], symbols=["ETHUSDT"])
    assert set(got["dataset"]) == {"historical/ohlcv"}
    assert set(got["symbol"]) == {"ETHUSDT"}
    with pytest.raises(UnknownKindError, match=r"kind\(s\) \['funding'\]"):
        quality_catalog(omr.open_catalog(flawed_root), kinds=["funding"])


@pytest.mark.xdist_group("ray")
@pytest.mark.parametrize("engine", ["process", "ray"])
def test_quality_catalog_on_every_engine_equals_serial(
    engine: Engine, flawed_root: Path, request: pytest.FixtureRequest
) -> None:
    if engine == "ray":
        shared_ray_cluster(request.config)
    serial = quality_catalog(omr.open_catalog(flawed_root))
    got = quality_catalog(omr.open_catalog(flawed_root), engine=engine)
    assert_frame_equal(_comparable(got), _comparable(serial))


@pytest.fixture(scope="module")
def s3() -> Iterator[SeaweedServer]:
    """A real S3 server (SeaweedFS) on loopback for this module; stopped by its pid."""
    server = SeaweedServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.mark.xdist_group("objectstore")
def test_quality_catalog_shards_read_a_bucket_root_themselves(
    flawed_root: Path, s3: SeaweedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"s3://{s3.bucket}/q-{secrets.token_hex(4)}"
    sync(flawed_root, uri, storage_options=s3.storage_options)
    local = quality_catalog(omr.open_catalog(flawed_root), kinds=["ohlcv", "orderbook"])
    # the workers find the credentials where any S3 client does: their environment
    for name, value in s3.env.items():
        monkeypatch.setenv(name, value)
    remote = quality_catalog(omr.open_catalog(uri), kinds=["ohlcv", "orderbook"], engine="process")
    assert remote.height == local.height > 0
    assert_frame_equal(_comparable(remote), _comparable(local))
