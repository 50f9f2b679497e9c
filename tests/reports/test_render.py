"""The report as a person sees it: headless Chromium (no network) and the PDF's pages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from omni_research.exceptions import ConfigurationError, DataFormatError
from omni_research.reports import Report, find_chromium

from .conftest import needs_chromium, needs_pdftoppm
from .render import open_in_chromium, pdf_page_count, pdf_pages_png, pixel_std

pytestmark = [pytest.mark.browser]


def assert_offline_and_rendered(
    info: dict[str, object], *, n_img: int, n_svg: int, n_tab: int
) -> None:
    requests = info["requests"]
    assert isinstance(requests, list) and requests, "the page itself is a request"
    leaving = [u for u in requests if not u.startswith(("file://", "data:"))]
    assert leaving == []
    images = info["images"]
    assert isinstance(images, list) and len(images) == n_img
    assert all(i["complete"] and i["w"] > 0 and i["h"] > 0 and i["shownW"] > 0 for i in images)
    svgs = info["svgs"]
    assert isinstance(svgs, list) and len(svgs) == n_svg and all(w > 0 for w in svgs)
    tables = info["tables"]
    assert isinstance(tables, list) and len(tables) == n_tab
    assert all(t["rows"] >= 2 and t["h"] > 0 for t in tables)
    assert info["scripts"] == 0


@needs_chromium
def test_html_opens_offline_with_images_and_tables(small_report: Report, tmp_path: Path) -> None:
    path = small_report.write_html(tmp_path / "r.html")
    info = open_in_chromium(path, screenshot=tmp_path / "shot.png")
    # 2 content tables + package versions of the lineage
    assert_offline_and_rendered(info, n_img=1, n_svg=1, n_tab=3)
    assert info["title"] == "Unit report"
    assert info["h2"] == ["Text", "Tables", "Lineage"]
    assert pixel_std(tmp_path / "shot.png") > 10


@needs_chromium
@needs_pdftoppm
def test_pdf_pages_are_not_blank(small_report: Report, tmp_path: Path) -> None:
    pdf = small_report.write_pdf(tmp_path / "r.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    assert pdf_page_count(pdf) >= 1
    pages = pdf_pages_png(pdf, tmp_path / "page", first=1, last=2)
    assert pages
    for page in pages:
        assert pixel_std(page) > 5, f"{page.name} looks blank"
    # a blank page really does score ~0, so the threshold can fail
    blank = Report("")
    blank_pdf = tmp_path / "blank.pdf"
    from omni_research.reports._pdf import html_to_pdf_bytes

    blank_pdf.write_bytes(html_to_pdf_bytes("<!DOCTYPE html><html><body></body></html>"))
    (blank_page,) = pdf_pages_png(blank_pdf, tmp_path / "blank", first=1, last=1)
    assert pixel_std(blank_page) < 1
    del blank


def test_missing_chromium_raises_configuration_error_with_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import omni_research.reports._pdf as pdf_mod

    monkeypatch.delenv("OMNI_CHROMIUM", raising=False)
    monkeypatch.setattr(pdf_mod, "_CANDIDATES", (str(tmp_path / "no-chromium"),))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigurationError, match="apt-get install -y chromium"):
        find_chromium()
    with pytest.raises(ConfigurationError, match="make browser"):
        Report("x").write_pdf(tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()


def test_omni_chromium_must_be_executable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OMNI_CHROMIUM", str(tmp_path / "missing"))
    with pytest.raises(ConfigurationError, match="OMNI_CHROMIUM="):
        find_chromium()
    exe = tmp_path / "chrome"
    exe.write_text("#!/bin/sh\n", "utf-8")
    os.chmod(exe, 0o755)
    monkeypatch.setenv("OMNI_CHROMIUM", str(exe))
    assert find_chromium() == str(exe)


def test_chromium_that_writes_no_pdf_raises_format_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    exe = tmp_path / "broken-chromium"
    exe.write_text("#!/bin/sh\necho 'GPU process crashed' >&2\nexit 3\n", "utf-8")
    os.chmod(exe, 0o755)
    monkeypatch.setenv("OMNI_CHROMIUM", str(exe))
    target = tmp_path / "r.pdf"
    with pytest.raises(
        DataFormatError, match=r"exited with 3 and wrote no PDF.*GPU process crashed"
    ):
        Report("x").write_pdf(target)
    assert not target.exists()
