"""Shared fixtures of the report tests: a small report with known figures and tables."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from omni_research.reports import Report

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed")
needs_pdftoppm = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm missing")

# A reference a browser fetches on open: a resource element pointing at http(s) or //, a CSS
# url() or @import. Plain hyperlinks (<a href>) are not fetched and are allowed.
REMOTE_REF = re.compile(
    r"""<(?:script|link|img|iframe|source|video|audio|embed|object|image|use)\b[^>]*"""
    r"""\b(?:src|href|srcset|data|poster|xlink:href)\s*=\s*["']?\s*(?:https?:)?//"""
    r"""|url\(\s*["']?\s*(?:https?:)?//|@import\s""",
    re.IGNORECASE,
)


def make_figure(seed: int, title: str) -> object:
    from matplotlib.figure import Figure

    rng = np.random.default_rng(seed)
    fig = Figure(figsize=(6, 2.5))
    ax = fig.add_subplot()
    ax.plot(np.cumsum(rng.normal(size=300)), color="tab:blue")
    ax.set_title(title)
    return fig


@pytest.fixture
def small_report() -> Report:
    rep = Report("Unit report", subtitle="two figures, two tables")
    rep.add_section("Text").add_markdown("Some **bold** words and a [link](https://example.org).")
    rep.add_figure(make_figure(1, "walk one"), caption="First walk")
    rep.add_figure(make_figure(2, "walk two"), caption="Second walk", fmt="svg")
    rep.add_section("Tables")
    rep.add_table(pl.DataFrame({"x": [1.5, 2.25, 3.0], "name": ["a", "b", "c"]}), caption="xs")
    rep.add_table(pl.DataFrame({"n": list(range(100))}), caption="long", max_rows=10)
    rep.add_metrics({"sharpe": 1.23456, "trades": 7})
    return rep
