"""``omni-research make-test-data``: regenerate the test data root from a seed."""

from __future__ import annotations

import argparse

NAME = "make-test-data"
HELP = "regenerate the test data root from a seed"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default="data_test")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=7, help="calendar days, at least 1")


def run(args: argparse.Namespace) -> int:
    from omni_research.testing import make_test_data

    manifest = make_test_data(args.root, seed=args.seed, days=args.days)
    rows = sum(record.rows for record in manifest.files.values())
    print(f"wrote {len(manifest.files)} files, {rows:,} rows, into {args.root} (seed {args.seed})")
    return 0
