"""``omni-research validate``: load and validate every dataset (or the ones named)."""

from __future__ import annotations

import argparse

from omni_research.cli._common import add_root

NAME = "validate"
HELP = "load and validate every dataset (or the ones named)"


def configure(parser: argparse.ArgumentParser) -> None:
    add_root(parser)
    parser.add_argument("datasets", nargs="*")


def run(args: argparse.Namespace) -> int:
    from omni_research import open_catalog
    from omni_research.exceptions import DataFormatError, DataValidationError

    catalog = open_catalog(args.root)
    failures = 0
    names = args.datasets or catalog.datasets()["name"].to_list()
    for name in names:
        try:
            df = catalog.load(name)
        except (DataValidationError, DataFormatError) as exc:
            failures += 1
            print(f"INVALID  {name}\n{exc}")
            continue
        print(f"valid    {name:<26} {df.height:>9,} rows")
    print(f"{len(names) - failures} of {len(names)} datasets valid in {catalog.root}")
    return 1 if failures else 0
