"""Research reports: a builder exporting self-contained HTML and PDF, with lineage.

``Report`` collects Markdown, figures, tables, metrics and the data-quality summary and writes
one HTML file that opens without a network (and a PDF printed by headless Chromium).
``build_research_report`` is the kit's main job: catalog -> indicators -> quality ->
backtest -> sweep -> report. ``export_notebook`` turns any notebook into the same style.
"""

from omni_research._extras import require_extra
from omni_research._public import publish

require_extra("reports", "omni_research.reports")

from omni_research._manifest import sha256_file
from omni_research.reports._builder import Report, exports_dir
from omni_research.reports._lineage import FileRecord, Lineage, collect_lineage
from omni_research.reports._notebook import ExportedNotebook, export_notebook, notebook_to_html
from omni_research.reports._pdf import find_chromium
from omni_research.reports._research import build_research_report

publish(__name__, ExportedNotebook, FileRecord, Lineage, Report)

__all__ = [
    "ExportedNotebook",
    "FileRecord",
    "Lineage",
    "Report",
    "build_research_report",
    "collect_lineage",
    "export_notebook",
    "exports_dir",
    "find_chromium",
    "notebook_to_html",
    "sha256_file",
]
