"""HTML rendering of report pieces: tables, figures, metrics and the page around them.

Everything is inlined (CSS from the package, images as base64 ``data:`` URIs, SVG inline) so
the page opens without a network; no script is emitted.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

import polars as pl

_NUMERIC = (int, float)


@cache
def report_css() -> str:
    """The report stylesheet shipped as package data."""
    return resources.files("omni_research.reports").joinpath("report.css").read_text("utf-8")


def esc(value: object) -> str:
    """HTML-escape ``str(value)``."""
    return html.escape(str(value), quote=True)


def slugify(text: str) -> str:
    """An id-safe slug: lower case letters, digits and dashes."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "section"


def format_value(value: object, *, digits: int = 6) -> str:
    """Format one cell or metric for humans: floats to ``digits`` significant figures."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        if value != 0 and (abs(value) >= 1e9 or abs(value) < 1e-4):
            return f"{value:.{max(digits - 1, 1)}e}"
        text = f"{value:.{digits}g}"
        if "e" in text:  # %g switched to exponent for large integers-as-floats
            text = f"{value:,.2f}"
        return text
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None and value.utcoffset() == timedelta(0):
            return value.strftime("%Y-%m-%d %H:%M:%S UTC").replace(":00 UTC", " UTC")
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, list | tuple):
        return ", ".join(format_value(v, digits=digits) for v in value)
    return str(value)


def table_html(
    df: pl.DataFrame,
    *,
    max_rows: int | None = 60,
    digits: int = 6,
    severity_column: str | None = None,
) -> str:
    """Render a DataFrame as an HTML table (numbers right-aligned, rows capped at ``max_rows``)."""
    numeric = {name for name, dtype in df.schema.items() if dtype.is_numeric()}
    temporal = {name for name, dtype in df.schema.items() if dtype.is_temporal()}
    head = "".join(f"<th>{esc(c)}</th>" for c in df.columns)
    shown = df if max_rows is None or df.height <= max_rows else df.head(max_rows)
    rows = []
    for record in shown.iter_rows(named=True):
        cells = []
        for col, val in record.items():
            css = []
            if col in numeric:
                css.append("num")
            elif col in temporal:
                css.append("ts")
            if severity_column is not None and col == severity_column and val is not None:
                css.append(f"sev-{slugify(str(val))}")
            cls = f' class="{" ".join(css)}"' if css else ""
            cells.append(f"<td{cls}>{esc(format_value(val, digits=digits))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    if shown.height < df.height:
        rows.append(
            f'<tr class="note"><td colspan="{max(df.width, 1)}">… {df.height - shown.height:,} '
            f"more rows not shown ({df.height:,} in total)</td></tr>"
        )
    if df.height == 0:
        rows.append(f'<tr class="note"><td colspan="{max(df.width, 1)}">(no rows)</td></tr>')
    return (
        '<div class="table-wrap"><table class="data">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def metrics_html(metrics: Mapping[str, Any], *, digits: int = 4) -> str:
    """Render a mapping of name -> value as a grid of metric cards."""
    cards = "".join(
        f'<div class="metric"><div class="label">{esc(k)}</div>'
        f'<div class="value">{esc(format_value(v, digits=digits))}</div></div>'
        for k, v in metrics.items()
    )
    return f'<div class="metrics">{cards}</div>'


def figure_to_png(fig: Any, *, dpi: int = 110) -> bytes:
    """Render a matplotlib Figure to PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return buf.getvalue()


def figure_to_svg(fig: Any) -> str:
    """Render a matplotlib Figure to an inline ``<svg>`` element (XML prolog removed)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", facecolor="white")
    text = buf.getvalue()
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def png_img(png: bytes, *, alt: str) -> str:
    """An ``<img>`` element carrying the PNG as a base64 data URI."""
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{esc(alt)}">'


def page(*, title: str, body: str, extra_css: str = "") -> str:
    """A complete HTML document with the report CSS inlined."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="omni_research.reports">\n'
        f"<title>{esc(title)}</title>\n"
        f"<style>\n{report_css()}\n{extra_css}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
