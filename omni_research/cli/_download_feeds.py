"""The CoinGecko, NewsAPI and X entries of ``omni-research download`` (:data:`FEEDS`).

Each entry is ``name -> (help, configure(parser), run(args))``, the shape of
:data:`omni_research.cli._download.SOURCES`, which takes them in. The sources themselves
are imported only when their command runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _progress() -> Callable[[object], None] | None:
    """A one-line progress display on a terminal's stderr (None when stderr is no terminal)."""
    import sys

    if not sys.stderr.isatty():
        return None

    def show(progress: object) -> None:
        print(f"\r{progress}".ljust(100), end="", file=sys.stderr, flush=True)

    return show


def _done(summary: object, show: object) -> int:
    import sys

    if show is not None:
        print(file=sys.stderr)
    print(summary)
    return 0


def _root_and_range(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument("--root", required=True, help="a research root (see init-root)")
    parser.add_argument("--start", required=required, help="first UTC day, e.g. 2025-01-01")
    parser.add_argument("--end", required=required, help="last UTC day (included)")


def _configure_coingecko(parser: argparse.ArgumentParser) -> None:
    _root_and_range(parser)
    parser.add_argument(
        "--coins", required=True, type=_csv, help="CoinGecko ids, e.g. bitcoin,ethereum,solana"
    )
    parser.add_argument(
        "--no-snapshot", action="store_true", help="skip today's /coins/markets snapshot"
    )
    parser.add_argument(
        "--plan", choices=["demo", "pro"], default=None, help="key header (default: by host)"
    )


def _run_coingecko(args: argparse.Namespace) -> int:
    from omni_research.sources import coingecko

    show = _progress()
    summary = coingecko.download(
        args.root,
        progress=show,
        coins=args.coins,
        start=args.start,
        end=args.end,
        snapshot=not args.no_snapshot,
        plan=args.plan,
    )
    return _done(summary, show)


def _configure_newsapi(parser: argparse.ArgumentParser) -> None:
    _root_and_range(parser)
    parser.add_argument("--query", required=True, help='NewsAPI q, e.g. "bitcoin OR ethereum"')
    parser.add_argument(
        "--symbols", type=_csv, default=[], help="tag articles with these, e.g. BTCUSDT,ETHUSDT"
    )
    parser.add_argument("--language", default=None, help="NewsAPI language filter, e.g. en")


def _run_newsapi(args: argparse.Namespace) -> int:
    from omni_research.sources import newsapi

    show = _progress()
    summary = newsapi.download(
        args.root,
        progress=show,
        query=args.query,
        start=args.start,
        end=args.end,
        symbols=args.symbols,
        language=args.language,
    )
    return _done(summary, show)


def _configure_x(parser: argparse.ArgumentParser) -> None:
    _root_and_range(parser, required=False)
    parser.add_argument("--query", required=True, help='X query, e.g. "(bitcoin OR $BTC) lang:en"')
    parser.add_argument("--symbols", required=True, type=_csv, help="e.g. BTCUSDT,ETHUSDT")
    parser.add_argument("--interval", default="1h", help="sentiment buckets: 15m, 1h, 1d ...")
    parser.add_argument("--page-size", type=int, default=100, help="max_results, 10 to 100")


def _run_x(args: argparse.Namespace) -> int:
    from omni_research.sources import x

    show = _progress()
    summary = x.download(
        args.root,
        progress=show,
        query=args.query,
        symbols=args.symbols,
        start=args.start,
        end=args.end,
        interval=args.interval,
        page_size=args.page_size,
    )
    return _done(summary, show)


FEEDS: dict[
    str,
    tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]],
] = {
    "coingecko": (
        "CoinGecko market snapshots and hourly price, market cap and volume history (coins)",
        _configure_coingecko,
        _run_coingecko,
    ),
    "newsapi": ("NewsAPI /v2/everything articles (news)", _configure_newsapi, _run_newsapi),
    "x": ("X recent-search posts (last 7 days) and their sentiment", _configure_x, _run_x),
}
"""Source name -> (help, configure, run) for CoinGecko, NewsAPI and X."""
