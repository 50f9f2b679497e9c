"""The shipped data_test/ equals a fresh run of the generator, and has the promised structure."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

import omni_research as omr
from omni_research._manifest import read_manifest
from omni_research.testing import bars_from_trades, make_test_data

SHIPPED = Path(__file__).resolve().parents[2] / "data_test"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fresh") / "data_test"
    make_test_data(root)
    return root


@pytest.mark.slow
def test_committed_data_test_equals_a_fresh_run(fresh: Path) -> None:
    shipped, again = read_manifest(SHIPPED), read_manifest(fresh)
    assert shipped.files.keys() == again.files.keys()
    assert shipped.meta == again.meta
    # Row counts and the data itself agree; sha256 agrees too when the writer is the same.
    for name, record in shipped.files.items():
        assert again.files[name].rows == record.rows, name
        assert again.files[name].sha256 == record.sha256, name


def test_data_test_is_small_enough_to_commit() -> None:
    size = sum(p.stat().st_size for p in SHIPPED.rglob("*") if p.is_file())
    assert size <= 20 * 1024 * 1024


def test_data_test_layout_mirrors_the_omni_data_folder() -> None:
    for folder in (
        "historical",
        "real_time",
        "test",
        "exports",
        "cache",
        "models",
        "backups",
        "logs",
    ):
        assert (SHIPPED / folder).is_dir(), folder
    assert read_manifest(SHIPPED).tier == "test"
    assert (SHIPPED / "market_data_schema.json").is_file()


def test_shipped_bars_are_the_aggregation_of_shipped_trades() -> None:
    catalog = omr.open_catalog(SHIPPED)
    bars = catalog.load("ohlcv")
    trades = catalog.load("trades")
    assert bars.height >= 3 * 7 * 1440 - 60
    again = bars_from_trades(trades)
    assert again.select("timestamp", "symbol", "trade_count").equals(
        bars.select("timestamp", "symbol", "trade_count")
    )
    for col in ("open", "high", "low", "close", "volume", "turnover"):
        assert (again[col] - bars[col]).abs().max() <= 1e-9 * bars[col].abs().max(), col


def test_orderbook_snapshots_bracket_the_trades() -> None:
    catalog = omr.open_catalog(SHIPPED)
    trades = catalog.load("trades", symbols="ETHUSDT")
    book = catalog.load("orderbook", symbols="ETHUSDT")
    joined = trades.join_asof(book, on="timestamp", by="symbol", strategy="backward")
    assert joined["bid_px_1"].null_count() == 0
    inside = (joined["price"] >= joined["bid_px_1"]) & (joined["price"] <= joined["ask_px_1"])
    assert inside.all()


def test_fills_come_from_orders_and_decisions_from_real_times() -> None:
    catalog = omr.open_catalog(SHIPPED)
    orders, fills = catalog.load("orders"), catalog.load("fills")
    decisions = catalog.load("decisions")
    assert fills.join(orders, on="order_id", how="anti").is_empty()
    filled = fills.group_by("order_id").agg(pl.col("size").sum())
    check = orders.join(filled, on="order_id", how="left").with_columns(
        pl.col("size_right").fill_null(0.0)
    )
    assert ((check["filled_size"] - check["size_right"]).abs() < 1e-9).all()
    late = fills.join(orders.select("order_id", created="timestamp"), on="order_id")
    assert (late["timestamp"] >= late["created"]).all()
    placed = decisions.filter(pl.col("order_id").is_not_null())
    assert placed.join(orders, on="order_id", how="anti").is_empty()
    start, end = dt.datetime(2025, 1, 6, tzinfo=dt.UTC), dt.datetime(2025, 1, 13, tzinfo=dt.UTC)
    assert decisions["timestamp"].is_between(start, end).all()
    assert set(decisions["symbol"]) == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}


def test_solusdt_outage_is_missing_in_bars_trades_and_book() -> None:
    catalog = omr.open_catalog(SHIPPED)
    start = dt.datetime(2025, 1, 8, 13, 0, tzinfo=dt.UTC)
    end = start + dt.timedelta(minutes=7)
    for kind in ("ohlcv", "trades", "orderbook"):
        assert catalog.scan(kind, symbols="SOLUSDT", start=start, end=end).collect().is_empty()
        assert catalog.scan(kind, symbols="BTCUSDT", start=start, end=end).collect().height > 0
