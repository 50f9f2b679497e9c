"""The object store under a root URI, against a real S3 server (SeaweedFS) on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import threading
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import omni_research as omr
from omni_research._manifest import (
    FileRecord,
    Manifest,
    read_remote_manifest,
    record_remote,
    write_remote_manifest,
)
from omni_research._store import ObjectStore
from omni_research._sync import sync
from omni_research.config import MANIFEST_NAME
from omni_research.exceptions import (
    ConfigurationError,
    DataFormatError,
    ProductionDataError,
    StorageError,
    WriteConflictError,
)
from omni_research.testing import SeaweedServer

pytestmark = pytest.mark.xdist_group("objectstore")

SHA_A, SHA_B = "a" * 64, "b" * 64


def _store(seaweed: SeaweedServer, uri: str, **changes: str) -> ObjectStore:
    return ObjectStore(uri, storage_options={**seaweed.storage_options, **changes})


def test_put_get_list_round_trip_under_the_prefix(seaweed: SeaweedServer, bucket_root: str) -> None:
    store = _store(seaweed, bucket_root)
    store.put("historical/a.bin", b"alpha")
    store.put("historical/b/c.bin", b"gamma!")
    other = _store(seaweed, bucket_root + "-sibling")  # a prefix that starts the same
    other.put("x.bin", b"x")
    assert [(o.key, o.size) for o in store.list()] == [
        ("historical/a.bin", 5),
        ("historical/b/c.bin", 6),
    ]
    assert store.get("historical/b/c.bin") == b"gamma!"
    # boto3 sees the same object under the full key: the prefix is really the bucket's
    key = bucket_root.split(f"{seaweed.bucket}/", 1)[1] + "/historical/a.bin"
    body = seaweed.client().get_object(Bucket=seaweed.bucket, Key=key)["Body"].read()  # type: ignore[attr-defined]
    assert body == b"alpha"


def test_wrong_secret_is_refused_naming_the_uri_and_not_the_secret(
    seaweed: SeaweedServer, bucket_root: str
) -> None:
    _store(seaweed, bucket_root).put("a.bin", b"1")
    bad = _store(seaweed, bucket_root, aws_secret_access_key="wrong-secret-value")
    with pytest.raises(StorageError, match="access denied") as info:
        bad.get("a.bin")
    assert f"{bucket_root}/a.bin" in str(info.value)
    assert "wrong-secret-value" not in str(info.value) + repr(bad)
    assert seaweed.secret_key not in repr(_store(seaweed, bucket_root))


def test_missing_bucket_names_the_bucket(seaweed: SeaweedServer) -> None:
    store = _store(seaweed, "s3://no-such-bucket/root")
    with pytest.raises(StorageError, match=r"s3://no-such-bucket/root: bucket 'no-such-bucket'"):
        store.list()


def test_connection_refused_is_a_storage_error(seaweed: SeaweedServer) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = _store(seaweed, "s3://research/x", aws_endpoint_url=f"http://127.0.0.1:{port}")
    with pytest.raises(StorageError, match=r"s3://research/x/m: could not read it"):
        store.get("m")


def test_create_only_put_refuses_an_existing_object(
    seaweed: SeaweedServer, bucket_root: str
) -> None:
    store = _store(seaweed, bucket_root)
    store.put_if("m", b"one", e_tag=None)
    with pytest.raises(WriteConflictError, match="another writer"):
        store.put_if("m", b"two", e_tag=None)
    assert store.get("m") == b"one"


def _manifest(files: dict[str, str]) -> Manifest:
    return Manifest(
        tier="research", files={n: FileRecord(sha256=s, rows=1) for n, s in files.items()}
    )


def test_a_stale_manifest_write_is_refused_and_a_retry_keeps_both_writers_files(
    seaweed: SeaweedServer, bucket_root: str
) -> None:
    store = _store(seaweed, bucket_root)
    write_remote_manifest(store, _manifest({}), e_tag=None)
    _first, tag_1 = read_remote_manifest(store)
    _second, tag_2 = read_remote_manifest(store)
    assert tag_1 == tag_2
    write_remote_manifest(store, _manifest({"historical/a.parquet": SHA_A}), e_tag=tag_1)
    with pytest.raises(WriteConflictError, match=f"{bucket_root}/{MANIFEST_NAME}"):
        write_remote_manifest(store, _manifest({"historical/b.parquet": SHA_B}), e_tag=tag_2)
    assert set(read_remote_manifest(store)[0].files) == {"historical/a.parquet"}
    record_remote(store, {"historical/b.parquet": FileRecord(sha256=SHA_B, rows=1)})
    assert set(read_remote_manifest(store)[0].files) == {
        "historical/a.parquet",
        "historical/b.parquet",
    }


def test_concurrent_writers_lose_no_file(seaweed: SeaweedServer, bucket_root: str) -> None:
    store = _store(seaweed, bucket_root)
    write_remote_manifest(store, _manifest({}), e_tag=None)
    names = [f"historical/w{i}.parquet" for i in range(6)]
    start = threading.Barrier(len(names))
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            start.wait()
            record_remote(store, {name: FileRecord(sha256=SHA_A, rows=1)}, retries=20)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert set(read_remote_manifest(store)[0].files) == set(names)


def test_a_root_without_manifest_is_not_a_data_root(
    seaweed: SeaweedServer, bucket_root: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"{bucket_root} is not a data root"):
        read_remote_manifest(_store(seaweed, bucket_root))


def test_a_production_manifest_above_the_root_refuses_it(
    seaweed: SeaweedServer, bucket_root: str
) -> None:
    _store(seaweed, bucket_root).put(MANIFEST_NAME, b'tier = "production"\n')
    below = _store(seaweed, bucket_root + "/deeper/root")
    with pytest.raises(ProductionDataError, match="declares tier production"):
        below.check_tiers()
    _store(seaweed, bucket_root + "-other").check_tiers()  # a sibling prefix is not below it


@pytest.mark.parametrize(
    ("production", "uri", "refused"),
    [
        ("s3://Bucket/prod", "s3a://bucket/prod/root", True),  # alias + bucket case
        ("s3://bucket/prod", "s3n://bucket/prod", True),
        ("s3a://bucket/prod/", "s3://bucket/prod/x/y", True),
        # keys are case-sensitive on S3, but the guard refuses more, never less
        ("s3://bucket/prod", "s3://bucket/PROD/root", True),
        ("s3://bucket/prod", "s3://bucket/production-copy/root", False),
        ("s3://bucket/prod", "s3://bucket2/prod/root", False),
        ("s3://bucket/prod", "gs://bucket/prod/root", False),
        ("gcs://bucket/prod", "gs://bucket/prod/root", True),
    ],
)
def test_production_prefixes_match_scheme_aliases_and_case(
    monkeypatch: pytest.MonkeyPatch, production: str, uri: str, refused: bool
) -> None:
    monkeypatch.setenv("OMNI_PRODUCTION_PATHS", production)
    if refused:
        with pytest.raises(ProductionDataError, match="OMNI_PRODUCTION_PATHS"):
            ObjectStore(uri)
    else:
        assert ObjectStore(uri).uri == uri


# --------------------------------------------------------------------------- the catalog


@pytest.fixture(scope="module")
def published(seaweed: SeaweedServer) -> str:
    """The shipped ``data_test/`` published once to the bucket with ``sync``."""
    from omni_research._catalog import DATA_TEST

    uri = f"s3://{seaweed.bucket}/data-test-{secrets.token_hex(3)}"
    sync(DATA_TEST, uri, storage_options=seaweed.storage_options)
    return uri


def _audit_lines() -> list[dict[str, object]]:
    log = Path(os.environ["OMNI_AUDIT_LOG"])
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _count_gets(monkeypatch: pytest.MonkeyPatch, catalog: omr.Catalog) -> list[str]:
    """Record every object the catalog's store fetches or opens (keys relative to the root)."""
    store = catalog.store
    assert store is not None
    seen: list[str] = []
    get, reader = store.get, store.open_reader

    def counted_get(relpath: str) -> bytes:
        seen.append(relpath)
        return get(relpath)

    def counted_reader(relpath: str) -> Any:
        seen.append(relpath)
        return reader(relpath)

    monkeypatch.setattr(store, "get", counted_get)
    monkeypatch.setattr(store, "open_reader", counted_reader)
    return seen


