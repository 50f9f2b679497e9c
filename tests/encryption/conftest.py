"""Fixtures of the encryption tests: a real KMIP server over TLS (one per session and
worker; every test using it is in the ``kms`` xdist group) and research-tier roots."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

import omni_research as omr
from omni_research.testing import KmipTestServer

SENSITIVE = ("orders", "fills", "positions", "pnl", "decisions", "agent_metrics", "posts")
PSEUDONYM_KEY = "test-pseudonym-key"


def research_copy(template: Path, dest: Path) -> Path:
    """A research-tier copy of a test root."""
    shutil.copytree(template, dest)
    manifest = dest / "omni-data.toml"
    manifest.write_text(manifest.read_text().replace('tier = "test"', 'tier = "research"'))
    return dest


def plain_frames(root: Path) -> dict[str, pl.DataFrame]:
    """Every sensitive kind, loaded through the catalog (the plaintext reference)."""
    catalog = omr.open_catalog(root)
    return {kind: catalog.load(kind) for kind in SENSITIVE}


@pytest.fixture(scope="session")
def kmip_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KmipTestServer]:
    """PyKMIP's server on a free loopback port over TLS, for the whole session."""
    server = KmipTestServer(tmp_path_factory.mktemp("kmip"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
