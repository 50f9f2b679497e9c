"""Writers of a data root: the write lock, concurrent writers, the journal, checked manifests."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest

import omni_research as omr
from omni_research import _manifest
from omni_research._catalog import DATA_TEST
from omni_research._writelock import LOCK_NAME, holds_lock, write_lock
from omni_research.exceptions import (
    ConfigurationError,
    DataWriteError,
    ProductionDataError,
)
from omni_research.io._atomic import write_text_atomic
from omni_research.io.bybit import import_bybit_trades

DUMP = DATA_TEST / "exports" / "imports" / "bybit" / "BTCUSDT2025-01-06.csv.gz"
SHA = "a" * 64


def _research_root(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "omni-data.toml").write_text('tier = "research"\nschema_version = "1.0"\n')
    return path


# --------------------------------------------------------------------------- the lock


def test_write_lock_serialises_threads_and_times_out_naming_the_root(tmp_path: Path) -> None:
    root = _research_root(tmp_path / "r")
    errors: list[BaseException] = []

    def other_writer() -> None:
        try:
            with write_lock(root, timeout=0.3):
                pass
        except BaseException as exc:
            errors.append(exc)

    with write_lock(root) as lock:
        assert lock == Path(os.path.realpath(root)) / LOCK_NAME
        assert lock.read_text().strip() == str(os.getpid())
        thread = threading.Thread(target=other_writer)
        start = time.monotonic()
        thread.start()
        thread.join()
        waited = time.monotonic() - start
    assert len(errors) == 1 and isinstance(errors[0], ConfigurationError)
    assert str(os.path.realpath(root)) in str(errors[0])
    assert "not free within 0.3 s" in str(errors[0])
    assert waited >= 0.3
    assert not lock.exists()  # the holder removes the file as it releases the lock


def test_write_lock_is_reentrant_in_one_thread(tmp_path: Path) -> None:
    with write_lock(tmp_path, timeout=0.1):
        with write_lock(tmp_path, timeout=0.1):
            assert holds_lock(tmp_path)
        assert holds_lock(tmp_path)
    assert not holds_lock(tmp_path)


def test_lock_left_by_a_killed_writer_does_not_block(tmp_path: Path) -> None:
    root = _research_root(tmp_path / "r")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from omni_research._writelock import write_lock\n"
            "with write_lock(sys.argv[1]):\n"
            "    print('locked', flush=True)\n"
            "    time.sleep(60)\n",
            str(root),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        busy = pytest.raises(ConfigurationError, match="being written by another process")
        with busy, write_lock(root, timeout=0.2):
            pass
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        assert (root / LOCK_NAME).exists()  # the file stays; the kernel dropped the lock
        with write_lock(root, timeout=2.0):
            assert holds_lock(root)
    finally:
        holder.kill()
        holder.wait(timeout=10)
        if holder.stdout is not None:
            holder.stdout.close()
    assert not (root / LOCK_NAME).exists()


def test_lock_of_a_missing_root_is_a_configuration_error(tmp_path: Path) -> None:
    missing = pytest.raises(ConfigurationError, match="not a folder; create the root first")
    with missing, write_lock(tmp_path / "nope"):
        pass


_WORKER = """
import sys, time
from pathlib import Path
go = Path(sys.argv[3])
while not go.exists():
    time.sleep(0.005)
