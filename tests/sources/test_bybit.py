"""Bybit v5 downloads through the real httpx client against the fake Bybit on the loopback."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import omni_research as omr
from omni_research.exceptions import ConfigurationError, ProductionDataError, SourceError
from omni_research.sources import DownloadSummary, bybit, init_root
from omni_research.sources.bybit import _page_range
from omni_research.testing._fake_bybit import FakeBybit, make_instruments, make_open_interest
from tests.sources.conftest import FAST

pytestmark = pytest.mark.xdist_group("servers")

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
UTC = dt.UTC


def _download(root: Path, **kw: Any) -> DownloadSummary:
    options: dict[str, Any] = {
        "symbols": SYMBOLS, "start": "2025-01-06", "end": "2025-01-07", "policy": FAST,
    }  # fmt: skip
    options.update(kw)
    return bybit.download(root, **options)


def _server_bars(fake: FakeBybit, variant: str, symbol: str, interval: str = "1") -> pl.DataFrame:
    rows = fake.klines(variant, symbol, interval)
    names = ["open", "high", "low", "close", "volume", "turnover"][: len(rows[0]) - 1]
    columns = {name: [float(r[k]) for r in rows] for k, name in enumerate(names, 1)}
    return pl.DataFrame({"ms": [int(r[0]) for r in rows], **columns})


def _files(root: Path) -> dict[str, bytes]:
    """Every data file of a root (manifest and lock aside), by relative path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted((root / "historical").rglob("*"))
        if p.is_file()
    }


def _manifest_files(root: Path) -> dict[str, Any]:
    return dict(tomllib.loads((root / "omni-data.toml").read_text()).get("files", {}))


# --------------------------------------------------------------------------- what is stored


def test_download_stores_exactly_the_bars_the_server_holds(
    fake_bybit: FakeBybit, research: Path
) -> None:
    summary = _download(research, kinds=["ohlcv"])
    catalog = omr.open_catalog(research)
    for symbol in SYMBOLS:
        for variant, suffix in (("last", ""), ("mark", "_MARK"), ("index", "_INDEX")):
            stored = catalog.load("ohlcv", symbols=symbol + suffix)
            server = _server_bars(fake_bybit, variant, symbol)
            assert stored["timestamp"].dt.epoch("ms").to_list() == server["ms"].to_list()
            for column in ("open", "high", "low", "close"):
                assert stored[column].to_list() == server[column].to_list()
            if variant == "last":
                assert stored["volume"].to_list() == server["volume"].to_list()
                assert stored["turnover"].to_list() == server["turnover"].to_list()
            else:
                assert stored["volume"].sum() == 0.0
            assert stored["trade_count"].null_count() == stored.height
    # 2 days x 2 symbols x 3 price types, each day 1,440 bars = one full page of 1,000 and
    # one short page of 440 (ETHUSDT's outage day: 1,000 + 433): no request wasted
    assert summary.requests == 2 * 2 * 3 * 2
    assert summary.rows["ohlcv"] == 2 * 3 * 2 * 1440 - 7
    assert summary.gaps == (
        "ohlcv ETHUSDT 1m 2025-01-06: 7 of 1440 1m bars missing (first at 2025-01-06 10:41 UTC)",
    )


def test_download_pages_hourly_bars_in_one_request_per_day(
    fake_bybit: FakeBybit, research: Path
) -> None:
    summary = _download(
        research, kinds=["ohlcv"], symbols="BTCUSDT", interval="60", prices=["last"]
    )
    stored = omr.open_catalog(research).load("ohlcv", symbols="BTCUSDT")
    server = _server_bars(fake_bybit, "last", "BTCUSDT", "60")
    assert stored["timestamp"].dt.epoch("ms").to_list() == server["ms"].to_list()
    assert stored["high"].to_list() == server["high"].to_list()
    assert set(stored["timeframe"]) == {"1h"}
    assert summary.requests == 2


def test_funding_rates_mark_prices_and_interval_change(
    fake_bybit: FakeBybit, research: Path
) -> None:
    summary = _download(research, kinds=["funding"])
    stored = omr.open_catalog(research).load("funding")
    for symbol in SYMBOLS:
        mine = stored.filter(pl.col("symbol") == symbol)
        server = fake_bybit.funding[symbol]
        assert mine["timestamp"].dt.epoch("ms").to_list() == [ts for ts, _ in server]
        assert mine["funding_rate"].to_list() == [float(rate) for _, rate in server]
        # the mark price at settlement: the open of the hourly mark kline starting then
        marks = _server_bars(fake_bybit, "mark", symbol, "60")
        expected = dict(zip(marks["ms"], marks["open"], strict=True))
        assert mine["mark_price"].to_list() == [expected[ts] for ts, _ in server]
    assert "funding BTCUSDT: settlement interval 8h" in summary.notes
    assert "funding ETHUSDT: interval changed from 8h to 4h at 2025-01-07 04:00 UTC" in (
        summary.notes
    )
    # per symbol and day: one funding page and one hourly mark-price page
    assert summary.requests == 2 * 2 * 2


