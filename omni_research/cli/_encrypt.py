"""``omni-research encrypt``: encrypt the sensitive kinds of a data root in place."""

from __future__ import annotations

import argparse

NAME = "encrypt"
HELP = "encrypt sensitive kinds of a root in place (Parquet AES-256-GCM, keys in the KMS)"


def kinds_option(parser: argparse.ArgumentParser, default: str) -> None:
    """``--kinds``: kinds separated by spaces or commas."""
    parser.add_argument(
        "--kinds",
        nargs="+",
        default=None,
        help=f"kinds, separated by spaces or commas (default: {default})",
    )


def split_kinds(values: list[str] | None) -> list[str] | None:
    """The ``--kinds`` values as a list (None when not given)."""
    if not values:
        return None
    return [kind.strip() for value in values for kind in value.split(",") if kind.strip()]


def configure(parser: argparse.ArgumentParser) -> None:
    from omni_research._crypto import SENSITIVE_KINDS

    parser.add_argument("--root", required=True, help="the data root to encrypt in place")
    kinds_option(parser, ", ".join(SENSITIVE_KINDS))
    parser.add_argument(
        "--key-id",
        default=None,
        help="master key id in the KMS (OMNI_KMS) for kinds not encrypted yet",
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from omni_research._at_rest import encrypt_root

    def progress(path: Path) -> None:
        print(f"encrypted {path}", flush=True)

    report = encrypt_root(
        args.root, key_id=args.key_id, kinds=split_kinds(args.kinds), progress=progress
    )
    print(report)
    return 0
