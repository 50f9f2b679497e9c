"""``omni-research report``: build the research report (HTML and PDF) into exports/."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from omni_research._time import parse_range
from omni_research.cli._common import add_root
from omni_research.exceptions import OmniDataError

if TYPE_CHECKING:
    from omni_research.reports._builder import ExportFormat

NAME = "report"
HELP = "build the research report (HTML and PDF) into exports/"


def configure(parser: argparse.ArgumentParser) -> None:
    add_root(parser)
    parser.add_argument(
        "--out",
        default=None,
        help="output folder or s3://bucket/prefix (default: <root>/exports/reports)",
    )
    parser.add_argument("--symbols", nargs="*", default=None)
    parser.add_argument("--start", default=None, help="first day or time, inclusive (UTC)")
    parser.add_argument(
        "--end",
        default=None,
        help="last day, inclusive (YYYY-MM-DD), or an exclusive time (YYYY-MM-DDTHH:MM, UTC)",
    )
    parser.add_argument("--timeframe", default="1h")
    parser.add_argument("--strategy", default="sma_cross")
    parser.add_argument("--format", nargs="*", default=["html", "pdf"], choices=["html", "pdf"])


def run(args: argparse.Namespace) -> int:
    return report_main(
        root=args.root,
        out=args.out,
        symbols=args.symbols,
        start=args.start,
        end=args.end,
        timeframe=args.timeframe,
        strategy=args.strategy,
        fmt=args.format,
    )


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

    ``start``/``end`` are read by :func:`omni_research._time.parse_range` (a bare end date
    includes that day). Returns 0 on success and 1 (with the kit's message on stderr) on a
    kit error, such as a production root, an unknown strategy, dates without data or a
    missing Chromium.
    """
    from omni_research import open_catalog
    from omni_research.reports import build_research_report

    formats = [f.lower() for f in (fmt or ["html", "pdf"])]
    try:
        span = parse_range(start, end, where="omni-research report")
        catalog = open_catalog(root)
        report = build_research_report(
            catalog,
            symbols=symbols or None,
            start=span.start,
            end=span.end,
            timeframe=timeframe,
            strategy=strategy,
        )
        written = report.export(catalog.root, out=out, formats=cast("list[ExportFormat]", formats))
    except OmniDataError as exc:
        print(f"omni-research report: {exc}", file=sys.stderr)
        return 1
    for kind, path in written.items():
        print(f"{kind}: {path}")
    return 0
