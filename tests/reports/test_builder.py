"""Report builder: HTML structure, self-containment, formatting and atomic export."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import polars as pl
import pytest

from omni_research.exceptions import ConfigurationError, ProductionDataError
from omni_research.reports import Lineage, Report

from .conftest import REMOTE_REF, make_figure


def test_html_embeds_every_figure_and_table(small_report: Report) -> None:
    text = small_report.to_html()
    imgs = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(imgs) == 1  # the PNG figure; the second one is inline SVG
    assert base64.b64decode(imgs[0]).startswith(b"\x89PNG\r\n\x1a\n")
    assert text.count("<svg") == 1
    assert text.count("<figure>") == small_report.n_figures == 2
    # 2 content tables + lineage's package table
    assert text.count('<table class="data">') == small_report.n_tables + 1 == 3
    assert "Figure 2. Second walk" in text and "Table 1. xs" in text


def test_html_has_no_scripts_or_remote_references(small_report: Report) -> None:
    text = small_report.to_html()
    assert "<script" not in text.lower()
    assert "<link" not in text.lower()
    assert not REMOTE_REF.findall(text)
    assert REMOTE_REF.search('<img alt="x" src="https://cdn.example/x.png">')  # it can fail
    # hyperlinks are not fetched on open, so a Markdown link survives
    assert '<a href="https://example.org">link</a>' in text
    assert "<style>" in text and "@page" in text  # CSS inlined, print rules present


def test_table_caps_rows_and_says_how_many_are_hidden(small_report: Report) -> None:
    text = small_report.to_html()
    assert "90 more rows not shown (100 in total)" in text
    long_table = text.split("Table 1. xs")[1]
    assert '<td class="num">9</td>' in long_table and '<td class="num">10</td>' not in long_table


def test_values_are_escaped_not_injected() -> None:
    rep = Report("<b>t</b>")
    rep.add_table(pl.DataFrame({"s": ["<script>alert(1)</script>"]}))
    text = rep.to_html()
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<title>&lt;b&gt;t&lt;/b&gt;</title>" in text


def test_table_accepts_pandas_and_lazy_frames() -> None:
    import pandas as pd

    rep = Report("t")
    rep.add_table(pd.DataFrame({"a": [1, 2]}))
    rep.add_table(pl.LazyFrame({"b": [3.5]}))
    text = rep.to_html()
    assert "<th>a</th>" in text and "<th>b</th>" in text and ">3.5<" in text


def test_add_figure_rejects_non_figures() -> None:
    with pytest.raises(ConfigurationError, match="matplotlib Figure or PNG bytes"):
        Report("t").add_figure("not a figure")
    with pytest.raises(ConfigurationError, match="not a PNG"):
        Report("t").add_figure(b"GIF89a")


def test_quality_findings_sorted_by_severity() -> None:
    findings = pl.DataFrame(
        {"check": ["a", "b", "c"], "severity": ["info", "error", "warning"], "count": [1, 2, 3]}
    )
    text = Report("q").add_quality(None, findings).to_html()
    order = [text.index(f'class="sev-{s}"') for s in ("error", "warning", "info")]
    assert order == sorted(order)
    assert "3 finding(s)" in text


def test_quality_with_no_findings_says_so() -> None:
    empty = pl.DataFrame(schema={"check": pl.String, "severity": pl.String})
    assert "No findings" in Report("q").add_quality({"bars": 10}, empty).to_html()


def test_report_with_production_lineage_cannot_render() -> None:
    lin = Lineage(catalog_root="/data/prod", tier="production")
    with pytest.raises(ProductionDataError, match="'production' tier"):
        Report("p", lineage=lin).to_html()


def test_export_names_say_what_and_when_and_leave_no_temp_files(
    small_report: Report, tmp_path: Path
) -> None:
    small_report.slug = "unit-report_BTCUSDT_1h"
    written = small_report.export(out=tmp_path, formats=["html"])
    path = written["html"]
    stamp = small_report.created_at.strftime("%Y%m%dT%H%MZ")
    assert path.name == f"unit-report_BTCUSDT_1h_{stamp}.html"
    assert re.fullmatch(r"unit-report_BTCUSDT_1h_\d{8}T\d{4}Z\.html", path.name)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    assert path.read_text("utf-8") == small_report.to_html()


def test_export_overwrites_atomically_and_keeps_old_file_on_failure(
    small_report: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "r.html"
    target.write_text("old", "utf-8")
    small_report.write_html(target)
    assert target.read_text("utf-8").startswith("<!DOCTYPE html>")

    import omni_research.reports._builder as builder

    def broken(self: Report) -> str:
        raise RuntimeError("render failed half-way")

    monkeypatch.setattr(builder.Report, "to_html", broken)
    before = target.read_text("utf-8")
    with pytest.raises(RuntimeError):
        small_report.write_html(target)
    assert target.read_text("utf-8") == before
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_export_without_root_or_out_is_a_configuration_error(small_report: Report) -> None:
    with pytest.raises(ConfigurationError, match=r"root=\.\.\.\) or an output folder"):
        small_report.export(formats=["html"])
    with pytest.raises(ConfigurationError, match="'html' and 'pdf'"):
        small_report.export(out=".", formats=["docx"])  # type: ignore[list-item]


def test_export_under_root_goes_to_exports_reports(small_report: Report, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "omni-data.toml").write_text('tier = "test"\nschema_version = 1\n', "utf-8")
    small_report.lineage = Lineage(catalog_root=str(root), tier="test")
    written = small_report.export(formats=["html"])
    assert written["html"].parent == root / "exports" / "reports"


def test_export_into_production_root_is_refused(small_report: Report, tmp_path: Path) -> None:
    root = tmp_path / "prod"
    root.mkdir()
    (root / "omni-data.toml").write_text('tier = "production"\n', "utf-8")
    with pytest.raises(ProductionDataError):
        small_report.export(root, formats=["html"])
    assert not (root / "exports").exists()


def test_lineage_json_block_round_trips(tmp_path: Path) -> None:
    import json

    lin = Lineage(catalog_root=str(tmp_path), tier="research", parameters={"fast": 10})
    text = Report("l", lineage=lin).add_figure(make_figure(3, "x")).to_html()
    m = re.search(r'<pre id="omni-lineage-json">(.*?)</pre>', text, re.DOTALL)
    assert m is not None
    data = json.loads(html.unescape(m.group(1)))
    assert data["tier"] == "research" and data["parameters"] == {"fast": 10}
