"""Write a complete data root of tier ``test`` (the shipped ``data_test/``) from a seed."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl

from omni_research import _guard
from omni_research._layout import inside, path_for
from omni_research._manifest import (
    Manifest,
    measure,
    read_manifest,
    write_manifest,
)
from omni_research._writelock import LOCK_NAME, write_lock
from omni_research.config import MANIFEST_NAME, SCHEMA_VERSION
from omni_research.exceptions import ConfigurationError, DataWriteError
from omni_research.io._atomic import (
    write_bytes_atomic,
    write_csv_atomic,
    write_parquet_atomic,
    write_text_atomic,
)
from omni_research.schemas import market_json_schema
from omni_research.testing._fake_bybit import make_instruments, make_open_interest
from omni_research.testing._market import START, SYMBOLS, make_market
from omni_research.testing._social import make_posts
from omni_research.testing._trading import make_trading

DEFAULT_SEED = 7
_COINS = {
    "BTCUSDT": ("bitcoin", "btc", "Bitcoin", 19_800_000.0, 1),
    "ETHUSDT": ("ethereum", "eth", "Ethereum", 120_500_000.0, 2),
    "SOLUSDT": ("solana", "sol", "Solana", 480_000_000.0, 5),
}
_README = {
    "cache": "Derived, disposable data.\n",
    "models": "Model states of the agents (none in the test root).\n",
    "backups": "Backups (none in the test root).\n",
    "logs": "Logs of the test root's generation.\n",
    "exports": "Reports and files for exchange: imports/bybit holds raw Bybit dumps.\n",
}


def _partitioned(
    df: pl.DataFrame, root: Path, area: str, kind: str, *, by_timeframe: bool = False
) -> list[Path]:
    written = []
    keyed = df.with_columns(_day=pl.col("timestamp").dt.date())
    keys = ["symbol", "timeframe", "_day"] if by_timeframe else ["symbol", "_day"]
    for key, part in keyed.group_by(keys, maintain_order=True):
        path = path_for(
            root,
            kind,
            area=area,
            symbol=key[0],
            timeframe=key[1] if by_timeframe else None,
            date=key[-1],
        )
        write_parquet_atomic(part.drop("_day"), path)
        written.append(path)
    return written


def _by_symbol(df: pl.DataFrame, root: Path, area: str, kind: str) -> list[Path]:
    written = []
    for (symbol,), part in df.group_by(["symbol"], maintain_order=True):
        path = path_for(root, kind, area=area, symbol=symbol)
        write_parquet_atomic(part, path)
        written.append(path)
    return written


def _iso(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(
        pl.col(pl.Datetime).dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"),
        pl.col(pl.Date).cast(pl.String),
    )


def _write_jsonl(df: pl.DataFrame, path: Path) -> Path:
    lines = [json.dumps(row) for row in _iso(df).iter_rows(named=True)]
    return write_text_atomic(path, "\n".join(lines) + "\n")


def _write_json(df: pl.DataFrame, path: Path) -> Path:
    return write_text_atomic(path, json.dumps(_iso(df).to_dicts(), indent=1) + "\n")


def make_coins(market: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Daily CoinGecko-style snapshots priced from the synthetic market."""
    daily = (
        market["ohlcv"]
        .group_by("symbol", pl.col("timestamp").dt.truncate("1d"))
        .agg(pl.col("close").sort_by("timestamp").first(), pl.col("turnover").sum())
        .sort("timestamp", "symbol")
    )
    rows = []
    for row in daily.iter_rows(named=True):
        coin_id, ticker, name, supply, rank = _COINS.get(
            row["symbol"],
            (row["symbol"].lower(), row["symbol"][:3].lower(), row["symbol"], 1e9, 50),
        )
        rows.append(
            {
                "timestamp": row["timestamp"],
                "coin_id": coin_id,
                "symbol": ticker,
                "name": name,
                "price_usd": round(row["close"], 6),
                "market_cap_usd": round(row["close"] * supply, 2),
                "volume_24h_usd": round(row["turnover"] * 37.0, 2),
                "circulating_supply": supply,
                "market_cap_rank": rank,
            }
        )
    return pl.DataFrame(rows)


