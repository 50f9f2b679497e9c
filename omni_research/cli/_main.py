"""The parser and the entry point: one subparser per subcommand module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from omni_research.cli import (
    _audit,
    _catalog,
    _download,
    _encrypt,
    _import_bybit,
    _init_root,
    _make_test_data,
    _quality,
    _report,
    _rotate_key,
    _sync,
    _validate,
    _verify,
)
from omni_research.exceptions import OmniDataError

COMMANDS: tuple[ModuleType, ...] = (
    _catalog,
    _validate,
    _verify,
    _make_test_data,
    _quality,
    _import_bybit,
    _init_root,
    _download,
    _report,
    _audit,
    _sync,
    _encrypt,
    _rotate_key,
)
"""The subcommand modules, in the order ``--help`` lists them. Each has ``NAME``, ``HELP``,
``configure(parser)`` (its arguments) and ``run(args) -> int`` (its exit code)."""


def build_parser() -> argparse.ArgumentParser:
    """The ``omni-research`` argument parser, one subparser per module of ``COMMANDS``."""
    parser = argparse.ArgumentParser(
        prog="omni-research", description="omni-research: thin subcommands over the kit."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        cmd = sub.add_parser(command.NAME, help=command.HELP)
        command.configure(cmd)
        cmd.set_defaults(func=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    A kit error that a subcommand does not handle itself is printed on stderr as
    ``omni-research: <Error>: <message>`` with exit code 2.
    """
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.func
    try:
        code = run(args)
    except OmniDataError as exc:
        print(f"omni-research: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    return code
