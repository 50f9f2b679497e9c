"""The CoinGecko, NewsAPI and X entries of ``omni-research download`` (:data:`FEEDS`).

Each entry is ``name -> (help, configure(parser), run(args))``, the shape of
:data:`omni_research.cli._download.SOURCES`, which takes them in. The sources themselves
are imported only when their command runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omni_research.sources import DownloadSummary


def csv_list(text: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``: the type of the comma-separated options."""
    return [part.strip() for part in text.split(",") if part.strip()]


# a kind's noun in the quality lines ("quality: 1 finding(s) in the downloaded bars")
_NOUNS = {"ohlcv": "bars", "trades": "trades", "orderbook": "order books"}


def run_download(
    download: Callable[..., DownloadSummary],
    root: str,
    /,
    *,
    quality: Callable[[DownloadSummary], None] | None = None,
    **options: Any,
) -> int:
    """Run one source's ``download`` with the shared progress display, print its summary,
    then ``quality`` (the report on what came in); 0 when it ended.

    A bucket root (``s3://bucket/prefix``, credentials from ``AWS_*``) is guarded first,
    then filled through a staged local root whose files are published when the download
    ends or stops (:func:`omni_research._root_writer.staged_root`)."""
    from omni_research._store import is_uri

    if is_uri(root):
        from omni_research._root_writer import staged_root

        with staged_root(root) as staged:
            code = _download_and_report(download, str(staged.path), quality, options)
        print(staged.published)
        return code
    return _download_and_report(download, root, quality, options)


def _download_and_report(
    download: Callable[..., DownloadSummary],
    root: str,
    quality: Callable[[DownloadSummary], None] | None,
    options: dict[str, Any],
) -> int:
    from omni_research.sources import progress_display

    show = progress_display()
    try:
        summary = download(root, progress=show, **options)
    finally:
        if show is not None:
            show.close()
    print(summary)
    if quality is not None:
        quality(summary)
    return 0


def quality_after(
    summary: DownloadSummary,
    /,
    *,
    kinds: Sequence[str],
    symbols: Sequence[str] = (),
    start: str | None = None,
    end: str | None = None,
) -> None:
    """The quality report on ``kinds`` of the range as downloaded, for every kind that has
    checks (:data:`omni_research.quality.QUALITY_CHECKS`); the order books' sequence gaps
    of ``summary`` are printed with it."""
    import omni_research as omr
    from omni_research.cli._common import wide_tables
    from omni_research.quality import QUALITY_CHECKS, quality_report

    checked = [k for k in dict.fromkeys(kinds) if k in QUALITY_CHECKS]
    unchecked = [k for k in dict.fromkeys(kinds) if k not in QUALITY_CHECKS]
    if unchecked:
        print(f"quality: no checks for {', '.join(unchecked)} yet")
    if not checked:
        return
    catalog = omr.open_catalog(summary.root)
    for kind in checked:
        noun = _NOUNS.get(kind, kind)
        data = catalog.scan(kind, symbols=list(symbols) or None, start=start, end=end)
        findings = quality_report(data, kind, dataset=f"historical/{kind}")
        if findings.is_empty():
            print(f"quality: no findings in the downloaded {noun}")
        else:
            print(f"quality: {findings.height} finding(s) in the downloaded {noun}")
            with wide_tables():
                print(findings.drop("dataset", "examples", strict=False))
        if kind == "orderbook":
            gaps = [g for g in summary.gaps if g.startswith("orderbook ")]
            print(f"quality: {len(gaps)} order-book sequence gap(s) reported by the download")
            for gap in gaps:
                print(f"  {gap}")


def root_and_range(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument("--root", required=True, help="a research root (see init-root)")
    parser.add_argument("--start", required=required, help="first UTC day, e.g. 2025-01-01")
    parser.add_argument("--end", required=required, help="last UTC day (included)")


def _configure_coingecko(parser: argparse.ArgumentParser) -> None:
    root_and_range(parser)
    parser.add_argument(
        "--coins", required=True, type=csv_list, help="CoinGecko ids, e.g. bitcoin,ethereum,solana"
    )
    parser.add_argument(
        "--no-snapshot", action="store_true", help="skip today's /coins/markets snapshot"
    )
    parser.add_argument(
        "--plan", choices=["demo", "pro"], default=None, help="key header (default: by host)"
    )


def _run_coingecko(args: argparse.Namespace) -> int:
    from omni_research.sources import coingecko

    return run_download(
        coingecko.download,
        args.root,
        quality=lambda summary: quality_after(summary, kinds=["coins"]),
        coins=args.coins,
        start=args.start,
        end=args.end,
        snapshot=not args.no_snapshot,
        plan=args.plan,
    )


def _configure_newsapi(parser: argparse.ArgumentParser) -> None:
    root_and_range(parser)
    parser.add_argument("--query", required=True, help='NewsAPI q, e.g. "bitcoin OR ethereum"')
    parser.add_argument(
        "--symbols", type=csv_list, default=[], help="tag articles with these, e.g. BTCUSDT,ETHUSDT"
    )
    parser.add_argument("--language", default=None, help="NewsAPI language filter, e.g. en")


def _run_newsapi(args: argparse.Namespace) -> int:
    from omni_research.sources import newsapi

    return run_download(
        newsapi.download,
        args.root,
        quality=lambda summary: quality_after(summary, kinds=["news"]),
        query=args.query,
        start=args.start,
        end=args.end,
        symbols=args.symbols,
        language=args.language,
    )


def _configure_x(parser: argparse.ArgumentParser) -> None:
    root_and_range(parser, required=False)
    parser.add_argument("--query", required=True, help='X query, e.g. "(bitcoin OR $BTC) lang:en"')
    parser.add_argument("--symbols", required=True, type=csv_list, help="e.g. BTCUSDT,ETHUSDT")
    parser.add_argument("--interval", default="1h", help="sentiment buckets: 15m, 1h, 1d ...")
    parser.add_argument("--page-size", type=int, default=100, help="max_results, 10 to 100")


def _run_x(args: argparse.Namespace) -> int:
    from omni_research.sources import x

    return run_download(
        x.download,
        args.root,
        quality=lambda summary: quality_after(summary, kinds=["posts", "sentiment"]),
        query=args.query,
        symbols=args.symbols,
        start=args.start,
        end=args.end,
        interval=args.interval,
        page_size=args.page_size,
    )


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
