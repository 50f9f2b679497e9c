"""The report builder: collect sections, then write one self-contained HTML file or a PDF."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeAlias

import polars as pl

from omni_research.exceptions import ConfigurationError, ProductionDataError
from omni_research.reports import _html as h
from omni_research.reports._lineage import ALLOWED_TIERS, Lineage, git_commit, package_versions

ExportFormat: TypeAlias = Literal["html", "pdf"]

_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class _Block:
    kind: str
    html: str
    section: str | None = None  # set on section headings, for the table of contents


def _as_polars(table: Any) -> pl.DataFrame:
    if isinstance(table, pl.DataFrame):
        return table
    if isinstance(table, pl.LazyFrame):
        return table.collect()
    if isinstance(table, Mapping):
        return pl.DataFrame({str(k): v for k, v in table.items()})
    import pandas as pd

    if isinstance(table, pd.DataFrame):
        frame = table.reset_index() if not isinstance(table.index, pd.RangeIndex) else table
        return pl.from_pandas(frame)
    raise ConfigurationError(
        f"add_table expected a polars DataFrame/LazyFrame, a pandas DataFrame or a dict of "
        f"columns, got {type(table).__name__}"
    )


def _close_figure(fig: Any) -> None:
    # Only pyplot tracks figures; closing keeps notebooks and long runs from accumulating them.
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close(fig)


class Report:
    """A research report: Markdown, figures, tables, metrics, data quality and lineage.

    Build it section by section, then write it with :meth:`write_html`, :meth:`write_pdf` or
    :meth:`export`. The HTML is one self-contained file (CSS inlined, figures as base64 PNG or
    inline SVG, no scripts) that opens without a network and prints cleanly.

    Parameters
    ----------
    title
        The report's title.
    subtitle
        An optional line under the title.
    lineage
        Where the data came from (see :func:`collect_lineage`). A report without one still
        records the code's git commit, package versions and creation time.
    slug
        The "what" part of exported file names, e.g. ``"research-report_BTCUSDT_1h"``.

    Examples
    --------
    >>> import polars as pl
    >>> from omni_research.reports import Report
    >>> rep = Report("Demo")
    >>> _ = rep.add_markdown("Some *findings*.").add_table(pl.DataFrame({"a": [1, 2]}))
    >>> "<table" in rep.to_html()
    True
    """

    def __init__(
        self,
        title: str,
        *,
        subtitle: str | None = None,
        lineage: Lineage | None = None,
        slug: str | None = None,
    ) -> None:
        self.title = title
        self.subtitle = subtitle
        self.lineage = lineage
        self.slug = slug or h.slugify(title)
        self.created_at = datetime.now(UTC)
        self._blocks: list[_Block] = []
        self.n_figures = 0
        self.n_tables = 0

    def __repr__(self) -> str:
        cls = type(self)
        return (
            f"{cls.__module__}.{cls.__qualname__}(title={self.title!r}, slug={self.slug!r}, "
            f"blocks={len(self._blocks)}, lineage={self.lineage is not None})"
        )

    # -- building -------------------------------------------------------------------------
    def add_section(self, title: str) -> Report:
        """Start a new top-level section (listed in the table of contents)."""
        anchor = f"s{len([b for b in self._blocks if b.section]) + 1}-{h.slugify(title)}"
        self._blocks.append(
            _Block("section", f'<h2 id="{h.esc(anchor)}">{h.esc(title)}</h2>', section=anchor)
        )
        return self

    def _heading(self, title: str | None) -> str:
        return f"<h3>{h.esc(title)}</h3>" if title else ""

    def add_markdown(self, text: str, *, title: str | None = None) -> Report:
        """Add a block of Markdown (tables and fenced code supported)."""
        import markdown

        body = markdown.markdown(text, extensions=["tables", "fenced_code", "sane_lists"])
        self._blocks.append(
            _Block("markdown", f'<section class="block">{self._heading(title)}{body}</section>')
        )
        return self

    def add_figure(
        self,
        fig: Any,
        *,
        caption: str | None = None,
        title: str | None = None,
        fmt: Literal["png", "svg"] = "png",
        dpi: int = 110,
        close: bool = True,
    ) -> Report:
        """Add a matplotlib Figure (or PNG bytes), embedded in the HTML.

        Parameters
        ----------
        fig
            A ``matplotlib.figure.Figure`` or PNG bytes.
        caption
            Text under the figure.
        fmt
            ``"png"`` (base64 data URI) or ``"svg"`` (inline vector).
        dpi
            Resolution of PNG output.
        close
            Close a pyplot-managed figure after rendering it.
        """
        alt = caption or title or f"Figure {self.n_figures + 1}"
        if isinstance(fig, bytes | bytearray):
            if not bytes(fig).startswith(b"\x89PNG"):
                raise ConfigurationError("add_figure got bytes that are not a PNG image")
            media = h.png_img(bytes(fig), alt=alt)
        elif hasattr(fig, "savefig"):
            media = (
                h.figure_to_svg(fig)
                if fmt == "svg"
                else h.png_img(h.figure_to_png(fig, dpi=dpi), alt=alt)
            )
            if close:
                _close_figure(fig)
        else:
            raise ConfigurationError(
                f"add_figure expected a matplotlib Figure or PNG bytes, got {type(fig).__name__}"
            )
        self.n_figures += 1
        cap = (
            f"<figcaption>Figure {self.n_figures}. {h.esc(caption)}</figcaption>" if caption else ""
        )
        self._blocks.append(
            _Block("figure", f"{self._heading(title)}<figure>{media}{cap}</figure>")
        )
        return self

    def add_table(
        self,
        table: Any,
        *,
        caption: str | None = None,
        title: str | None = None,
        max_rows: int | None = 60,
        digits: int = 6,
    ) -> Report:
        """Add a table (polars or pandas DataFrame, LazyFrame, or dict of columns)."""
        df = _as_polars(table)
        self.n_tables += 1
        cap = (
            f'<div class="table-caption">Table {self.n_tables}. {h.esc(caption)}</div>'
            if caption
            else ""
        )
        self._blocks.append(
            _Block(
                "table",
                f'<section class="block">{self._heading(title)}'
                f"{h.table_html(df, max_rows=max_rows, digits=digits)}{cap}</section>",
            )
        )
        return self

    def add_metrics(self, metrics: Mapping[str, Any], *, title: str | None = None) -> Report:
        """Add named values (e.g. backtest statistics) as a grid of cards."""
        self._blocks.append(
            _Block(
                "metrics",
                f'<section class="block">{self._heading(title)}{h.metrics_html(metrics)}</section>',
            )
        )
        return self

    def add_quality(
        self,
        summary: Any,
        findings: Any = None,
        *,
        title: str | None = None,
        max_rows: int = 40,
    ) -> Report:
        """Add a data-quality summary and, optionally, its findings.

        ``summary`` may be a quality-report object with ``summary``/``findings`` attributes, a
        DataFrame, or a mapping of counts. Findings are sorted by severity when a ``severity``
        column exists.
        """
        if findings is None and hasattr(summary, "findings"):
            findings = summary.findings
        if hasattr(summary, "summary"):
            summary = summary.summary
            if callable(summary):
                summary = summary()
        parts = [self._heading(title)]
        if isinstance(summary, Mapping):
            parts.append(h.metrics_html(summary))
        elif summary is not None:
            sdf = _as_polars(summary)
            sev = "severity" if "severity" in sdf.columns else None
            parts.append(h.table_html(sdf, max_rows=max_rows, severity_column=sev))
            self.n_tables += 1
        if findings is not None:
            fdf = _as_polars(findings)
            if fdf.height == 0:
                parts.append('<p class="callout">No findings: every check passed.</p>')
            else:
                sev = "severity" if "severity" in fdf.columns else None
                if sev is not None:
                    fdf = (
                        fdf.with_columns(
                            pl.col(sev)
                            .cast(pl.String)
                            .replace_strict(_SEVERITY_ORDER, default=3, return_dtype=pl.Int64)
                            .alias("__order")
                        )
                        .sort("__order", maintain_order=True)
                        .drop("__order")
                    )
                parts.append(
                    f"<p>{fdf.height:,} finding(s).</p>"
                    + h.table_html(fdf, max_rows=max_rows, severity_column=sev)
                )
                self.n_tables += 1
        self._blocks.append(_Block("quality", f'<section class="block">{"".join(parts)}</section>'))
        return self

    def add_html(self, fragment: str) -> Report:
        """Add a raw HTML fragment (the caller keeps it free of network references)."""
        self._blocks.append(_Block("html", fragment))
        return self

    # -- rendering ------------------------------------------------------------------------
    def _check_lineage(self) -> None:
        if self.lineage is not None and self.lineage.tier not in ALLOWED_TIERS:
            raise ProductionDataError(
                f"report {self.title!r} refused: its data came from a {self.lineage.tier!r} tier "
                f"root ({self.lineage.catalog_root}); reports are made only from "
                f"{' or '.join(ALLOWED_TIERS)} tier data"
            )

    def lineage_record(self) -> dict[str, Any] | None:
        """The lineage the HTML shows, as JSON-ready data (None for a report without one).

        Holds the report (title, file stem, creation time), the data root and its tier, the
        files read with rows and sha256, the time range, the parameters, the schema and
        package versions and the git commit. The HTML's lineage section is rendered from
        this record, and :meth:`export` writes it beside the HTML/PDF as
        ``<name>.lineage.json``.
        """
        lin = self.lineage
        if lin is None:
            return None
        record = lin.to_dict()
        if not record["packages"]:
            record["packages"] = package_versions()
        report = {
            "title": self.title,
            "file_stem": self.file_stem(),
            "created_at": self.created_at.isoformat(),
        }
        return {"report": report, **record}

    def lineage_json(self) -> str | None:
        """:meth:`lineage_record` as indented JSON: the text of ``<name>.lineage.json``."""
        record = self.lineage_record()
        return None if record is None else json.dumps(record, indent=2)

    def _lineage_html(self) -> str:
        record = self.lineage_record()
        if record is None:
            packages, commit = package_versions(), git_commit()
            rows = [
                ("Report created", h.format_value(self.created_at)),
                ("Catalog root", "none (no catalog data read)"),
                ("Tier", "n/a"),
                ("Git commit", commit),
            ]
        else:
            packages = record["packages"]
            span = record["time_range"]
            rows = [
                ("Report created", h.format_value(self.created_at)),
                ("Data collected", h.format_value(datetime.fromisoformat(record["created_at"]))),
                ("Catalog root", record["catalog_root"]),
                ("Tier", record["tier"]),
                ("Time range", _span_text(span) if span is not None else "not recorded"),
                ("Git commit", record["git_commit"]),
            ]
        dl = "".join(f"<dt>{h.esc(k)}</dt><dd class='mono'>{h.esc(v)}</dd>" for k, v in rows)
        parts = [f"<dl>{dl}</dl>"]
        if record is not None:
            if record["files"]:
                parts.append("<h3>Datasets read</h3>")
                parts.append(h.table_html(pl.DataFrame(record["datasets"]), max_rows=None))
                files = pl.DataFrame(
                    {
                        "path": [f["path"] for f in record["files"]],
                        "rows": [f["rows"] for f in record["files"]],
                        "bytes": [f["size_bytes"] for f in record["files"]],
                        "sha256": [f["sha256"] for f in record["files"]],
                    },
                    schema={
                        "path": pl.String,
                        "rows": pl.Int64,
                        "bytes": pl.Int64,
                        "sha256": pl.String,
                    },
                )
                parts.append("<h3>Files read</h3>")
                parts.append(
                    h.table_html(files, max_rows=None).replace(
                        '<table class="data">', '<table class="data files">'
                    )
                )
            versions = record["schema_versions"]
            if versions:
                parts.append("<h3>Schema versions</h3>")
                parts.append(
                    h.table_html(
                        pl.DataFrame(
                            {
                                "schema": list(versions),
                                "version": [str(v) for v in versions.values()],
                            }
                        ),
                        max_rows=None,
                    )
                )
            params = record["parameters"]
            if params:
                parts.append("<h3>Parameters</h3>")
                parts.append(
                    h.table_html(
                        pl.DataFrame(
                            {
                                "parameter": list(params),
                                "value": [_param_text(v) for v in params.values()],
                            }
                        ),
                        max_rows=None,
                    )
                )
        parts.append("<h3>Package versions</h3>")
        parts.append(
            h.table_html(
                pl.DataFrame({"package": list(packages), "version": list(packages.values())}),
                max_rows=None,
            )
        )
        if record is not None:
            parts.append(
                '<details class="no-print"><summary>Lineage as JSON</summary>'
                f'<pre id="omni-lineage-json">{h.esc(self.lineage_json() or "")}</pre></details>'
            )
        return f'<section class="lineage">{"".join(parts)}</section>'

    def to_html(self) -> str:
        """The whole report as one self-contained HTML document."""
        self._check_lineage()
        lin = self.lineage
        badge = (
            f'<span class="badge tier-{h.esc(lin.tier)}">{h.esc(lin.tier)} data</span>'
            if lin is not None
            else ""
        )
        created = self.created_at.strftime("%Y-%m-%d %H:%M UTC")
        commit = (lin.git_commit if lin is not None else git_commit())[:12]
        header = (
            '<header class="report-header">'
            f"<h1>{h.esc(self.title)}</h1>"
            + (f'<p class="subtitle">{h.esc(self.subtitle)}</p>' if self.subtitle else "")
            + f'<div class="meta">{badge}created {h.esc(created)} · code {h.esc(commit)}'
            + (f" · data root {h.esc(lin.catalog_root)}" if lin is not None else "")
            + "</div></header>"
        )
        lineage_anchor = "lineage"
        toc_items = [(b.section, re.sub(r"<[^>]+>", "", b.html)) for b in self._blocks if b.section]
        toc_items.append((lineage_anchor, "Lineage"))
        toc = (
            '<nav class="toc"><strong>Contents</strong><ol>'
            + "".join(f'<li><a href="#{h.esc(a)}">{t}</a></li>' for a, t in toc_items)
            + "</ol></nav>"
        )
        body = "\n".join(b.html for b in self._blocks)
        lineage = f'<h2 id="{lineage_anchor}">Lineage</h2>{self._lineage_html()}'
        footer = (
            '<footer class="report-footer">Made with omni_research · '
            f"{h.esc(self.created_at.isoformat(timespec='seconds'))}</footer>"
        )
        return h.page(title=self.title, body=f"{header}{toc}\n{body}\n{lineage}{footer}")

    # -- writing --------------------------------------------------------------------------
    def write_html(self, path: str | Path) -> Path:
        """Write the report as one HTML file, atomically. Returns the path."""
        from omni_research.io._atomic import write_text_atomic

        target = Path(path)
        text = self.to_html()
        _mkdir(target.parent)
        write_text_atomic(target, text)
        return target

    def write_pdf(self, path: str | Path, *, timeout: float = 120.0) -> Path:
        """Print the report to PDF with headless Chromium, atomically. Returns the path.

        Raises
        ------
        ConfigurationError
            When Chromium is not installed (the message says how to install it).
        """
        from omni_research.io._atomic import write_bytes_atomic
        from omni_research.reports._pdf import html_to_pdf_bytes

        target = Path(path)
        data = html_to_pdf_bytes(self.to_html(), timeout=timeout)
        _mkdir(target.parent)
        write_bytes_atomic(target, data)
        return target

    def file_stem(self) -> str:
        """``<slug>_<created, e.g. 20261125T0102Z>``: what the report is and when it was made."""
        return f"{self.slug}_{self.created_at.strftime('%Y%m%dT%H%MZ')}"

    def export(
        self,
        root: str | Path | None = None,
        *,
        out: str | Path | None = None,
        name: str | None = None,
        formats: Sequence[ExportFormat] = ("html", "pdf"),
        storage_options: Mapping[str, object] | None = None,
    ) -> dict[str, Path | str]:
        """Write the report under ``<root>/exports/reports/`` (or ``out``) in each format.

        Parameters
        ----------
        root
            The data root; defaults to the lineage's catalog root. A URI string
            (``s3://bucket/prefix``) writes into the bucket.
        out
            An explicit output folder, used instead of the root's ``exports/reports``; a
            URI string (``s3://bucket/exports/...``) writes objects there.
        name
            File stem; defaults to :meth:`file_stem`.
        formats
            Any of ``"html"`` and ``"pdf"``.
        storage_options
            Credentials and settings for a bucket target (Polars' names); unset ones come
            from the environment (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``, ...).

        Returns
        -------
        dict
            Format -> written path (an object's URI string in a bucket), and ``"lineage"``
            -> ``<name>.lineage.json``: beside the HTML/PDF, the lineage the HTML shows
            (:meth:`lineage_record`), when the report has one. In a bucket each file is
            rendered to a local temporary file and uploaded in one PUT (atomic), the
            lineage last.
        """
        return export_document(
            self, root=root, out=out, name=name, formats=formats, storage_options=storage_options
        )


def _param_text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return h.format_value(value)


def _span_text(span: Mapping[str, str | None]) -> str:
    """``<start> to <end>`` as recorded (start inclusive, end exclusive)."""
    start, end = span.get("start"), span.get("end")
    return f"{start or 'the first row'} to {end or 'the last row'}"


def _mkdir(folder: Path) -> None:
    from omni_research import _guard

    _guard.check_path(folder)  # before anything is created there
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot create the report folder {folder} ({exc}); choose a writable --out folder"
        ) from exc


def exports_dir(root: str | Path) -> Path:
    """The folder reports go to under a data root: ``<root>/exports/reports``."""
    return Path(root) / "exports" / "reports"


def export_document(
    doc: Any,
    *,
    root: str | Path | None,
    out: str | Path | None,
    name: str | None,
    formats: Sequence[ExportFormat],
    storage_options: Mapping[str, object] | None = None,
) -> dict[str, Path | str]:
    """Shared export logic of reports and exported notebooks."""
    from omni_research._store import is_uri
    from omni_research.reports._lineage import guard_paths

    bad = [f for f in formats if f not in ("html", "pdf")]
    if bad or not formats:
        raise ConfigurationError(
            f"export formats must be a non-empty selection of 'html' and 'pdf', got {list(formats)}"
        )
    lineage: Lineage | None = getattr(doc, "lineage", None)
    target = out
    if target is None:
        target = root if root is not None else (lineage.catalog_root if lineage else None)
        if isinstance(target, str) and is_uri(target):
            target = f"{target.rstrip('/')}/exports/reports"
        else:
            target = None
    if isinstance(target, str) and is_uri(target):
        if lineage is not None:
            guard_paths(lineage.catalog_root, lineage.tier)
        return _export_to_bucket(
            doc, target, name=name, formats=formats, storage_options=storage_options
        )
    if storage_options is not None:
        raise ConfigurationError(
            "storage_options given for a local export; they apply to object-storage targets "
            "(s3://bucket/prefix) only"
        )
    if out is not None:
        folder = Path(out)
    else:
        base = root if root is not None else (lineage.catalog_root if lineage is not None else None)
        if base is None:
            raise ConfigurationError(
                "export needs a data root (root=...) or an output folder (out=...); "
                "this report read no catalog to take a root from"
            )
        if lineage is None:
            from omni_research import _guard

            _guard.check_path(Path(base))
        else:
            guard_paths(base, lineage.tier)
        folder = exports_dir(base)
    stem = name or doc.file_stem()
    written: dict[str, Path | str] = {}
    for fmt in dict.fromkeys(formats):
        path = folder / f"{stem}.{fmt}"
        written[fmt] = doc.write_html(path) if fmt == "html" else doc.write_pdf(path)
    lineage_json = getattr(doc, "lineage_json", None)
    text = lineage_json() if callable(lineage_json) else None
    if text is not None:
        from omni_research.io._atomic import write_text_atomic

        # atomic and guarded like every other write (write_text_atomic checks the target)
        written["lineage"] = write_text_atomic(folder / f"{stem}.lineage.json", text)
    return written


def _export_to_bucket(
    doc: Any,
    folder: str,
    *,
    name: str | None,
    formats: Sequence[ExportFormat],
    storage_options: Mapping[str, object] | None,
) -> dict[str, Path | str]:
    """Render each format into a local temporary folder, then upload the files in one PUT
    each (the lineage last) under the ``folder`` URI, after the guard refused production."""
    import tempfile

    from omni_research._root_writer import upload_files

    stem = name or doc.file_stem()
    files: dict[str, tuple[str, bytes]] = {}
    with tempfile.TemporaryDirectory(prefix="omni-export-") as tmp:
        for fmt in dict.fromkeys(formats):
            path = Path(tmp) / f"{stem}.{fmt}"
            _ = doc.write_html(path) if fmt == "html" else doc.write_pdf(path)
            files[fmt] = (path.name, path.read_bytes())
    lineage_json = getattr(doc, "lineage_json", None)
    text = lineage_json() if callable(lineage_json) else None
    if text is not None:
        files["lineage"] = (f"{stem}.lineage.json", text.encode("utf-8"))
    uris = upload_files(folder, list(files.values()), storage_options=storage_options)
    return dict(zip(files, uris, strict=True))
