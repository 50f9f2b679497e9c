"""The data-root layout: strict path parts, paths proven inside the root, parse of partitions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from omni_research import _layout
from omni_research.exceptions import ConfigurationError


@pytest.mark.parametrize("symbol", ["BTCUSDT", "1000PEPEUSDT", "BTC-27DEC24", "ETH_PERP", "A"])
def test_symbol_pattern_accepts_bybit_symbols(symbol: str) -> None:
    assert _layout.check_part("symbol", symbol) == symbol


@pytest.mark.parametrize(
    "symbol",
    [
        "BTC/USDT",
        "../../x/historical/trades/symbol=BTCUSDT",
        "..",
        "btcusdt",
        "",
        "-BTC",
        "BTC USDT",
        "BTC\x00",
        "A" * 41,
        "real_time",
        "ＢＴＣ",  # full-width letters look alike but are other characters
    ],
)
def test_symbol_pattern_refuses_path_like_values(symbol: str) -> None:
    with pytest.raises(ConfigurationError, match=r"cannot be part of a data path.*\^\[A-Z0-9\]"):
        _layout.check_part("symbol", symbol)


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("date", "2025-02-30", "not a calendar date"),
        ("date", "2025-1-6", "does not match"),
        ("date", "yesterday", "does not match"),
        ("timeframe", "2m", "does not match"),
        ("kind", "secrets", "does not match"),
        ("area", "real_time", "does not match"),
        ("name", "../part.parquet", "does not match"),
        ("name", "a..b.parquet", "must not contain"),
        ("symbol", 5, "got int"),
    ],
)
def test_check_part_names_value_and_problem(key: str, value: object, why: str) -> None:
    with pytest.raises(ConfigurationError, match=why):
        _layout.check_part(key, value)


def test_path_for_builds_the_hive_layout(tmp_path: Path) -> None:
    path = _layout.path_for(
        tmp_path, "ohlcv", symbol="BTCUSDT", timeframe="1m", date=dt.date(2025, 1, 6)
    )
    assert (
        path
        == tmp_path / "historical/ohlcv/symbol=BTCUSDT/timeframe=1m/date=2025-01-06/part-0.parquet"
    )
    assert _layout.path_for(tmp_path, "pnl", area="test", symbol="ETHUSDT") == (
        tmp_path / "test/pnl/symbol=ETHUSDT/part-0.parquet"
    )
    assert _layout.path_for(tmp_path, "news", name="news.jsonl") == (
        tmp_path / "historical/news/news.jsonl"
    )


def test_path_for_refuses_a_folder_symlinked_out_of_the_root(tmp_path: Path) -> None:
    root, other = tmp_path / "root", tmp_path / "other"
    (root / "historical").mkdir(parents=True)
    other.mkdir()
    (root / "historical" / "trades").symlink_to(other, target_is_directory=True)
    with pytest.raises(ConfigurationError, match="outside the data root"):
        _layout.path_for(root, "trades", symbol="BTCUSDT", date="2025-01-06")
    # the same layout without the symlink is fine
    assert _layout.path_for(root, "ohlcv", symbol="BTCUSDT").parent.name == "symbol=BTCUSDT"


def test_path_for_accepts_a_root_reached_through_a_symlink(
    tmp_path: Path,
) -> None:
    # both sides are resolved the same way, so the root's own symlink does not count
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    path = _layout.path_for(tmp_path / "link", "trades", symbol="BTCUSDT")
    assert path == tmp_path / "link/historical/trades/symbol=BTCUSDT/part-0.parquet"


@pytest.mark.parametrize(
    ("relpath", "why"),
    [
        ("/etc/passwd", "absolute"),
        ("historical/../../x.parquet", r"'\.\.' part"),
        ("./historical/x.parquet", r"'\.' or"),
        ("historical//x.parquet", "empty part"),
        ("Real_Time/ohlcv/x.parquet", "real_time part"),
        ("historical/x\x00.parquet", "NUL"),
        ("historical\\x.parquet", "backslash"),
        ("", "empty"),
    ],
)
def test_check_relpath_refuses_paths_that_leave_or_bypass_the_root(relpath: str, why: str) -> None:
    with pytest.raises(ConfigurationError, match=why):
        _layout.check_relpath(relpath)


def test_parse_returns_partition_values_and_is_the_inverse_of_relpath_for() -> None:
    rel = _layout.relpath_for("ohlcv", symbol="SOLUSDT", timeframe="1h", date="2025-01-08")
    assert _layout.parse(rel) == {"symbol": "SOLUSDT", "timeframe": "1h", "date": "2025-01-08"}
    assert _layout.parse("test/positions/symbol=BTCUSDT/part-0.parquet") == {"symbol": "BTCUSDT"}
    assert _layout.parse("historical/news/news.jsonl") == {}
    # a file name is not a partition even if it looks like one
    assert _layout.parse("historical/news/date=x") == {}


@pytest.mark.parametrize(
    ("relpath", "why"),
    [
        ("historical/trades/symbol=BTCUSDT/date=notadate/part-0.parquet", "not a valid date"),
        ("historical/trades/symbol=BTC USDT/part-0.parquet", "not a valid symbol"),
        ("historical/ohlcv/timeframe=7m/part-0.parquet", "not a valid timeframe"),
        ("historical/trades/symbol=A/symbol=B/part-0.parquet", "appears twice"),
    ],
)
def test_parse_refuses_bad_partition_folders(relpath: str, why: str) -> None:
    with pytest.raises(ConfigurationError, match=why):
        _layout.parse(relpath)
