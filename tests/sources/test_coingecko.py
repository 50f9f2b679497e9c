"""CoinGecko downloads through the real httpx client against the fake CoinGecko on loopback."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import omni_research as omr
from omni_research.exceptions import ConfigurationError, ProductionDataError, SourceError
from omni_research.sources import DownloadSummary, coingecko, init_root
from omni_research.testing._fake_providers import FakeCoinGecko
from tests.sources.conftest import FAST, every_output, production_root, serve

pytestmark = pytest.mark.xdist_group("servers")

KEY = "CG-s3cret-demo-key-7788"
COINS = ["bitcoin", "ethereum", "solana"]
DAY = 86_400_000


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCoinGecko]:
    """A fake CoinGecko on 127.0.0.1 (free port) with three coins over three days from
    2025-01-06, a demo key required, and bitcoin's 2025-01-07 10:00 hour missing."""
    gap = int(dt.datetime(2025, 1, 7, 10, tzinfo=dt.UTC).timestamp() * 1000)
    server = FakeCoinGecko(coins=COINS, days=3, key=KEY, missing={"bitcoin": [gap]})
    yield from serve(
        server, monkeypatch, urls=["OMNI_COINGECKO_API_URL"], OMNI_COINGECKO_API_KEY=KEY
    )


def _download(root: Path, **kw: Any) -> DownloadSummary:
    options: dict[str, Any] = {
        "coins": COINS,
        "start": "2025-01-06",
        "end": "2025-01-07",
        "policy": FAST,
    }
    options.update(kw)
    return coingecko.download(root, **options)


def _stored(root: Path) -> pl.DataFrame:
    return omr.open_catalog(root).load("coins").sort("coin_id", "timestamp")


def test_download_stores_each_served_point_and_a_ranked_snapshot(
    fake: FakeCoinGecko, research: Path
) -> None:
    summary = _download(research)
    assert summary.requests == 1 + 2 * 3  # one markets page, one range per coin and day
    assert len(summary.files_written) == 7
    stored = _stored(research)
    history = stored.filter(pl.col("market_cap_rank").is_null())
    for coin in COINS:
        served = [r for r in fake.history[coin] if r[0] < fake.start_ms + 2 * DAY]
        got = history.filter(pl.col("coin_id") == coin)
        ms = got["timestamp"].dt.epoch("ms").to_list()
        assert ms == [r[0] for r in served]
        assert got["price_usd"].to_list() == [r[1] for r in served]
        assert got["market_cap_usd"].to_list() == [r[2] for r in served]
        assert got["volume_24h_usd"].to_list() == [r[3] for r in served]
        supply = [r[2] / r[1] for r in served]
        assert got["circulating_supply"].to_list() == pytest.approx(supply, rel=1e-12)
    assert history.filter(pl.col("coin_id") == "bitcoin")["symbol"].unique().to_list() == ["BTC"]
    snapshot = stored.filter(pl.col("market_cap_rank").is_not_null()).sort("market_cap_rank")
    by_cap = [r["id"] for r in sorted(fake.markets(), key=lambda r: -r["market_cap"])]
    assert snapshot["coin_id"].to_list() == by_cap
    assert snapshot["market_cap_rank"].to_list() == [1, 2, 3]
    # the missing hour is reported, once
    assert [g for g in summary.gaps if "bitcoin" in g] == [
        "coins bitcoin 2025-01-07: 1 of 24 hours without a point (first 10:00 UTC)"
    ]
    assert summary.rows["coins"] == stored.height


def test_key_goes_in_the_demo_header_and_never_in_a_url(
    fake: FakeCoinGecko, research: Path
) -> None:
    _download(research, end="2025-01-06", coins=["bitcoin"])
    assert all(h.get("x-cg-demo-api-key") == KEY for _, _, h in fake.requests)
    assert all(KEY not in str(q) for _, q, _ in fake.requests)


def test_rerun_sends_no_request_and_a_longer_range_fetches_only_the_new_days(
    fake: FakeCoinGecko, research: Path
) -> None:
    first = _download(research)
    before = _stored(research)
    again = _download(research)
    assert (again.requests, len(again.files_written), len(again.files_skipped)) == (0, 0, 7)
    longer = _download(research, end="2025-01-08")
    assert longer.requests == 1 + 3  # the markets page for the metadata, then the new day
    assert len(longer.files_written) == 3 and len(longer.files_skipped) == 7
    after = _stored(research)
    old_days = pl.col("timestamp") < dt.datetime(2025, 1, 8, tzinfo=dt.UTC)
    assert after.filter(old_days).equals(before.filter(old_days))
    assert after.height == before.height + 3 * 24
    assert first.requests == 7


@pytest.mark.parametrize("fault", ["http_500", "truncated", "reset", "rate_limit"])
def test_transient_faults_and_429_are_retried_to_the_same_data(
    fake: FakeCoinGecko, research: Path, tmp_path: Path, fault: str
) -> None:
    clean = _download(init_root(tmp_path / "clean"), end="2025-01-06")
    fake.inject(fault, path="/coins/ethereum/", times=2, wait=0.05)
    faulty = _download(research, end="2025-01-06")
    assert faulty.retries == 2 and faulty.requests == clean.requests + 2
    assert _stored(research).equals(_stored(tmp_path / "clean"))