from omni_research.io.bybit import import_bybit_trades
s = import_bybit_trades(sys.argv[1], sys.argv[2])
print(s.imported, s.duplicates, s.rejected)
"""


@pytest.mark.slow
@pytest.mark.xdist_group("writers")
def test_three_concurrent_writer_processes_lose_no_row(tmp_path: Path) -> None:
    root = _research_root(tmp_path / "research")
    text = gzip.decompress(DUMP.read_bytes()).decode()
    header, *lines = text.rstrip("\n").split("\n")
    thirds = []
    for i in range(3):
        part = tmp_path / f"third{i}.csv.gz"
        part.write_bytes(gzip.compress(("\n".join([header, *lines[i::3]]) + "\n").encode()))
        thirds.append(part)
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(part), str(root), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for part in thirds
    ]
    time.sleep(1.0)  # let them all import the kit and wait at the same line
    go.touch()
    results = [proc.communicate(timeout=300) for proc in procs]
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
    counts = [tuple(int(x) for x in out.split()) for out, _ in results]
    assert counts == [(len(lines[i::3]), 0, 0) for i in range(3)]
    source_ids = sorted(line.split(",")[6] for line in lines)
    trades = omr.open_catalog(root).load("trades")
    assert trades.height == len(lines) == 8651
    assert sorted(trades["trade_id"].to_list()) == source_ids  # each row exactly once
    assert trades["timestamp"].is_sorted()
    assert omr.open_catalog(root).verify().is_empty()
    leftovers = sorted(p.name for p in root.rglob("*") if p.name.startswith("."))
    assert leftovers == []


# --------------------------------------------------------------------------- guard on writes


def test_atomic_writer_refuses_production_targets(tmp_path: Path) -> None:
    prod = tmp_path / "prod"
    prod.mkdir()
    (prod / "omni-data.toml").write_text('tier = "production"\n')
    with pytest.raises(ProductionDataError, match="tier production"):
        write_text_atomic(prod / "historical" / "x.json", "[]")
    assert not (prod / "historical").exists()
    with pytest.raises(ProductionDataError, match="real_time"):
        write_text_atomic(tmp_path / "real_time" / "x.json", "[]")
    assert not (tmp_path / "real_time").exists()


def test_atomic_writer_os_error_names_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DataWriteError, match=r"could not write .*file/x\.json"):
        write_text_atomic(blocker / "x.json", "[]")


def test_record_files_refuses_a_file_outside_the_root(tmp_path: Path) -> None:
    root = _research_root(tmp_path / "r")
    outside = tmp_path / "x.json"
    outside.write_text("[]")
    with pytest.raises(ConfigurationError, match="outside the data root"):
        _manifest.record_files(root, [outside])
    assert "files" not in (root / "omni-data.toml").read_text()


# --------------------------------------------------------------------------- manifest checks


def _manifest_with(tmp_path: Path, entry: str, version: str = '"1.0"') -> Path:
    root = tmp_path / "m"
    root.mkdir()
    (root / "omni-data.toml").write_text(
        f'tier = "research"\nschema_version = {version}\n\n{entry}\n'
    )
    return root


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        (f'[files."/etc/passwd"]\nsha256 = "{SHA}"\nrows = 1', "absolute"),
        (f'[files."historical/../../x.parquet"]\nsha256 = "{SHA}"\nrows = 1', r"'\.\.' part"),
        (f'[files."real_time/ohlcv/x.parquet"]\nsha256 = "{SHA}"\nrows = 1', "real_time part"),
        (f'[files."REAL_TIME/x.parquet"]\nsha256 = "{SHA}"\nrows = 1', "real_time part"),
        (f'[files."a//x.parquet"]\nsha256 = "{SHA}"\nrows = 1', "empty part"),
        (f'[files."a/x\\u0000.parquet"]\nsha256 = "{SHA}"\nrows = 1', "NUL"),
        ('[files."a/x.parquet"]\nsha256 = "abc"\nrows = 1', "expected 64 hex digits"),
        ('[files."a/x.parquet"]\nsha256 = 5\nrows = 1', "expected 64 hex digits"),
        (f'[files."a/x.parquet"]\nsha256 = "{SHA}"', "rows is None"),
        (f'[files."a/x.parquet"]\nsha256 = "{SHA}"\nrows = "7"', "rows is '7'"),
        (f'[files."a/x.parquet"]\nsha256 = "{SHA}"\nrows = -1', "non-negative integer"),
        (f'[files."a/x.parquet"]\nsha256 = "{SHA}"\nrows = true', "non-negative integer"),
        (f'[files."a/x.parquet"]\nsha256 = "{SHA}"\nrows = 1.5', "non-negative integer"),
        ('files = "oops"', "expected a table"),
        ('[files]\n"a/x.parquet" = 3', "expected a table with sha256 and rows"),
    ],
)
def test_read_manifest_refuses_bad_file_entries(tmp_path: Path, entry: str, why: str) -> None:
    root = _manifest_with(tmp_path, entry)
    with pytest.raises(ConfigurationError, match=why) as exc:
        _manifest.read_manifest(root)
    assert "omni-data.toml" in str(exc.value)


def test_read_manifest_accepts_a_valid_entry(tmp_path: Path) -> None:
    root = _manifest_with(tmp_path, f'[files."historical/a.parquet"]\nsha256 = "{SHA}"\nrows = 0')
    manifest = _manifest.read_manifest(root)
    assert manifest.files == {"historical/a.parquet": _manifest.FileRecord(sha256=SHA, rows=0)}


@pytest.mark.parametrize(
    ("version", "ok"),
    [('"1.0"', True), ('"1.7"', True), ("1", True), ('"2.0"', False), ('"0.9"', False)],
)
def test_read_manifest_checks_the_schema_major_version(
    tmp_path: Path, version: str, ok: bool
) -> None:
    root = _manifest_with(tmp_path, "", version)
    if ok:
        assert _manifest.read_manifest(root).schema_version.split(".")[0] == "1"
    else:
        with pytest.raises(ConfigurationError, match=r"this kit reads schema version 1\.x"):
            _manifest.read_manifest(root)


@pytest.mark.parametrize("version", ['"one"', "true", "[1]"])
def test_read_manifest_refuses_a_malformed_schema_version(tmp_path: Path, version: str) -> None:
    with pytest.raises(ConfigurationError, match="expected a version string"):
        _manifest.read_manifest(_manifest_with(tmp_path, "", version))


def test_open_catalog_refuses_a_manifest_entry_pointing_outside(small_root: Path) -> None:
    manifest = small_root / "omni-data.toml"
    manifest.write_text(
        manifest.read_text() + f'\n[files."../outside.parquet"]\nsha256 = "{SHA}"\nrows = 1\n'
    )
    with pytest.raises(ConfigurationError, match=r"'\.\./outside\.parquet'.*'\.\.' part"):
        omr.open_catalog(small_root)


# --------------------------------------------------------------------------- repair


def test_repair_without_journal_changes_nothing(small_root: Path) -> None:
    before = (small_root / "omni-data.toml").read_bytes()
    report = _manifest.repair(small_root)
    assert not report.journal_found
    assert "no interrupted write" in str(report)
    assert (small_root / "omni-data.toml").read_bytes() == before


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ({"target": "../../etc/passwd", "staged": ".x"}, r"'\.\.' part"),
        ({"target": "/etc/passwd", "staged": ".x"}, "absolute"),
        ({"target": "real_time/a.parquet", "staged": ".x"}, "real_time part"),
        ({"target": "historical/a.parquet", "staged": "historical/b.parquet"}, "not a staging"),
    ],
)
def test_repair_refuses_a_forged_journal(small_root: Path, entry: dict[str, str], why: str) -> None:
    (small_root / _manifest.JOURNAL_NAME).write_text(json.dumps({"files": [entry]}))
    before = (small_root / "omni-data.toml").read_bytes()
    with pytest.raises(ConfigurationError, match=why):
        _manifest.repair(small_root)
    assert (small_root / "omni-data.toml").read_bytes() == before


def test_repair_refuses_an_unreadable_journal(small_root: Path) -> None:
    (small_root / _manifest.JOURNAL_NAME).write_text("{not json")
    with pytest.raises(ConfigurationError, match="unreadable write journal"):
        _manifest.repair(small_root)


def test_repair_never_accepts_a_changed_file_outside_the_journal(small_root: Path) -> None:
    target = next((small_root / "test" / "decisions").glob("*.jsonl"))
    target.write_bytes(target.read_bytes().replace(b"buy", b"BUY", 1))
    journaled = next((small_root / "historical" / "funding").rglob("*.parquet"))
    rel = journaled.relative_to(small_root).as_posix()
    staged = f"{Path(rel).parent.as_posix()}/.part-0.parquet.x.staged"  # already gone
    (small_root / _manifest.JOURNAL_NAME).write_text(
        json.dumps({"files": [{"target": rel, "staged": staged}]})
    )
    report = _manifest.repair(small_root)
    assert report.journal_found and list(report.recorded) == [rel]
    assert "unchanged" in str(report)
    problems = omr.open_catalog(small_root).verify()
    assert problems["file"].to_list() == [target.relative_to(small_root).as_posix()]
    assert problems["problem"].to_list() == ["sha256 mismatch"]
    assert not (small_root / _manifest.JOURNAL_NAME).exists()


def test_import_into_root_with_forged_journal_is_refused(tmp_path: Path) -> None:
    root = _research_root(tmp_path / "r")
    (root / _manifest.JOURNAL_NAME).write_text(
        json.dumps({"files": [{"target": "../x.parquet", "staged": ".x"}]})
    )
    with pytest.raises(ConfigurationError, match="not written by the kit"):
        import_bybit_trades(DUMP, root)
    assert not (root / "historical").exists()
    assert pl.Series([p.name for p in tmp_path.iterdir()]).sort().to_list() == ["r"]
