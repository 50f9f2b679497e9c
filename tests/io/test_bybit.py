"""Bybit importers, on small fixtures in Bybit's exact layouts (tests/data/bybit/)."""

from __future__ import annotations

import gzip
import json
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from omni_research.exceptions import ConfigurationError, DataFormatError, ProductionDataError
from omni_research.io import _atomic
from omni_research.io._readers import read_file
from omni_research.io.bybit import (
    import_bybit_klines,
    import_bybit_orderbook,
    import_bybit_trades,
    import_main,
)
from omni_research.schemas import validate

DATA = Path(__file__).resolve().parents[1] / "data" / "bybit"
BTC_TRADES = DATA / "BTCUSDT2025-01-01.csv.gz"
ETH_TRADES_RPI = DATA / "ETHUSDT2025-01-02.csv.gz"
HEADER = (
    "timestamp,symbol,side,size,price,tickDirection,trdMatchID,grossValue,homeNotional,"
    "foreignNotional"
)


def _root(path: Path, tier: str = "research") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "omni-data.toml").write_text(f'tier = "{tier}"\nschema_version = "1.0"\n')
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return _root(tmp_path / "research")


def _gz(path: Path, lines: list[str], header: str = HEADER) -> Path:
    path.write_bytes(gzip.compress(("\n".join([header, *lines]) + "\n").encode(), mtime=0))
    return path


def _trades_part(root: Path, symbol: str, date: str) -> Path:
    return root / f"historical/trades/symbol={symbol}/date={date}/part-0.parquet"


