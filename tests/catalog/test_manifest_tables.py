"""The manifest keeps its other tables ([access], [encryption], ...) through a rewrite."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from omni_research._manifest import read_manifest, record_files, write_manifest


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "historical" / "coins").mkdir(parents=True)
    (root / "omni-data.toml").write_text('tier = "research"\nschema_version = "1.0"\n')
    return root


def test_tables_survive_a_rewrite_and_a_record(root: Path) -> None:
    tables = (
        '\n[access.roles]\nresearcher = ["ohlcv", "trades"]\n"trading-analyst" = ["orders"]\n'
        '\n[access.users]\nalice = ["researcher"]\n'
        '\n[encryption]\nkinds = ["orders", "fills"]\nfooter = true\nversion = 2\n'
    )
    text = (root / "omni-data.toml").read_text() + tables
    (root / "omni-data.toml").write_text(text)
    expected = tomllib.loads(text)
    manifest = read_manifest(root)
    assert manifest.tables == {"access": expected["access"], "encryption": expected["encryption"]}
    assert manifest.meta == {}
    write_manifest(root, manifest)
    assert tomllib.loads((root / "omni-data.toml").read_text()) == expected
    coins = root / "historical" / "coins" / "coins.json"
    shutil.copy(
        Path(__file__).parents[2] / "data_test" / "historical" / "coins" / "coins.json", coins
    )
    after = record_files(root, [coins])
    assert after.tables == manifest.tables
    on_disk = tomllib.loads((root / "omni-data.toml").read_text())
    assert on_disk["access"] == expected["access"]
    assert set(on_disk["files"]) == {"historical/coins/coins.json"}
