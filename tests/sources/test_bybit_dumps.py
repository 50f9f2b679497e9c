"""Bybit's public dumps through the real HTTP client against a fake dump host on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from omni_research import _layout
from omni_research._manifest import read_manifest
from omni_research._writelock import LOCK_NAME
from omni_research.config import MANIFEST_NAME
from omni_research.exceptions import SourceError
from omni_research.io._readers import read_file
from omni_research.sources import LIMITS, Progress, init_root
from omni_research.sources._bybit_dumps import find_orderbook_dumps, find_trade_dumps
from omni_research.sources._http import HttpSession
from omni_research.sources._orderbook_rebuild import rebuild_orderbook
from omni_research.sources.bybit import download
from omni_research.testing._fake_bybit import FakeBybit
from omni_research.testing._fake_bybit_dumps import FakeBybitDumps, book_dump_zip, trade_dump

from .conftest import FAST, serve

pytestmark = pytest.mark.xdist_group("servers")

DAY1, DAY2 = dt.date(2025, 1, 6), dt.date(2025, 1, 7)
RANGE: dict[str, Any] = {"symbols": "BTCUSDT", "start": "2025-01-06", "end": "2025-01-07"}


@pytest.fixture
def dumps(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBybitDumps]:
    """Both dump hosts on one loopback server: BTCUSDT over two days, RPI from day two."""
    fake = FakeBybitDumps(symbols=("BTCUSDT",), start="2025-01-06", days=2)
    yield from serve(fake, monkeypatch, urls=["OMNI_BYBIT_PUBLIC_URL", "OMNI_BYBIT_ORDERBOOK_URL"])


def _trades_file(root: Path, day: dt.date) -> Path:
    return _layout.path_for(root, "trades", symbol="BTCUSDT", date=day)


def _book_file(root: Path, day: dt.date) -> Path:
    return _layout.path_for(root, "orderbook", symbol="BTCUSDT", date=day)


# --------------------------------------------------------------------------- discovery


def test_discovery_reads_the_derivatives_listing(dumps: FakeBybitDumps) -> None:
    with HttpSession(dumps.url, limits=LIMITS["bybit_public"], policy=FAST) as http:
        found = find_trade_dumps(http, "BTCUSDT", category="linear")
    assert {day: f.path for day, f in found.items()} == {
        DAY1: "/trading/BTCUSDT/BTCUSDT2025-01-06.csv.gz",
        DAY2: "/trading/BTCUSDT/BTCUSDT2025-01-07.csv.gz",
    }
    assert dumps.requests == ["/trading/BTCUSDT/"]  # one listing, no guessed names


def test_discovery_reads_the_spot_listing_daily_before_monthly(dumps: FakeBybitDumps) -> None:
    dumps.files["/spot/BTCUSDT/BTCUSDT_2025-01.csv.gz"] = b"monthly"
    dumps.files["/spot/BTCUSDT/BTCUSDT2025-01-08.csv.gz"] = b"a derivatives name in spot"
    with HttpSession(dumps.url, limits=LIMITS["bybit_public"], policy=FAST) as http:
        found = find_trade_dumps(http, "BTCUSDT", category="spot")
    assert found[DAY1].path == "/spot/BTCUSDT/BTCUSDT_2025-01-06.csv.gz"
    assert found[DAY2].path == "/spot/BTCUSDT/BTCUSDT_2025-01-07.csv.gz"
    monthly = found[dt.date(2025, 1, 8)]
    assert monthly.path == "/spot/BTCUSDT/BTCUSDT_2025-01.csv.gz"
    assert len(monthly.days) == 31 and sorted(found) == list(monthly.days)


def test_discovery_reads_the_orderbook_listing_with_its_depth(dumps: FakeBybitDumps) -> None:
    with HttpSession(dumps.url, limits=LIMITS["bybit_public"], policy=FAST) as http:
        found = find_orderbook_dumps(http, "BTCUSDT", category="linear")
        missing = find_orderbook_dumps(http, "ETHUSDT", category="linear", days=[DAY1])
    assert found[DAY1].path == "/orderbook/linear/BTCUSDT/2025-01-06_BTCUSDT_ob500.data.zip"
    assert found[DAY1].depth == 500
    # no index for the folder (404): the documented name, depth unknown until fetched
    assert missing[DAY1].path == "/orderbook/linear/ETHUSDT/2025-01-06_ETHUSDT_ob500.data.zip"
    assert missing[DAY1].depth is None


# --------------------------------------------------------------------------- trades


@pytest.mark.parametrize("category", ["linear", "spot"])
def test_trades_equal_the_rows_the_server_holds(
    dumps: FakeBybitDumps, research: Path, category: str
) -> None:
    header1 = trade_dump_header(dumps, category, DAY1)
    header2 = trade_dump_header(dumps, category, DAY2)
    assert not header1.lower().endswith(",rpi") and header2.lower().endswith(",rpi")
    summary = download(research, **RANGE, kinds=["trades"], category=category, policy=FAST)
    assert summary.rows == {"trades": 2 * dumps.trades_per_day}
    manifest = read_manifest(research).files
    for day in (DAY1, DAY2):
        path = _trades_file(research, day)
        stored = read_file(path, "trades")
        assert_frame_equal(stored, dumps.trades[(category, "BTCUSDT", day)])
        name = path.relative_to(research).as_posix()
        assert manifest[name].rows == dumps.trades_per_day
        assert manifest[name].sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert summary.files_written == (_trades_file(research, DAY1), _trades_file(research, DAY2))


def test_a_monthly_spot_dump_is_fetched_once_and_split_into_its_days(
    dumps: FakeBybitDumps, research: Path
) -> None:
    daily = [dumps.trade_path("spot", "BTCUSDT", day) for day in (DAY1, DAY2)]
    texts = [dumps._text[path][1] for path in daily]
    month = {key: texts[0][key] + texts[1][key] for key in texts[0]}
    for path in daily:
        del dumps.files[path]
    monthly = "/spot/BTCUSDT/BTCUSDT_2025-01.csv.gz"
    dumps.files[monthly] = trade_dump("BTCUSDT", month, category="spot", rpi=True)
    summary = download(research, **RANGE, kinds=["trades"], category="spot", policy=FAST)
    assert dumps.requests == ["/spot/BTCUSDT/", monthly]
    assert summary.files_written == (_trades_file(research, DAY1), _trades_file(research, DAY2))
    for day in (DAY1, DAY2):
        stored = read_file(_trades_file(research, day), "trades")
        assert_frame_equal(stored, dumps.trades[("spot", "BTCUSDT", day)])


def trade_dump_header(fake: FakeBybitDumps, category: str, day: dt.date) -> str:
    import gzip

    body = gzip.decompress(fake.files[fake.trade_path(category, "BTCUSDT", day)])
    return body.split(b"\n", 1)[0].decode()


def test_rerun_sends_no_request_and_skips_every_file(dumps: FakeBybitDumps, research: Path) -> None:
    first = download(research, **RANGE, kinds=["trades", "orderbook"], policy=FAST)
    assert len(first.files_written) == 4
    sent = len(dumps.requests)
    assert dumps.count("/", files_only=True) == 4  # one GET per file
    again = download(research, **RANGE, kinds=["trades", "orderbook"], policy=FAST)
    assert len(dumps.requests) == sent  # not even a listing
    assert again.requests == 0 and again.files_written == ()
    assert set(again.files_skipped) == set(first.files_written)


def test_progress_is_called_after_every_committed_file(
    dumps: FakeBybitDumps, research: Path
) -> None:
    seen: list[Progress] = []
    download(research, **RANGE, kinds=["trades", "orderbook"], policy=FAST, progress=seen.append)
    assert [(p.done, p.total) for p in seen] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert seen[0].unit == "trades linear BTCUSDT 2025-01-06"
    assert seen[-1].rows == sum(read_manifest(research).files[n].rows
                                for n in read_manifest(research).files)  # fmt: skip
    assert seen[-1].requests == len(dumps.requests)
    assert seen[-1].bytes > sum(len(dumps.files[p]) for p in dumps.requests if p in dumps.files)


def test_dump_and_rest_kinds_in_one_call_merge_their_summaries(
    dumps: FakeBybitDumps, fake_bybit: FakeBybit, research: Path
) -> None:
    summary = download(research, **RANGE, kinds=["trades", "funding"], policy=FAST)
    assert summary.rows["trades"] == 2 * dumps.trades_per_day
    assert summary.rows["funding"] == 6  # every 8 h over two days
    assert fake_bybit.count("/v5/market/funding/history") >= 2
    assert dumps.count("/trading/", files_only=True) == 2
    assert len(summary.files_written) == 4 and len(read_manifest(research).files) == 4


def test_a_new_day_fetches_only_that_day(dumps: FakeBybitDumps, research: Path) -> None:
    download(research, symbols="BTCUSDT", start="2025-01-06", end="2025-01-06",
             kinds=["trades"], policy=FAST)  # fmt: skip
    before = dumps.count("/trading/BTCUSDT/BTCUSDT", files_only=True)
    summary = download(research, **RANGE, kinds=["trades"], policy=FAST)
    assert dumps.count("/trading/BTCUSDT/BTCUSDT", files_only=True) == before + 1
    assert summary.files_written == (_trades_file(research, DAY2),)
    assert summary.files_skipped == (_trades_file(research, DAY1),)


# --------------------------------------------------------------------------- faults


@pytest.mark.parametrize("fault", ["http_500", "truncated", "corrupt_gzip"])
def test_transient_faults_are_retried_and_the_data_is_whole(
    dumps: FakeBybitDumps, research: Path, fault: str
) -> None:
    dumps.inject(fault, path=dumps.trade_path("linear", "BTCUSDT", DAY1))
    summary = download(research, **RANGE, kinds=["trades"], policy=FAST)
    assert summary.retries == 1
    assert dumps.count(dumps.trade_path("linear", "BTCUSDT", DAY1)) == 2
    stored = read_file(_trades_file(research, DAY1), "trades")
    assert_frame_equal(stored, dumps.trades[("linear", "BTCUSDT", DAY1)])


@pytest.mark.parametrize("fault", ["truncated", "corrupt_gzip"])
def test_damaged_book_zip_is_fetched_again(
    dumps: FakeBybitDumps, research: Path, fault: str
) -> None:
    dumps.inject(fault, path=dumps.book_path("linear", "BTCUSDT", DAY1))
    summary = download(research, **RANGE, kinds=["orderbook"], policy=FAST)
    assert summary.retries == 1 and len(summary.files_written) == 2


def test_changed_column_layout_is_refused_with_the_url_and_nothing_written(
    dumps: FakeBybitDumps, research: Path
) -> None:
    path = dumps.trade_path("linear", "BTCUSDT", DAY2)
    dumps.inject("layout", path=path)
    with pytest.raises(SourceError, match=r"BTCUSDT2025-01-07\.csv\.gz differs .*execPrice") as e:
        download(research, **RANGE, kinds=["trades"], policy=FAST)
    assert e.value.url.endswith(path)
    assert "1 file(s) were committed" in str(e.value)
    assert dumps.count(path) == 1  # a changed layout is not retried
    assert not _trades_file(research, DAY2).exists()
    assert [n for n in read_manifest(research).files if "2025-01-07" in n] == []
    assert not list(_trades_file(research, DAY2).parent.parent.glob("**/.*staged"))


def test_persistent_5xx_gives_up_naming_the_url_and_writes_nothing(
    dumps: FakeBybitDumps, research: Path
) -> None:
    path = dumps.trade_path("linear", "BTCUSDT", DAY1)
    dumps.inject("http_500", path=path, times=FAST.attempts)
    with pytest.raises(SourceError, match=rf"{path} failed {FAST.attempts} times.*HTTP 503"):
        download(research, **RANGE, kinds=["trades"], policy=FAST)
    assert read_manifest(research).files == {}
    assert not _trades_file(research, DAY1).exists()


def test_a_day_the_listing_lacks_is_a_gap_not_a_guess(
    dumps: FakeBybitDumps, research: Path
) -> None:
    summary = download(research, symbols="BTCUSDT", start="2025-01-05", end="2025-01-06",
                       kinds=["trades"], policy=FAST)  # fmt: skip
    assert summary.files_written == (_trades_file(research, DAY1),)
    assert len(summary.gaps) == 1 and "2025-01-05: no trade dump listed" in summary.gaps[0]
    assert not any("2025-01-05" in p for p in dumps.requests)


# --------------------------------------------------------------------------- order books


def test_orderbook_is_rebuilt_sampled_and_its_gap_reported(
    dumps: FakeBybitDumps, research: Path
) -> None:
    summary = download(research, **RANGE, kinds=["orderbook"], policy=FAST, book_interval="1s")
    for day in (DAY1, DAY2):
        stored = read_file(_book_file(research, day), "orderbook")
        lines = "".join(json.dumps(m) + "\n" for m in dumps.books[("linear", "BTCUSDT", day)])
        expected = rebuild_orderbook(lines.encode(), symbol="BTCUSDT", levels=5)
        assert stored.height > 3000  # one per second over the hour the stream spans
        assert_frame_equal(stored, expected.frame)
    gaps = [g for g in summary.gaps if "sequence gap" in g]
    assert len(gaps) == 2 and all("+1 updates lost" in g for g in gaps)
    assert any("depth 500" in n for n in summary.notes)


def test_orderbook_line_off_the_documented_shape_is_refused_with_the_url(
    dumps: FakeBybitDumps, research: Path
) -> None:
    path = dumps.book_path("linear", "BTCUSDT", DAY1)
    messages = [dict(m) for m in dumps.books[("linear", "BTCUSDT", DAY1)]]
    messages[7] = {**messages[7], "type": "update"}
    dumps.files[path] = book_dump_zip(messages, path.rsplit("/", 1)[1].removesuffix(".zip"))
    with pytest.raises(SourceError, match=r"ob500\.data\.zip differs .*message type 'update'"):
        download(research, **RANGE, kinds=["orderbook"], policy=FAST)
    assert dumps.count(path) == 1  # not retried
    assert read_manifest(research).files == {}
    assert not _book_file(research, DAY1).exists()


def test_orderbook_without_listing_falls_back_to_ob200(
    dumps: FakeBybitDumps, research: Path
) -> None:
    messages = dumps.books[("linear", "BTCUSDT", DAY1)]
    name = "2025-01-06_BTCUSDT_ob200.data"
    body = book_dump_zip([_depth(m, 200) for m in messages], name)
    for path in [p for p in dumps.files if p.startswith("/orderbook/")]:
        del dumps.files[path]
    dumps.files[f"/orderbook/linear/BTCUSDT/{name}.zip"] = body
    dumps.listing = lambda folder: None  # type: ignore[method-assign]  # a host without index
    summary = download(research, symbols="BTCUSDT", start="2025-01-06", end="2025-01-06",
                       kinds=["orderbook"], policy=FAST)  # fmt: skip
    assert summary.files_written == (_book_file(research, DAY1),)
    assert any("depth 200" in n for n in summary.notes)
    assert dumps.requests[-2:] == [
        "/orderbook/linear/BTCUSDT/2025-01-06_BTCUSDT_ob500.data.zip",
        f"/orderbook/linear/BTCUSDT/{name}.zip",
    ]


def _depth(message: dict[str, Any], depth: int) -> dict[str, Any]:
    return {**message, "topic": f"orderbook.{depth}.BTCUSDT"}


# --------------------------------------------------------------------------- the kill test


def _tree(root: Path) -> dict[str, str]:
    """Every file of a root but the lock and the manifest, with its sha256."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name not in (LOCK_NAME, MANIFEST_NAME):
            out[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


_SCRIPT = (
    "import sys\n"
    "from omni_research.sources.bybit import download\n"
    "download(sys.argv[1], symbols='BTCUSDT', start='2025-01-06', end='2025-01-07',\n"
    "         kinds=['trades', 'orderbook'])\n"
)


@pytest.mark.slow
def test_kill_mid_file_then_rerun_equals_an_uninterrupted_run(
    dumps: FakeBybitDumps, tmp_path: Path
) -> None:
    env = {**os.environ, "OMNI_BYBIT_PUBLIC_URL": dumps.url, "OMNI_BYBIT_ORDERBOOK_URL": dumps.url}
    killed = init_root(tmp_path / "killed")
    last = dumps.book_path("linear", "BTCUSDT", DAY2)
    dumps.inject("hang_half", path=last)
    process = subprocess.Popen([sys.executable, "-c", _SCRIPT, str(killed)], env=env)
    try:
        assert dumps.half_served.wait(120), "the download never reached the last file"
        assert process.poll() is None
        process.send_signal(signal.SIGKILL)
        assert process.wait(30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # killed mid-file: three files committed, nothing of the fourth
    assert len(read_manifest(killed).files) == 3
    assert not _book_file(killed, DAY2).exists()
    sent = dumps.count("/", files_only=True)
    rerun = subprocess.run([sys.executable, "-c", _SCRIPT, str(killed)], env=env, timeout=300)
    assert rerun.returncode == 0
    assert dumps.count("/", files_only=True) == sent + 1  # only the missing file again

    clean = init_root(tmp_path / "clean")
    download(clean, **RANGE, kinds=["trades", "orderbook"], policy=FAST)
    assert _tree(killed) == _tree(clean)
    assert len(_tree(clean)) == 4
    assert read_manifest(killed).files == read_manifest(clean).files


def test_frames_are_sorted_like_the_server_day(dumps: FakeBybitDumps) -> None:
    # the fake's own promise the tests rely on: a day's trades in time order
    frame = dumps.trades[("linear", "BTCUSDT", DAY1)]
    assert frame["timestamp"].is_sorted()
    assert frame.select(pl.col("timestamp").dt.date().unique()).item() == DAY1
    assert trade_dump("BTCUSDT", {"timestamp": [], "price": [], "size": [], "side": [],
                                  "id": [], "rpi": []})[:2] == b"\x1f\x8b"  # fmt: skip
