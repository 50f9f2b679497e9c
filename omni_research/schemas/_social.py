"""Pandera model of social-media posts (X recent search): posts."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from omni_research.schemas import _rules
from omni_research.schemas._market import UTC, not_blank

AUTHOR_PATTERN = r"^user_[0-9a-f]{16}$"
"""A pseudonymised author id: ``user_`` and 16 hex digits of an HMAC-SHA256."""


class Posts(pa.DataFrameModel):
    """Posts matching a search, one row per post and symbol it mentions.

    ``author_id`` is never the platform's id: it is pseudonymised on write with a keyed
    hash (HMAC-SHA256, key from ``OMNI_PSEUDONYM_KEY``), so a research root holds no
    account identifier; the rule refuses anything else. ``symbol`` is the exchange symbol
    the post mentions (null when it mentions none of the requested ones); a post that
    mentions two symbols has two rows. Counts are the public metrics when fetched.
    """

    timestamp: UTC
    post_id: pl.String
    author_id: pl.String = pa.Field(str_matches=AUTHOR_PATTERN)
    symbol: pl.String = pa.Field(nullable=True)
    lang: pl.String = pa.Field(nullable=True)
    text: pl.String
    like_count: pl.Int64 = pa.Field(ge=0)
    retweet_count: pl.Int64 = pa.Field(ge=0)
    reply_count: pl.Int64 = pa.Field(ge=0)
    quote_count: pl.Int64 = pa.Field(ge=0)

    class Config:
        strict = True
        coerce = False

    @pa.check("post_id", name="not_blank")
    def _blank(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return not_blank(data)

    @pa.dataframe_check(name="unique (post_id, symbol)")
    def _unique(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_rules.unique("post_id", "symbol"))
