"""Lineage: checksums, row counts, tier, code version, and the production guard."""

from __future__ import annotations

import hashlib
import html
import json
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import omni_research as omr
from omni_research.exceptions import ProductionDataError
from omni_research.reports import Report, collect_lineage
from omni_research.reports._lineage import git_commit
from tests.reports.conftest import needs_chromium

REPO_DATA_TEST = Path(__file__).resolve().parents[2] / "data_test"


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


def _cells(row_html: str) -> list[str]:
    return [html.unescape(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row_html, re.S)]


def _table_after(text: str, heading: str) -> list[list[str]]:
    """Body rows of the first table after ``<h3>heading</h3>``, as cell texts."""
    section = text.split(f"<h3>{heading}</h3>", 1)[1]
    body = re.search(r"<tbody>(.*?)</tbody>", section, re.S)
    assert body is not None, heading
    return [_cells(row) for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)]


def _shipped_lineage() -> tuple[Report, dict[str, Any]]:
    catalog = omr.open_catalog()
    params = {"symbols": ["BTCUSDT"], "start": "2025-01-06T00:00:00+00:00", "end": None}
    chosen = [(f.path, "historical/funding") for f in catalog.files("funding")] + [
        (f.path, "historical/ohlcv")
        for f in catalog.files(
            "ohlcv", symbols="BTCUSDT", timeframe="1m", end="2025-01-08T00:00:00+00:00"
        )
    ]
    lin = collect_lineage(
        catalog.root,
        tier=catalog.tier,
        files=chosen,
        parameters=params,
        schema_versions={"manifest": catalog.manifest.schema_version},
        time_range={"start": "2025-01-06T00:00:00+00:00", "end": "2025-01-08T00:00:00+00:00"},
    )
    return Report("Lineage export", lineage=lin), params


def test_export_writes_lineage_json_equal_to_the_html_and_the_manifest(tmp_path: Path) -> None:
    report, params = _shipped_lineage()
    written = report.export(out=tmp_path, formats=["html"])
    stem = report.file_stem()
    assert set(written) == {"html", "lineage"}
    assert written["lineage"] == tmp_path / f"{stem}.lineage.json"
    # nothing else beside them: no staging files left by the atomic writes
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{stem}.html", f"{stem}.lineage.json"]

    text = written["lineage"].read_text("utf-8")
    data = json.loads(text)
    page = written["html"].read_text("utf-8")
    block = re.search(r'<pre id="omni-lineage-json">(.*?)</pre>', page, re.S)
    assert block is not None and html.unescape(block.group(1)) == text

    # the rendered tables and fields show the same values as the file
    terms = re.findall(r"<dt>(.*?)</dt>", page)
    dl = dict(zip(terms, re.findall(r"<dd[^>]*>(.*?)</dd>", page), strict=True))
    assert html.unescape(dl["Catalog root"]) == data["catalog_root"] == str(REPO_DATA_TEST)
    assert dl["Tier"] == data["tier"] == "test"
    assert dl["Git commit"] == data["git_commit"] == git_commit()
    assert data["time_range"] == {
        "start": "2025-01-06T00:00:00+00:00",
        "end": "2025-01-08T00:00:00+00:00",
    }
    assert dl["Time range"] == "2025-01-06T00:00:00+00:00 to 2025-01-08T00:00:00+00:00"
    shown_files = [
        (path, int(rows.replace(",", "")), int(size.replace(",", "")), sha)
        for path, rows, size, sha in _table_after(page, "Files read")
    ]
    assert shown_files == [
        (f["path"], f["rows"], f["size_bytes"], f["sha256"]) for f in data["files"]
    ]
    assert dict(_table_after(page, "Package versions")) == data["packages"]
    assert data["packages"]["polars"] == pl.__version__
    assert data["parameters"] == params
    assert data["report"] == {
        "title": "Lineage export",
        "file_stem": stem,
        "created_at": report.created_at.isoformat(),
    }

    # and the manifest (read here with tomllib) agrees on every file's sha256 and rows
    manifest = tomllib.loads((REPO_DATA_TEST / "omni-data.toml").read_text("utf-8"))["files"]
    assert len(data["files"]) == 3 + 2  # funding: 3 symbols; BTCUSDT 1m: 2025-01-06 and -07
    for f in data["files"]:
        assert manifest[f["path"]]["sha256"] == f["sha256"], f["path"]
        assert manifest[f["path"]]["rows"] == f["rows"], f["path"]
        content = (REPO_DATA_TEST / f["path"]).read_bytes()
        assert hashlib.sha256(content).hexdigest() == f["sha256"]


def test_lineage_json_is_written_through_the_guard_and_atomically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omni_research.io import _atomic

    checked: list[Path] = []
    check = _atomic._guard.check_path

    def spy(path: Any) -> Any:
        checked.append(Path(path))
        return check(path)

    monkeypatch.setattr(_atomic._guard, "check_path", spy)
    report, _ = _shipped_lineage()
    written = report.export(out=tmp_path, formats=["html"])
    assert written["lineage"] in checked

    # a production folder is refused before anything is written
    monkeypatch.setenv("OMNI_PRODUCTION_PATHS", str(tmp_path / "prod"))
    with pytest.raises(ProductionDataError):
        report.export(out=tmp_path / "prod", formats=["html"])
    assert not (tmp_path / "prod").exists()


def test_report_without_lineage_writes_no_lineage_json(tmp_path: Path) -> None:
    written = Report("no data").export(out=tmp_path, formats=["html"])
    assert set(written) == {"html"}
    assert [p.name for p in tmp_path.iterdir()] == [written["html"].name]


@needs_chromium
def test_pdf_export_gets_the_same_lineage_json(tmp_path: Path) -> None:
    report, _ = _shipped_lineage()
    written = report.export(out=tmp_path, formats=["pdf"])
    assert set(written) == {"pdf", "lineage"}
    assert written["lineage"].read_text("utf-8") == report.lineage_json()
    assert written["lineage"].name == written["pdf"].name.removesuffix(".pdf") + ".lineage.json"