def test_import_trades_counts_converts_and_reports_every_row(root: Path) -> None:
    summary = import_bybit_trades(BTC_TRADES, root)
    # 10 data rows: 6 good, 1 repeat of a trdMatchID, 3 bad (side Hold, size -0.5, price abc)
    assert (summary.rows_read, summary.imported, summary.duplicates, summary.rejected) == (
        10,
        6,
        1,
        3,
    )
    assert summary.rows_read == summary.imported + summary.duplicates + summary.rejected
    assert summary.rejects["location"].to_list() == ["line 7", "line 8", "line 9"]
    assert summary.rejects["reason"].to_list() == [
        "side is not Buy or Sell",
        "size is not a positive finite number",
        "price is not a number",
    ]
    assert summary.rejects["raw"][0].startswith("1735689603.9999,BTCUSDT,Hold,")
    part = _trades_part(root, "BTCUSDT", "2025-01-01")
    assert summary.files == (part,)
    df = validate(read_file(part, "trades"), "trades")
    assert df.columns == ["timestamp", "symbol", "trade_id", "side", "price", "size"]
    assert df["timestamp"].dtype == pl.Datetime("us", "UTC")
    first = df.row(0, named=True)
    assert first == {
        "timestamp": datetime(2025, 1, 1, 0, 0, 0, 97400, tzinfo=UTC),
        "symbol": "BTCUSDT",
        "trade_id": "3e9d3d6a-7b0e-5b8f-9d2c-0a1b2c3d4e01",
        "side": "buy",
        "price": 93576.0,
        "size": 0.001,
    }
    assert df["side"].to_list() == ["buy", "sell", "buy", "sell", "buy", "buy"]
    assert df["timestamp"].to_list()[3:] == [
        datetime(2025, 1, 1, 0, 0, 1, 123456, tzinfo=UTC),
        datetime(2025, 1, 1, 0, 0, 2, tzinfo=UTC),
        datetime(2025, 1, 1, 23, 59, 59, 999999, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    ("text", "expected_us"),
    [
        ("1735689600.0974", 97400),  # float: 1735689600.0974 * 1e6 = ...097399.99
        ("1735689601.123456", 123456),
        ("1735689600.000001", 1),
        ("1735689600.1", 100000),
        ("1735689600.9999999", 999999),  # finer than 1 µs is truncated, never rounded up
    ],
)
def test_import_trades_parses_epoch_text_exactly(root: Path, text: str, expected_us: int) -> None:
    src = _gz(
        root.parent / "one.csv.gz",
        [f"{text},BTCUSDT,Buy,1,100,PlusTick,id-1,0,1,100"],
    )
    import_bybit_trades(src, root)
    ts = read_file(_trades_part(root, "BTCUSDT", "2025-01-01"), "trades")["timestamp"][0]
    assert int(text.split(".")[0]) == int(ts.timestamp())
    assert ts.microsecond == expected_us


def test_import_trades_twice_adds_nothing(root: Path) -> None:
    import_bybit_trades(BTC_TRADES, root)
    part = _trades_part(root, "BTCUSDT", "2025-01-01")
    before = part.read_bytes()
    manifest_before = (root / "omni-data.toml").read_text()
    again = import_bybit_trades(BTC_TRADES, root)
    assert (again.imported, again.duplicates, again.rejected) == (0, 7, 3)
    assert again.files == ()
    assert part.read_bytes() == before
    assert (root / "omni-data.toml").read_text() == manifest_before


def test_import_trades_appends_only_new_rows_and_records_manifest(root: Path) -> None:
    import_bybit_trades(BTC_TRADES, root)
    overlap = _gz(
        root.parent / "overlap.csv.gz",
        [
            "1735689600.0974,BTCUSDT,Buy,0.001,93576.0,ZeroPlusTick,"
            "3e9d3d6a-7b0e-5b8f-9d2c-0a1b2c3d4e01,9357600000,0.001,93.576",
            "1735689700.5,BTCUSDT,Sell,0.3,93500.0,MinusTick,new-1,0,0.3,28050",
        ],
    )
    summary = import_bybit_trades(overlap, root)
    assert (summary.imported, summary.duplicates) == (1, 1)
    df = read_file(_trades_part(root, "BTCUSDT", "2025-01-01"), "trades")
    assert df.height == 7
    assert df["timestamp"].is_sorted()
    assert df.filter(pl.col("trade_id") == "new-1")["side"].to_list() == ["sell"]
    manifest = (root / "omni-data.toml").read_text()
    assert "historical/trades/symbol=BTCUSDT/date=2025-01-01/part-0.parquet" in manifest
    assert "rows = 7" in manifest


def test_import_trades_accepts_newer_layout_with_rpi_column(root: Path) -> None:
    summary = import_bybit_trades(ETH_TRADES_RPI, root, symbol="ETHUSDT")
    assert (summary.rows_read, summary.imported, summary.rejected) == (3, 3, 0)
    df = read_file(_trades_part(root, "ETHUSDT", "2025-01-02"), "trades")
    assert df["size"].to_list() == [0.5, 1.25, 2.0]
    assert df["timestamp"][2] == datetime(2025, 1, 2, 0, 0, 30, 750000, tzinfo=UTC)


def test_import_trades_rejects_other_symbol_when_asked(root: Path) -> None:
    summary = import_bybit_trades(ETH_TRADES_RPI, root, symbol="BTCUSDT")
    assert summary.imported == 0
    assert summary.rejects["reason"].unique().to_list() == ["symbol is not the expected BTCUSDT"]


def test_import_interrupted_leaves_root_as_it_was(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_bybit_trades(BTC_TRADES, root)
    part = _trades_part(root, "BTCUSDT", "2025-01-01")
    before = part.read_bytes()
    manifest_before = (root / "omni-data.toml").read_text()
    two_days = _gz(
        tmp_path / "two_days.csv.gz",
        [
            "1735689900.5,BTCUSDT,Sell,0.3,93500.0,MinusTick,day1-new,0,0.3,28050",
            "1735776100.5,BTCUSDT,Buy,0.2,94100.0,PlusTick,day2-new,0,0.2,18820",
        ],
    )
    real = _atomic.write_parquet_atomic
    calls: list[Path] = []

    def failing(df: pl.DataFrame, path: Path) -> Path:
        calls.append(Path(path))
        if len(calls) == 2:
            raise OSError("disk full (simulated)")
        return real(df, path)

    monkeypatch.setattr(_atomic, "write_parquet_atomic", failing)
    with pytest.raises(OSError, match="simulated"):
        import_bybit_trades(two_days, root)
    assert len(calls) == 2
    assert part.read_bytes() == before
    assert not _trades_part(root, "BTCUSDT", "2025-01-02").exists()
    assert (root / "omni-data.toml").read_text() == manifest_before
    leftovers = [p for p in root.rglob("*") if p.is_file() and p.name.startswith(".")]
    assert leftovers == []
    monkeypatch.setattr(_atomic, "write_parquet_atomic", real)
    summary = import_bybit_trades(two_days, root)  # a retry completes the import
    assert summary.imported == 2


def test_import_logs_summary(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="omni_research.io.bybit"):
        import_bybit_trades(BTC_TRADES, root)
    text = caplog.text
    assert "read 10, imported 6, duplicate 1, rejected 3" in text
    assert "side is not Buy or Sell (line 7)" in text


@pytest.mark.parametrize("tier", ["production"])
def test_import_into_production_root_raises(tmp_path: Path, tier: str) -> None:
    prod = _root(tmp_path / "prod", tier)
    with pytest.raises(ProductionDataError, match="tier production"):
        import_bybit_trades(BTC_TRADES, prod)
    assert not (prod / "historical").exists()


def test_import_under_real_time_raises(tmp_path: Path) -> None:
    rt = _root(tmp_path / "data" / "real_time")
    with pytest.raises(ProductionDataError, match="real_time"):
        import_bybit_klines(DATA / "kline_BTCUSDT_1.json", rt)


def test_import_source_under_real_time_raises(root: Path, tmp_path: Path) -> None:
    src = tmp_path / "real_time" / BTC_TRADES.name
    src.parent.mkdir()
    shutil.copy(BTC_TRADES, src)
    with pytest.raises(ProductionDataError, match="real_time"):
        import_bybit_trades(src, root)


def test_import_into_test_tier_root_raises_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="research-tier root"):
        import_bybit_trades(BTC_TRADES, _root(tmp_path / "t", "test"))


def test_import_truncated_gzip_raises_format_error(root: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(BTC_TRADES.read_bytes()[:-20])
    with pytest.raises(DataFormatError, match="download it again"):
        import_bybit_trades(cut, root)


def test_import_spot_layout_raises_format_error(root: Path, tmp_path: Path) -> None:
    spot = _gz(
        tmp_path / "spot.csv.gz",
        ["1,1735689600000,93000,0.1,buy"],
        "id,timestamp,price,volume,side",
    )
    with pytest.raises(DataFormatError, match="lacks"):
        import_bybit_trades(spot, root)


def test_import_cut_mid_line_reports_last_row(root: Path, tmp_path: Path) -> None:
    text = gzip.decompress(BTC_TRADES.read_bytes()).decode()
    cut = tmp_path / "midline.csv.gz"
    cut.write_bytes(gzip.compress(text.rstrip("\n")[:-60].encode(), mtime=0))
    summary = import_bybit_trades(cut, root)
    assert summary.rows_read == 10
    assert summary.rejected == 4
    assert summary.rejects["location"][-1] == "line 11"


# --------------------------------------------------------------------------- klines


def test_import_klines_converts_newest_first_and_rejects_open_and_broken_bars(
    root: Path,
) -> None:
    summary = import_bybit_klines(DATA / "kline_BTCUSDT_1.json", root, interval="1")
    assert (summary.rows_read, summary.imported, summary.duplicates, summary.rejected) == (
        6,
        4,
        0,
        2,
    )
    reasons = summary.rejects["reason"].to_list()
    assert reasons[0].startswith("bar still open")  # the newest, first in the list
    assert reasons[1].startswith("OHLC rule broken")
    part = root / "historical/ohlcv/symbol=BTCUSDT/timeframe=1m/date=2025-01-01/part-0.parquet"
    df = validate(read_file(part, "ohlcv"), "ohlcv")
    assert df["timestamp"].to_list() == [datetime(2025, 1, 1, 0, m, tzinfo=UTC) for m in range(4)]
    assert df.row(1, named=True) == {
        "timestamp": datetime(2025, 1, 1, 0, 1, tzinfo=UTC),
        "symbol": "BTCUSDT",
        "timeframe": "1m",
        "open": 93590.5,
        "high": 93620.0,
        "low": 93580.0,
        "close": 93610.0,
        "volume": 8.25,
        "turnover": 772300.5,
        "trade_count": None,  # klines carry no trade count: unknown
    }
    again = import_bybit_klines(DATA / "kline_BTCUSDT_1.json", root, interval="1")
    assert (again.imported, again.duplicates, again.rejected) == (0, 4, 2)


def test_import_klines_from_parsed_json_with_interval_mapping(root: Path) -> None:
    response = json.loads((DATA / "kline_BTCUSDT_1.json").read_text())
    response.pop("time")
    response["result"]["list"] = [
        ["1735603200000", "90000", "95000", "89000", "94000", "100", "9300000"]
    ]
    summary = import_bybit_klines(response, root, interval="D")
    assert summary.imported == 1
    df = read_file(
        root / "historical/ohlcv/symbol=BTCUSDT/timeframe=1d/date=2024-12-31/part-0.parquet",
        "ohlcv",
    )
    assert df["timeframe"].to_list() == ["1d"]


def test_import_klines_error_response_and_month_interval_raise(root: Path) -> None:
    with pytest.raises(DataFormatError, match="retCode 10001"):
        import_bybit_klines('{"retCode":10001,"retMsg":"params error","result":{}}', root)
    with pytest.raises(ConfigurationError, match="fixed-length"):
        import_bybit_klines(DATA / "kline_BTCUSDT_1.json", root, interval="M")


# --------------------------------------------------------------------------- order book


def test_import_orderbook_snapshot_top_five_levels(root: Path) -> None:
    summary = import_bybit_orderbook(DATA / "orderbook_BTCUSDT.json", root)
    assert (summary.rows_read, summary.imported, summary.rejected) == (1, 1, 0)
    part = root / "historical/orderbook/symbol=BTCUSDT/date=2025-01-01/part-0.parquet"
    df = validate(read_file(part, "orderbook"), "orderbook")
    row = df.row(0, named=True)
    assert row["timestamp"] == datetime(2025, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert [row[f"bid_px_{i}"] for i in range(1, 6)] == [
        93575.9,
        93575.8,
        93575.7,
        93575.6,
        93575.5,
    ]
    assert [row[f"ask_sz_{i}"] for i in range(1, 6)] == [1.0, 1.5, 2.0, 2.5, 3.0]


def test_import_orderbook_jsonl_rejects_short_and_crossed_and_dedups(root: Path) -> None:
    summary = import_bybit_orderbook(DATA / "orderbook_BTCUSDT.jsonl", root)
    assert (summary.rows_read, summary.imported, summary.duplicates, summary.rejected) == (
        5,
        3,
        0,
        2,
    )
    assert summary.rejects["location"].to_list() == ["snapshot 2", "snapshot 3"]
    assert summary.rejects["reason"].to_list() == [
        "asks: fewer than 5 levels (request limit=5 or more)",
        "crossed book: best bid is not below best ask",
    ]
    again = import_bybit_orderbook(DATA / "orderbook_BTCUSDT.json", root)
    assert (again.imported, again.duplicates) == (0, 1)


def test_import_main_guesses_kinds_and_prints_summaries(root: Path, tmp_path: Path) -> None:
    import io

    out = io.StringIO()
    files = [
        str(BTC_TRADES),
        str(DATA / "kline_BTCUSDT_1.json"),
        str(DATA / "orderbook_BTCUSDT.jsonl"),
    ]
    assert import_main(files, str(root), out=out) == 0
    text = out.getvalue()
    assert "bybit trades import" in text and "imported 6" in text
    assert "bybit ohlcv import" in text and "imported 4" in text
    assert "bybit orderbook import" in text and "imported 3" in text
    assert "rejected line 7: side is not Buy or Sell" in text
    junk = tmp_path / "junk.json"
    junk.write_text('{"hello": 1}')
    out = io.StringIO()
    assert import_main([str(junk)], str(root), out=out) == 2
    assert "cannot tell what Bybit data this is" in out.getvalue()


# --------------------------------------------------------------------------- hardening

_LINE = "1735689600.5,{sym},Buy,1,100,PlusTick,{tid},0,1,100"


@pytest.mark.parametrize(
    "bad",
    [
        "BTC/USDT",
        "../../other/historical/trades/symbol=BTCUSDT",
        "..",
        "btcusdt",
        "BTC\\USDT",
        "real_time",
    ],
)
def test_import_trades_rejects_symbols_that_are_not_path_parts(
    root: Path, tmp_path: Path, bad: str
) -> None:
    other = _root(tmp_path / "other")
    victim = _trades_part(other, "BTCUSDT", "2025-01-01")
    import_bybit_trades(BTC_TRADES, other)
    victim_bytes, other_manifest = victim.read_bytes(), (other / "omni-data.toml").read_bytes()
    src = _gz(
        tmp_path / "evil.csv.gz",
        [_LINE.format(sym=bad, tid="evil-1"), _LINE.format(sym="BTCUSDT", tid="good-1")],
    )
    summary = import_bybit_trades(src, root)
    assert (summary.rows_read, summary.imported, summary.rejected) == (2, 1, 1)
    assert summary.rejects["location"].to_list() == ["line 2"]
    assert summary.rejects["reason"][0].startswith("symbol is not a plain exchange symbol")
    assert bad in summary.rejects["raw"][0]
    assert victim.read_bytes() == victim_bytes  # the other root is untouched, byte for byte
    assert (other / "omni-data.toml").read_bytes() == other_manifest
    written = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.parquet"))
    assert written == ["historical/trades/symbol=BTCUSDT/date=2025-01-01/part-0.parquet"]


def test_import_trades_symbol_argument_must_be_a_path_part(root: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"symbol '\.\./x' cannot be part of a data path"):
        import_bybit_trades(BTC_TRADES, root, symbol="../x")
    assert not (root / "historical").exists()


def test_import_klines_and_orderbook_reject_a_path_like_symbol(root: Path) -> None:
    kline = json.loads((DATA / "kline_BTCUSDT_1.json").read_text())
    kline["result"]["symbol"] = "../../BTCUSDT"
    summary = import_bybit_klines(kline, root, interval="1")
    assert (summary.imported, summary.rejected) == (0, 6)
    assert summary.rejects["reason"][0].startswith("symbol '../../BTCUSDT' is not a plain")
    book = json.loads((DATA / "orderbook_BTCUSDT.json").read_text())
    book["result"]["s"] = "BTC/USDT"
    summary = import_bybit_orderbook(book, root)
    assert (summary.imported, summary.rejected) == (0, 1)
    assert summary.rejects["reason"][0].startswith("symbol 'BTC/USDT' is not a plain")
    assert not (root / "historical").exists()


def test_import_trades_with_millisecond_timestamps(root: Path, tmp_path: Path) -> None:
    src = _gz(
        tmp_path / "ms.csv.gz",
        [
            "1735689600097,BTCUSDT,Buy,1,100,PlusTick,ms-1,0,1,100",
            "1735689601123,BTCUSDT,Sell,2,101,PlusTick,ms-2,0,2,202",
            "1735689602.5,BTCUSDT,Buy,1,100,PlusTick,ms-3,0,1,100",  # seconds among ms
        ],
    )
    summary = import_bybit_trades(src, root)
    assert (summary.imported, summary.rejected) == (2, 1)
    assert summary.rejects["reason"][0].startswith("timestamp is not integer epoch milliseconds")
    df = read_file(_trades_part(root, "BTCUSDT", "2025-01-01"), "trades")
    assert df["timestamp"].to_list() == [
        datetime(2025, 1, 1, 0, 0, 0, 97000, tzinfo=UTC),
        datetime(2025, 1, 1, 0, 0, 1, 123000, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    ("stamp", "why"),
    [
        ("1735689600097", "not epoch seconds"),  # one ms stamp in a file of seconds
        ("99999999999", "outside 2015-01-01"),  # year 5138 in seconds
        ("1000.5", "outside 2015-01-01"),  # 1970
        ("99999999999999999999999", "not epoch seconds"),  # overflows Int64
    ],
)
def test_import_trades_rejects_out_of_unit_timestamps_with_reason(
    root: Path, tmp_path: Path, stamp: str, why: str
) -> None:
    src = _gz(
        tmp_path / "mixed.csv.gz",
        [
            "1735689600.5,BTCUSDT,Buy,1,100,PlusTick,s-1,0,1,100",
            "1735689601.5,BTCUSDT,Buy,1,100,PlusTick,s-2,0,1,100",
            f"{stamp},BTCUSDT,Buy,1,100,PlusTick,s-3,0,1,100",
        ],
    )
    summary = import_bybit_trades(src, root)
    assert (summary.imported, summary.rejected) == (2, 1)
    assert why in summary.rejects["reason"][0]
    assert summary.rejects["location"].to_list() == ["line 4"]


def test_import_crash_between_replace_and_manifest_is_repaired_by_the_next_import(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import omni_research as omr
    from omni_research import _manifest
    from omni_research.exceptions import DataWriteError

    real = _manifest.write_manifest

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("power cut (simulated)")

    monkeypatch.setattr(_manifest, "write_manifest", crash)
    with pytest.raises(
        DataWriteError, match=r"journal .*omni-journal\.json lists the files"
    ) as exc:
        import_bybit_trades(BTC_TRADES, root)
    assert "power cut (simulated)" in str(exc.value)
    part = _trades_part(root, "BTCUSDT", "2025-01-01")
    assert part.exists()  # the data file was replaced ...
    assert "files" not in (root / "omni-data.toml").read_text()  # ... the manifest was not
    assert (root / ".omni-journal.json").exists()
    monkeypatch.setattr(_manifest, "write_manifest", real)

    again = import_bybit_trades(BTC_TRADES, root)
    assert (again.imported, again.duplicates, again.rejected) == (0, 7, 3)
    assert again.repaired == ("historical/trades/symbol=BTCUSDT/date=2025-01-01/part-0.parquet",)
    assert "repaired 1 file(s)" in str(again)
    assert not (root / ".omni-journal.json").exists()
    catalog = omr.open_catalog(root)
    assert catalog.verify().is_empty()
    assert catalog.load("trades").height == 6
    assert catalog.manifest.files[again.repaired[0]].rows == 6
    leftovers = [p for p in root.rglob("*") if p.is_file() and p.name.startswith(".")]
    assert leftovers == []


def test_import_os_error_reading_old_partition_is_the_kits_error(root: Path) -> None:
    import_bybit_trades(BTC_TRADES, root)
    part = _trades_part(root, "BTCUSDT", "2025-01-01")
    part.write_bytes(b"PAR1 not parquet")
    with pytest.raises(DataFormatError, match=r"part-0\.parquet"):
        import_bybit_trades(BTC_TRADES, root)
