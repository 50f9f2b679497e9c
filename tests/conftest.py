"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from omni_research.testing import make_test_data

os.environ.setdefault("MPLBACKEND", "Agg")
# Pandera checks only names and dtypes of a LazyFrame unless told otherwise: the suite
# validates in full everywhere.
os.environ["PANDERA_VALIDATION_DEPTH"] = "SCHEMA_AND_DATA"


@pytest.fixture(autouse=True)
def _isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test writes its audit log to a temporary place and sees no production paths."""
    log_dir = tmp_path_factory.mktemp("audit")
    monkeypatch.setenv("OMNI_AUDIT_LOG", str(log_dir / "audit.jsonl"))
    monkeypatch.delenv("OMNI_PRODUCTION_PATHS", raising=False)


@pytest.fixture(scope="session")
def small_root_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-day test root generated once per session (do not modify: copy it)."""
    root = tmp_path_factory.mktemp("template") / "root"
    make_test_data(root, days=2, seed=3)
    return root


@pytest.fixture
def small_root(small_root_template: Path, tmp_path: Path) -> Iterator[Path]:
    """A private, writable copy of a 2-day test root."""
    root = tmp_path / "root"
    shutil.copytree(small_root_template, root)
    yield root
