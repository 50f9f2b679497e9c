"""``omni-research rotate-key``: re-wrap a root's file keys under a new master key."""

from __future__ import annotations

import argparse

from omni_research.cli._encrypt import kinds_option, split_kinds

NAME = "rotate-key"
HELP = "re-wrap the data keys of encrypted kinds under a new master key (data not rewritten)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", required=True, help="the data root")
    parser.add_argument("--new-key-id", required=True, help="the new master key id in the KMS")
    kinds_option(parser, "every encrypted kind")


def run(args: argparse.Namespace) -> int:
    from omni_research._at_rest import rotate_master_key

    print(rotate_master_key(args.root, new_key_id=args.new_key_id, kinds=split_kinds(args.kinds)))
    return 0
