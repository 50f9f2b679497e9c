"""Write a complete data root of tier ``test`` (the shipped ``data_test/``) from a seed."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl

from omni_research._manifest import FileRecord, Manifest, count_rows, sha256_file, write_manifest
from omni_research.config import SCHEMA_VERSION
from omni_research.io._atomic import (
    write_bytes_atomic,
    write_csv_atomic,
    write_parquet_atomic,
    write_text_atomic,
)
from omni_research.schemas import market_json_schema
from omni_research.testing._market import START, SYMBOLS, make_market
from omni_research.testing._trading import make_trading

DEFAULT_SEED = 7
_COINS = {
    "BTCUSDT": ("bitcoin", "btc", "Bitcoin", 19_800_000.0, 1),
    "ETHUSDT": ("ethereum", "eth", "Ethereum", 120_500_000.0, 2),
    "SOLUSDT": ("solana", "sol", "Solana", 480_000_000.0, 5),
}
_README = {
    "real_time": "Live production feeds. Never read by omni_research: the guard refuses "
    "any path under real_time/.\n",
    "cache": "Derived, disposable data.\n",
    "models": "Model states of the agents (none in the test root).\n",
    "backups": "Backups (none in the test root).\n",
    "logs": "Logs of the test root's generation.\n",
    "exports": "Reports and files for exchange: imports/bybit holds raw Bybit dumps.\n",
}


def _partitioned(df: pl.DataFrame, base: Path, *, by_timeframe: bool = False) -> list[Path]:
    written = []
    keyed = df.with_columns(_day=pl.col("timestamp").dt.date())
    keys = ["symbol", "timeframe", "_day"] if by_timeframe else ["symbol", "_day"]
    for key, part in keyed.group_by(keys, maintain_order=True):
        folder = base / f"symbol={key[0]}"
        if by_timeframe:
            folder = folder / f"timeframe={key[1]}"
        path = folder / f"date={key[-1]}" / "part-0.parquet"
        write_parquet_atomic(part.drop("_day"), path)
        written.append(path)
    return written


def _by_symbol(df: pl.DataFrame, base: Path) -> list[Path]:
    written = []
    for (symbol,), part in df.group_by(["symbol"], maintain_order=True):
        path = base / f"symbol={symbol}" / "part-0.parquet"
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


def make_test_data(root: str | Path, *, seed: int = DEFAULT_SEED, days: int = 7) -> Manifest:
    """(Re)generate a complete test-tier data root at ``root``, deterministically from ``seed``.

    Examples
    --------
    >>> import tempfile, omni_research as omr
    >>> from omni_research.testing import make_test_data
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     manifest = make_test_data(tmp, days=1)
    ...     omr.open_catalog(tmp).load("ohlcv", symbols="ETHUSDT").height
    1440
    """
    root = Path(root)
    for area in ("historical", "test"):
        if (root / area).exists():
            shutil.rmtree(root / area)
    market = make_market(symbols=SYMBOLS, start=START, days=days, seed=seed)
    trading = make_trading(market, seed=seed + 4)
    news, sentiment = make_news(market, seed=seed + 8)
    hist, test = root / "historical", root / "test"
    written: list[Path] = []
    written += _partitioned(market["ohlcv"], hist / "ohlcv", by_timeframe=True)
    written += _partitioned(market["trades"], hist / "trades")
    written += _partitioned(market["orderbook"], hist / "orderbook")
    written += _by_symbol(market["funding"], hist / "funding")
    written.append(_write_json(make_coins(market), hist / "coins" / "coins.json"))
    written.append(_write_jsonl(news, hist / "news" / "news.jsonl"))
    written.append(write_csv_atomic(sentiment, hist / "sentiment" / "sentiment.csv"))
    written += _partitioned(trading["orders"], test / "orders")
    written += _partitioned(trading["fills"], test / "fills")
    written += _by_symbol(trading["positions"], test / "positions")
    written += _by_symbol(trading["pnl"], test / "pnl")
    written.append(_write_jsonl(trading["decisions"], test / "decisions" / "decisions.jsonl"))
    written.append(
        write_csv_atomic(trading["agent_metrics"], test / "agent_metrics" / "agent_metrics.csv.gz")
    )
    first_day = market["trades"].filter(
        (pl.col("symbol") == "BTCUSDT") & (pl.col("timestamp") < START + dt.timedelta(days=1))
    )
    written.append(
        write_bytes_atomic(
            root / "exports" / "imports" / "bybit" / "BTCUSDT2025-01-06.csv.gz",
            bybit_dump(first_day),
        )
    )
    for folder, text in _README.items():
        write_text_atomic(root / folder / "README.md", text)
    written.append(
        write_text_atomic(
            root / "market_data_schema.json", json.dumps(market_json_schema(), indent=2) + "\n"
        )
    )
    files = {
        path.relative_to(root).as_posix(): FileRecord(
            sha256=sha256_file(path), rows=count_rows(path)
        )
        for path in sorted(written)
    }
    manifest = Manifest(
        tier="test",
        schema_version=SCHEMA_VERSION,
        meta={
            "generator": "omni-research make-test-data",
            "seed": seed,
            "days": days,
            "start": START.isoformat(),
        },
        files=files,
    )
    write_manifest(root, manifest)
    return manifest
