"""The audit log as a hash chain: tampering is found and named, concurrent writers never
interleave or lose a record, refusals are recorded, and the CLI checks and filters it."""

from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing
import os
import re
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

import omni_research as omr
from omni_research._audit import (
    GENESIS,
    AuditLog,
    record_hash,
    show,
    verify_chain,
)
from omni_research.cli import main
from omni_research.exceptions import KeyAccessError, MissingKeyError, ProductionDataError


def _write(path: Path, n: int, **fields: Any) -> list[dict[str, Any]]:
    with AuditLog(path) as log:
        return [
            log.append(
                {
                    "time": f"2026-01-{1 + i % 28:02d}T10:00:00+00:00",
                    "event": "read",
                    "user": ["alice", "bob"][i % 2],
                    "kind": ["ohlcv", "fills", "news"][i % 3],
                    "rows": i,
                    **fields,
                }
            )
            for i in range(n)
        ]


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def test_each_record_chains_to_the_previous_by_an_independent_sha256(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    records = _write(log, 4)
    stored = [json.loads(line) for line in _lines(log)]
    assert stored == records
    assert [r["seq"] for r in stored] == [1, 2, 3, 4]
    assert stored[0]["prev"] == GENESIS
    for before, after in itertools.pairwise(stored):
        assert after["prev"] == before["hash"]
    for r in stored:  # recomputed here, without the kit's helper
        body = {k: v for k, v in r.items() if k != "hash"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert r["hash"] == hashlib.sha256(canonical.encode()).hexdigest()
    report = verify_chain(log)
    assert report.ok and report.records == 4 and report.head == stored[-1]["hash"]


def _edit(lines: list[str], k: int, rehash: bool) -> list[str]:
    record = json.loads(lines[k])
    record["rows"] = 10_000
    if rehash:
        record["hash"] = record_hash(record)
    return [*lines[:k], json.dumps(record) + "\n", *lines[k + 1 :]]


@pytest.mark.parametrize(
    ("tamper", "line", "match"),
    [
        (lambda ls: _edit(ls, 3, rehash=False), 4, r"record seq 4 was edited"),
        (lambda ls: _edit(ls, 3, rehash=True), 5, r"seq 5: it does not follow line 4"),
        (lambda ls: ls[:3] + ls[4:], 4, r"seq 5: 1 record\(s\) before it were deleted"),
        (lambda ls: ls[:2] + ls[5:], 3, r"seq 6: 3 record\(s\) before it were deleted"),
        (lambda ls: [*ls[:3], ls[4], ls[3], *ls[5:]], 4, r"seq 5: records were reordered"),
        (lambda ls: [ls[1], ls[0], *ls[2:]], 1, r"seq 2: records were reordered"),
        (lambda ls: [*ls[:6], ls[2], *ls[6:]], 7, r"seq 3: records were reordered"),
        (lambda ls: [*ls[:2], '{"user": "mallory"}\n', *ls[2:]], 3, r"not a chained audit"),
        (lambda ls: [*ls[:7], ls[7][:40]], 8, r"not a chained audit"),  # a cut last line
    ],
    ids=[
        "edit",
        "edit-and-rehash",
        "delete-one",
        "delete-three",
        "swap",
        "swap-first",
        "duplicate",
        "insert-foreign",
        "truncated-line",
    ],
)
def test_verify_names_the_first_bad_record(
    tmp_path: Path, tamper: Any, line: int, match: str
) -> None:
    log = tmp_path / "audit.jsonl"
    _write(log, 8)
    log.write_text("".join(tamper(_lines(log))))
    report = verify_chain(log)
    assert not report.ok
    assert report.line == line, report
    assert report.problem is not None
    assert re.search(match, report.problem), report.problem


def test_records_cut_from_the_end_are_found_against_a_head_kept_elsewhere(
    tmp_path: Path,
) -> None:
    log = tmp_path / "audit.jsonl"
    _write(log, 6)
    head = verify_chain(log).head
    _write(log, 2)  # the log grows: the old head is still inside it
    assert verify_chain(log, head=head).ok
    log.write_text("".join(_lines(log)[:5]))  # the last three records deleted
    assert verify_chain(log).ok  # a shorter chain is still a chain ...
    report = verify_chain(log, head=head)  # ... but the head kept elsewhere is gone
    assert not report.ok and "records at its end were deleted" in str(report.problem)


def test_a_partial_last_line_stays_visible_and_new_records_still_append(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _write(log, 3)
    with log.open("a") as handle:
        handle.write('{"v": 1, "seq": 4, "time"')  # a writer killed mid-line
    _write(log, 1)
    lines = _lines(log)
    assert len(lines) == 5 and lines[3] == '{"v": 1, "seq": 4, "time"\n'
    assert (
        json.loads(lines[4])["prev"] == hashlib.sha256(lines[3].rstrip("\n").encode()).hexdigest()
    )
    report = verify_chain(log)
    assert report.line == 4 and "not a chained audit record" in str(report.problem)


def _writer(path: str, n: int, who: int) -> None:
    with AuditLog(Path(path)) as log:
        for i in range(n):
            log.append({"event": "read", "user": f"w{who}", "rows": i, "pad": "x" * 3000})


def test_parallel_writers_never_interleave_or_lose_records(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    writers, each = 4, 60
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(log), each, w)) for w in range(writers)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join(timeout=120)
            assert p.exitcode == 0
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
    lines = _lines(log)
    assert len(lines) == writers * each
    records = [json.loads(line) for line in lines]  # no line is two records run together
    assert [r["seq"] for r in records] == list(range(1, writers * each + 1))
    for w in range(writers):  # each writer's records all there, in its own order
        assert [r["rows"] for r in records if r["user"] == f"w{w}"] == list(range(each))
    report = verify_chain(log)
    assert report.ok and report.records == writers * each


def test_threads_appending_through_their_own_handles_keep_one_chain(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    threads = [threading.Thread(target=_writer, args=(str(log), 25, w)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    records = [json.loads(line) for line in _lines(log)]
    assert [r["seq"] for r in records] == list(range(1, 201))
    assert verify_chain(log).ok


def _records() -> list[dict[str, Any]]:
    log = Path(os.environ["OMNI_AUDIT_LOG"])
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_guard_and_key_refusals_are_recorded_and_the_chain_holds(
    tmp_path: Path, small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prod = tmp_path / "prod"
    shutil.copytree(small_root, prod)
    manifest = prod / "omni-data.toml"
    manifest.write_text(manifest.read_text().replace('tier = "test"', 'tier = "production"'))
    with pytest.raises(ProductionDataError):
        omr.open_catalog(prod)
    with pytest.raises(ProductionDataError):
        omr.read(next(prod.rglob("*.parquet")), "ohlcv")
    research = tmp_path / "research"
    shutil.copytree(small_root, research)
    manifest = research / "omni-data.toml"
    manifest.write_text(manifest.read_text().replace('tier = "test"', 'tier = "research"'))
    monkeypatch.delenv("OMNI_PSEUDONYM_KEY", raising=False)
    with pytest.raises(MissingKeyError, match="OMNI_PSEUDONYM_KEY"):
        omr.open_catalog(research).load("fills")
    omr.open_catalog(research).load("ohlcv", symbols="BTCUSDT")
    records = _records()
    assert [(r["event"], r["reason"]) for r in records] == [
        ("refused", "guard"),
        ("refused", "guard"),
        ("refused", "key"),
        ("read", None),
    ]
    assert records[0]["root"] == str(prod)
    assert "declares tier production" in records[1]["detail"]
    assert records[2]["kind"] == "fills" and records[2]["error"] == "MissingKeyError"
    assert verify_chain(os.environ["OMNI_AUDIT_LOG"]).ok


def test_a_kms_key_refusal_is_recorded_as_a_key_refusal(
    tmp_path: Path, small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omni_research._at_rest import encrypt_root
    from omni_research._kms import create_local_key

    keys = tmp_path / "keys" / "keys.json"
    create_local_key(keys, "laptop-1")
    monkeypatch.setenv("OMNI_KMS", keys.as_uri())
    encrypt_root(small_root, key_id="laptop-1", kinds=["funding"])
    catalog = omr.open_catalog(small_root)
    rows = catalog.load("funding").height  # with the key: read and audited
    monkeypatch.delenv("OMNI_KMS")  # the key is gone
    with pytest.raises(KeyAccessError, match="laptop-1"):
        omr.open_catalog(small_root).load("funding")
    records = _records()[-2:]
    assert [(r["event"], r["reason"], r["rows"]) for r in records] == [
        ("read", None, rows),
        ("refused", "key", 0),
    ]
    assert records[1]["error"] == "KeyAccessError" and records[1]["kind"] == "funding"
    assert verify_chain(os.environ["OMNI_AUDIT_LOG"]).ok


def test_show_filters_by_user_kind_and_time(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _write(log, 30)
    every = show(log)
    assert every.height == 30 and every["seq"].to_list() == list(range(1, 31))
    alice = show(log, user="alice")
    assert alice["seq"].to_list() == list(range(1, 31, 2))
    fills = show(log, kind="fills", user="bob")
    assert fills["seq"].to_list() == [s for s in range(1, 31) if s % 2 == 0 and s % 3 == 2]
    # record i (seq i + 1) is stamped 2026-01-(1 + i % 28): days 3 and 4 are seq 3 and 4 only
    window = show(log, start="2026-01-03", end="2026-01-04")
    assert window["seq"].to_list() == [3, 4]
    assert window["time"].dt.day().to_list() == [3, 4]


def test_cli_audit_verify_and_show(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "audit.jsonl"
    _write(log, 5)
    monkeypatch.setenv("OMNI_AUDIT_LOG", str(log))
    assert main(["audit", "verify"]) == 0
    assert "5 record(s), chain intact" in capsys.readouterr().out
    assert main(["audit", "show", "--user", "bob", "--kind", "fills"]) == 0
    out = capsys.readouterr().out
    assert "1 record(s) of" in out and "bob" in out and "alice" not in out
    lines = _lines(log)
    log.write_text("".join([*lines[:1], *lines[2:]]))
    assert main(["audit", "verify", "--log", str(log)]) == 1
    assert "line 2: record seq 3: 1 record(s) before it were deleted" in capsys.readouterr().out
