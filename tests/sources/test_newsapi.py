"""NewsAPI downloads through the real httpx client against the fake NewsAPI on loopback."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import omni_research as omr
from omni_research.exceptions import ConfigurationError, ProductionDataError, SourceError
from omni_research.sources import DownloadSummary, init_root, newsapi
from omni_research.testing._fake_providers import FakeNewsAPI
from tests.sources.conftest import FAST, every_output, production_root, serve

pytestmark = pytest.mark.xdist_group("servers")

KEY = "news-s3cret-key-4242"
QUERY = "bitcoin OR ethereum OR solana"
UTC = dt.UTC


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeNewsAPI]:
    """A fake NewsAPI on 127.0.0.1 (free port): 130 articles a day over three days from
    2025-01-06 (two pages of 100 a day), key required."""
    server = FakeNewsAPI(start="2025-01-06", days=3, per_day=130, key=KEY)
    yield from serve(server, monkeypatch, urls=["OMNI_NEWSAPI_URL"], OMNI_NEWSAPI_KEY=KEY)


def _download(root: Path, **kw: Any) -> DownloadSummary:
    options: dict[str, Any] = {
        "query": QUERY,
        "start": "2025-01-06",
        "end": "2025-01-07",
        "symbols": ["BTCUSDT", "ETHUSDT"],
        "policy": FAST,
    }
    options.update(kw)
    return newsapi.download(root, **options)


def _stored(root: Path) -> pl.DataFrame:
    return omr.open_catalog(root).load("news").sort("timestamp", "article_id")


def _served(fake: FakeNewsAPI, first: str, last: str) -> list[dict[str, Any]]:
    lo = dt.datetime.fromisoformat(first).replace(tzinfo=UTC)
    hi = dt.datetime.fromisoformat(last).replace(tzinfo=UTC) + dt.timedelta(days=1)
    return sorted(
        (a for a in fake.articles if lo <= dt.datetime.fromisoformat(a["publishedAt"]) < hi),
        key=lambda a: a["publishedAt"],
    )


def test_download_stores_every_served_article_once_tagged_with_its_symbol(
    fake: FakeNewsAPI, research: Path
) -> None:
    summary = _download(research)
    assert summary.requests == 2 * 2  # two pages of 100 for each of two days
    assert all(q["pageSize"] == "100" and q["sortBy"] == "publishedAt" for _, q, _ in fake.requests)
    first = fake.requests[0][1]
    assert (first["from"], first["to"], first["page"]) == (
        "2025-01-06T00:00:00",
        "2025-01-06T23:59:59",
        "1",
    )
    stored = _stored(research)
    served = _served(fake, "2025-01-06", "2025-01-07")
    assert stored.height == len(served) == 260
    assert stored["url"].to_list() == [a["url"] for a in served]
    assert stored["title"].to_list() == [a["title"] for a in served]
    assert stored["source"].to_list() == [a["source"]["name"] for a in served]
    want_time = [dt.datetime.fromisoformat(a["publishedAt"]) for a in served]
    assert stored["timestamp"].to_list() == want_time
    expected_symbol = {"Bitcoin": "BTCUSDT", "Ethereum": "ETHUSDT", "Solana": None}
    for title, symbol in zip(stored["title"], stored["symbol"], strict=True):
        coin = next(c for c in expected_symbol if c in title)
        assert symbol == expected_symbol[coin]
    assert stored["article_id"].n_unique() == stored.height
    assert summary.rows["news"] == 260 and summary.gaps == ()


def test_key_goes_in_the_x_api_key_header_and_never_in_a_url(
    fake: FakeNewsAPI, research: Path
) -> None:
    _download(research, end="2025-01-06")
    assert all(h.get("x-api-key") == KEY for _, _, h in fake.requests)
    assert all(KEY not in str(q) for _, q, _ in fake.requests)


def test_rerun_sends_no_request_and_a_longer_range_fetches_only_the_new_day(
    fake: FakeNewsAPI, research: Path
) -> None:
    _download(research)
    before = _stored(research)
    again = _download(research)
    assert (again.requests, again.files_written, len(again.files_skipped)) == (0, (), 2)
    longer = _download(research, end="2025-01-08")
    assert longer.requests == 2 and len(longer.files_written) == 1
    after = _stored(research)
    assert after.head(before.height).equals(before)
    assert after.height == 390


@pytest.mark.parametrize(
    ("fault", "code", "advice"),
    [
        ("exhausted", "apiKeyExhausted", "100 requests per 24 hours"),
        ("rate_limit", "rateLimited", "wait a few minutes"),
    ],
)
def test_quota_429_stops_at_once_saying_what_was_saved_and_how_to_resume(
    fake: FakeNewsAPI, research: Path, fault: str, code: str, advice: str
) -> None:
    _download(research, end="2025-01-06")  # day one already present
    fake.inject(fault, after=2, times=100)  # day two comes in, day three is refused
    sent = fake.count()
    with pytest.raises(SourceError, match=f"HTTP 429 {code}") as stopped:
        _download(research, end="2025-01-08")
    message = str(stopped.value)
    assert fake.count() - sent == 3  # no retry of the refused request
    assert "this run saved 1 day file(s) (2025-01-07 to 2025-01-07)" in message
    assert "1 were already present, 1 day(s) are left" in message
    assert advice in message and "it resumes at 2025-01-08" in message
    assert stopped.value.status == 429
    assert not (research / "historical/news/date=2025-01-08").exists()
    fake._faults.clear()
    resumed = _download(research, end="2025-01-08")
    assert resumed.requests == 2 and len(resumed.files_skipped) == 2
    assert _stored(research).height == 390


def test_plan_result_cap_keeps_what_came_and_reports_the_rest_as_a_gap(
    research: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeNewsAPI(days=1, per_day=130, key=KEY, max_results=100) as fake:
        monkeypatch.setenv("OMNI_NEWSAPI_URL", fake.url)
        monkeypatch.setenv("OMNI_NEWSAPI_KEY", KEY)
        summary = _download(research, end="2025-01-06")
    assert summary.rows["news"] == 100 and summary.requests == 2
    assert summary.gaps == (
        "news 2025-01-06 q-"
        + summary.files_written[0].stem.removeprefix("q-")
        + ": NewsAPI lets this key page through only the first 100 of 130 articles "
        "(maximumResultsReached); the rest of the day is missing (a narrower query or a "
        "paid plan gets it)",
    )


@pytest.mark.parametrize("fault", ["http_500", "truncated", "reset", "slow"])
def test_transient_faults_are_retried_to_the_same_data(
    fake: FakeNewsAPI, research: Path, tmp_path: Path, fault: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    policy = replace(FAST, timeout=0.3)
    clean = _download(init_root(tmp_path / "clean"), end="2025-01-06", policy=policy)
    fake.inject(fault, after=1, times=2, wait=1.0)
    faulty = _download(research, end="2025-01-06", policy=policy)
    assert faulty.retries == 2 and faulty.requests == clean.requests + 2
    assert _stored(research).equals(_stored(tmp_path / "clean"))


def test_changed_shape_is_refused_naming_the_url_and_nothing_is_written(
    fake: FakeNewsAPI, research: Path
) -> None:
    fake.inject("shape", after=1)  # the second page of day one
    with pytest.raises(SourceError, match=r"/v2/everything\?q=.*page=2 .*publishedAt") as e:
        _download(research)
    assert "differs from the /v2/everything documentation" in str(e.value)
    assert "this run saved no file" in str(e.value)
    assert not list((research / "historical").rglob("*.parquet"))


def test_secrets_never_appear_in_outputs_errors_or_files(
    fake: FakeNewsAPI,
    research: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    texts = [str(_download(research, end="2025-01-06"))]
    fake.inject("exhausted")
    with pytest.raises(SourceError) as stopped:
        _download(research, end="2025-01-07")
    texts.append(str(stopped.value) + stopped.value.url)
    monkeypatch.setenv("OMNI_NEWSAPI_KEY", KEY + "-wrong")
    with pytest.raises(SourceError, match="HTTP 401") as refused:
        _download(research, end="2025-01-07")
    texts.append(str(refused.value))
    texts += every_output(research, "news", caplog, capsys)
    assert all(KEY not in text for text in texts)


def test_missing_key_and_production_root_are_refused_before_any_request(
    fake: FakeNewsAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prod = production_root(tmp_path)
    with pytest.raises(ProductionDataError):
        _download(prod)
    monkeypatch.delenv("OMNI_NEWSAPI_KEY")
    with pytest.raises(ConfigurationError, match="OMNI_NEWSAPI_KEY"):
        _download(init_root(tmp_path / "r"))
    assert fake.count() == 0


def test_cli_download_newsapi_prints_the_summary_and_a_quota_stop(
    fake: FakeNewsAPI, research: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from omni_research.cli import main

    argv = [
        "download",
        "newsapi",
        "--root",
        str(research),
        "--query",
        QUERY,
        "--start",
        "2025-01-06",
        "--end",
        "2025-01-06",
        "--symbols",
        "BTCUSDT",
    ]
    assert main(argv) == 0
    assert "newsapi download into" in capsys.readouterr().out
    fake.inject("exhausted")
    argv[argv.index("--end") + 1] = "2025-01-07"
    assert main(argv) == 2
    out = capsys.readouterr().out
    assert out.startswith("omni-research download newsapi: NewsAPI: GET ")
    assert "apiKeyExhausted" in out and "it resumes at 2025-01-07" in out


def test_progress_is_reported_after_every_file(fake: FakeNewsAPI, research: Path) -> None:
    seen: list[Any] = []
    summary = _download(research, end="2025-01-08", progress=seen.append)
    assert [(p.done, p.total) for p in seen] == [(1, 3), (2, 3), (3, 3)]
    days = [p.unit.split()[1] for p in seen]
    assert days == ["2025-01-06", "2025-01-07", "2025-01-08"]
    assert seen[-1].rows == summary.rows["news"] and seen[-1].requests == summary.requests
