"""``omni-research catalog``: list the datasets of a data root."""

from __future__ import annotations

import argparse

from omni_research.cli._common import add_root, wide_tables

NAME = "catalog"
HELP = "list the datasets of a data root"


def configure(parser: argparse.ArgumentParser) -> None:
    add_root(parser)


def run(args: argparse.Namespace) -> int:
    from omni_research import open_catalog

    catalog = open_catalog(args.root)
    print(
        f"data root {catalog.root} (tier {catalog.tier}, schema {catalog.manifest.schema_version})"
    )
    with wide_tables():
        print(catalog.datasets().drop("path"))
    return 0