def make_news(market: dict[str, pl.DataFrame], *, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """News articles and hourly sentiment that follows the market's returns."""
    rng = np.random.default_rng(seed)
    hourly = (
        market["ohlcv"]
        .group_by("symbol", pl.col("timestamp").dt.truncate("1h"))
        .agg(
            ret=pl.col("close").sort_by("timestamp").last()
            / pl.col("open").sort_by("timestamp").first()
            - 1
        )
        .sort("symbol", "timestamp")
    )
    sources = ["CoinDesk", "The Block", "Decrypt", "Reuters", "Bloomberg"]
    news: list[dict[str, object]] = []
    sentiment: list[dict[str, object]] = []
    for row in hourly.iter_rows(named=True):
        for source in ("news", "twitter"):
            noise = rng.normal(0, 0.25 if source == "twitter" else 0.15)
            score = float(np.clip(np.tanh(row["ret"] * 150) + noise, -1, 1))
            sentiment.append(
                {
                    "timestamp": row["timestamp"] + dt.timedelta(hours=1),
                    "symbol": row["symbol"],
                    "source": source,
                    "score": round(score, 4),
                    "mentions": int(rng.poisson(400 if source == "twitter" else 12)),
                }
            )
        if abs(row["ret"]) > 0.004 or rng.random() < 0.03:
            n = len(news) + 1
            move = "rallies" if row["ret"] > 0 else "slides"
            coin = row["symbol"].removesuffix("USDT")
            news.append(
                {
                    "timestamp": row["timestamp"] + dt.timedelta(minutes=int(rng.integers(5, 59))),
                    "article_id": f"news-{n:05d}",
                    "source": sources[int(rng.integers(len(sources)))],
                    "title": f"{coin} {move} {abs(row['ret']):.2%} in an hour of heavy trading",
                    "url": f"https://news.example.com/{coin.lower()}/{n:05d}",
                    "symbol": row["symbol"],
                }
            )
    return (
        pl.DataFrame(news).sort("timestamp"),
        pl.DataFrame(sentiment).sort("symbol", "source", "timestamp"),
    )


def bybit_dump(trades: pl.DataFrame) -> bytes:
    """Trades in Bybit's public trading-history CSV layout, gzip-compressed."""
    tick = (
        pl.when(pl.col("price") > pl.col("price").shift(1))
        .then(pl.lit("PlusTick"))
        .when(pl.col("price") < pl.col("price").shift(1))
        .then(pl.lit("MinusTick"))
        .otherwise(None)
        .forward_fill()
        .fill_null("ZeroPlusTick")
    )
    zero = (
        pl.when(pl.col("price") == pl.col("price").shift(1))
        .then(
            pl.concat_str(
                pl.lit("Zero"), tick.shift(1).fill_null("PlusTick").str.replace("^Zero", "")
            )
        )
        .otherwise(tick)
    )
    dump = trades.sort("timestamp").select(
        timestamp=(
            pl.col("timestamp").dt.epoch("us").cast(pl.String).str.replace(r"(\d{6})$", ".$1")
        ),
        symbol="symbol",
        side=pl.when(pl.col("side") == "buy").then(pl.lit("Buy")).otherwise(pl.lit("Sell")),
        size="size",
        price="price",
        tickDirection=zero,
        trdMatchID="trade_id",
        grossValue=(pl.col("price") * pl.col("size") * 1e8).round(0),
        homeNotional="size",
        foreignNotional=(pl.col("price") * pl.col("size")).round(8),
    )
    return gzip.compress(dump.write_csv().encode("utf-8"), compresslevel=9, mtime=0)


GENERATOR = "omni-research make-test-data"
"""The ``generator`` key of the manifests this module writes: the mark of a generated root."""

_OWNED_AREAS = ("historical", "test")


def _prepare_root(root: Path) -> None:
    """Refuse any folder that is neither empty nor a test root made by the generator; in a
    generated root, remove the data areas the generator owns (and nothing else)."""
    if root.is_symlink() or (root.exists() and not root.is_dir()):
        raise ConfigurationError(
            f"refused to write test data into {root}: it is not a plain folder (a file or a "
            "symlink); pass a new folder, e.g. --root /tmp/omni-test-root"
        )
    entries = sorted(p.name for p in root.iterdir() if p.name != LOCK_NAME)
    if not entries:
        return
    what: str
    if MANIFEST_NAME not in entries:
        what = f"no {MANIFEST_NAME}, so it is not a data root"
    else:
        manifest = read_manifest(root)
        if manifest.tier != "test":
            what = f'its {MANIFEST_NAME} declares tier = "{manifest.tier}"'
        elif manifest.meta.get("generator") != GENERATOR:
            what = f"its {MANIFEST_NAME} is a test root not written by {GENERATOR}"
        else:
            what = ""
    if what:
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise ConfigurationError(
            f"refused to write test data into {root}: the folder is not empty ({len(entries)} "
            f"entries: {shown}) and {what}. make-test-data writes only into an empty folder "
            "or a test root it generated itself, and never deletes anything else: pass a new "
            "or empty folder (e.g. --root /tmp/omni-test-root)"
        )
    for area in _OWNED_AREAS:
        folder = inside(root, area)
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise ConfigurationError(
                f"refused to regenerate {root}: {folder} is not a plain folder (a symlink or a "
                "file); the generator only replaces folders it wrote: remove it by hand"
            )
        if folder.exists():
            shutil.rmtree(folder)


def make_test_data(root: str | Path, *, seed: int = DEFAULT_SEED, days: int = 7) -> Manifest:
    """(Re)generate a complete test-tier data root at ``root``, deterministically from ``seed``.

    ``root`` must be a new or empty folder, or a test root this generator wrote before (its
    manifest has ``tier = "test"`` and ``generator = "omni-research make-test-data"``); only
    then are its ``historical/`` and ``test/`` areas replaced. Nothing is ever written under
    ``real_time/``. The production guard runs on ``root`` first, and the write holds the
    root's write lock.

    Parameters
    ----------
    root
        The folder to write.
    seed
        Seed of the synthetic market, trading and news.
    days
        Calendar days of data, at least 1.

    Returns
    -------
    Manifest
        The manifest written.

    Raises
    ------
    ProductionDataError
        If ``root`` is production data (a production root, a ``real_time/`` folder, a path
        under ``OMNI_PRODUCTION_PATHS``).
    ConfigurationError
        If ``days`` is below 1, or ``root`` is a folder that is neither empty nor a test root
        made by the generator (the message says what it found).

    Examples
    --------
    >>> import tempfile, omni_research as omr
    >>> from omni_research.testing import make_test_data
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     manifest = make_test_data(tmp, days=1)
    ...     omr.open_catalog(tmp).load("ohlcv", symbols="ETHUSDT").height
    1440
    """
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ConfigurationError(
            f"days is {days!r}; expected a whole number of days, at least 1 (e.g. --days 7)"
        )
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigurationError(f"seed is {seed!r}; expected an integer such as {DEFAULT_SEED}")
    _guard.check_path(root)
    root = Path(root)
    if not root.is_symlink() and not root.exists():
        try:
            root.mkdir(parents=True)
        except OSError as exc:
            raise DataWriteError(f"could not create the test root {root}: {exc}") from exc
    _prepare_root(root)  # refuses before the lock file is made in a folder that is not ours
    with write_lock(root):
        _prepare_root(root)  # again under the lock: another writer may have come first
        return _generate(root, seed=seed, days=days)


def _generate(root: Path, *, seed: int, days: int) -> Manifest:
    market = make_market(symbols=SYMBOLS, start=START, days=days, seed=seed)
    trading = make_trading(market, seed=seed + 4)
    news, sentiment = make_news(market, seed=seed + 8)
    written: list[Path] = []
    written += _partitioned(market["ohlcv"], root, "historical", "ohlcv", by_timeframe=True)
    written += _partitioned(market["trades"], root, "historical", "trades")
    written += _partitioned(market["orderbook"], root, "historical", "orderbook")
    written += _by_symbol(market["funding"], root, "historical", "funding")
    oi = make_open_interest(SYMBOLS, start=START.date(), days=days)
    written += _partitioned(oi, root, "historical", "open_interest")
    for day in range(days):  # the exchange's listing as of each day (Bybit linear shapes)
        at = START + dt.timedelta(days=day)
        path = path_for(root, "instruments", date=at.date(), name="linear.parquet")
        written.append(write_parquet_atomic(make_instruments(SYMBOLS, timestamp=at), path))
    written.append(_write_json(make_coins(market), path_for(root, "coins", name="coins.json")))
    written.append(_write_jsonl(news, path_for(root, "news", name="news.jsonl")))
    written.append(write_csv_atomic(sentiment, path_for(root, "sentiment", name="sentiment.csv")))
    posts = make_posts(SYMBOLS, start=START, days=days, seed=seed + 12)
    written.append(write_parquet_atomic(posts, path_for(root, "posts", name="posts.parquet")))
    written += _partitioned(trading["orders"], root, "test", "orders")
    written += _partitioned(trading["fills"], root, "test", "fills")
    written += _by_symbol(trading["positions"], root, "test", "positions")
    written += _by_symbol(trading["pnl"], root, "test", "pnl")
    written.append(
        _write_jsonl(
            trading["decisions"], path_for(root, "decisions", area="test", name="decisions.jsonl")
        )
    )
    written.append(
        write_csv_atomic(
            trading["agent_metrics"],
            path_for(root, "agent_metrics", area="test", name="agent_metrics.csv.gz"),
        )
    )
    first_day = market["trades"].filter(
        (pl.col("symbol") == "BTCUSDT") & (pl.col("timestamp") < START + dt.timedelta(days=1))
    )
    written.append(
        write_bytes_atomic(
            inside(root, "exports/imports/bybit/BTCUSDT2025-01-06.csv.gz"), bybit_dump(first_day)
        )
    )
    for folder, text in _README.items():
        write_text_atomic(inside(root, f"{folder}/README.md"), text)
    written.append(
        write_text_atomic(
            inside(root, "market_data_schema.json"),
            json.dumps(market_json_schema(), indent=2) + "\n",
        )
    )
    files = {path.relative_to(root).as_posix(): measure(path) for path in sorted(written)}
    manifest = Manifest(
        tier="test",
        schema_version=SCHEMA_VERSION,
        meta={"generator": GENERATOR, "seed": seed, "days": days, "start": START.isoformat()},
        files=files,
    )
    write_manifest(root, manifest)
    return manifest
