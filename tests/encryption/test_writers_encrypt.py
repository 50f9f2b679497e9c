"""Writers of an encrypted kind write it encrypted: a downloader, and the manifest policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import omni_research as omr
from omni_research import _crypto
from omni_research.exceptions import ConfigurationError, DataFormatError
from omni_research.sources import bybit, init_root
from omni_research.testing._fake_bybit import FakeBybit, make_open_interest
from tests.sources.conftest import FAST, serve


@pytest.fixture
def local_kms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    keys = tmp_path / "keys" / "keys.json"
    omr.create_local_key(keys, "laptop")
    monkeypatch.setenv("OMNI_KMS", keys.as_uri())
    return keys


@pytest.fixture
def fake_bybit(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBybit]:
    fake = FakeBybit(symbols=("BTCUSDT", "ETHUSDT"), start="2025-01-06", days=2)
    yield from serve(fake, monkeypatch, urls=["OMNI_BYBIT_API_URL"])


@pytest.mark.xdist_group("servers")
def test_downloader_writes_an_encrypted_kind_encrypted(
    fake_bybit: FakeBybit, local_kms: Path, tmp_path: Path
) -> None:
    root = init_root(tmp_path / "research")
    omr.encrypt_root(root, key_id="laptop", kinds=["open_interest"])  # policy, no file yet
    bybit.download(
        root,
        symbols=["BTCUSDT", "ETHUSDT"],
        start="2025-01-06",
        end="2025-01-07",
        kinds=["open_interest", "funding"],
        policy=FAST,
    )
    encrypted = sorted((root / "historical/open_interest").rglob("*.parquet"))
    plain = sorted((root / "historical/funding").rglob("*.parquet"))
    assert encrypted and all(_crypto.is_encrypted(p.read_bytes()) for p in encrypted)
    assert plain and not any(_crypto.is_encrypted(p.read_bytes()) for p in plain)
    catalog = omr.open_catalog(root)
    assert catalog.verify().is_empty()
    expected = make_open_interest(["BTCUSDT", "ETHUSDT"], start="2025-01-06", days=2)
    assert catalog.load("open_interest").equals(expected)


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('algorithm = "AES_GCM_CTR_V1"\n', "algorithm is 'AES_GCM_CTR_V1'; expected 'AES_GCM_V1'"),
        ('[encryption.kinds]\nwallets = "k1"\n', "names 'wallets'; expected data kinds"),
        ('[encryption.kinds]\norders = "a key"\n', "master key id 'a key' is not valid"),
    ],
)
def test_a_malformed_encryption_table_is_refused(
    tmp_path: Path, local_kms: Path, table: str, problem: str
) -> None:
    root = init_root(tmp_path / "research")
    manifest = root / "omni-data.toml"
    manifest.write_text(manifest.read_text() + "\n[encryption]\n" + table)
    with pytest.raises(ConfigurationError, match=problem):
        _crypto.read_policy(root)
    with pytest.raises(ConfigurationError, match=problem):  # a writer stops before writing
        omr.encrypt_root(root, key_id="k1", kinds=["orders"])


def test_encrypted_object_in_a_bucket_root_is_refused_with_the_reason() -> None:
    uri = "s3://research/root/test/fills/symbol=BTCUSDT/part-0.parquet"
    data = b"PARE" + b"\0" * 64 + b"PARE"
    for call in (_crypto.entry_for, _crypto.recorded_rows, _crypto.read_encrypted):
        with pytest.raises(
            DataFormatError, match=f"{uri}: encrypted Parquet in a root in a bucket"
        ):
            call(uri, data)
