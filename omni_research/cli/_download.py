"""``omni-research download SOURCE``: fill a research root from a provider, resumably.

One nested subcommand per source (``download bybit ...``): :data:`SOURCES` maps each name
to its ``configure(parser)`` and ``run(args)``, so a new source is one entry. A download
that stops (a ban, a network fault) prints what to do; rerunning the same command resumes.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from omni_research.cli._download_feeds import FEEDS

NAME = "download"
HELP = "download real market data into a research root (resumable)"


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _configure_bybit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", required=True, help="a research root (see init-root)")
    parser.add_argument("--symbols", required=True, type=_csv, help="e.g. BTCUSDT,ETHUSDT")
    parser.add_argument("--start", required=True, help="first UTC day, e.g. 2025-01-01")
    parser.add_argument("--end", required=True, help="last UTC day (included), e.g. 2025-01-31")
    parser.add_argument(
        "--kinds",
        type=_csv,
        default=["ohlcv", "funding", "open_interest", "instruments"],
        help="some of ohlcv,funding,open_interest,instruments (default: all four)",
    )
    parser.add_argument("--category", choices=["linear", "inverse", "spot"], default="linear")
    parser.add_argument("--interval", default="1", help="kline interval: 1 3 5 15 30 60 ... D W")
    parser.add_argument(
        "--prices", type=_csv, default=["last", "mark", "index"], help="klines: last,mark,index"
    )
    parser.add_argument("--oi-interval", default="5min", help="5min 15min 30min 1h 4h 1d")
    parser.add_argument(
        "--no-quality",
        action="store_true",
        help="skip the quality report on the downloaded bars",
    )


def _progress_line() -> Callable[[object], None] | None:
    """A one-line progress display on a terminal's stderr (None when stderr is no terminal)."""
    import sys

    if not sys.stderr.isatty():
        return None

    def show(progress: object) -> None:
        print(f"\r{progress}".ljust(100), end="", file=sys.stderr, flush=True)

    return show


def _run_bybit(args: argparse.Namespace) -> int:
    import sys

    from omni_research.sources import bybit

    show = _progress_line()
    summary = bybit.download(
        args.root,
        symbols=args.symbols,
        start=args.start,
        end=args.end,
        kinds=args.kinds,
        category=args.category,
        interval=args.interval,
        prices=args.prices,
        oi_interval=args.oi_interval,
        progress=show,
    )
    if show is not None:
        print(file=sys.stderr)
    print(summary)
    if "ohlcv" in args.kinds and not args.no_quality:
        _quality(args.root, args.symbols, args.start, args.end)
    return 0


def _quality(root: str, symbols: list[str], start: str, end: str) -> None:
    """The quality report on the trade-price bars of the range, as downloaded."""
    import omni_research as omr
    from omni_research.cli._common import wide_tables
    from omni_research.quality import quality_report

    catalog = omr.open_catalog(root)
    bars = catalog.scan("ohlcv", symbols=symbols, start=start, end=end)
    findings = quality_report(bars, "ohlcv", dataset="historical/ohlcv")
    if findings.is_empty():
        print("quality: no findings in the downloaded bars")
        return
    print(f"quality: {findings.height} finding(s) in the downloaded bars")
    with wide_tables():
        print(findings.drop("dataset", "examples", strict=False))


SOURCES: dict[
    str,
    tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]],
] = {
    "bybit": ("Bybit v5 klines, funding, open interest, instruments", _configure_bybit, _run_bybit),
    **FEEDS,
}
"""Source name -> (help, configure, run)."""


def configure(parser: argparse.ArgumentParser) -> None:
    sources = parser.add_subparsers(dest="source", required=True)
    for name, (text, configure_source, run_source) in SOURCES.items():
        sub = sources.add_parser(name, help=text)
        configure_source(sub)
        sub.set_defaults(source_run=run_source)


def run(args: argparse.Namespace) -> int:
    from omni_research.exceptions import SourceError

    source_run: Callable[[argparse.Namespace], int] = args.source_run
    try:
        return source_run(args)
    except SourceError as exc:
        print(f"omni-research download {args.source}: {exc}")
        return 2
