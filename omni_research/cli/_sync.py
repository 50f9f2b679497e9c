"""``omni-research sync SRC DEST``: publish a data root to a bucket and back, by checksum."""

from __future__ import annotations

import argparse

NAME = "sync"
HELP = "copy a data root to a bucket (s3://, gs://, az://) or back, skipping equal files"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="a local data root or a URI such as s3://bucket/prefix")
    parser.add_argument("destination", help="a local folder or a URI such as s3://bucket/prefix")
    parser.add_argument(
        "--quiet", action="store_true", help="print only the summary, not each copied file"
    )


def run(args: argparse.Namespace) -> int:
    from omni_research._sync import sync

    def show(name: str) -> None:
        print(f"copied {name}", flush=True)

    # credentials come from the standard environment (AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL, ...)
    report = sync(args.source, args.destination, progress=None if args.quiet else show)
    print(report)
    return 0
