"""Encryption at rest: sensitive kinds stored as Parquet modular encryption, keys in KMIP.

One research-tier copy of the small test root is encrypted through a real KMIP server over
TLS (module fixture); tests that change a root work on their own copy of it.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import os
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import omni_research as omr
from omni_research import _crypto
from omni_research._at_rest import encrypt_root, rotate_master_key
from omni_research._manifest import measure, read_manifest
from omni_research.exceptions import (
    ConfigurationError,
    DataFormatError,
    KeyAccessError,
)
from omni_research.io._atomic import write_csv_atomic, write_parquet_atomic
from omni_research.io.bybit import import_bybit_trades
from omni_research.sources import init_root
from omni_research.testing import KmipTestServer

from .conftest import PSEUDONYM_KEY, SENSITIVE, plain_frames, research_copy

pytestmark = pytest.mark.xdist_group("kms")


@dataclasses.dataclass(frozen=True)
class Encrypted:
    root: Path
    plain: dict[str, pl.DataFrame]
    key_id: str
    env: dict[str, str]
    server: KmipTestServer


@pytest.fixture(scope="module")
def encrypted(
    kmip_server: KmipTestServer,
    small_root_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Encrypted]:
    """A research root whose sensitive kinds were encrypted under a KMIP master key."""
    base = tmp_path_factory.mktemp("encrypted")
    env = kmip_server.environ(kmip_server.client_credentials())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMNI_AUDIT_LOG", str(base / "audit.jsonl"))
        mp.setenv("OMNI_PSEUDONYM_KEY", PSEUDONYM_KEY)
        root = research_copy(small_root_template, base / "root")
        plain = plain_frames(root)
        for name, value in env.items():
            mp.setenv(name, value)
        key_id = kmip_server.kms().create_key()
        encrypt_root(root, key_id=key_id)
    yield Encrypted(root=root, plain=plain, key_id=key_id, env=env, server=kmip_server)


@pytest.fixture
def with_kms(encrypted: Encrypted, monkeypatch: pytest.MonkeyPatch) -> Encrypted:
    for name, value in encrypted.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("OMNI_PSEUDONYM_KEY", PSEUDONYM_KEY)
    return encrypted


@pytest.fixture
def without_kms(encrypted: Encrypted, monkeypatch: pytest.MonkeyPatch) -> Encrypted:
    for name in encrypted.env:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMNI_PSEUDONYM_KEY", PSEUDONYM_KEY)
    return encrypted


def _files(root: Path, kind: str) -> list[Path]:
    return sorted(p for p in root.glob(f"*/{kind}/**/*.parquet") if not p.name.startswith("."))


@pytest.mark.parametrize("kind", SENSITIVE)
def test_encrypted_kind_reads_back_equal_to_the_plaintext(with_kms: Encrypted, kind: str) -> None:
    loaded = omr.open_catalog(with_kms.root).load(kind)
    assert loaded.height == with_kms.plain[kind].height > 0
    assert loaded.equals(with_kms.plain[kind])


@pytest.mark.parametrize("kind", SENSITIVE)
def test_encrypted_files_are_opaque_without_keys(with_kms: Encrypted, kind: str) -> None:
    files = _files(with_kms.root, kind)
    assert files, f"no {kind} file"
    plain = with_kms.plain[kind]
    symbols = set(plain["symbol"].unique().to_list()) if "symbol" in plain.columns else set()
    for path in files:
        data = path.read_bytes()
        assert data[:4] == b"PARE" and data[-4:] == b"PARE"
        with pytest.raises(OSError, match="encrypted"):  # pyarrow, independent of the kit
            pq.read_table(pa.BufferReader(data))
        with pytest.raises(pl.exceptions.ComputeError, match="ncrypt"):  # Polars' own reader
            pl.read_parquet(io.BytesIO(data))
        for text in symbols | {"BTCUSDT", "ETHUSDT", "account_id", "symbol"}:
            assert text.encode() not in data, f"{text!r} in plaintext in {path}"
        key, _entry = _crypto.file_key(path, data)
        side = (path.parent / _crypto.KEYS_NAME).read_bytes()
        for form in (key, key.hex().encode(), base64.b64encode(key)):
            assert form not in data and form not in side  # the file key is never stored


def test_account_ids_are_not_in_the_ciphertext(
    with_kms: Encrypted, small_root_template: Path
) -> None:
    # the raw account ids, from the plaintext template (test tier: not pseudonymised)
    raw = omr.open_catalog(small_root_template).load("orders")["account_id"].unique().to_list()
    assert raw
    for path in _files(with_kms.root, "orders"):
        data = path.read_bytes()
        assert not [acct for acct in raw if acct.encode() in data]


def test_manifest_names_encrypted_kinds_and_their_master_key(encrypted: Encrypted) -> None:
    text = (encrypted.root / "omni-data.toml").read_text()
    table = tomllib.loads(text)["encryption"]
    assert table == {
        "algorithm": "AES_GCM_V1",
        "kinds": dict.fromkeys(sorted(SENSITIVE), encrypted.key_id),
    }
    assert "wrapped" not in text and "BEGIN" not in text


def test_verify_needs_no_key(without_kms: Encrypted) -> None:
    catalog = omr.open_catalog(without_kms.root)
    assert catalog.verify().is_empty()
    manifest = read_manifest(without_kms.root)
    for kind in SENSITIVE:
        files = _files(without_kms.root, kind)
        rows = sum(measure(path).rows for path in files)
        assert rows == without_kms.plain[kind].height
        for path in files:
            name = path.relative_to(without_kms.root).as_posix()
            assert manifest.files[name].sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("kind", ["orders", "decisions"])
def test_read_without_a_kms_raises_key_access_error_naming_file_and_key(
    without_kms: Encrypted, kind: str
) -> None:
    path = _files(without_kms.root, kind)[0]
    with pytest.raises(
        KeyAccessError,
        match=rf"{path}: encrypted under master key "
        rf"'{without_kms.key_id}'.*OMNI_KMS is not set",
    ):
        omr.open_catalog(without_kms.root).load(kind)
    with pytest.raises(KeyAccessError, match=str(path)):
        omr.read(path, kind)
    # both refusals are in the audit trail as key refusals (the security work's records)
    log = Path(os.environ["OMNI_AUDIT_LOG"]).read_text().splitlines()
    refused = [json.loads(line) for line in log]
    assert [(r["kind"], r["reason"], r["error"]) for r in refused] == [
        (kind, "key", "KeyAccessError")
    ] * 2


def test_read_with_a_certificate_not_allowed_the_key_raises_key_access_error(
    encrypted: Encrypted, monkeypatch: pytest.MonkeyPatch
) -> None:
    mallory = encrypted.server.client_credentials("mallory")
    for name, value in encrypted.server.environ(mallory).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("OMNI_PSEUDONYM_KEY", PSEUDONYM_KEY)
    path = _files(encrypted.root, "fills")[0]
    with pytest.raises(KeyAccessError, match=rf"{path}: .*'{encrypted.key_id}'.*refused"):
        omr.read(path, "fills")


@pytest.mark.parametrize("where", [0.25, 0.5, 0.9, -40])
def test_tampered_ciphertext_is_detected_not_decoded(with_kms: Encrypted, where: float) -> None:
    path = _files(with_kms.root, "fills")[0]
    data = path.read_bytes()
    key, _entry = _crypto.file_key(path, data)
    at = int(len(data) * where) if where > 0 else len(data) + int(where)
    tampered = bytearray(data)
    tampered[at] ^= 0x01
    # GCM itself, bypassing the sha256 check: the changed ciphertext does not authenticate
    with pytest.raises(DataFormatError, match=rf"{path}: encrypted Parquet that does not decrypt"):
        _crypto.decrypt_table(bytes(tampered), key=key, source=str(path))
    assert _crypto.decrypt_table(data, key=key, source=str(path)).num_rows > 0  # the original


def test_tampered_file_in_a_root_is_refused_by_the_catalog(
    with_kms: Encrypted, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    shutil.copytree(with_kms.root, root)
    path = _files(root, "positions")[0]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x80
    path.write_bytes(bytes(data))
    with pytest.raises(DataFormatError, match=str(path)):
        omr.open_catalog(root).load("positions")
    problems = omr.open_catalog(root).verify()
    assert problems["problem"].to_list() == ["sha256 mismatch"]


def test_rotate_key_rewraps_without_rewriting_and_survives_the_old_key(
    with_kms: Encrypted, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    shutil.copytree(with_kms.root, root)
    files = [p for kind in SENSITIVE for p in _files(root, kind)]
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    manifest_files = read_manifest(root).files
    old = with_kms.server.kms().create_key()
    rotate_master_key(root, new_key_id=old)  # onto a key we then revoke...
    kms = with_kms.server.kms()
    new = kms.create_key()
    report = rotate_master_key(root, new_key_id=new)
    assert sum(report.rewrapped.values()) == len(files)
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files} == before
    after = read_manifest(root)
    assert after.files == manifest_files
    assert after.tables["encryption"]["kinds"] == dict.fromkeys(sorted(SENSITIVE), new)
    from kmip.core import enums  # type: ignore[import-untyped]

    with kms.client() as client:
        client.revoke(enums.RevocationReasonCode.KEY_COMPROMISE, old)
        client.destroy(old)
    with pytest.raises(KeyAccessError):  # the old key is really gone from the server
        kms.unwrap(kms.wrap(b"x" * 32, new), old)
    catalog = omr.open_catalog(root)
    for kind in SENSITIVE:
        assert catalog.load(kind).equals(with_kms.plain[kind])
    assert catalog.verify().is_empty()


def test_rotate_key_of_a_kind_not_encrypted_is_refused(with_kms: Encrypted) -> None:
    with pytest.raises(ConfigurationError, match="ohlcv not encrypted in this root"):
        rotate_master_key(with_kms.root, new_key_id="9", kinds=["ohlcv"])


def test_importer_writes_encrypted_kinds_encrypted(
    with_kms: Encrypted, small_root_template: Path, tmp_path: Path
) -> None:
    dump = next((small_root_template / "exports/imports/bybit").glob("*.csv.gz"))
    plain_root = init_root(tmp_path / "plain")
    import_bybit_trades(dump, plain_root)
    root = init_root(tmp_path / "enc")
    encrypt_root(root, key_id=with_kms.key_id, kinds=["trades"])  # an empty root: policy only
    first = import_bybit_trades(dump, root)
    again = import_bybit_trades(dump, root)  # merges with the encrypted partition
    assert first.imported > 0 and again.imported == 0
    files = _files(root, "trades")
    assert files and all(_crypto.is_encrypted(p.read_bytes()) for p in files)
    catalog = omr.open_catalog(root)
    assert catalog.verify().is_empty()
    assert catalog.load("trades").equals(omr.open_catalog(plain_root).load("trades"))


def test_plain_csv_of_an_encrypted_kind_is_refused(with_kms: Encrypted, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(with_kms.root, root)
    frame = with_kms.plain["agent_metrics"]
    with pytest.raises(ConfigurationError, match="encrypted in this data root"):
        write_csv_atomic(frame, root / "test/agent_metrics/more.csv")
    target = root / "test/agent_metrics/more.parquet"
    write_parquet_atomic(frame, target)
    assert _crypto.is_encrypted(target.read_bytes())


def test_a_scan_and_repeated_loads_unwrap_each_file_key_once(
    with_kms: Encrypted, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omni_research._kms import KmipKms

    calls: list[str] = []
    real = KmipKms.unwrap

    def counting(self: KmipKms, wrapped: bytes, key_id: str) -> bytes:
        calls.append(key_id)
        return real(self, wrapped, key_id)

    monkeypatch.setattr(KmipKms, "unwrap", counting)
    _crypto.forget_keys()
    catalog = omr.open_catalog(with_kms.root)
    files = catalog.files("fills")
    for _ in range(3):  # footer check at scan, read at collect, three times
        assert catalog.load("fills").equals(with_kms.plain["fills"])
    assert len(calls) == len(files)
    _crypto.forget_keys()
    catalog.load("fills")
    assert len(calls) == 2 * len(files)  # forgotten: asked again


def test_kinds_under_keys_of_different_clients_read_only_with_their_own_key(
    encrypted: Encrypted, small_root_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # keys per role: the KMS lets each client certificate use only its own master keys
    server = encrypted.server
    alice, bob = server.client_credentials("alice"), server.client_credentials("bob")
    alice_kms, bob_kms = server.kms(alice), server.kms(bob)
    monkeypatch.setenv("OMNI_PSEUDONYM_KEY", PSEUDONYM_KEY)
    root = research_copy(small_root_template, tmp_path / "root")
    encrypt_root(root, key_id=alice_kms.create_key(), kinds=["orders"], kms=alice_kms)
    encrypt_root(root, key_id=bob_kms.create_key(), kinds=["posts"], kms=bob_kms)
    for me, mine, theirs in ((alice, "orders", "posts"), (bob, "posts", "orders")):
        for name, value in server.environ(me).items():
            monkeypatch.setenv(name, value)
        catalog = omr.open_catalog(root)
        assert catalog.load(mine).equals(encrypted.plain[mine])
        with pytest.raises(KeyAccessError, match="refused to decrypt"):
            catalog.load(theirs)