def test_open_interest_follows_the_cursor_exactly(fake_bybit: FakeBybit, research: Path) -> None:
    summary = _download(research, kinds=["open_interest"])
    stored = omr.open_catalog(research).load("open_interest")
    expected = make_open_interest(SYMBOLS, start="2025-01-06", days=2)
    assert stored.equals(expected)
    # 288 values a day at 200 a page: two cursor pages per symbol and day
    assert summary.requests == 2 * 2 * 2
    cursors = [q.get("cursor") for p, q in fake_bybit.requests if p.endswith("open-interest")]
    assert cursors == [None, "200"] * 4


def test_instruments_snapshot_includes_delisted_and_prelaunch(
    fake_bybit: FakeBybit, research: Path
) -> None:
    _download(research, kinds=["instruments"])
    stored = omr.open_catalog(research).load("instruments")
    expected = make_instruments(SYMBOLS, timestamp=stored["timestamp"][0])
    assert stored.equals(expected)
    status = dict(zip(stored["symbol"], stored["status"], strict=True))
    assert status == {
        "BTCUSDT": "Trading", "ETHUSDT": "Trading", "NEWUSDT": "PreLaunch", "OLDUSDT": "Closed",
    }  # fmt: skip
    delisted = stored.filter(pl.col("symbol") == "OLDUSDT")
    assert delisted["delivery_time"][0] == dt.datetime(2024, 12, 7, tzinfo=UTC)
    # every status queried on its own (Bybit lists only Trading by default)
    assert [q["status"] for _, q in fake_bybit.requests] == [
        "PreLaunch", "Trading", "Delivering", "Closed",
    ]  # fmt: skip


def test_instruments_page_with_the_cursor(fake_bybit: FakeBybit, research: Path) -> None:
    fake_bybit.instruments["linear"] += [
        {**fake_bybit.instruments["linear"][0], "symbol": f"X{i:04d}USDT"} for i in range(1500)
    ]
    _download(research, kinds=["instruments"])
    stored = omr.open_catalog(research).load("instruments")
    assert stored.filter(pl.col("status") == "Trading").height == 1502
    trading = [q.get("cursor") for _, q in fake_bybit.requests if q["status"] == "Trading"]
    assert trading == [None, "1000"]


# --------------------------------------------------------------------------- resume


def test_second_run_fetches_nothing_and_skips_every_file(
    fake_bybit: FakeBybit, research: Path
) -> None:
    first = _download(research)
    before = (_files(research), _manifest_files(research))
    served = fake_bybit.count()
    second = _download(research)
    assert fake_bybit.count() == served  # no request reached the server
    assert second.requests == 0 and second.files_written == ()
    assert sorted(second.files_skipped) == sorted(first.files_written)
    assert (_files(research), _manifest_files(research)) == before


def test_longer_range_fetches_only_the_new_days(fake_bybit: FakeBybit, research: Path) -> None:
    first = _download(research, end="2025-01-06", kinds=["ohlcv", "funding"])
    second = _download(research, end="2025-01-07", kinds=["ohlcv", "funding"])
    assert all("2025-01-07" in str(p) for p in second.files_written)
    assert sorted(second.files_skipped) == sorted(first.files_written)
    assert len(second.files_written) == len(first.files_written)
    later = fake_bybit.requests[first.requests :]
    day2 = str(int(dt.datetime(2025, 1, 7, tzinfo=UTC).timestamp() * 1000))
    assert {q.get("start", q.get("startTime")) for _, q in later} == {day2}


def test_ban_mid_download_stops_and_a_rerun_ends_equal_to_an_uninterrupted_run(
    fake_bybit: FakeBybit, research: Path, tmp_path: Path
) -> None:
    clean = init_root(tmp_path / "clean")
    _download(clean, kinds=["ohlcv", "funding", "open_interest"])
    fake_bybit.inject("ban", path="/v5/market/funding")
    with pytest.raises(SourceError, match=r"HTTP 403.*Run it again after .* UTC") as info:
        _download(research, kinds=["ohlcv", "funding", "open_interest"])
    assert "3 file(s) were committed by this run before it stopped" in str(info.value)
    committed = _manifest_files(research)
    assert sorted(committed) == sorted(
        f"historical/ohlcv/symbol=BTCUSDT{s}/timeframe=1m/date=2025-01-06/part-0.parquet"
        for s in ("", "_MARK", "_INDEX")
    )
    _download(research, kinds=["ohlcv", "funding", "open_interest"])
    assert _files(research) == _files(clean)
    assert _manifest_files(research) == _manifest_files(clean)


