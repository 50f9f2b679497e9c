"""``omni-research quality``: check a data root's datasets and print the findings."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

import polars as pl

from omni_research.cli._common import add_root, wide_tables
from omni_research.exceptions import OmniDataError, UnknownKindError

NAME = "quality"
HELP = "print the data-quality report"


def configure(parser: argparse.ArgumentParser) -> None:
    add_root(parser)
    parser.add_argument("--kind", default=None)
    parser.add_argument("--symbols", nargs="*", default=None)


def run(args: argparse.Namespace) -> int:
    return quality_main(args.root, args.kind, args.symbols)


def quality_main(
    root: str | None,
    kind: str | None,
    symbols: list[str] | None,
    *,
    out: TextIO | None = None,
) -> int:
    """Check a data root and print the findings.

    Parameters
    ----------
    root
        A data root (None: the shipped ``data_test``).
    kind
        Check only datasets of this kind (default: every ohlcv, trades and orderbook one).
    symbols
        Check only these symbols.
    out
        Where to print (default standard output).

    Returns
    -------
    int
        0 when no finding is an error, 1 when some are, 2 when the check could not run.
    """
    from omni_research import open_catalog
    from omni_research.quality import (
        FINDINGS_SCHEMA,
        QUALITY_KINDS,
        quality_report,
        quality_summary,
    )

    stream = out if out is not None else sys.stdout
    try:
        catalog = open_catalog(root)
        listing = catalog.datasets()
        wanted = listing.filter(pl.col("kind").is_in(QUALITY_KINDS))
        if kind is not None:
            if kind not in QUALITY_KINDS:
                raise UnknownKindError(
                    f"no quality checks for kind {kind!r}; expected one of {QUALITY_KINDS}"
                )
            wanted = wanted.filter(pl.col("kind") == kind)
        trades_name = listing.filter(pl.col("kind") == "trades")["name"].to_list()
        reports = []
        for name, ds_kind in wanted.select("name", "kind").iter_rows():
            lf = catalog.scan(name, symbols=symbols)
            extra: dict[str, Any] = {}
            if ds_kind == "ohlcv" and len(trades_name) == 1:
                extra["trades"] = catalog.scan(trades_name[0], symbols=symbols)
            reports.append(quality_report(lf, ds_kind, dataset=name, **extra))
    except OmniDataError as exc:
        print(f"omni-research quality: {exc}", file=stream)
        return 2
    report = pl.concat(reports, how="vertical") if reports else pl.DataFrame(schema=FINDINGS_SCHEMA)
    print(f"data root: {catalog.root}", file=stream)
    print(quality_summary(report), file=stream)
    if report.height:
        table = report.select(
            "dataset", "symbol", "check", "severity", "first_timestamp", "last_timestamp",
            "count", "detail",
        )  # fmt: skip
        with wide_tables(tbl_rows=50, tbl_cols=10):
            print(table, file=stream)
    return 1 if (report["severity"] == "error").any() else 0
