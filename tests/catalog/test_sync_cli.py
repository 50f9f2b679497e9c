"""``omni-research sync``: the command line over :func:`omni_research._sync.sync`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from omni_research._manifest import read_manifest
from omni_research.cli import main
from omni_research.testing import SeaweedServer

pytestmark = pytest.mark.xdist_group("objectstore")


def test_cli_sync_reads_credentials_from_the_environment(
    seaweed: SeaweedServer,
    bucket_root: str,
    small_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in seaweed.env.items():
        monkeypatch.setenv(key, value)
    assert main(["sync", str(small_root), bucket_root, "--quiet"]) == 0
    out = capsys.readouterr().out
    files = len(read_manifest(small_root).files)
    assert f"copied {files} file(s)" in out
    assert seaweed.secret_key not in out
    assert main(["sync", str(small_root), bucket_root, "--quiet"]) == 0
    assert "copied 0 file(s)" in capsys.readouterr().out

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    assert main(["sync", str(small_root), bucket_root.replace("/t-", "/u-")]) == 2
    err = capsys.readouterr().err
    assert "StorageError" in err and "access denied" in err and "not-the-secret" not in err
    shutil.rmtree(small_root)


def test_cli_verify_takes_a_bucket_root(
    seaweed: SeaweedServer,
    bucket_root: str,
    small_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in seaweed.env.items():
        monkeypatch.setenv(key, value)
    assert main(["sync", str(small_root), bucket_root, "--quiet"]) == 0
    capsys.readouterr()
    files = len(read_manifest(small_root).files)
    assert main(["verify", "--root", bucket_root]) == 0
    assert f"all {files} files match the manifest of {bucket_root}" in capsys.readouterr().out
