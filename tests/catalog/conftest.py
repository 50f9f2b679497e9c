"""Fixtures of the catalog tests: a real S3 store (SeaweedFS) on loopback, one per worker."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from omni_research.testing import SeaweedServer


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedServer]:
    """A running ``weed server`` with one bucket and per-run credentials; stopped by pid."""
    server = SeaweedServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def bucket_root(seaweed: SeaweedServer) -> str:
    """A fresh, empty root URI in the test bucket (its own prefix per test)."""
    return f"s3://{seaweed.bucket}/t-{secrets.token_hex(4)}"
