"""Text to symbols and sentiment: which symbols a post or headline mentions, and VADER scores.

* :func:`mentions` finds the exchange symbols a text mentions: the base coin as a cashtag
  (``$BTC``, any case) or an upper-case word (``BTC``), or the coin's name (``bitcoin``,
  any case) from the small table :data:`COIN_NAMES`.
* :func:`sentiment_from_posts` scores each post with VADER (``vaderSentiment``, a lexicon
  and rules that run offline; English only) and aggregates per symbol and interval into
  the ``sentiment`` kind: ``score`` is the mean compound score (-1 to 1) of the bucket's
  posts, ``mentions`` their number, and ``timestamp`` the bucket's **end**, the first
  instant the score could be known (so joining it as of a bar time never looks ahead).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import polars as pl

from omni_research._typing import TIMEFRAMES
from omni_research.exceptions import ConfigurationError
from omni_research.schemas import polars_schema

__all__ = ["COIN_NAMES", "base_coin", "mentions", "score_texts", "sentiment_from_posts"]

COIN_NAMES: dict[str, tuple[str, ...]] = {
    "BTC": ("bitcoin",),
    "ETH": ("ethereum", "ether"),
    "SOL": ("solana",),
    "XRP": ("ripple",),
    "BNB": ("binance coin",),
    "DOGE": ("dogecoin",),
    "ADA": ("cardano",),
    "AVAX": ("avalanche",),
    "DOT": ("polkadot",),
    "LINK": ("chainlink",),
    "LTC": ("litecoin",),
    "TRX": ("tron",),
    "TON": ("toncoin",),
    "PEPE": ("pepe",),
}
"""Coin names a text may use instead of the ticker, per base coin (lower case)."""
_QUOTES = ("USDT", "USDC", "BUSD", "PERP", "USD")
ENGLISH = ("en",)
"""Languages VADER scores (its lexicon is English); other posts are left out of sentiment."""


def base_coin(symbol: str, /) -> str:
    """The base coin of an exchange symbol: ``BTCUSDT`` -> ``BTC``, ``1000PEPEUSDT`` -> ``PEPE``.

    Examples
    --------
    >>> base_coin("1000PEPEUSDT")
    'PEPE'
    """
    base = symbol.upper()
    for quote in _QUOTES:
        if base.endswith(quote) and len(base) > len(quote):
            base = base[: -len(quote)]
            break
    return re.sub(r"^(1000000|10000|1000)(?=[A-Z])", "", base)


def _pattern(symbol: str) -> re.Pattern[str]:
    coin = re.escape(base_coin(symbol))
    names = [re.escape(n) for n in COIN_NAMES.get(base_coin(symbol), ())]
    words = "|".join(
        [rf"(?i:\${coin})\b", rf"(?<![\w$]){coin}\b"] + [rf"(?i:\b{n}\b)" for n in names]
    )
    return re.compile(words)


def mentions(texts: Iterable[str], symbols: Sequence[str], /) -> list[list[str]]:
    """The symbols (in the order given) each text mentions.

    Examples
    --------
    >>> mentions(["$btc up", "Ethereum and BTC", "nothing"], ["BTCUSDT", "ETHUSDT"])
    [['BTCUSDT'], ['BTCUSDT', 'ETHUSDT'], []]
    """
    patterns = [(symbol, _pattern(symbol)) for symbol in symbols]
    return [[s for s, p in patterns if p.search(text)] for text in texts]


def score_texts(texts: Sequence[str], /) -> list[float]:
    """VADER compound scores (-1 to 1) of ``texts``.

    Examples
    --------
    >>> [round(s, 4) for s in score_texts(["great, love it", "terrible"])]
    [0.8519, -0.4767]
    """
    from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped]
        SentimentIntensityAnalyzer,  # heavy: imported on use
    )

    analyzer = SentimentIntensityAnalyzer()
    return [float(analyzer.polarity_scores(text)["compound"]) for text in texts]


def sentiment_from_posts(
    posts: pl.DataFrame, /, *, interval: str = "1h", source: str = "twitter"
) -> pl.DataFrame:
    """Aggregate posts into the ``sentiment`` kind: per symbol and ``interval`` bucket.

    Posts without a symbol and posts not in English (:data:`ENGLISH`; a null language
    counts as English) are left out. ``timestamp`` is the bucket's end.

    Parameters
    ----------
    posts
        A frame of the ``posts`` kind.
    interval
        A timeframe of the kit (``"1h"``, ``"15m"``, ``"1d"``...).
    source
        The sentiment ``source`` value (``"twitter"`` for X posts).

    Examples
    --------
    >>> import datetime as dt
    >>> from omni_research.testing._social import make_posts
    >>> posts = make_posts(["BTCUSDT"], start=dt.datetime(2025, 1, 6, tzinfo=dt.UTC), days=1)
    >>> sentiment_from_posts(posts, interval="1d")["mentions"].to_list()
    [8]
    """
    if interval not in TIMEFRAMES:
        raise ConfigurationError(f"interval is {interval!r}; expected one of {list(TIMEFRAMES)}")
    used = posts.filter(
        pl.col("symbol").is_not_null() & (pl.col("lang").is_null() | pl.col("lang").is_in(ENGLISH))
    )
    texts = used["text"].unique().to_list()
    scores = pl.DataFrame(
        {"text": texts, "compound": score_texts(texts)},
        schema={"text": pl.String, "compound": pl.Float64},
    )
    every = interval  # the kit's timeframes are Polars durations as they are
    out = (
        used.join(scores, on="text", how="left")
        .group_by("symbol", pl.col("timestamp").dt.truncate(every).alias("bucket"))
        .agg(score=pl.col("compound").mean(), mentions=pl.len().cast(pl.Int64))
        .with_columns(
            timestamp=pl.col("bucket").dt.offset_by(every),
            source=pl.lit(source),
            score=pl.col("score").clip(-1.0, 1.0),
        )
        .sort("symbol", "timestamp")
    )
    return out.select(polars_schema("sentiment").names()).cast(polars_schema("sentiment"))
