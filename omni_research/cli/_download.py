"""``omni-research download SOURCE``: fill a research root from a provider, resumably.

One nested subcommand per source (``download bybit ...``): :data:`SOURCES` maps each name
to its ``configure(parser)`` and ``run(args)``, so a new source is one entry. A download
that stops (a ban, a network fault) prints what to do; rerunning the same command resumes.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from omni_research.cli._download_feeds import FEEDS, csv_list, quality_after, run_download

if TYPE_CHECKING:
    from omni_research.sources import DownloadSummary

NAME = "download"
HELP = "download real market data into a research root (resumable)"


def _configure_bybit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", required=True, help="a research root (see init-root)")
    parser.add_argument("--symbols", required=True, type=csv_list, help="e.g. BTCUSDT,ETHUSDT")
    parser.add_argument("--start", required=True, help="first UTC day, e.g. 2025-01-01")
    parser.add_argument("--end", required=True, help="last UTC day (included), e.g. 2025-01-31")
    parser.add_argument(
        "--kinds",
        type=csv_list,
        default=["ohlcv", "funding", "open_interest", "instruments"],
        help="some of ohlcv,funding,open_interest,instruments (v5 REST) and trades,orderbook "
        "(Bybit's public dumps); default: the four REST kinds",
    )
    parser.add_argument("--category", choices=["linear", "inverse", "spot"], default="linear")
    parser.add_argument("--interval", default="1", help="kline interval: 1 3 5 15 30 60 ... D W")
    parser.add_argument(
        "--prices", type=csv_list, default=["last", "mark", "index"], help="klines: last,mark,index"
    )
    parser.add_argument("--oi-interval", default="5min", help="5min 15min 30min 1h 4h 1d")
    parser.add_argument(
        "--book-interval",
        default="1s",
        help="orderbook: the interval of the top-of-book snapshots rebuilt from the dumps "
        "(e.g. 100ms, 1s, 1m)",
    )
    parser.add_argument(
        "--no-quality",
        action="store_true",
        help="skip the quality report on what was downloaded (bars, trades, order books)",
    )


def _run_bybit(args: argparse.Namespace) -> int:
    from omni_research.sources import bybit

    def quality(summary: DownloadSummary) -> None:
        if not args.no_quality:
            quality_after(
                summary, kinds=args.kinds, symbols=args.symbols, start=args.start, end=args.end
            )

    return run_download(
        bybit.download,
        args.root,
        quality=quality,
        symbols=args.symbols,
        start=args.start,
        end=args.end,
        kinds=args.kinds,
        category=args.category,
        interval=args.interval,
        prices=args.prices,
        oi_interval=args.oi_interval,
        book_interval=args.book_interval,
    )


SOURCES: dict[
    str,
    tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]],
] = {
    "bybit": (
        "Bybit v5 klines, funding, open interest, instruments; trades and order books "
        "from the public dumps",
        _configure_bybit,
        _run_bybit,
    ),
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
