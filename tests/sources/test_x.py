"""X recent-search downloads through the real httpx client against the fake X on loopback."""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import omni_research as omr
from omni_research.exceptions import ConfigurationError, ProductionDataError, SourceError
from omni_research.sources import DownloadSummary, init_root, x
from omni_research.sources._sentiment import sentiment_from_posts
from omni_research.testing._fake_providers import FakeX
from tests.sources.conftest import FAST, every_output, production_root, serve

pytestmark = pytest.mark.xdist_group("servers")

TOKEN = "x-s3cret-bearer-AAAA9999"
PSEUDONYM_KEY = "pseudonym-test-key"
QUERY = "bitcoin OR $BTC OR ethereum OR $ETH"
SYMBOLS = ["BTCUSDT", "ETHUSDT"]
UTC = dt.UTC
TODAY = dt.datetime.now(UTC).date()
FIRST, LAST = TODAY - dt.timedelta(days=3), TODAY - dt.timedelta(days=2)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeX]:
    """A fake X on 127.0.0.1 (free port): a post every 30 minutes over the last 8 days,
    served for the last 7; the bearer token required; the pseudonym key set."""
    server = FakeX(every=30, token=TOKEN)
    yield from serve(
        server,
        monkeypatch,
        urls=["OMNI_X_API_URL"],
        OMNI_X_BEARER_TOKEN=TOKEN,
        OMNI_PSEUDONYM_KEY=PSEUDONYM_KEY,
    )


def _download(root: Path, **kw: Any) -> DownloadSummary:
    options: dict[str, Any] = {
        "query": QUERY,
        "symbols": SYMBOLS,
        "start": FIRST,
        "end": LAST,
        "page_size": 10,
        "policy": FAST,
    }
    options.update(kw)
    return x.download(root, **options)


def _served(fake: FakeX, first: dt.date, last: dt.date) -> list[dict[str, Any]]:
    lo = dt.datetime(first.year, first.month, first.day, tzinfo=UTC)
    hi = dt.datetime(last.year, last.month, last.day, tzinfo=UTC) + dt.timedelta(days=1)
    words = ("bitcoin", "btc", "ethereum", "eth")
    return sorted(
        (
            p
            for p in fake.posts
            if lo <= dt.datetime.fromisoformat(p["created_at"]) < hi
            and any(w in p["text"].lower() for w in words)
        ),
        key=lambda p: (p["created_at"], p["id"]),
    )


def _load(root: Path, kind: str) -> pl.DataFrame:
    return omr.open_catalog(root).load(kind)


def test_download_stores_every_served_post_once_with_pseudonymised_authors(
    fake: FakeX, research: Path
) -> None:
    summary = _download(research)
    served = _served(fake, FIRST, LAST)
    per_day = [len(_served(fake, d, d)) for d in (FIRST, LAST)]
    assert summary.requests == sum(math.ceil(n / 10) for n in per_day)
    assert all(
        q["tweet.fields"] == "created_at,author_id,public_metrics,lang" for _, q, _ in fake.requests
    )
    assert sum("pagination_token" in q for _, q, _ in fake.requests) == summary.requests - 2
    posts = _load(research, "posts").sort("timestamp", "post_id")
    assert posts["post_id"].to_list() == [p["id"] for p in served]
    assert posts["timestamp"].to_list() == [
        dt.datetime.fromisoformat(p["created_at"]) for p in served
    ]
    assert posts["like_count"].to_list() == [p["public_metrics"]["like_count"] for p in served]
    want_symbol = [
        "BTCUSDT" if ("btc" in p["text"].lower() or "bitcoin" in p["text"].lower()) else "ETHUSDT"
        for p in served
    ]
    assert posts["symbol"].to_list() == want_symbol
    assert posts["author_id"].to_list() == x.pseudonymise(
        [p["author_id"] for p in served], key=PSEUDONYM_KEY.encode()
    )
    raw_ids = {p["author_id"] for p in served}
    for path in research.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(a.encode() in data for a in raw_ids), path
    assert summary.rows["posts"] == len(served)


