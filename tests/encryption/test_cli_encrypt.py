"""``omni-research encrypt`` and ``rotate-key`` on a root, with a local key file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import omni_research as omr
from omni_research import _crypto, _manifest
from omni_research._kms import create_local_key
from omni_research.cli import main
from omni_research.config import settings
from omni_research.exceptions import DataWriteError

from .conftest import PSEUDONYM_KEY, SENSITIVE, plain_frames, research_copy


@pytest.fixture
def root(small_root_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    keys = tmp_path / "keys" / "keys.json"
    create_local_key(keys, "laptop-1")
    create_local_key(keys, "laptop-2")
    monkeypatch.setenv("OMNI_KMS", keys.as_uri())
    monkeypatch.setenv("OMNI_PSEUDONYM_KEY", PSEUDONYM_KEY)
    return research_copy(small_root_template, tmp_path / "root")


def _data_files(root: Path) -> list[Path]:
    return sorted(
        p
        for kind in SENSITIVE
        for p in root.glob(f"*/{kind}/**/*")
        if p.is_file() and not p.name.startswith(".")
    )


def test_encrypt_cli_interrupted_then_rerun_encrypts_every_file_once(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = plain_frames(root)
    originals = _data_files(root)
    assert {p.suffix for p in originals} == {".parquet", ".jsonl", ".gz"}  # text kinds too
    # fault injection: the process "dies" after its 4th file is moved into place, before
    # the manifest records it (the worst moment: data and manifest disagree)
    real = _manifest.record_files
    calls = {"n": 0}

    def dying(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 4:
            raise DataWriteError("injected crash after the move")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_manifest, "record_files", dying)
    assert main(["encrypt", "--root", str(root), "--key-id", "laptop-1"]) == 2
    first = capsys.readouterr()
    assert "injected crash" in first.err
    assert first.out.count("encrypted ") == 3
    assert (root / _manifest.JOURNAL_NAME).exists()  # the interrupted move is journaled
    monkeypatch.setattr(_manifest, "record_files", real)
    # `verify --repair` needs no key: it records the moved encrypted file from its side file
    kms_url = str(settings().kms)
    monkeypatch.delenv("OMNI_KMS")
    assert main(["verify", "--root", str(root), "--repair"]) == 1
    assert "recorded 1 file(s) from their data" in capsys.readouterr().out
    assert not (root / _manifest.JOURNAL_NAME).exists()
    # what verify still reports: exactly the files the interrupted run had not reached
    problems = omr.open_catalog(root).verify()
    assert problems["problem"].str.starts_with("not encrypted: ").all()
    assert problems.height == len(originals) - 4
    monkeypatch.setenv("OMNI_KMS", kms_url)

    assert main(["encrypt", "--root", str(root)]) == 0  # the key id is in the manifest now
    second = capsys.readouterr().out
    total = len(originals)
    assert second.count("\nencrypted /") + second.startswith("encrypted /") == total - 4
    assert f"encrypted {total - 4} file(s)" in second and "(4 already encrypted)" in second
    assert not (root / _manifest.JOURNAL_NAME).exists()

    files = _data_files(root)
    assert [p.suffix for p in files] == [".parquet"] * total  # jsonl / csv.gz converted
    assert all(_crypto.is_encrypted(p.read_bytes()) for p in files)
    assert not list(root.rglob("*.staged")) and not list(root.rglob("*.tmp"))
    for folder in {p.parent for p in files}:  # one key entry per file: none left over
        names = [p for p in files if p.parent == folder]
        assert len(_crypto.read_keys(folder)) == len(names)
    catalog = omr.open_catalog(root)
    assert catalog.verify().is_empty()
    for kind in SENSITIVE:
        assert catalog.load(kind).equals(plain[kind])  # decrypts once: not double-encrypted


@pytest.mark.parametrize("how", ["changed", "unrecorded"])
def test_encrypt_cli_refuses_a_file_the_manifest_does_not_vouch_for(
    root: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    source = sorted(root.glob("test/fills/**/*.parquet"))[0]
    if how == "changed":
        path = source
        data = bytearray(path.read_bytes())
        data[200] ^= 1
        path.write_bytes(bytes(data))
        problem = "sha256 differs from the manifest's, so it is not encrypted"
    else:
        path = root / "test/fills/symbol=XRPUSDT/date=2025-01-06/part-0.parquet"
        path.parent.mkdir(parents=True)
        path.write_bytes(source.read_bytes())
        problem = "not in the manifest, so it is not encrypted"
    assert main(["encrypt", "--root", str(root), "--key-id", "laptop-1", "--kinds", "fills"]) == 2
    assert f"{path}: {problem}" in capsys.readouterr().err
    assert not _crypto.is_encrypted(path.read_bytes())


def test_encrypt_cli_needs_a_key_id_for_new_kinds(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["encrypt", "--root", str(root), "--kinds", "orders,fills"]) == 2
    assert "orders, fills not encrypted yet; name the master key" in capsys.readouterr().err
    assert main(["encrypt", "--root", str(root), "--kinds", "orders", "--key-id", "nope"]) == 2
    assert "master key 'nope' is not in the local key file" in capsys.readouterr().err
    assert not any(
        _crypto.is_encrypted(p.read_bytes()) for p in root.glob("test/orders/**/*.parquet")
    )


def test_rotate_key_cli_keeps_every_data_file_byte_for_byte(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["encrypt", "--root", str(root), "--key-id", "laptop-1", "--kinds", "orders", "pnl"])
        == 0
    )
    files = _data_files(root)
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    capsys.readouterr()
    assert main(["rotate-key", "--root", str(root), "--new-key-id", "laptop-2"]) == 0
    out = capsys.readouterr().out
    assert "re-wrapped file keys under master key 'laptop-2'" in out and "orders: 6" in out
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files} == before
    policy = _crypto.read_policy(root)
    assert policy.kinds == {"orders": "laptop-2", "pnl": "laptop-2"}
    entries = [e for p in {f.parent for f in files} for e in _crypto.read_keys(p).values()]
    assert entries and {e.key_id for e in entries} == {"laptop-2"}
    assert omr.open_catalog(root).verify().is_empty()
    assert omr.open_catalog(root).load("orders").height > 0
