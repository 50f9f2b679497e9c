"""``omni-research init-root``: create a research (or test) data root with the OMNI layout."""

from __future__ import annotations

import argparse

NAME = "init-root"
HELP = "create a data root (research tier) with the OMNI layout and its manifest"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="a new or empty folder")
    parser.add_argument("--tier", choices=["research", "test"], default="research")


def run(args: argparse.Namespace) -> int:
    from omni_research.sources import init_root

    root = init_root(args.path, tier=args.tier)
    print(f"{args.tier} root ready at {root}")
    return 0