def test_changed_shape_is_refused_naming_the_url_and_nothing_of_it_is_written(
    fake: FakeCoinGecko, research: Path
) -> None:
    fake.inject("shape", path="/coins/ethereum/market_chart/range")
    with pytest.raises(
        SourceError, match=r"/coins/ethereum/market_chart/range\?.*'total_volumes' is missing"
    ) as e:
        _download(research, end="2025-01-06", snapshot=False)
    assert "differs from the API v3 documentation" in str(e.value)
    assert "rerun fetches only those" in str(e.value)
    assert not (research / "historical/coins/date=2025-01-06/ethereum.parquet").exists()
    manifest = (research / "omni-data.toml").read_text()
    assert "ethereum" not in manifest and "bitcoin.parquet" in manifest


def test_changed_markets_shape_is_refused_before_any_file(
    fake: FakeCoinGecko, research: Path
) -> None:
    fake.inject("shape", path="/coins/markets")
    with pytest.raises(SourceError, match=r"/coins/markets\?.*'current_price'"):
        _download(research)
    assert not list((research / "historical").rglob("*.parquet"))


def test_unknown_coin_id_is_refused_with_what_to_do(fake: FakeCoinGecko, research: Path) -> None:
    with pytest.raises(SourceError, match=r"does not know the coin id\(s\) \['dogecoin'\]"):
        _download(research, coins=["bitcoin", "dogecoin"])


def test_secrets_never_appear_in_outputs_errors_or_files(
    fake: FakeCoinGecko,
    research: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    texts = [str(_download(research, end="2025-01-06"))]
    fake.inject("http_500", times=FAST.attempts)
    with pytest.raises(SourceError) as failed:
        _download(research, end="2025-01-07")
    texts.append(str(failed.value) + failed.value.url)
    monkeypatch.setenv("OMNI_COINGECKO_API_KEY", KEY + "-wrong")
    with pytest.raises(SourceError, match="HTTP 401") as refused:
        _download(research, end="2025-01-07")
    texts.append(str(refused.value))
    texts += every_output(research, "coins", caplog, capsys)
    assert all(KEY not in text for text in texts)


def test_production_root_and_missing_pro_key_are_refused_before_any_request(
    fake: FakeCoinGecko, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prod = production_root(tmp_path)
    with pytest.raises(ProductionDataError):
        _download(prod)
    with pytest.raises(ConfigurationError, match="research"):
        _download(init_root(tmp_path / "t", tier="test"))
    monkeypatch.delenv("OMNI_COINGECKO_API_KEY")
    with pytest.raises(ConfigurationError, match="OMNI_COINGECKO_API_KEY"):
        _download(init_root(tmp_path / "r"), plan="pro")
    with pytest.raises(ConfigurationError, match="not CoinGecko ids"):
        _download(init_root(tmp_path / "r"), coins=["BTC"])
    assert fake.count() == 0


def test_days_not_ended_are_left_for_a_later_run(fake: FakeCoinGecko, research: Path) -> None:
    today = dt.datetime.now(dt.UTC).date()
    summary = _download(research, start=today, end=today, snapshot=False)
    assert summary.requests == 0 and summary.files_written == ()
    assert any(re.search(rf"{today} has not ended yet", n) for n in summary.notes)


def test_cli_download_coingecko_prints_the_summary(
    fake: FakeCoinGecko, research: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from omni_research.cli import main

    argv = [
        "download",
        "coingecko",
        "--root",
        str(research),
        "--coins",
        "bitcoin,solana",
        "--start",
        "2025-01-06",
        "--end",
        "2025-01-06",
        "--no-snapshot",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "coingecko download into" in out and "2 file(s) written" in out
    assert fake.count("/coins/markets") == 1 and fake.count("/coins/solana/") == 1


def test_progress_is_reported_after_every_file(fake: FakeCoinGecko, research: Path) -> None:
    seen: list[Any] = []
    summary = _download(research, progress=seen.append)
    assert [p.done for p in seen] == list(range(1, 8)) and {p.total for p in seen} == {7}
    assert seen[-1].rows == summary.rows["coins"] and seen[-1].requests == summary.requests
    assert seen[-1].bytes > 0 and seen[-1].eta == 0


def test_snapshot_keeps_unranked_coins_and_leaves_out_coins_without_a_price() -> None:
    from omni_research.sources.coingecko import _snapshot_frame

    def row(coin: str, price: float | None, rank: float | None) -> dict[str, Any]:
        return {
            "id": coin,
            "symbol": coin[:3],
            "name": coin.title(),
            "current_price": price,
            "market_cap": 10.0,
            "total_volume": 1.0,
            "circulating_supply": 5.0,
            "market_cap_rank": rank,
            "last_updated": "2025-01-09T00:00:42.123Z",
        }

    frame, notes = _snapshot_frame(
        [row("bitcoin", 2.0, 1.0), row("newcoin", 0.5, None), row("deadcoin", None, 900)], "u"
    )
    assert frame["coin_id"].to_list() == ["bitcoin", "newcoin"]
    assert frame["market_cap_rank"].to_list() == [1, None]
    assert frame["timestamp"][0] == dt.datetime(2025, 1, 9, 0, 0, 42, 123000, tzinfo=dt.UTC)
    assert notes == [
        "coins snapshot: deadcoin has no price, market cap, volume or supply at CoinGecko now: "
        "left out of the snapshot"
    ]
    omr.validate(frame, "coins")
