"""``omni-research verify``: check every file's sha256 against the manifest."""

from __future__ import annotations

import argparse

import polars as pl

from omni_research.cli._common import add_root

NAME = "verify"
HELP = "check every file's sha256 against the manifest"


def configure(parser: argparse.ArgumentParser) -> None:
    add_root(parser)
    parser.add_argument(
        "--repair",
        action="store_true",
        help="first finish an interrupted write: record the files its journal lists from "
        "their data (files outside the journal are never accepted)",
    )


def run(args: argparse.Namespace) -> int:
    from omni_research import open_catalog

    if args.repair:
        from omni_research._catalog import DATA_TEST
        from omni_research._manifest import repair

        print(repair(args.root if args.root is not None else DATA_TEST))
    catalog = open_catalog(args.root)
    problems = catalog.verify()
    if problems.is_empty():
        print(f"all {len(catalog.manifest.files)} files match the manifest of {catalog.root}")
        return 0
    with pl.Config(tbl_rows=-1, fmt_str_lengths=100):
        print(problems)
    if args.repair:
        print(
            f"{problems.height} file(s) still differ from the manifest: they were not part of "
            "an interrupted write, so --repair does not accept them (the data may have been "
            "changed). Restore them from their source, or re-import them"
        )
    return 1
