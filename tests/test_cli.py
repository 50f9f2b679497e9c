"""The omni-research command line over the foundation."""

from __future__ import annotations

from pathlib import Path

import pytest

from omni_research.cli import main


def test_validate_reports_every_dataset_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    assert "16 of 16 datasets valid" in out
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
    # the dump holds 2025-01-06: a bare end date includes its whole day (parse_range)
    shipped = omr.open_catalog(small_root).load("trades", symbols="BTCUSDT", end="2025-01-06")
    for path in (small_root / "historical" / "trades").rglob("*.parquet"):
        path.unlink()
    assert main(["import-bybit", str(dump), "--root", str(small_root), "--kind", "trades"]) == 0
    imported = omr.open_catalog(small_root).load("trades", symbols="BTCUSDT")
    assert imported.sort("timestamp", "trade_id").equals(shipped.sort("timestamp", "trade_id"))
    assert main(["import-bybit", str(dump), "--root", str(small_root), "--kind", "trades"]) == 0
    again = omr.open_catalog(small_root).load("trades", symbols="BTCUSDT")
    assert again.height == imported.height  # idempotent
    assert pl.Series(capsys.readouterr().out.splitlines()).str.contains("duplicate").any()


def test_verify_repair_finishes_an_import_interrupted_before_its_manifest(
    capsys: pytest.CaptureFixture[str], small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import omni_research as omr
    from omni_research import _manifest
    from omni_research.io._atomic import write_parquet_atomic
    from omni_research.io.bybit import import_bybit_trades

    manifest = small_root / "omni-data.toml"
    manifest.write_text(manifest.read_text().replace('tier = "test"', 'tier = "research"'))
    dump = small_root / "exports" / "imports" / "bybit" / "BTCUSDT2025-01-06.csv.gz"
    part = small_root / "historical/trades/symbol=BTCUSDT/date=2025-01-06/part-0.parquet"
    expected = omr.open_catalog(small_root).load("trades", symbols="BTCUSDT", end="2025-01-06")
    # the root holds the first half of the day; the import brings the second half
    write_parquet_atomic(expected.head(4000), part)
    _manifest.record_files(small_root, [part])
    real = _manifest.write_manifest

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("killed (simulated)")

    monkeypatch.setattr(_manifest, "write_manifest", crash)
    with pytest.raises(OSError, match="simulated"):
        import_bybit_trades(dump, small_root)
    monkeypatch.setattr(_manifest, "write_manifest", real)
    assert main(["verify", "--root", str(small_root)]) == 1
    assert "sha256 mismatch" in capsys.readouterr().out
    assert main(["verify", "--repair", "--root", str(small_root)]) == 0
    out = capsys.readouterr().out
    assert "recorded 1 file(s) from their data" in out
    recorded = f"symbol=BTCUSDT/date=2025-01-06/part-0.parquet: {expected.height} rows"
    assert recorded in out and "(was 4000 rows" in out
    assert "all " in out and "files match the manifest" in out
    loaded = omr.open_catalog(small_root).load("trades", symbols="BTCUSDT", end="2025-01-06")
    assert loaded.equals(expected)
    assert main(["verify", "--repair", "--root", str(small_root)]) == 0
    assert "no interrupted write to repair" in capsys.readouterr().out


def test_verify_repair_does_not_accept_a_tampered_file(
    capsys: pytest.CaptureFixture[str], small_root: Path
) -> None:
    target = next((small_root / "test" / "decisions").glob("*.jsonl"))
    data = bytearray(target.read_bytes())
    data[100] ^= 0x20
    target.write_bytes(bytes(data))
    assert main(["verify", "--repair", "--root", str(small_root)]) == 1
    out = capsys.readouterr().out
    assert "no interrupted write to repair" in out
    assert "decisions.jsonl" in out and "does not accept them" in out


def test_make_test_data_refuses_a_research_root_without_traceback(
    capsys: pytest.CaptureFixture[str], small_root: Path
) -> None:
    manifest = small_root / "omni-data.toml"
    manifest.write_text(manifest.read_text().replace('tier = "test"', 'tier = "research"'))
    before = sorted(p.relative_to(small_root) for p in small_root.rglob("*"))
    assert main(["make-test-data", "--root", str(small_root), "--days", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("omni-research: ConfigurationError: refused to write test data")
    assert 'declares tier = "research"' in err and "Traceback" not in err
    assert sorted(p.relative_to(small_root) for p in small_root.rglob("*")) == before


def test_make_test_data_refuses_a_production_root(
    capsys: pytest.CaptureFixture[str], small_root: Path
) -> None:
    manifest = small_root / "omni-data.toml"
    manifest.write_text(manifest.read_text().replace('tier = "test"', 'tier = "production"'))
    assert main(["make-test-data", "--root", str(small_root), "--days", "1"]) == 2
    assert "ProductionDataError" in capsys.readouterr().err
    assert (small_root / "historical" / "trades").is_dir()  # nothing deleted


def test_make_test_data_days_zero_is_a_message(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["make-test-data", "--root", str(tmp_path / "r"), "--days", "0"]) == 2
    err = capsys.readouterr().err
    assert "days is 0; expected a whole number of days, at least 1" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("end", "expected_end"),
    [
        ("2025-01-08", "2025-01-09T00:00:00+00:00"),  # a bare end date includes its day
        ("2025-01-08T12:00", "2025-01-08T12:00:00+00:00"),  # a time is exclusive, UTC
        ("2025-01-08T14:00+02:00", "2025-01-08T12:00:00+00:00"),
    ],
)
def test_report_reads_start_and_end_with_the_one_time_range_parser(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    end: str,
    expected_end: str,
) -> None:
    import omni_research.reports
    from omni_research.exceptions import ConfigurationError

    seen: dict[str, object] = {}

    def fake_build(catalog: object, **kwargs: object) -> None:
        seen.update(kwargs)
        raise ConfigurationError("stop here (test)")

    monkeypatch.setattr(omni_research.reports, "build_research_report", fake_build)
    argv = ["report", "--start", "2025-01-06", "--end", end, "--format", "html"]
    assert main(argv) == 1
    assert "stop here (test)" in capsys.readouterr().err
    assert [str(seen["start"]), seen["end"].isoformat()] == [  # type: ignore[attr-defined]
        "2025-01-06 00:00:00+00:00",
        expected_end,
    ]


def test_report_refuses_an_end_before_the_start(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["report", "--start", "2025-01-08", "--end", "2025-01-07T23:00", "--format", "html"]
    assert main(argv) == 1
    assert "is before start" in capsys.readouterr().err
