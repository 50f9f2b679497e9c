"""Seeded synthetic posts (the ``posts`` kind) for the test root and notebooks."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

import numpy as np
import polars as pl

from omni_research.schemas import polars_schema

__all__ = ["make_posts"]

_TEXTS = (
    "{coin} looks strong today, great breakout",
    "{coin} dumping hard, this is bad",
    "Watching {coin} closely",
    "Loving the {coin} momentum, amazing",
    "{coin} fees are terrible again",
    "Not sure about {coin} here",
)


def make_posts(
    symbols: Sequence[str], *, start: dt.datetime, days: int, seed: int = 7, every_hours: int = 3
) -> pl.DataFrame:
    """Posts mentioning ``symbols``, one per symbol every ``every_hours`` hours.

    Author ids are already pseudonymised (``user_`` and 16 hex digits), as a download
    writes them.

    Examples
    --------
    >>> import datetime as dt
    >>> posts = make_posts(["BTCUSDT"], start=dt.datetime(2025, 1, 6, tzinfo=dt.UTC), days=1)
    >>> posts.height, posts["author_id"].str.starts_with("user_").all()
    (8, True)
    """
    rng = np.random.default_rng(seed)
    rows = []
    n = 0
    for step in range(days * 24 // every_hours):
        for symbol in sorted(symbols):
            n += 1
            at = start + dt.timedelta(hours=step * every_hours, minutes=int(rng.integers(0, 60)))
            author = hashlib.sha256(f"synthetic-author-{int(rng.integers(0, 40))}".encode())
            rows.append(
                {
                    "timestamp": at,
                    "post_id": str(1_870_000_000_000_000_000 + n),
                    "author_id": "user_" + author.hexdigest()[:16],
                    "symbol": symbol,
                    "lang": "en",
                    "text": _TEXTS[int(rng.integers(len(_TEXTS)))].format(
                        coin="$" + symbol.removesuffix("USDT")
                    ),
                    "like_count": int(rng.poisson(12)),
                    "retweet_count": int(rng.poisson(3)),
                    "reply_count": int(rng.poisson(2)),
                    "quote_count": int(rng.poisson(1)),
                }
            )
    schema = polars_schema("posts")
    return pl.DataFrame(rows, schema=schema).sort("timestamp", "symbol")
