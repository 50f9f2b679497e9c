"""The omni-research command line over the foundation."""

from __future__ import annotations

from pathlib import Path

import pytest

from omni_research.cli import main


def test_validate_reports_every_dataset_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    assert "13 of 13 datasets valid" in out
    assert "historical/ohlcv" in out


def test_catalog_lists_datasets(capsys: pytest.CaptureFixture[str], small_root: Path) -> None:
    assert main(["catalog", "--root", str(small_root)]) == 0
    out = capsys.readouterr().out
    assert "tier test" in out
    assert "historical/trades" in out


def test_verify_fails_on_a_flipped_byte(
    capsys: pytest.CaptureFixture[str], small_root: Path
) -> None:
    assert main(["verify", "--root", str(small_root)]) == 0
    target = next((small_root / "test" / "decisions").glob("*.jsonl"))
    data = bytearray(target.read_bytes())
    data[100] ^= 0x20
    target.write_bytes(bytes(data))
    assert main(["verify", "--root", str(small_root)]) == 1
    assert "decisions.jsonl" in capsys.readouterr().out


def test_validate_names_the_broken_dataset(
    capsys: pytest.CaptureFixture[str], small_root: Path
) -> None:
    manifest = small_root / "omni-data.toml"
    manifest.write_text(manifest.read_text().split("\n[files.")[0] + "\n")
    target = next((small_root / "historical" / "sentiment").glob("*.csv"))
    lines = target.read_text().splitlines()
    lines[3] = lines[3].rsplit(",", 2)[0] + ",7.5," + lines[3].rsplit(",", 1)[1]
    target.write_text("\n".join(lines) + "\n")
    assert main(["validate", "--root", str(small_root)]) == 1
    out = capsys.readouterr().out
    assert "INVALID  historical/sentiment" in out
    assert "column 'score'" in out


def test_production_root_exits_with_a_message(
    capsys: pytest.CaptureFixture[str], small_root: Path
) -> None:
    manifest = small_root / "omni-data.toml"
    manifest.write_text(manifest.read_text().replace('tier = "test"', 'tier = "production"'))
    assert main(["catalog", "--root", str(small_root)]) == 2
    assert "ProductionDataError" in capsys.readouterr().err


def test_make_test_data_writes_a_valid_root(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert (
        main(["make-test-data", "--root", str(tmp_path / "r"), "--days", "1", "--seed", "2"]) == 0
    )
    assert main(["validate", "--root", str(tmp_path / "r")]) == 0


def test_import_bybit_into_a_research_root(
    capsys: pytest.CaptureFixture[str], small_root: Path
) -> None:
    import polars as pl

    import omni_research as omr

    manifest = small_root / "omni-data.toml"
    manifest.write_text(manifest.read_text().replace('tier = "test"', 'tier = "research"'))
    dump = small_root / "exports" / "imports" / "bybit" / "BTCUSDT2025-01-06.csv.gz"
    shipped = omr.open_catalog(small_root).load("trades", symbols="BTCUSDT", end="2025-01-07")
    for path in (small_root / "historical" / "trades").rglob("*.parquet"):
        path.unlink()
    assert main(["import-bybit", str(dump), "--root", str(small_root), "--kind", "trades"]) == 0
    imported = omr.open_catalog(small_root).load("trades", symbols="BTCUSDT")
    assert imported.sort("timestamp", "trade_id").equals(shipped.sort("timestamp", "trade_id"))
    assert main(["import-bybit", str(dump), "--root", str(small_root), "--kind", "trades"]) == 0
    again = omr.open_catalog(small_root).load("trades", symbols="BTCUSDT")
    assert again.height == imported.height  # idempotent
    assert pl.Series(capsys.readouterr().out.splitlines()).str.contains("duplicate").any()