def test_unrecorded_file_is_fetched_again(fake_bybit: FakeBybit, research: Path) -> None:
    """The manifest is the ledger: a file on disk it does not record is not trusted."""
    _download(research, kinds=["funding"], symbols="BTCUSDT", end="2025-01-06")
    manifest = research / "omni-data.toml"
    text = manifest.read_text()
    manifest.write_text(text.split("\n[files.")[0] + "\n")
    again = _download(research, kinds=["funding"], symbols="BTCUSDT", end="2025-01-06")
    assert len(again.files_written) == 1 and again.files_skipped == ()


# --------------------------------------------------------------------------- faults


def test_transient_faults_are_retried_and_the_data_equals_a_clean_run(
    fake_bybit: FakeBybit, research: Path, tmp_path: Path
) -> None:
    clean = init_root(tmp_path / "clean")
    _download(clean, kinds=["ohlcv", "open_interest"], symbols="BTCUSDT", end="2025-01-06")
    fake_bybit.inject("http_500", path="/v5/market/kline", times=2)
    fake_bybit.inject("truncated", path="/v5/market/mark-price-kline")
    fake_bybit.inject("reset", path="/v5/market/index-price-kline")
    fake_bybit.inject("rate_limit", path="/v5/market/open-interest", wait=0.1)
    summary = _download(
        research, kinds=["ohlcv", "open_interest"], symbols="BTCUSDT", end="2025-01-06"
    )
    assert summary.retries == 5
    assert _files(research) == _files(clean)


