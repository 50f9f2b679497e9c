"""Notebook export: any ``.ipynb`` to the report's HTML/PDF style, code hidden by default.

nbconvert's ``lab`` and ``classic`` templates load require.js, MathJax and mermaid from a CDN;
the ``basic`` template emits only the cells, which are wrapped here in the report page (CSS
inlined) after removing every script and every external resource, so the file opens offline.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omni_research.exceptions import ConfigurationError, DataFormatError
from omni_research.reports import _html as h
from omni_research.reports._builder import ExportFormat, export_document
from omni_research.reports._lineage import Lineage, git_commit

_NOTEBOOK_CSS = """
.cell { margin: 0 0 10px; }
.prompt, .anchor-link, .jp-InputPrompt, .jp-OutputPrompt { display: none; }
.input_area pre, .highlight pre { background: var(--bg-soft); border-left: 3px solid var(--rule); }
.output_area img { max-width: 100%; height: auto; }
.output_stderr pre { background: #fff6e5; }
.output_error pre { background: #fdecea; }
.output_html table, .rendered_html table {
  border-collapse: collapse; font-size: 12px; margin: 6px 0 12px;
}
.output_html th, .output_html td, .rendered_html th, .rendered_html td {
  border-bottom: 1px solid var(--rule); padding: 3px 8px; text-align: right;
}
.output_html th, .rendered_html th { background: var(--bg-soft); }
.offline-note { color: var(--muted); font-style: italic; }
"""

_SCRIPT_RE = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.IGNORECASE | re.DOTALL)
_LINK_RE = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_IFRAME_RE = re.compile(r"<(iframe|object|embed)\b[^>]*>(.*?</\1\s*>)?", re.IGNORECASE | re.DOTALL)
_REMOTE_ATTR_RE = re.compile(
    r"""\s(src|srcset|data|poster|background)\s*=\s*(["'])\s*(?:https?:)?//[^"']*\2""",
    re.IGNORECASE,
)
_CSS_IMPORT_RE = re.compile(r"@import\s+url\([^)]*\)\s*;?|@import\s+[\"'][^\"']*[\"']\s*;?")
_CSS_REMOTE_URL_RE = re.compile(r"url\(\s*[\"']?(?:https?:)?//[^)]*\)", re.IGNORECASE)


def make_offline(fragment: str) -> str:
    """Remove scripts, stylesheets links, frames and remote resources from an HTML fragment.

    Hyperlinks (``<a href>``) stay: they are not fetched when the page opens.
    """
    text = _SCRIPT_RE.sub("", fragment)
    text = re.sub(r"<script\b[^>]*/?>", "", text, flags=re.IGNORECASE)  # unclosed tags
    text = _LINK_RE.sub("", text)
    text = _IFRAME_RE.sub('<span class="offline-note">[embedded content removed]</span>', text)
    text = _REMOTE_ATTR_RE.sub(' data-removed-remote=""', text)
    text = _CSS_IMPORT_RE.sub("", text)
    return _CSS_REMOTE_URL_RE.sub("none", text)


def _read(path: Path) -> Any:
    import nbformat

    try:
        return nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"notebook {path} does not exist; expected an .ipynb file"
        ) from exc
    except Exception as exc:  # nbformat raises json / validation errors of several kinds
        raise DataFormatError(
            f"notebook {path} is not a readable Jupyter notebook ({exc}); "
            "open it in JupyterLab and save it again"
        ) from exc


def _execute(
    path: Path, parameters: Mapping[str, Any] | None, timeout: float, kernel_name: str
) -> Any:
    import nbformat
    import papermill

    try:
        result = papermill.execute_notebook(
            str(path),
            None,
            parameters=dict(parameters or {}),
            kernel_name=kernel_name,
            cwd=str(path.parent),
            progress_bar=False,
            execution_timeout=timeout,
        )
    except papermill.PapermillExecutionError as exc:
        raise DataFormatError(
            f"notebook {path} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}; "
            "fix the notebook (run it top to bottom in JupyterLab) and export again"
        ) from exc
    return nbformat.from_dict(result)  # type: ignore[no-untyped-call]


def notebook_to_html(
    nb: Any,
    *,
    title: str | None = None,
    show_code: bool = False,
    source: str | None = None,
) -> str:
    """Render a notebook node to a self-contained report-styled HTML page.

    Parameters
    ----------
    nb
        An ``nbformat.NotebookNode`` (version 4).
    title
        Page title; defaults to the first Markdown heading or "Notebook".
    show_code
        Show code cells (hidden by default, as in a report).
    source
        Where the notebook came from, shown in the header.
    """
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(  # type: ignore[no-untyped-call]
        template_name="basic",
        exclude_input=not show_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    try:
        body, _ = exporter.from_notebook_node(nb)
    except Exception as exc:  # nbconvert wraps several template and conversion errors
        raise DataFormatError(f"nbconvert could not render the notebook ({exc})") from exc
    own_heading = title is None
    if title is None:
        title = "Notebook"
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                m = re.search(r"^#+\s+(.+)$", cell.source, flags=re.MULTILINE)
                if m:
                    title = m.group(1).strip()
                    break
    created = datetime.now(UTC)
    meta = f"exported {created:%Y-%m-%d %H:%M UTC} · code {git_commit()[:12]}"
    if source:
        meta += f" · {h.esc(source)}"
    # A title taken from the notebook's first heading is already on the page: don't repeat it.
    heading = "" if own_heading and title != "Notebook" else f"<h1>{h.esc(title)}</h1>"
    header = f'<header class="report-header">{heading}<div class="meta">{meta}</div></header>'

    return h.page(title=title, body=header + make_offline(body), extra_css=_NOTEBOOK_CSS)


class ExportedNotebook:
    """A notebook rendered in the report style, ready to write as HTML or PDF.

    Attributes
    ----------
    html : str
        The self-contained page.
    source : Path
        The notebook file.
    """

    lineage: Lineage | None = None

    def __init__(self, html: str, *, source: Path) -> None:
        self.html = html
        self.source = source
        self.created_at = datetime.now(UTC)

    def to_html(self) -> str:
        """The self-contained page."""
        return self.html

    def file_stem(self) -> str:
        """``notebook_<name>_<when>``."""
        return f"notebook_{h.slugify(self.source.stem)}_{self.created_at:%Y%m%dT%H%MZ}"

    def write_html(self, path: str | Path) -> Path:
        """Write the page atomically."""
        from omni_research.io._atomic import write_text_atomic

        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target, self.html)
        return target

    def write_pdf(self, path: str | Path, *, timeout: float = 120.0) -> Path:
        """Print the page to PDF with headless Chromium, atomically."""
        from omni_research.io._atomic import write_bytes_atomic
        from omni_research.reports._pdf import html_to_pdf_bytes

        target = Path(path)
        data = html_to_pdf_bytes(self.html, timeout=timeout)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(target, data)
        return target


def export_notebook(
    path: str | Path,
    *,
    root: str | Path | None = None,
    out: str | Path | None = None,
    name: str | None = None,
    formats: Sequence[ExportFormat] = ("html", "pdf"),
    show_code: bool = False,
    execute: bool = False,
    parameters: Mapping[str, Any] | None = None,
    timeout: float = 600.0,
    kernel_name: str = "python3",
) -> dict[str, Path | str]:
    """Export a notebook to the report's HTML/PDF style (code hidden unless ``show_code``).

    Parameters
    ----------
    path
        The ``.ipynb`` file.
    root, out
        Write under ``<root>/exports/reports`` or into ``out``; with neither, next to the
        notebook.
    name
        File stem; default ``notebook_<name>_<UTC time>``.
    formats
        Any of ``"html"`` and ``"pdf"``.
    show_code
        Show the code cells.
    execute
        Run the notebook first (with papermill, in its own folder), e.g. a committed
        notebook without outputs.
    parameters
        Values for the notebook's ``parameters`` cell when executing.
    timeout, kernel_name
        Per-cell timeout in seconds and the Jupyter kernel used when executing.

    Returns
    -------
    dict
        Format -> written path.
    """
    src = Path(path)
    if src.suffix != ".ipynb":
        raise ConfigurationError(f"export_notebook expected an .ipynb file, got {src}")
    nb = _execute(src, parameters, timeout, kernel_name) if execute else _read(src)
    doc = ExportedNotebook(notebook_to_html(nb, show_code=show_code, source=src.name), source=src)
    if root is None and out is None:
        out = src.parent
    return export_document(doc, root=root, out=out, name=name, formats=formats)
