"""The shipped data_test/ equals a fresh run of the generator, and has the promised structure."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest

import omni_research as omr
from omni_research._manifest import read_manifest
from omni_research.exceptions import ConfigurationError, ProductionDataError
from omni_research.testing import bars_from_trades, make_test_data
from omni_research.testing._datatest import GENERATOR

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
    for folder in ("historical", "test", "exports", "cache", "models", "backups", "logs"):
        assert (SHIPPED / folder).is_dir(), folder
    # real_time/ is live production data: the generator never writes under it
    assert not (SHIPPED / "real_time").exists()
    assert read_manifest(SHIPPED).tier == "test"
    assert read_manifest(SHIPPED).meta["generator"] == GENERATOR
    assert (SHIPPED / "market_data_schema.json").is_file()


def test_fresh_root_has_no_real_time_folder_and_no_lock_or_journal(fresh: Path) -> None:
    assert sorted(p.name for p in fresh.iterdir()) == [
        "backups",
        "cache",
        "exports",
        "historical",
        "logs",
        "market_data_schema.json",
        "models",
        "omni-data.toml",
        "test",
    ]
    assert not any(part.casefold() == "real_time" for p in fresh.rglob("*") for part in p.parts)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _folder_with(tmp_path: Path, manifest: str | None, name: str = "dest") -> Path:
    folder = tmp_path / name
    (folder / "historical" / "ohlcv").mkdir(parents=True)
    (folder / "historical" / "ohlcv" / "keep.parquet").write_bytes(b"precious rows")
    (folder / "notes.txt").write_text("mine")
    if manifest is not None:
        (folder / "omni-data.toml").write_text(manifest)
    return folder


@pytest.mark.parametrize(
    ("manifest", "found"),
    [
        ('tier = "production"\nschema_version = "1.0"\n', 'declares tier = "production"'),
        ('tier = "research"\nschema_version = "1.0"\n', 'declares tier = "research"'),
        ('tier = "test"\nschema_version = "1.0"\n', "not written by omni-research"),
        (None, "no omni-data.toml"),
    ],
)
def test_make_test_data_refuses_a_folder_it_did_not_generate(
    tmp_path: Path, manifest: str | None, found: str
) -> None:
    folder = _folder_with(tmp_path, manifest)
    before = _tree(folder)
    error = ProductionDataError if manifest and "production" in manifest else ConfigurationError
    with pytest.raises(error, match="production" if error is ProductionDataError else found):
        make_test_data(folder, days=1)
    assert _tree(folder) == before  # nothing deleted, replaced or added
    assert not (folder / ".omni-write.lock").exists()


def test_make_test_data_refusal_says_what_it_found_and_what_to_do(tmp_path: Path) -> None:
    folder = _folder_with(tmp_path, None)
    with pytest.raises(
        ConfigurationError,
        match=r"not empty \(2 entries: historical, notes.txt\) and no omni-data.toml",
    ) as exc:
        make_test_data(folder, days=1)
    assert "pass a new or empty folder" in str(exc.value)


def test_make_test_data_refuses_real_time_and_production_paths_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ProductionDataError, match="real_time"):
        make_test_data(tmp_path / "data" / "real_time" / "x", days=1)
    assert not (tmp_path / "data").exists()
    monkeypatch.setenv("OMNI_PRODUCTION_PATHS", str(tmp_path / "prod"))
    with pytest.raises(ProductionDataError, match="OMNI_PRODUCTION_PATHS"):
        make_test_data(tmp_path / "prod" / "root", days=1)
    assert not (tmp_path / "prod").exists()


def test_make_test_data_refuses_a_data_area_symlinked_out_of_the_root(tmp_path: Path) -> None:
    root = tmp_path / "gen"
    make_test_data(root, days=1, seed=1)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    shutil.rmtree(root / "test")
    (root / "test").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ConfigurationError, match="outside the data root"):
        make_test_data(root, days=1, seed=1)
    assert [p.name for p in outside.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize("days", [0, -3, 1.5, True])
def test_make_test_data_refuses_days_below_one(tmp_path: Path, days: object) -> None:
    with pytest.raises(ConfigurationError, match="expected a whole number of days, at least 1"):
        make_test_data(tmp_path / "r", days=days)  # type: ignore[arg-type]
    assert not (tmp_path / "r").exists()


def test_make_test_data_regenerates_its_own_root_and_keeps_other_folders(tmp_path: Path) -> None:
    root = tmp_path / "gen"
    make_test_data(root, days=1, seed=1)
    stale = root / "historical" / "ohlcv" / "stale.parquet"
    stale.write_bytes(b"old")
    mine = root / "exports" / "mine.txt"
    mine.write_text("kept")
    manifest = make_test_data(root, days=1, seed=2)
    assert manifest.meta["seed"] == 2
    assert not stale.exists()  # the generator's own areas are replaced
    assert mine.read_text() == "kept"  # other folders are left alone
    assert omr.open_catalog(root).verify().is_empty()


def test_make_test_data_writes_into_an_empty_existing_folder(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    make_test_data(root, days=1, seed=1)
    assert read_manifest(root).meta["generator"] == GENERATOR
    assert omr.open_catalog(root).load("funding").height == 3 * 3


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