@pytest.mark.parametrize(
    ("path", "kinds", "differs"),
    [
        ("/v5/market/kline", ["ohlcv"], r"result\.list\[0\] is \[.*\]; expected 7 strings"),
        ("/v5/market/funding/history", ["funding"], r"result\.list\[0\] lacks \['symbol'\]"),
        ("/v5/market/open-interest", ["open_interest"], "lacks openInterest or timestamp"),
        ("/v5/market/instruments-info", ["instruments"], r"result\.list\[0\] lacks \['symbol'\]"),
    ],
)
def test_changed_response_shape_is_refused_naming_the_url_and_writes_nothing(
    fake_bybit: FakeBybit, research: Path, path: str, kinds: list[str], differs: str
) -> None:
    fake_bybit.inject("shape", path=path)
    with pytest.raises(SourceError, match=differs) as info:
        _download(research, kinds=kinds)
    assert info.value.url.startswith(f"{fake_bybit.url}{path}?category=linear")
    assert re.escape(path) and path in str(info.value)
    assert "differs from the v5 documentation" in str(info.value)
    assert _manifest_files(research) == {}
    assert _files(research) == {}


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("where", ["production_root", "real_time", "prefix"])
def test_production_places_are_refused_before_any_request(
    fake_bybit: FakeBybit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    if where == "production_root":
        root = tmp_path / "prod"
        root.mkdir()
        (root / "omni-data.toml").write_text('tier = "production"\nschema_version = "1.0"\n')
    elif where == "real_time":
        research = init_root(tmp_path / "r")
        root = tmp_path / "data" / "real_time" / "r"
        shutil.copytree(research, root)
    else:
        root = init_root(tmp_path / "r")
        monkeypatch.setenv("OMNI_PRODUCTION_PATHS", str(tmp_path))
    with pytest.raises(ProductionDataError):
        _download(root)
    assert fake_bybit.count() == 0


def test_test_root_is_refused_before_any_request(fake_bybit: FakeBybit, tmp_path: Path) -> None:
    omr.testing.make_test_data(tmp_path / "t", days=1)
    with pytest.raises(ConfigurationError, match="'test'-tier root"):
        _download(tmp_path / "t")
    assert fake_bybit.count() == 0


@pytest.mark.parametrize(
    ("option", "match"),
    [
        ({"interval": "M"}, "fixed-length Bybit kline interval"),
        ({"kinds": ["candles"]}, "expected some of"),
        ({"category": "option"}, "category is 'option'"),
        ({"symbols": ["../x"]}, "cannot be part of a data path"),
        ({"oi_interval": "2min"}, "oi_interval is '2min'"),
        ({"start": "2025-01-08", "end": "2025-01-06"}, "end"),
    ],
)
def test_bad_options_are_refused_before_any_request(
    fake_bybit: FakeBybit, research: Path, option: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        _download(research, **option)
    assert fake_bybit.count() == 0


def test_days_not_ended_are_left_for_a_later_run(fake_bybit: FakeBybit, research: Path) -> None:
    today = dt.datetime.now(UTC).date()
    summary = _download(research, kinds=["ohlcv"], start=today, end=today)
    assert summary.requests == 0 and summary.files_written == ()
    assert summary.notes == (f"{today} has not ended yet: left for a later run",)


def test_spot_skips_what_spot_does_not_have(fake_bybit: FakeBybit, research: Path) -> None:
    summary = _download(research, category="spot", symbols="BTCUSDT", end="2025-01-06")
    assert summary.notes[0] == "spot has no funding, open_interest, mark and index klines: skipped"
    stored = omr.open_catalog(research).load("instruments")
    assert stored["category"].unique().to_list() == ["spot"]
    assert stored["symbol"].to_list() == SYMBOLS and set(stored["qty_step"]) == {0.000001}
    assert set(omr.open_catalog(research).load("ohlcv")["symbol"]) == {"BTCUSDT"}
    assert [p for p, _ in fake_bybit.requests].count("/v5/market/instruments-info") == 1


# --------------------------------------------------------------------------- paging rule


@pytest.mark.parametrize("newest_first_from", ["end", "start"])
def test_page_range_is_exact_whichever_end_the_server_serves(newest_first_from: str) -> None:
    """A property of the pager alone: all rows, once each, with either server behaviour."""
    held = list(range(0, 10_000, 7))
    calls = []

    def fetch(a: int, b: int) -> tuple[list[tuple[int, Any]], int]:
        calls.append((a, b))
        inside = [t for t in held if a <= t <= b]
        chosen = inside[-100:] if newest_first_from == "end" else inside[:100]
        return [(t, t) for t in reversed(chosen)], 100

    rows = _page_range(fetch, 0, 9_999, url=lambda a, b: f"{a}-{b}", step=7)
    assert sorted(rows) == held
    assert len(calls) <= len(held) // 100 + 2


# --------------------------------------------------------------------------- progress, runs


def test_progress_is_reported_after_every_file(fake_bybit: FakeBybit, research: Path) -> None:
    seen: list[Any] = []
    summary = _download(research, kinds=["funding", "open_interest"], progress=seen.append)
    assert [p.done for p in seen] == list(range(1, len(summary.files_written) + 1))
    assert {p.total for p in seen} == {len(summary.files_written)}
    assert seen[-1].rows == sum(summary.rows.values()) and seen[-1].eta == 0.0
    assert seen[-1].requests == summary.requests and seen[-1].bytes > 0
    assert str(seen[-1]).startswith("8/8 files, 1,167 rows")


def test_funding_interval_change_across_two_runs_is_still_reported(
    fake_bybit: FakeBybit, research: Path
) -> None:
    _download(research, kinds=["funding"], symbols="ETHUSDT", end="2025-01-06")
    second = _download(research, kinds=["funding"], symbols="ETHUSDT", end="2025-01-07")
    assert second.notes[-1] == (
        "funding ETHUSDT: interval changed from 8h to 4h at 2025-01-07 04:00 UTC"
    )


def test_a_bar_still_forming_is_never_committed(fake_bybit: FakeBybit, research: Path) -> None:
    """A finished day three days ago: its 1-minute bars are final, a weekly bar opening
    then is not (it closes seven days after it opens)."""
    day = dt.datetime.now(UTC).date() - dt.timedelta(days=3)
    weekly = _download(research, kinds=["ohlcv"], prices=["last"], interval="W", start=day, end=day)
    assert weekly.notes == (f"{day} has not ended yet: left for a later run",)
    assert weekly.requests == 0
    minutes = _download(research, kinds=["ohlcv"], prices=["last"], start=day, end=day)
    assert minutes.notes == () and len(minutes.files_written) == 2


@pytest.mark.parametrize("kind", ["ohlcv", "funding", "open_interest"])
def test_a_day_without_data_is_an_empty_file_and_a_gap(
    fake_bybit: FakeBybit, research: Path, kind: str
) -> None:
    """Before a listing the exchange has nothing: the day is committed empty (so a rerun
    does not ask again) and reported."""
    summary = _download(
        research, kinds=[kind], symbols="BTCUSDT", start="2024-06-03", end="2024-06-03"
    )
    assert summary.rows == {kind: 0} and len(summary.gaps) == len(summary.files_written)
    stored = omr.open_catalog(research).load(kind)
    assert stored.height == 0 and stored.schema == omr.schemas.polars_schema(kind)
    assert (
        _download(
            research, kinds=[kind], symbols="BTCUSDT", start="2024-06-03", end="2024-06-03"
        ).requests
        == 0
    )


def test_funding_interval_is_checked_against_the_instruments_listing(
    fake_bybit: FakeBybit, research: Path
) -> None:
    summary = _download(research, kinds=["instruments", "funding"])
    mismatches = [n for n in summary.notes if "differs from the instruments listing" in n]
    # the fake lists 480 minutes for both; ETHUSDT's data moved to 4 h on 2025-01-07
    assert mismatches == [
        "funding ETHUSDT: the data's last interval 4h differs from the instruments listing's 8h"
    ]
