"""Posts to symbols and sentiment: mention rules, VADER aggregation, no look-ahead."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import polars as pl
import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

import omni_research as omr
from omni_research.exceptions import ConfigurationError
from omni_research.schemas import polars_schema
from omni_research.sources._sentiment import base_coin, mentions, sentiment_from_posts
from omni_research.testing._social import make_posts

UTC = dt.UTC
T0 = dt.datetime(2025, 1, 6, tzinfo=UTC)


def _posts(rows: list[tuple[dt.datetime, str | None, str, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "timestamp": t,
                "post_id": str(i),
                "author_id": "user_" + "0" * 16,
                "symbol": s,
                "lang": lang,
                "text": text,
                "like_count": 0,
                "retweet_count": 0,
                "reply_count": 0,
                "quote_count": 0,
            }
            for i, (t, s, text, lang) in enumerate(rows)
        ],
        schema=polars_schema("posts"),
    )


@pytest.mark.parametrize(
    ("symbol", "base"),
    [("BTCUSDT", "BTC"), ("ETHUSDC", "ETH"), ("1000PEPEUSDT", "PEPE"), ("SOLUSD", "SOL")],
)
def test_base_coin_strips_the_quote_and_the_size_multiplier(symbol: str, base: str) -> None:
    assert base_coin(symbol) == base


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("$btc to the moon", ["BTCUSDT"]),
        ("Bitcoin and ETH both up", ["BTCUSDT", "ETHUSDT"]),
        ("ETH/BTC ratio", ["BTCUSDT", "ETHUSDT"]),
        ("ethical investing is boring", []),  # a word that starts with a ticker
        ("buy the dip, ether holders", ["ETHUSDT"]),
        ("btc in lower case is not a ticker", []),
        ("$SOLANA is not $SOL", []),
    ],
)
def test_mentions_cashtags_upper_case_tickers_and_names(text: str, found: list[str]) -> None:
    assert mentions([text], ["BTCUSDT", "ETHUSDT"]) == [found]


def test_sentiment_is_the_mean_vader_compound_per_symbol_and_bucket_end() -> None:
    posts = make_posts(["BTCUSDT", "ETHUSDT"], start=T0, days=2, every_hours=1, seed=3)
    got = sentiment_from_posts(posts, interval="4h")
    analyzer = SentimentIntensityAnalyzer()  # independent reference: plain Python per post
    buckets: dict[tuple[str, dt.datetime], list[float]] = defaultdict(list)
    for row in posts.iter_rows(named=True):
        t = row["timestamp"]
        end = t.replace(hour=t.hour // 4 * 4, minute=0, second=0, microsecond=0)
        end += dt.timedelta(hours=4)
        buckets[(row["symbol"], end)].append(analyzer.polarity_scores(row["text"])["compound"])
    want = sorted((s, end, sum(v) / len(v), len(v)) for (s, end), v in buckets.items())
    rows = got.select("symbol", "timestamp", "score", "mentions").rows()
    assert [(s, t, n) for s, t, _, n in rows] == [(s, t, n) for s, t, _, n in want]
    assert [r[2] for r in rows] == pytest.approx([w[2] for w in want], abs=1e-12)
    assert set(got["source"]) == {"twitter"}
    omr.validate(got, "sentiment")


def test_bucket_end_stamp_never_looks_ahead() -> None:
    rows = [
        (T0.replace(hour=10, minute=59, second=59), "BTCUSDT", "great, love it", "en"),
        (T0.replace(hour=11), "BTCUSDT", "terrible, awful crash", "en"),
    ]
    got = sentiment_from_posts(_posts(rows), interval="1h")
    assert got["timestamp"].to_list() == [T0.replace(hour=11), T0.replace(hour=12)]
    assert got["score"][0] > 0 > got["score"][1]
    # changing the later post never changes the earlier bucket
    changed = sentiment_from_posts(_posts([rows[0], (*rows[1][:2], "wonderful", "en")]))
    assert changed.row(0) == got.row(0) and changed.row(1) != got.row(1)


def test_posts_without_symbol_or_not_in_english_are_left_out() -> None:
    rows = [
        (T0, "BTCUSDT", "good", "en"),
        (T0, "BTCUSDT", "muy bueno", "es"),
        (T0, None, "great", "en"),
        (T0, "BTCUSDT", "bad", None),  # unknown language counts as English
    ]
    got = sentiment_from_posts(_posts(rows), interval="1h")
    assert got["mentions"].to_list() == [2]
    analyzer = SentimentIntensityAnalyzer()
    mean = (
        analyzer.polarity_scores("good")["compound"] + analyzer.polarity_scores("bad")["compound"]
    ) / 2
    assert got["score"][0] == pytest.approx(mean)


def test_empty_posts_give_an_empty_valid_sentiment_frame_and_bad_interval_is_refused() -> None:
    empty = sentiment_from_posts(_posts([]), interval="15m")
    assert empty.height == 0 and empty.schema == polars_schema("sentiment")
    with pytest.raises(ConfigurationError, match="interval"):
        sentiment_from_posts(_posts([]), interval="7m")
