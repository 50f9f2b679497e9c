"""The KMS clients: a local key file (mode, owner, place) and a real KMIP server over TLS."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from omni_research._kms import (
    KmipKms,
    LocalKeyFile,
    create_local_key,
    kms_from_settings,
)
from omni_research.config import settings
from omni_research.exceptions import ConfigurationError, KeyAccessError
from omni_research.testing import KmipTestServer

# --------------------------------------------------------------------------- local key file


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "private" / "keys.json"
    create_local_key(path, "k1")
    return path


def test_create_local_key_writes_a_private_256_bit_key(key_file: Path) -> None:
    assert key_file.stat().st_mode & 0o777 == 0o600
    keys = json.loads(key_file.read_text())["keys"]
    assert list(keys) == ["k1"]
    assert len(bytes.fromhex(keys["k1"])) == 32
    create_local_key(key_file, "k2")
    assert sorted(json.loads(key_file.read_text())["keys"]) == ["k1", "k2"]
    assert key_file.stat().st_mode & 0o777 == 0o600
    with pytest.raises(ConfigurationError, match="already holds a master key 'k1'"):
        create_local_key(key_file, "k1")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o700, 0o400])
def test_local_key_file_with_another_mode_is_refused(key_file: Path, mode: int) -> None:
    key_file.chmod(mode)
    with pytest.raises(ConfigurationError, match=f"mode {mode:04o}.*chmod 600 {key_file}"):
        LocalKeyFile(key_file)


def test_local_key_file_whose_mode_changes_after_opening_is_refused(key_file: Path) -> None:
    kms = LocalKeyFile(key_file)
    wrapped = kms.wrap(b"k" * 32, "k1")
    key_file.chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        kms.unwrap(wrapped, "k1")


def test_local_key_file_of_another_owner_is_refused(key_file: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("changing a file's owner needs root")
    os.chown(key_file, 4242, 4242)
    with pytest.raises(ConfigurationError, match="owned by uid 4242, not by you"):
        LocalKeyFile(key_file)


def test_local_key_file_symlink_is_refused(key_file: Path, tmp_path: Path) -> None:
    link = tmp_path / "link.json"
    link.symlink_to(key_file)
    with pytest.raises(ConfigurationError, match="not a regular file"):
        LocalKeyFile(link)


def test_local_key_file_inside_a_data_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "cache").mkdir(parents=True)
    (root / "omni-data.toml").write_text('tier = "research"\nschema_version = "1.0"\n')
    with pytest.raises(ConfigurationError, match=f"inside the data root {root}"):
        create_local_key(root / "cache" / "keys.json", "k1")
    outside = tmp_path / "keys.json"
    create_local_key(outside, "k1")
    moved = root / "cache" / "keys.json"
    outside.rename(moved)  # a key file moved into a root afterwards
    with pytest.raises(ConfigurationError, match="inside the data root"):
        LocalKeyFile(moved)


def test_local_key_file_wraps_with_aes_gcm_under_the_named_key(key_file: Path) -> None:
    kms = LocalKeyFile(key_file)
    data_key = os.urandom(32)
    wrapped = kms.wrap(data_key, "k1")
    assert data_key not in wrapped
    # independent reference: the key from the file, AES-GCM from `cryptography`
    master = bytes.fromhex(json.loads(key_file.read_text())["keys"]["k1"])
    assert AESGCM(master).decrypt(wrapped[:12], wrapped[12:], b"k1") == data_key
    assert kms.unwrap(wrapped, "k1") == data_key


def test_local_key_file_refuses_wrong_key_and_damaged_wrapping(key_file: Path) -> None:
    kms = LocalKeyFile(key_file)
    create_local_key(key_file, "k2")
    wrapped = kms.wrap(os.urandom(32), "k1")
    with pytest.raises(KeyAccessError, match="does not open under master key 'k2'"):
        kms.unwrap(wrapped, "k2")
    damaged = wrapped[:-1] + bytes([wrapped[-1] ^ 1])
    with pytest.raises(KeyAccessError, match="does not open under master key 'k1'"):
        kms.unwrap(damaged, "k1")
    with pytest.raises(KeyAccessError, match="master key 'nope' is not in the local key file"):
        kms.wrap(os.urandom(32), "nope")


def test_kms_from_settings_reads_omni_kms(monkeypatch: pytest.MonkeyPatch, key_file: Path) -> None:
    monkeypatch.delenv("OMNI_KMS", raising=False)
    with pytest.raises(KeyAccessError, match="OMNI_KMS is not set"):
        kms_from_settings()
    monkeypatch.setenv("OMNI_KMS", key_file.as_uri())
    kms = kms_from_settings()
    assert isinstance(kms, LocalKeyFile) and kms.path == key_file
    monkeypatch.setenv("OMNI_KMS", "vault://127.0.0.1:8200")
    with pytest.raises(ConfigurationError, match="unknown scheme"):
        kms_from_settings()
    monkeypatch.setenv("OMNI_KMS", "kmip://127.0.0.1:5696")
    for name in ("OMNI_KMIP_CA", "OMNI_KMIP_CERT", "OMNI_KMIP_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="OMNI_KMIP_CA, OMNI_KMIP_CERT, OMNI_KMIP_KEY"):
        kms_from_settings()
    for name in ("OMNI_KMIP_CA", "OMNI_KMIP_CERT", "OMNI_KMIP_KEY"):
        monkeypatch.setenv(name, f"/etc/{name.lower()}.pem")
    kmip = kms_from_settings(settings())
    assert isinstance(kmip, KmipKms)
    assert (kmip.host, kmip.port, kmip.name) == ("127.0.0.1", 5696, "kmip://127.0.0.1:5696")


# ------------------------------------------------------------------------------------ KMIP


@pytest.mark.xdist_group("kms")
def test_kmip_wraps_on_the_server_with_the_master_key(kmip_server: KmipTestServer) -> None:
    creds = kmip_server.client_credentials()
    kms = kmip_server.kms(creds)
    key_id = kms.create_key()
    data_key = os.urandom(32)
    wrapped = kms.wrap(data_key, key_id)
    assert data_key not in wrapped
    assert kms.unwrap(wrapped, key_id) == data_key
    # independent reference: fetch the master key (its owner may) and decrypt by hand
    with kms.client() as client:
        master = client.get(key_id).value
    assert len(master) == 32
    decryptor = Cipher(algorithms.AES(master), modes.CBC(wrapped[:16])).decryptor()
    padded = decryptor.update(wrapped[16:]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    plain = unpadder.update(padded) + unpadder.finalize()
    assert plain[:32] == data_key and len(plain) == 48  # the key and its 16-byte check value


@pytest.mark.xdist_group("kms")
def test_kmip_other_master_key_does_not_open_a_wrapped_key(kmip_server: KmipTestServer) -> None:
    kms = kmip_server.kms()
    first, second = kms.create_key(), kms.create_key()
    wrapped = kms.wrap(os.urandom(32), first)
    with pytest.raises(KeyAccessError, match=f"master key '{second}'"):
        kms.unwrap(wrapped, second)


@pytest.mark.xdist_group("kms")
def test_kmip_client_certificate_of_an_unknown_ca_is_refused(
    kmip_server: KmipTestServer,
) -> None:
    key_id = kmip_server.kms().create_key()
    rogue = kmip_server.kms(kmip_server.client_credentials(trusted=False))
    with pytest.raises(KeyAccessError, match=r"cannot reach the key manager.*(unknown ca|SSL)"):
        rogue.wrap(os.urandom(32), key_id)


@pytest.mark.xdist_group("kms")
def test_kmip_server_not_signed_by_our_ca_is_refused(
    kmip_server: KmipTestServer, tmp_path: Path
) -> None:
    creds = kmip_server.client_credentials()
    other_ca = KmipTestServer(tmp_path)
    other_ca._make_ca()  # a CA that never signed the server's certificate
    client = KmipKms(
        host="127.0.0.1", port=kmip_server.port, ca=other_ca.ca_path, cert=creds.cert, key=creds.key
    )
    with pytest.raises(KeyAccessError, match="CERTIFICATE_VERIFY_FAILED"):
        client.wrap(os.urandom(32), "1")


@pytest.mark.xdist_group("kms")
def test_kmip_another_client_cannot_use_my_master_key(kmip_server: KmipTestServer) -> None:
    mine = kmip_server.kms()
    key_id = mine.create_key()
    wrapped = mine.wrap(os.urandom(32), key_id)
    mallory = kmip_server.kms(kmip_server.client_credentials("mallory"))
    with pytest.raises(KeyAccessError, match=f"refused to decrypt with master key '{key_id}'"):
        mallory.unwrap(wrapped, key_id)


@pytest.mark.xdist_group("kms")
def test_kmip_unreachable_server_raises_key_access_error(kmip_server: KmipTestServer) -> None:
    creds = kmip_server.client_credentials()
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there
    client = KmipKms(host="127.0.0.1", port=port, ca=creds.ca, cert=creds.cert, key=creds.key)
    with pytest.raises(
        KeyAccessError, match=f"cannot reach the key manager at kmip://127.0.0.1:{port}"
    ):
        client.wrap(os.urandom(32), "1")


@pytest.mark.xdist_group("kms")
def test_kmip_operations_share_one_connection_and_survive_a_broken_one(
    kmip_server: KmipTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    kms = kmip_server.kms()
    kms._drop()  # an earlier test of this worker may have left this identity's connection
    opened: list[object] = []
    real_open = KmipKms._open

    def counting(self: KmipKms) -> object:
        client = real_open(self)
        opened.append(client)
        return client

    monkeypatch.setattr(KmipKms, "_open", counting)
    key_id = kms.create_key()
    keys = [os.urandom(32) for _ in range(5)]
    wrapped = [kms.wrap(key, key_id) for key in keys]
    assert [kms.unwrap(w, key_id) for w in wrapped] == keys
    assert len(opened) == 1  # eleven operations, one TLS connection
    opened[0].close()  # type: ignore[attr-defined]  # the connection breaks under us
    assert kms.unwrap(wrapped[0], key_id) == keys[0]
    assert len(opened) == 2  # dropped and opened again, once
