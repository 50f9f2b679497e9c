"""``omni-research``: thin subcommands over the kit."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import polars as pl

from omni_research.exceptions import OmniDataError


def _catalog(args: argparse.Namespace) -> int:
    from omni_research import open_catalog

    catalog = open_catalog(args.root)
    print(
        f"data root {catalog.root} (tier {catalog.tier}, schema {catalog.manifest.schema_version})"
    )
    with pl.Config(
        tbl_rows=-1, tbl_width_chars=160, fmt_str_lengths=60, tbl_hide_dataframe_shape=True
    ):
        print(catalog.datasets().drop("path"))
    return 0


def _validate(args: argparse.Namespace) -> int:
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


def _verify(args: argparse.Namespace) -> int:
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


def _make_test_data(args: argparse.Namespace) -> int:
    from omni_research.testing import make_test_data

    manifest = make_test_data(args.root, seed=args.seed, days=args.days)
    rows = sum(record.rows for record in manifest.files.values())
    print(f"wrote {len(manifest.files)} files, {rows:,} rows, into {args.root} (seed {args.seed})")
    return 0


def _quality(args: argparse.Namespace) -> int:
    from omni_research.quality import quality_main

    return quality_main(args.root, args.kind, args.symbols)


def _import_bybit(args: argparse.Namespace) -> int:
    from omni_research.io.bybit import import_main

    return import_main(
        args.paths, args.root, kind=args.kind, symbol=args.symbol, interval=args.interval
    )


def _report(args: argparse.Namespace) -> int:
    from omni_research.reports._cli import report_main

    return report_main(
        root=args.root,
        out=args.out,
        symbols=args.symbols,
        start=args.start,
        end=args.end,
        timeframe=args.timeframe,
        strategy=args.strategy,
        fmt=args.format,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="omni-research", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_)
        cmd.add_argument("--root", default=None, help="data root (default: the shipped data_test/)")
        return cmd

    add("catalog", "list the datasets of a data root").set_defaults(func=_catalog)
    val = add("validate", "load and validate every dataset (or the ones named)")
    val.add_argument("datasets", nargs="*")
    val.set_defaults(func=_validate)
    ver = add("verify", "check every file's sha256 against the manifest")
    ver.add_argument(
        "--repair",
        action="store_true",
        help="first finish an interrupted write: record the files its journal lists from "
        "their data (files outside the journal are never accepted)",
    )
    ver.set_defaults(func=_verify)
    make = sub.add_parser("make-test-data", help="regenerate the test data root from a seed")
    make.add_argument("--root", default="data_test")
    make.add_argument("--seed", type=int, default=7)
    make.add_argument("--days", type=int, default=7, help="calendar days, at least 1")
    make.set_defaults(func=_make_test_data)
    qual = add("quality", "print the data-quality report")
    qual.add_argument("--kind", default=None)
    qual.add_argument("--symbols", nargs="*", default=None)
    qual.set_defaults(func=_quality)
    imp = sub.add_parser("import-bybit", help="import Bybit dumps/responses into a research root")
    imp.add_argument("paths", nargs="+")
    imp.add_argument("--root", required=True, help="a research-tier data root")
    imp.add_argument("--kind", choices=["trades", "klines", "orderbook"], default=None)
    imp.add_argument("--symbol", default=None)
    imp.add_argument("--interval", default="1")
    imp.set_defaults(func=_import_bybit)
    rep = add("report", "build the research report (HTML and PDF) into exports/")
    rep.add_argument("--out", default=None, help="output folder (default: <root>/exports/reports)")
    rep.add_argument("--symbols", nargs="*", default=None)
    rep.add_argument("--start", default=None)
    rep.add_argument("--end", default=None)
    rep.add_argument("--timeframe", default="1h")
    rep.add_argument("--strategy", default="sma_cross")
    rep.add_argument("--format", nargs="*", default=["html", "pdf"], choices=["html", "pdf"])
    rep.set_defaults(func=_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except OmniDataError as exc:
        print(f"omni-research: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