def test_bucket_catalog_lists_the_same_datasets_as_the_local_root(
    seaweed: SeaweedServer, published: str
) -> None:
    remote = omr.open_catalog(published, storage_options=seaweed.storage_options)
    local = omr.open_catalog()
    assert remote.tier == local.tier == "test"
    assert remote.root == published and remote.manifest.files == local.manifest.files
    assert remote.datasets().drop("path").equals(local.datasets().drop("path"))
    assert remote.datasets()["path"][0].startswith(published + "/")
    assert seaweed.secret_key not in repr(remote)


@pytest.mark.parametrize("kind", ["ohlcv", "trades", "funding", "orderbook", "fills"])
def test_bucket_load_equals_the_local_load(
    seaweed: SeaweedServer, published: str, kind: str
) -> None:
    remote = omr.open_catalog(published, storage_options=seaweed.storage_options)
    local = omr.open_catalog()
    before = len(_audit_lines())
    got = remote.load(kind)
    assert got.height > 0
    assert_frame_equal(got, local.load(kind))
    mine = _audit_lines()[before]  # the bucket read's line, written before the local one
    assert mine["root"] == published and mine["rows"] == got.height


def test_bucket_catalog_reads_credentials_from_the_environment(
    seaweed: SeaweedServer, published: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in seaweed.env.items():
        monkeypatch.setenv(key, value)
    remote = omr.open_catalog(published.replace("s3://", "s3a://"))
    assert_frame_equal(remote.load("funding"), omr.open_catalog().load("funding"))


def test_partition_filter_fetches_only_the_matching_objects(
    seaweed: SeaweedServer, published: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = omr.open_catalog(published, storage_options=seaweed.storage_options)
    local = omr.open_catalog()
    where = dict(symbols="ETHUSDT", start="2025-01-07", end="2025-01-08")
    expected = [f.relpath for f in local.files("trades", **where)]  # type: ignore[arg-type]
    total = len(local.dataset("trades").files)
    assert 0 < len(expected) < total
    seen = _count_gets(monkeypatch, remote)
    got = remote.scan("trades", **where).collect()  # type: ignore[arg-type]
    # each matching object: its footer (schema check at scan) and its bytes (at collect)
    assert sorted(seen) == sorted(expected * 2)
    assert_frame_equal(got, local.scan("trades", **where).collect())  # type: ignore[arg-type]
    assert got["symbol"].unique().to_list() == ["ETHUSDT"]


def test_predicate_and_projection_are_applied_inside_the_source(
    seaweed: SeaweedServer, published: str
) -> None:
    remote = omr.open_catalog(published, storage_options=seaweed.storage_options)
    everything = omr.open_catalog().load("trades")
    cut = everything["price"].median()
    before = len(_audit_lines())
    got = remote.scan("trades").filter(pl.col("price") > cut).select("timestamp", "price").collect()
    want = everything.filter(pl.col("price") > cut).select("timestamp", "price")
    assert_frame_equal(got, want)
    # the source yielded only the matching rows: the predicate reached it (pushdown)
    assert _audit_lines()[before]["rows"] == want.height < everything.height


def test_bucket_verify_finds_a_flipped_byte_and_a_missing_object(
    seaweed: SeaweedServer, bucket_root: str, small_root: Path
) -> None:
    opts = seaweed.storage_options
    sync(small_root, bucket_root, storage_options=opts)
    remote = omr.open_catalog(bucket_root, storage_options=opts)
    assert remote.verify().is_empty()
    flipped = remote.files("funding")[0]
    missing = remote.files("ohlcv")[0]
    store = ObjectStore(bucket_root, storage_options=opts)
    data = bytearray(store.get(flipped.relpath))
    data[8] ^= 0x01  # in the first page: the footer still parses, the sha256 differs
    store.put(flipped.relpath, bytes(data))
    store.delete(missing.relpath)
    problems = remote.verify()
    assert problems.select("file", "problem").rows() == sorted(
        [(flipped.relpath, "sha256 mismatch"), (missing.relpath, "missing")]
    )
    # a read of the flipped object fails whole: no frame comes back
    symbol = flipped.partitions["symbol"]
    with pytest.raises(DataFormatError, match=f"{flipped.path}: sha256 differs"):
        remote.load("funding", symbols=symbol)
    with pytest.raises(StorageError, match=f"{missing.path}: no such object"):
        remote.scan("ohlcv", symbols=missing.partitions["symbol"]).collect()


def test_open_with_a_wrong_secret_raises_a_storage_error_naming_the_uri(
    seaweed: SeaweedServer, published: str
) -> None:
    opts = {**seaweed.storage_options, "aws_secret_access_key": "wrong-secret-value"}
    with pytest.raises(StorageError, match=f"{published}/omni-data.toml: .*access denied") as info:
        omr.open_catalog(published, storage_options=opts)
    assert "wrong-secret-value" not in str(info.value)


def test_open_a_missing_bucket_raises_a_storage_error(seaweed: SeaweedServer) -> None:
    with pytest.raises(StorageError, match="bucket 'absent-bucket' does not exist"):
        omr.open_catalog("s3://absent-bucket/root", storage_options=seaweed.storage_options)


def test_a_production_tier_in_the_remote_manifest_is_refused(
    seaweed: SeaweedServer, bucket_root: str, small_root: Path
) -> None:
    opts = seaweed.storage_options
    sync(small_root, bucket_root, storage_options=opts)
    store = ObjectStore(bucket_root, storage_options=opts)
    text = store.get(MANIFEST_NAME).replace(b'tier = "test"', b'tier = "production"')
    store.put(MANIFEST_NAME, text)
    with pytest.raises(ProductionDataError, match="declares tier production"):
        omr.open_catalog(bucket_root, storage_options=opts)


def test_a_production_prefix_refuses_the_bucket_before_any_request(
    seaweed: SeaweedServer, published: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNI_PRODUCTION_PATHS", published.replace("s3://", "s3a://").upper())
    bad = {**seaweed.storage_options, "aws_endpoint_url": "http://127.0.0.1:9"}  # never used
    with pytest.raises(ProductionDataError, match="OMNI_PRODUCTION_PATHS"):
        omr.open_catalog(published, storage_options=bad)


class _Proxy:
    """A loopback TCP proxy to the store that can drop every connection at once."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                return
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def drop(self) -> None:
        self.server.close()
        with self.lock:
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()


def test_a_connection_dropped_mid_scan_raises_a_storage_error_and_no_frame(
    seaweed: SeaweedServer, published: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = int(seaweed.endpoint.rsplit(":", 1)[1])
    proxy = _Proxy(port)
    try:
        opts = {**seaweed.storage_options, "aws_endpoint_url": f"http://127.0.0.1:{proxy.port}"}
        remote = omr.open_catalog(published, storage_options=opts)
        assert len(remote.dataset("trades").files) > 8  # more than one round of fetches
        lazy = remote.scan("trades")
        checked = remote._read_checked
        calls = []

        def drop_after_first(*args: Any) -> pl.DataFrame:
            if not calls:
                calls.append(1)
                proxy.drop()
            return checked(*args)

        monkeypatch.setattr(remote, "_read_checked", drop_after_first)
        with pytest.raises(StorageError, match=f"{published}/historical/trades/") as info:
            lazy.collect()
        assert "could not read it" in str(info.value)
    finally:
        proxy.drop()


@pytest.mark.parametrize(
    ("endpoint", "allowed", "refused"),
    [
        ("http://minio.example:9000", "", True),
        ("http://minio.example:9000", "minio.example", False),
        ("https://minio.example:9000", "", False),
        ("http://127.0.0.1:9000", "", False),
    ],
)
def test_a_plain_http_endpoint_needs_the_loopback_or_an_opt_in(
    monkeypatch: pytest.MonkeyPatch, endpoint: str, allowed: str, refused: bool
) -> None:
    monkeypatch.setenv("OMNI_ALLOW_HTTP_HOSTS", allowed)
    for options, env in (({"aws_endpoint_url": endpoint}, None), ({}, endpoint)):
        if env is not None:
            monkeypatch.setenv("AWS_ENDPOINT_URL", env)
        if refused:
            with pytest.raises(ConfigurationError, match="OMNI_ALLOW_HTTP_HOSTS"):
                ObjectStore("s3://bucket/root", storage_options=options)
        else:
            assert ObjectStore("s3://bucket/root", storage_options=options).uri == (
                "s3://bucket/root"
            )


@pytest.mark.parametrize("uri", ["s3://bucket/root/exports", "gs://bucket/x", "abfss://c/x"])
def test_a_uri_folded_by_pathlib_is_refused_not_taken_for_a_local_folder(
    uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omni_research._guard import check_path

    monkeypatch.chdir(tmp_path)
    folded = Path(uri)  # 's3:/bucket/root/exports'
    with pytest.raises(ConfigurationError, match=f"is the URI {uri} with a slash lost"):
        check_path(folded)
    monkeypatch.setenv("OMNI_PRODUCTION_PATHS", uri)
    with pytest.raises(ProductionDataError, match="OMNI_PRODUCTION_PATHS"):
        check_path(folded)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.delenv("OMNI_PRODUCTION_PATHS")
    inside = tmp_path / "s3:" / "bucket"  # an absolute path with such a folder is a path
    assert check_path(inside) == inside


@pytest.mark.parametrize("scheme", ["az", "abfss"])
def test_azure_roots_take_the_same_route_and_errors(scheme: str) -> None:
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    opts = {
        "azure_storage_account_name": "acct",
        "azure_storage_account_key": "c2VjcmV0LWtleS1ub3QtdXNlZC1hbnl3aGVyZQ==",
        "azure_endpoint": f"http://127.0.0.1:{port}",
        "azure_allow_http": "true",
    }
    with pytest.raises(StorageError, match=f"{scheme}://container/root/omni-data.toml: could"):
        omr.open_catalog(f"{scheme}://container/root", storage_options=opts)


def test_bad_gcs_credentials_are_a_configuration_error_without_the_secret() -> None:
    key = '{"type": "service_account", "private_key_id": "s3cr3t-id-value"}'
    with pytest.raises(ConfigurationError, match="gs://bucket/root: cannot configure") as info:
        ObjectStore("gs://bucket/root", storage_options={"google_service_account_key": key})
    assert "s3cr3t-id-value" not in str(info.value)


def test_storage_options_for_a_local_root_are_refused(small_root: Path) -> None:
    with pytest.raises(ConfigurationError, match="apply to object storage only"):
        omr.open_catalog(small_root, storage_options={"aws_region": "us-east-1"})
