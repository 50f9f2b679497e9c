"""``sync`` and ``omni-research sync``: a root published to a real S3 store and back."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from omni_research._manifest import read_manifest
from omni_research._store import ObjectStore
from omni_research._sync import sync
from omni_research.config import MANIFEST_NAME
from omni_research.exceptions import ConfigurationError, DataFormatError, ProductionDataError
from omni_research.testing import SeaweedServer

pytestmark = pytest.mark.xdist_group("objectstore")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_sync_publishes_every_file_then_copies_nothing_then_only_the_changed_one(
    seaweed: SeaweedServer, bucket_root: str, small_root: Path
) -> None:
    opts = seaweed.storage_options
    manifest = read_manifest(small_root)
    first = sync(small_root, bucket_root, storage_options=opts)
    assert sorted(first.copied) == sorted(manifest.files)
    assert first.bytes_copied == sum((small_root / n).stat().st_size for n in manifest.files)
    store = ObjectStore(bucket_root, storage_options=opts)
    listed = {o.key: o.size for o in store.list()}
    assert set(listed) == {*manifest.files, MANIFEST_NAME}
    name = next(n for n in sorted(manifest.files) if n.endswith(".parquet"))
    assert _sha(store.get(name)) == manifest.files[name].sha256  # the bytes, not just a name

    second = sync(small_root, bucket_root, storage_options=opts)
    assert second.copied == () and len(second.skipped) == len(manifest.files)

    # change one file (rewritten with other rows) and record it: only that one is copied
    import polars as pl

    from omni_research._manifest import record_files

    changed = small_root / name
    pl.read_parquet(changed).head(3).write_parquet(changed)
    record_files(small_root, [changed])
    third = sync(small_root, bucket_root, storage_options=opts)
    assert third.copied == (name,)
    assert _sha(store.get(name)) == _sha(changed.read_bytes())


def test_sync_round_trip_bucket_to_local_verifies(
    seaweed: SeaweedServer, bucket_root: str, small_root: Path, tmp_path: Path
) -> None:
    import omni_research as omr

    sync(small_root, bucket_root, storage_options=seaweed.storage_options)
    back = tmp_path / "back"
    report = sync(
        bucket_root.replace("s3://", "s3a://"), back, storage_options=seaweed.storage_options
    )
    assert len(report.copied) == len(read_manifest(small_root).files)
    assert omr.open_catalog(back).verify().is_empty()
    for name in read_manifest(small_root).files:
        assert (back / name).read_bytes() == (small_root / name).read_bytes()
    assert read_manifest(back).files == read_manifest(small_root).files
    again = sync(bucket_root, back, storage_options=seaweed.storage_options)
    assert again.copied == ()


def test_sync_refuses_a_corrupt_source_file_leaves_the_manifest_and_a_rerun_converges(
    seaweed: SeaweedServer, bucket_root: str, small_root: Path
) -> None:
    name = sorted(read_manifest(small_root).files)[-1]
    target = small_root / name
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(DataFormatError, match="sha256 differs"):
        sync(small_root, bucket_root, storage_options=seaweed.storage_options)
    store = ObjectStore(bucket_root, storage_options=seaweed.storage_options)
    assert store.get_versioned(MANIFEST_NAME) is None  # data first, manifest never written
    assert name not in {o.key for o in store.list()}
    # restored, a second run converges: everything recorded, the bucket root verifies
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    again = sync(small_root, bucket_root, storage_options=seaweed.storage_options)
    assert set(again.copied) == set(read_manifest(small_root).files)
    import omni_research as omr

    remote = omr.open_catalog(bucket_root, storage_options=seaweed.storage_options)
    assert remote.verify().is_empty()
    assert remote.manifest.files == read_manifest(small_root).files


@pytest.mark.parametrize("end", ["source", "destination"])
def test_sync_refuses_a_production_end(
    seaweed: SeaweedServer, bucket_root: str, small_root: Path, tmp_path: Path, end: str
) -> None:
    store = ObjectStore(bucket_root, storage_options=seaweed.storage_options)
    store.put(MANIFEST_NAME, b'tier = "production"\nschema_version = "1.0"\n')
    with pytest.raises(ProductionDataError, match="declares tier production"):
        if end == "source":
            sync(bucket_root, tmp_path / "out", storage_options=seaweed.storage_options)
        else:
            sync(small_root, bucket_root, storage_options=seaweed.storage_options)
    assert not (tmp_path / "out").exists()
    assert {o.key for o in store.list()} == {MANIFEST_NAME}


def test_sync_refuses_an_encrypted_root_rather_than_publish_unreadable_objects(
    seaweed: SeaweedServer, bucket_root: str, small_root: Path
) -> None:
    manifest = small_root / MANIFEST_NAME
    text = manifest.read_text()
    manifest.write_text(text + '\n[encryption]\nkinds = ["fills"]\nkey_id = "k1"\n')
    with pytest.raises(ConfigurationError, match=r"encrypts data at rest \(\[encryption\]"):
        sync(small_root, bucket_root, storage_options=seaweed.storage_options)
    store = ObjectStore(bucket_root, storage_options=seaweed.storage_options)
    assert store.list() == []


def test_sync_copies_again_an_object_cut_short_behind_the_manifests_back(
    seaweed: SeaweedServer, bucket_root: str, small_root: Path
) -> None:
    opts = seaweed.storage_options
    sync(small_root, bucket_root, storage_options=opts)
    store = ObjectStore(bucket_root, storage_options=opts)
    name = next(n for n in sorted(read_manifest(small_root).files) if n.endswith(".parquet"))
    whole = store.get(name)
    store.put(name, whole[: len(whole) // 2])  # the manifest still lists the whole file
    again = sync(small_root, bucket_root, storage_options=opts)
    assert again.copied == (name,)
    assert store.get(name) == whole
