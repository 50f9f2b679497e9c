"""Lineage: checksums, row counts, tier, code version, and the production guard."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from omni_research.exceptions import ProductionDataError
from omni_research.reports import Report, collect_lineage
from omni_research.reports._lineage import git_commit


def _root(tmp_path: Path, tier: str, name: str = "root") -> Path:
    root = tmp_path / name
    root.mkdir()
    (root / "omni-data.toml").write_text(f'tier = "{tier}"\nschema_version = 1\n', "utf-8")
    return root


def _parquet(root: Path, rel: str, n: int) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({"x": list(range(n)), "y": [float(i) / 3 for i in range(n)]}).write_parquet(path)
    return path


@pytest.mark.parametrize("tier", ["test", "research"])
def test_lineage_records_fresh_sha256_rows_and_tier(tmp_path: Path, tier: str) -> None:
    root = _root(tmp_path, tier)
    a = _parquet(root, "historical/ohlcv/symbol=A/date=2025-01-06/part-0.parquet", 17)
    b = _parquet(root, "historical/ohlcv/symbol=B/date=2025-01-06/part-0.parquet", 5)
    lin = collect_lineage(root, tier=tier, files=[a, b, a], parameters={"fast": 3})
    assert lin.tier == tier
    assert lin.catalog_root == str(root.resolve())
    assert [f.path for f in lin.files] == [
        "historical/ohlcv/symbol=A/date=2025-01-06/part-0.parquet",
        "historical/ohlcv/symbol=B/date=2025-01-06/part-0.parquet",
    ]  # the repeated file is recorded once
    for rec, path, n in zip(lin.files, (a, b), (17, 5), strict=True):
        assert rec.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert rec.rows == n == pl.read_parquet(path).height
        assert rec.size_bytes == path.stat().st_size
        assert rec.dataset == "historical/ohlcv"
    assert lin.datasets() == [{"dataset": "historical/ohlcv", "files": 2, "rows": 22}]
    assert lin.parameters == {"fast": 3}
    assert lin.created_at.tzinfo is not None and lin.created_at <= datetime.now(UTC)


def test_lineage_package_versions_and_git_commit(tmp_path: Path) -> None:
    from importlib import metadata

    lin = collect_lineage(_root(tmp_path, "test"), tier="test")
    assert lin.packages["polars"] == metadata.version("polars") == pl.__version__
    assert lin.packages["python"].count(".") == 2
    commit = lin.git_commit
    assert commit == "unknown" or len(commit.removesuffix("+dirty")) == 40


def test_git_commit_outside_a_checkout_is_unknown(tmp_path: Path) -> None:
    assert git_commit(tmp_path) == "unknown"


def test_lineage_counts_jsonl_and_csv_rows(tmp_path: Path) -> None:
    root = _root(tmp_path, "research")
    j = root / "historical/news/news.jsonl"
    j.parent.mkdir(parents=True)
    j.write_text('{"a": 1}\n{"a": 2}\n\n{"a": 3}\n', "utf-8")
    c = root / "historical/coins/c.csv"
    c.parent.mkdir(parents=True)
    c.write_text("a,b\n1,2\n3,4\n", "utf-8")
    lin = collect_lineage(root, tier="research", files=[j, c])
    assert [f.rows for f in lin.files] == [3, 2]


def test_production_root_is_refused(tmp_path: Path) -> None:
    root = _root(tmp_path, "production")
    f = _parquet(root, "historical/ohlcv/symbol=A/date=2025-01-06/part-0.parquet", 3)
    with pytest.raises(ProductionDataError, match="production"):
        collect_lineage(root, tier="production", files=[f])
    # even if a caller claims another tier, the guard reads the manifest
    with pytest.raises(ProductionDataError):
        collect_lineage(root, tier="test", files=[f])


def test_production_file_inside_a_test_lineage_is_refused(tmp_path: Path) -> None:
    root = _root(tmp_path, "test")
    ok = _parquet(root, "historical/ohlcv/symbol=A/date=2025-01-06/part-0.parquet", 3)
    prod = _root(tmp_path, "production", name="prod")
    bad = _parquet(prod, "historical/ohlcv/symbol=A/date=2025-01-06/part-0.parquet", 3)
    with pytest.raises(ProductionDataError):
        collect_lineage(root, tier="test", files=[ok, bad])


def test_real_time_folder_is_refused(tmp_path: Path) -> None:
    root = _root(tmp_path, "test")
    f = _parquet(root, "real_time/ohlcv/part-0.parquet", 3)
    with pytest.raises(ProductionDataError, match="real_time"):
        collect_lineage(root, tier="test", files=[f])


def test_unknown_tier_is_refused(tmp_path: Path) -> None:
    root = _root(tmp_path, "test")
    with pytest.raises(ProductionDataError, match="test or research"):
        collect_lineage(root, tier=None)


def test_lineage_renders_every_file_checksum_in_html(tmp_path: Path) -> None:
    root = _root(tmp_path, "test")
    files = [
        _parquet(root, f"historical/ohlcv/symbol={s}/date=2025-01-06/part-0.parquet", 4)
        for s in ("A", "B")
    ]
    lin = collect_lineage(root, tier="test", files=files, schema_versions={"ohlcv": "1"})
    text = Report("r", lineage=lin).to_html()
    for f in files:
        assert hashlib.sha256(f.read_bytes()).hexdigest() in text
    assert "test data</span>" in text and "Schema versions" in text
    data = json.loads(lin.to_json())
    assert {f["sha256"] for f in data["files"]} == {r.sha256 for r in lin.files}
