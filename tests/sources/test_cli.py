"""``omni-research init-root`` and ``omni-research download bybit``, and a download killed
with SIGKILL mid-run, then rerun, against an uninterrupted run byte for byte."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from omni_research.cli import main
from omni_research.testing._fake_bybit import FakeBybit

pytestmark = pytest.mark.xdist_group("servers")

ARGS = ["--symbols", "BTCUSDT,ETHUSDT", "--start", "2025-01-06", "--end", "2025-01-07"]


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in ("omni-data.toml", ".omni-write.lock")
    }


def _files_table(root: Path) -> str:
    text = (root / "omni-data.toml").read_text()
    return text[text.index("\n[files.") :]


def test_init_root_then_download_prints_the_summary(
    fake_bybit: FakeBybit, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "r"
    assert main(["init-root", str(root)]) == 0
    assert f"research root ready at {root}" in capsys.readouterr().out
    assert main(["download", "bybit", "--root", str(root), *ARGS, "--kinds", "funding"]) == 0
    out = capsys.readouterr().out
    assert "bybit download into" in out and "rows funding 15" in out
    assert "interval changed from 8h to 4h" in out


def test_download_stopped_by_a_ban_exits_2_saying_when_to_resume(
    fake_bybit: FakeBybit, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "r"
    main(["init-root", str(root)])
    fake_bybit.inject("ban")
    assert main(["download", "bybit", "--root", str(root), *ARGS]) == 2
    out = capsys.readouterr().out
    assert "HTTP 403" in out and "Run it again after" in out


def test_download_into_a_test_root_is_refused(
    fake_bybit: FakeBybit, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["init-root", str(tmp_path / "t"), "--tier", "test"])
    assert main(["download", "bybit", "--root", str(tmp_path / "t"), *ARGS]) == 2
    assert "'test'-tier root" in capsys.readouterr().err
    assert fake_bybit.count() == 0


@pytest.mark.slow
def test_sigkill_mid_download_then_rerun_equals_an_uninterrupted_run(
    fake_bybit: FakeBybit, tmp_path: Path
) -> None:
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    for root in (clean, killed):
        assert main(["init-root", str(root)]) == 0
    kinds = ["--kinds", "ohlcv,funding,open_interest"]
    assert main(["download", "bybit", "--root", str(clean), *ARGS, *kinds]) == 0
    served, funding = fake_bybit.count(), fake_bybit.count("/v5/market/funding")
    # the first funding answer hangs, so the run is killed between two committed units
    # with a request in flight
    fake_bybit.inject("slow", path="/v5/market/funding", wait=5.0)
    command = [sys.executable, "-m", "omni_research.cli", "download", "bybit",
               "--root", str(killed), *ARGS, *kinds]  # fmt: skip
    proc = subprocess.Popen(command, env=dict(os.environ), stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while fake_bybit.count("/v5/market/funding") == funding:
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
    partial = _tree(killed)
    assert 0 < len([n for n in partial if n.startswith("historical/")]) < len(_tree(clean))
    assert fake_bybit.count() > served
    assert main(["download", "bybit", "--root", str(killed), *ARGS, *kinds]) == 0
    assert _tree(killed) == _tree(clean)
    assert _files_table(killed) == _files_table(clean)


def test_download_runs_the_quality_report_on_the_new_bars(
    fake_bybit: FakeBybit, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "r"
    main(["init-root", str(root)])
    argv = ["download", "bybit", "--root", str(root), *ARGS, "--kinds", "ohlcv"]
    assert main([*argv, "--prices", "last"]) == 0
    out = capsys.readouterr().out
    assert "quality: 1 finding(s) in the downloaded bars" in out
    assert re.search(r"ETHUSDT\s*┆\s*missing_bars\s*┆\s*warning\s*┆\s*2025-01-06 10:41:00", out)
    assert main([*argv, "--no-quality"]) == 0
    assert "quality:" not in capsys.readouterr().out


def test_download_bybit_dumps_with_a_book_interval_reports_quality_and_sequence_gaps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from omni_research.testing._fake_bybit_dumps import FakeBybitDumps

    fake = FakeBybitDumps(symbols=("BTCUSDT",), start="2025-01-06", days=2)
    fake.start_server()
    try:
        monkeypatch.setenv("OMNI_BYBIT_PUBLIC_URL", fake.url)
        monkeypatch.setenv("OMNI_BYBIT_ORDERBOOK_URL", fake.url)
        root = tmp_path / "r"
        main(["init-root", str(root)])
        argv = ["download", "bybit", "--root", str(root), "--symbols", "BTCUSDT",
                "--start", "2025-01-06", "--end", "2025-01-07",
                "--kinds", "trades,orderbook", "--book-interval", "1m"]  # fmt: skip
        assert main(argv) == 0
    finally:
        fake.stop()
    out = capsys.readouterr().out
    assert "every 1m" in out  # the rebuilt books are sampled at the chosen interval
    assert re.search(r"quality: (no findings|\d+ finding\(s\)) in the downloaded trades", out)
    assert re.search(r"quality: (no findings|\d+ finding\(s\)) in the downloaded order books", out)
    assert "quality: 2 order-book sequence gap(s) reported by the download" in out
    assert out.count("sequence gap") >= 3  # the heading and one line per day


def test_download_help_lists_the_dump_kinds_and_the_book_interval(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["download", "bybit", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "trades,orderbook" in out and "--book-interval" in out