def test_sentiment_is_derived_from_the_stored_english_posts_per_symbol_and_hour(
    fake: FakeX, research: Path
) -> None:
    summary = _download(research)
    posts = _load(research, "posts")
    sentiment = _load(research, "sentiment").sort("symbol", "timestamp")
    assert sentiment.equals(sentiment_from_posts(posts, interval="1h"))
    assert set(sentiment["source"]) == {"twitter"}
    english = posts.filter(pl.col("lang") == "en")
    for symbol in SYMBOLS:
        mine = sentiment.filter(pl.col("symbol") == symbol)
        assert mine["mentions"].sum() == english.filter(pl.col("symbol") == symbol).height
    # bucket ends: a post at hh:mm counts in the bucket ending at the next full hour
    ends = sentiment["timestamp"]
    assert (ends.dt.minute() == 0).all() and ends.min() > posts["timestamp"].min()
    assert summary.rows["sentiment"] == sentiment.height
    assert len([p for p in summary.files_written if "sentiment" in p.parts]) == 2 * 2


def test_rerun_sends_no_request_and_lost_sentiment_is_derived_again_without_one(
    fake: FakeX, research: Path
) -> None:
    _download(research)
    before = _load(research, "sentiment").sort("symbol", "timestamp")
    again = _download(research)
    assert (again.requests, again.files_written) == (0, ())
    lost = next((research / "historical/sentiment/symbol=ETHUSDT").glob(f"*-{LAST}.parquet"))
    lost.unlink()  # as if killed between the posts and the sentiment commit
    repaired = _download(research)
    assert repaired.requests == 0 and repaired.files_written == (lost,)
    assert _load(research, "sentiment").sort("symbol", "timestamp").equals(before)


def test_429_waits_until_the_reset_header_then_continues(fake: FakeX, research: Path) -> None:
    fake.inject("rate_limit", after=1, wait=0.05)
    summary = _download(research, end=FIRST)
    assert summary.retries == 1
    assert summary.rows["posts"] == len(_served(fake, FIRST, FIRST))


def test_429_far_from_its_reset_stops_saying_when_to_resume(fake: FakeX, research: Path) -> None:
    fake.inject("rate_limit", after=1, wait=3600)
    sent = fake.count()
    with pytest.raises(SourceError, match=r"HTTP 429.*used up until .* UTC.*resumes") as e:
        _download(research)
    assert fake.count() - sent == 2 and e.value.status == 429
    assert not list((research / "historical").rglob("*.parquet"))


@pytest.mark.parametrize("fault", ["http_500", "truncated", "reset"])
def test_transient_faults_are_retried_to_the_same_posts(
    fake: FakeX, research: Path, tmp_path: Path, fault: str
) -> None:
    clean = _download(init_root(tmp_path / "clean"), end=FIRST)
    fake.inject(fault, after=2, times=2)
    faulty = _download(research, end=FIRST)
    assert faulty.retries == 2 and faulty.requests == clean.requests + 2
    assert (
        _load(research, "posts")
        .sort("post_id")
        .equals(_load(tmp_path / "clean", "posts").sort("post_id"))
    )


def test_changed_shape_is_refused_naming_the_url_and_nothing_of_the_day_is_written(
    fake: FakeX, research: Path
) -> None:
    fake.inject("shape", after=1)
    with pytest.raises(SourceError, match=r"/2/tweets/search/recent\?query=.*created_at") as e:
        _download(research)
    assert "differs from the API v2 recent-search documentation" in str(e.value)
    assert not list((research / "historical").rglob("*.parquet"))


def test_range_before_the_7_day_window_is_noted_and_the_edge_day_is_a_gap(
    fake: FakeX, research: Path
) -> None:
    summary = _download(
        research, start=TODAY - dt.timedelta(days=9), end=TODAY - dt.timedelta(days=6)
    )
    edge = TODAY - dt.timedelta(days=7)
    assert any("reaches back 7 days" in n for n in summary.notes)
    assert len(summary.gaps) == 1 and summary.gaps[0].startswith(f"posts {edge}: only from")
    days = sorted(p.parent.name for p in (research / "historical/posts").rglob("*.parquet"))
    assert days == [f"date={edge}", f"date={TODAY - dt.timedelta(days=6)}"]


