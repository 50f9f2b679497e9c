"""``omni-research import-bybit``: import Bybit dumps and API responses into a root."""

from __future__ import annotations

import argparse

NAME = "import-bybit"
HELP = "import Bybit dumps/responses into a research root"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+")
    parser.add_argument(
        "--root",
        required=True,
        help="a research-tier data root: a folder, or s3://bucket/prefix (credentials from AWS_*)",
    )
    parser.add_argument("--kind", choices=["trades", "klines", "orderbook"], default=None)
    parser.add_argument("--symbol", default=None)
    parser.add_argument("--interval", default="1")


def run(args: argparse.Namespace) -> int:
    from omni_research.io.bybit import import_main

    return import_main(
        args.paths, args.root, kind=args.kind, symbol=args.symbol, interval=args.interval
    )
