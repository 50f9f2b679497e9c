"""Helpers that look at a report as a person would: in Chromium and as PDF page images."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def open_in_chromium(html_path: Path, *, screenshot: Path | None = None) -> dict[str, Any]:
    """Open a file in headless Chromium; return every request URL and what rendered."""
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("request", lambda req: requests.append(req.url))
            page.goto(html_path.resolve().as_uri(), wait_until="load")
            info: dict[str, Any] = page.evaluate(
                """() => ({
                    images: [...document.images].map(i => ({
                        complete: i.complete, w: i.naturalWidth, h: i.naturalHeight,
                        shownW: i.getBoundingClientRect().width})),
                    svgs: [...document.querySelectorAll('figure svg')].map(
                        s => s.getBoundingClientRect().width),
                    tables: [...document.querySelectorAll('table')].map(t => ({
                        rows: t.rows.length, h: t.getBoundingClientRect().height})),
                    scripts: document.scripts.length,
                    title: document.title,
                    h2: [...document.querySelectorAll('h2')].map(h => h.textContent),
                })"""
            )
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=False)
        finally:
            browser.close()
    info["requests"] = requests
    return info


def pdf_pages_png(pdf: Path, out_prefix: Path, *, first: int = 1, last: int = 2) -> list[Path]:
    """Render PDF pages to PNG with pdftoppm at 50 dpi."""
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "50",
            "-f",
            str(first),
            "-l",
            str(last),
            "-png",
            str(pdf),
            str(out_prefix),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return sorted(out_prefix.parent.glob(out_prefix.name + "*.png"))


def pixel_std(png: Path) -> float:
    """Standard deviation of the grey levels of an image (0 for a blank page)."""
    from PIL import Image

    with Image.open(png) as img:
        grey = np.asarray(img.convert("L"), dtype=np.float64)
    return float(grey.std())


def pdf_page_count(pdf: Path) -> int:
    out = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("Pages:"):
            return int(line.split()[1])
    raise AssertionError("pdfinfo printed no page count")
