"""The ``omni-research report`` handler (argument parsing lives in ``omni_research.cli``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import cast

from omni_research.exceptions import OmniDataError
from omni_research.reports._builder import ExportFormat


def report_main(
    *,
    root: str | None,
    out: str | None,
    symbols: list[str] | None,
    start: str | None,
    end: str | None,
    timeframe: str,
    strategy: str,
    fmt: Sequence[str],
) -> int:
    """Build the research report and write it; print one written path per line.

    Returns 0 on success and 1 (with the kit's message on stderr) on a kit error, such as a
    production root, an unknown strategy, dates without data or a missing Chromium.
    """
    from omni_research import open_catalog
    from omni_research.reports._research import build_research_report

    formats = [f.lower() for f in (fmt or ["html", "pdf"])]
    try:
        catalog = open_catalog(root)
        report = build_research_report(
            catalog,
            symbols=symbols or None,
            start=start,
            end=end,
            timeframe=timeframe,
            strategy=strategy,
        )
        written = report.export(catalog.root, out=out, formats=cast(list[ExportFormat], formats))
    except OmniDataError as exc:
        print(f"omni-research report: {exc}", file=sys.stderr)
        return 1
    for kind, path in written.items():
        print(f"{kind}: {path}")
    return 0