def test_secrets_and_raw_author_ids_never_appear_in_outputs_errors_or_files(
    fake: FakeX,
    research: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    texts = [str(_download(research, end=FIRST))]
    fake.inject("rate_limit", wait=3600)
    with pytest.raises(SourceError) as stopped:
        _download(research, end=LAST)
    texts.append(str(stopped.value) + stopped.value.url)
    monkeypatch.setenv("OMNI_X_BEARER_TOKEN", TOKEN + "-wrong")
    with pytest.raises(SourceError, match="HTTP 401") as refused:
        _download(research, end=LAST)
    texts.append(str(refused.value))
    texts += every_output(research, "posts", caplog, capsys)
    assert all(TOKEN not in t and PSEUDONYM_KEY not in t for t in texts)


def test_missing_token_or_pseudonym_key_and_production_root_are_refused_before_any_request(
    fake: FakeX, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prod = production_root(tmp_path)
    with pytest.raises(ProductionDataError):
        _download(prod)
    root = init_root(tmp_path / "r")
    with pytest.raises(ConfigurationError, match="page_size"):
        _download(root, page_size=5)
    monkeypatch.delenv("OMNI_PSEUDONYM_KEY")
    with pytest.raises(ConfigurationError, match="OMNI_PSEUDONYM_KEY"):
        _download(root)
    monkeypatch.delenv("OMNI_X_BEARER_TOKEN")
    with pytest.raises(ConfigurationError, match="OMNI_X_BEARER_TOKEN"):
        _download(root)
    assert fake.count() == 0


def test_cli_download_x_prints_the_summary(
    fake: FakeX, research: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from omni_research.cli import main

    argv = [
        "download",
        "x",
        "--root",
        str(research),
        "--query",
        QUERY,
        "--symbols",
        "BTCUSDT",
        "--start",
        str(FIRST),
        "--end",
        str(FIRST),
        "--interval",
        "4h",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "x download into" in out and "2 file(s) written" in out
    assert fake.count() == 1  # one page of up to 100 posts


def test_progress_is_reported_after_every_posts_file(fake: FakeX, research: Path) -> None:
    seen: list[Any] = []
    summary = _download(research, progress=seen.append)
    assert [(p.done, p.total) for p in seen] == [(1, 2), (2, 2)]
    assert seen[-1].requests == summary.requests and seen[-1].bytes > 0


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in ("omni-data.toml", ".omni-write.lock")
    }


@pytest.mark.slow
def test_sigkill_mid_day_then_rerun_equals_an_uninterrupted_run(
    fake: FakeX, tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys
    import time

    from omni_research._manifest import read_manifest
    from omni_research.cli import main

    clean, killed = init_root(tmp_path / "clean"), init_root(tmp_path / "killed")
    args = [
        "--query",
        QUERY,
        "--symbols",
        ",".join(SYMBOLS),
        "--start",
        str(FIRST),
        "--end",
        str(LAST),
        "--page-size",
        "10",
    ]
    assert main(["download", "x", "--root", str(clean), *args]) == 0
    first_day = math.ceil(len(_served(fake, FIRST, FIRST)) / 10)
    served = fake.count()
    # the second day's second page hangs: the run is killed with a day half fetched
    fake.inject("slow", after=first_day + 1, wait=10.0)
    command = [
        sys.executable,
        "-m",
        "omni_research.cli",
        "download",
        "x",
        "--root",
        str(killed),
        *args,
    ]
    proc = subprocess.Popen(command, env=dict(os.environ), stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while fake.count() < served + first_day + 2:
            assert proc.poll() is None, "the download ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    partial = [n for n in _tree(killed) if n.startswith("historical/")]
    assert len(partial) == 3  # day one's posts and its two sentiment files, nothing of day two
    assert main(["download", "x", "--root", str(killed), *args]) == 0
    assert _tree(killed) == _tree(clean)
    assert read_manifest(killed).files == read_manifest(clean).files
