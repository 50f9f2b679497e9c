"""omni_research.quality: injected problems are found with exact counts and times."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from omni_research.cli import quality_main
from omni_research.exceptions import DataFormatError, UnknownKindError
from omni_research.quality import FINDINGS_SCHEMA, quality_report, quality_summary
from omni_research.testing import make_market, make_ohlcv

T0 = datetime(2025, 1, 6, tzinfo=UTC)


def _minute(i: int) -> datetime:
    return T0 + timedelta(minutes=i)


def _set(df: pl.DataFrame, symbol: str, rows: range | list[int], **values: object) -> pl.DataFrame:
    """Set columns on rows (by position within the symbol) of one symbol."""
    idx = pl.int_range(pl.len()).over("symbol")
    hit = (pl.col("symbol") == symbol) & idx.is_in(list(rows))
    return df.with_columns(
        pl.when(hit).then(v if isinstance(v, pl.Expr) else pl.lit(v)).otherwise(pl.col(c)).alias(c)
        for c, v in values.items()
    )


@pytest.fixture(scope="module")
def damaged() -> pl.DataFrame:
    df = make_ohlcv(symbols=("BTCUSDT", "ETHUSDT"), n=600, seed=4)
    # BTC: an OHLC violation at 300, 15 zero-volume bars at 400..414 (and 5 at 450..454,
    # below the threshold), a one-bar spike at 500 (two outlier returns: up, then down)
    df = _set(df, "BTCUSDT", [300], high=pl.min_horizontal("open", "close") * 0.99)
    df = _set(df, "BTCUSDT", range(400, 415), volume=0.0, turnover=0.0)
    df = _set(df, "BTCUSDT", range(450, 455), volume=0.0, turnover=0.0)
    spike = pl.col("close") * 1.25
    df = _set(df, "BTCUSDT", [500], close=spike, high=spike)
    # ETH: 40 bars with an unchanged close (300..339), then 5 missing bars (200..204)
    level = df.filter(pl.col("symbol") == "ETHUSDT")["close"][300]
    df = _set(df, "ETHUSDT", range(300, 340), open=level, high=level, low=level, close=level)
    df = df.filter(
        ~((pl.col("symbol") == "ETHUSDT") & pl.int_range(pl.len()).over("symbol").is_in(
            list(range(200, 205))))
    )  # fmt: skip
    # BTC: bar 100 twice
    dup = df.filter(pl.col("symbol") == "BTCUSDT").slice(100, 1)
    return pl.concat([df, dup]).sort("symbol", "timestamp", maintain_order=True)


def _by_check(report: pl.DataFrame) -> dict[tuple[str, str], dict[str, object]]:
    return {(r["symbol"], r["check"]): r for r in report.iter_rows(named=True)}


def test_clean_bars_have_no_findings() -> None:
    report = quality_report(make_ohlcv(symbols=("BTCUSDT", "ETHUSDT"), n=600, seed=4), "ohlcv")
    assert report.schema == pl.Schema(FINDINGS_SCHEMA)
    assert report.height == 0
    assert quality_summary(report) == "quality: no findings"


@pytest.mark.parametrize("lazy", [False, True])
def test_injected_ohlcv_problems_found_exactly(damaged: pl.DataFrame, lazy: bool) -> None:
    report = quality_report(damaged.lazy() if lazy else damaged, "ohlcv", dataset="d")
    found = _by_check(report)
    assert set(found) == {
        ("BTCUSDT", "duplicates"),
        ("BTCUSDT", "ohlc_rules"),
        ("BTCUSDT", "zero_volume_run"),
        ("BTCUSDT", "outlier_return"),
        ("ETHUSDT", "missing_bars"),
        ("ETHUSDT", "stale_price"),
    }
    assert report["dataset"].unique().to_list() == ["d"]
    dup = found[("BTCUSDT", "duplicates")]
    assert (dup["count"], dup["first_timestamp"], dup["severity"]) == (1, _minute(100), "error")
    ohlc = found[("BTCUSDT", "ohlc_rules")]
    assert (ohlc["count"], ohlc["first_timestamp"]) == (1, _minute(300))
    assert str(ohlc["examples"][0]).startswith("timestamp=2025-01-06 05:00:00")
    zero = found[("BTCUSDT", "zero_volume_run")]
    assert (zero["count"], zero["first_timestamp"], zero["last_timestamp"]) == (
        15,
        _minute(400),
        _minute(414),
    )
    spike = found[("BTCUSDT", "outlier_return")]
    assert (spike["count"], spike["first_timestamp"], spike["last_timestamp"]) == (
        2,
        _minute(500),
        _minute(501),
    )
    gap = found[("ETHUSDT", "missing_bars")]
    assert (gap["count"], gap["first_timestamp"], gap["last_timestamp"]) == (
        5,
        _minute(200),
        _minute(204),
    )
    stale = found[("ETHUSDT", "stale_price")]
    assert (stale["count"], stale["first_timestamp"], stale["last_timestamp"]) == (
        40,
        _minute(300),
        _minute(339),
    )
    # errors first in the report
    assert report["severity"].to_list()[:2] == ["error", "error"]


def test_thresholds_move_what_is_reported(damaged: pl.DataFrame) -> None:
    strict = _by_check(quality_report(damaged, "ohlcv", zero_volume_bars=5, stale_bars=41))
    assert strict[("BTCUSDT", "zero_volume_run")]["count"] == 20
    assert ("ETHUSDT", "stale_price") not in strict


def test_unsorted_input_is_sorted_and_reported(damaged: pl.DataFrame) -> None:
    shuffled = damaged.sample(fraction=1.0, shuffle=True, seed=1)
    report = quality_report(shuffled.lazy(), "ohlcv")
    unsorted = report.filter(pl.col("check") == "unsorted")
    assert unsorted.height == 1 and unsorted["severity"][0] == "warning"
    assert_frame_equal(
        report.filter(pl.col("check") != "unsorted"), quality_report(damaged, "ohlcv")
    )


def test_trades_versus_bars_reconciliation() -> None:
    market = make_market(days=1, symbols=("BTCUSDT", "SOLUSDT"), seed=3)
    bars, trades = market["ohlcv"], market["trades"]
    clean = quality_report(bars, "ohlcv", trades=trades)
    assert "trades_vs_bars" not in clean["check"].to_list()
    bad_bars = _set(bars, "SOLUSDT", [10], volume=pl.col("volume") + 1.0)
    bad_bars = bad_bars.filter(
        ~((pl.col("symbol") == "BTCUSDT") & (pl.col("timestamp") == _minute(30)))
    )
    found = _by_check(quality_report(bad_bars, "ohlcv", trades=trades))
    sol = found[("SOLUSDT", "trades_vs_bars")]
    assert (sol["count"], sol["first_timestamp"]) == (1, _minute(10))
    assert "volume differs" in str(sol["detail"])
    btc = found[("BTCUSDT", "trades_vs_bars")]
    assert (btc["count"], btc["first_timestamp"]) == (1, _minute(30))
    assert "trades but no bar" in str(btc["detail"])
    # the same reconciliation from the trades side
    from_trades = _by_check(quality_report(trades, "trades", bars=bad_bars))
    assert from_trades[("SOLUSDT", "trades_vs_bars")]["count"] == 1


def test_trades_duplicates_and_invalid_values() -> None:
    trades = make_market(days=1, symbols=("ETHUSDT",), seed=3)["trades"]
    dup = trades.slice(50, 2)
    bad = _set(trades, "ETHUSDT", [70], price=-1.0)
    report = quality_report(pl.concat([bad, dup]).sort("symbol", "timestamp"), "trades")
    found = _by_check(report)
    assert found[("ETHUSDT", "duplicates")]["count"] == 2
    assert found[("ETHUSDT", "invalid_values")]["count"] == 1


def test_orderbook_gaps_crossed_and_duplicates() -> None:
    book = make_market(days=1, symbols=("BTCUSDT",), seed=3)["orderbook"]
    gap_from, gap_to = T0 + timedelta(hours=3), T0 + timedelta(hours=3, minutes=10)
    book = book.filter(~pl.col("timestamp").is_between(gap_from, gap_to, closed="left"))
    book = _set(book, "BTCUSDT", [100, 101], bid_px_1=pl.col("ask_px_1") + 1.0)
    book = _set(book, "BTCUSDT", [102], bid_px_1=pl.col("ask_px_1"))
    book = pl.concat([book, book.slice(5, 1)]).sort("symbol", "timestamp", maintain_order=True)
    found = _by_check(quality_report(book.lazy(), "orderbook"))
    assert set(found) == {
        ("BTCUSDT", "snapshot_gap"),
        ("BTCUSDT", "crossed_book"),
        ("BTCUSDT", "duplicates"),
    }
    gap = found[("BTCUSDT", "snapshot_gap")]
    assert gap["count"] == 1
    assert gap["last_timestamp"] == gap_to
    assert gap["first_timestamp"] < gap_from
    crossed = found[("BTCUSDT", "crossed_book")]
    assert crossed["count"] == 3
    assert "1 locked" in str(crossed["detail"])
    explicit = _by_check(quality_report(book, "orderbook", max_snapshot_gap="11m"))
    assert ("BTCUSDT", "snapshot_gap") not in explicit


def test_data_test_solusdt_outage_is_found_as_missing_bars() -> None:
    import omni_research as omr

    catalog = omr.open_catalog()
    report = quality_report(catalog.scan("ohlcv"), "ohlcv", dataset="historical/ohlcv")
    gaps = report.filter(pl.col("check") == "missing_bars")
    assert gaps["symbol"].to_list() == ["SOLUSDT"]
    row = gaps.row(0, named=True)
    assert (row["count"], row["first_timestamp"], row["last_timestamp"]) == (
        7,
        datetime(2025, 1, 8, 13, 0, tzinfo=UTC),
        datetime(2025, 1, 8, 13, 6, tzinfo=UTC),
    )


def test_quality_main_prints_summary_and_table_for_data_test() -> None:
    out = io.StringIO()
    code = quality_main(None, "ohlcv", ["SOLUSDT"], out=out)
    text = out.getvalue()
    assert code == 0  # the outage is a warning, not an error
    assert "WARNING historical/ohlcv" in text
    assert "missing_bars" in text and "SOLUSDT" in text
    assert "BTCUSDT" not in text


def test_quality_main_unknown_kind_returns_2() -> None:
    out = io.StringIO()
    assert quality_main(None, "news", None, out=out) == 2
    assert "no quality checks for kind 'news'" in out.getvalue()


def test_quality_main_returns_1_on_errors(tmp_path: Path) -> None:
    from omni_research.io._atomic import write_parquet_atomic

    root = tmp_path / "r"
    root.mkdir()
    (root / "omni-data.toml").write_text('tier = "research"\nschema_version = "1.0"\n')
    book = make_market(days=1, symbols=("BTCUSDT",), seed=3)["orderbook"].head(100)
    book = pl.concat([book, book.slice(5, 1)]).sort("timestamp", maintain_order=True)
    write_parquet_atomic(
        book, root / "historical/orderbook/symbol=BTCUSDT/date=2025-01-06/part-0.parquet"
    )
    out = io.StringIO()
    assert quality_main(str(root), None, None, out=out) == 1
    assert "ERROR" in out.getvalue()


def test_unknown_kind_and_missing_columns_raise() -> None:
    with pytest.raises(UnknownKindError, match="no checks for kind 'news'"):
        quality_report(pl.DataFrame(), "news")
    with pytest.raises(DataFormatError, match=r"needs columns \['timeframe'\]"):
        quality_report(make_ohlcv(n=5).drop("timeframe"), "ohlcv")


def test_quality_checks_table_lists_each_kinds_checks_in_order() -> None:
    from omni_research.quality import QUALITY_CHECKS

    assert QUALITY_CHECKS == {
        "ohlcv": (
            "duplicates",
            "missing_bars",
            "ohlc_rules",
            "zero_volume_run",
            "stale_price",
            "outlier_return",
            "trades_vs_bars",
        ),
        "trades": ("duplicates", "invalid_values", "outlier_return", "trades_vs_bars"),
        "orderbook": ("duplicates", "snapshot_gap", "crossed_book"),
    }


def test_quality_report_runs_what_the_table_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    from omni_research.quality import _checks, _findings

    def every_bar(ctx: _checks.CheckInput) -> list[pl.LazyFrame]:
        found = _findings.findings(
            ctx.lf,
            keys=ctx.keys,
            check="every_bar",
            severity="info",
            columns=["timestamp"],
            examples=ctx.examples,
        )
        return [found]

    ohlcv = make_ohlcv(symbols=("BTCUSDT",), n=30)
    monkeypatch.setitem(_checks.CHECKS, "ohlcv", [_checks.Check("every_bar", every_bar)])
    report = quality_report(ohlcv, "ohlcv")
    assert report.select("check", "count").rows() == [("every_bar", 30)]
