"""Pandera models of NewsAPI- and Twitter-derived records: news, sentiment."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from omni_research.schemas import _rules
from omni_research.schemas._market import UTC, finite, not_blank


class News(pa.DataFrameModel):
    """News articles (NewsAPI), tagged with the symbol they mention when one is known."""

    timestamp: UTC
    article_id: pl.String = pa.Field(unique=True)
    source: pl.String
    title: pl.String
    url: pl.String = pa.Field(str_matches=r"^https?://")
    symbol: pl.String = pa.Field(nullable=True)

    class Config:
        strict = True
        coerce = False

    @pa.check("source", "title", name="not_blank")
    def _blank(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return not_blank(data)


class Sentiment(pa.DataFrameModel):
    """Aggregated sentiment per symbol, source and time bucket; score in [-1, 1]."""

    timestamp: UTC
    symbol: pl.String
    source: pl.String = pa.Field(isin=["news", "twitter"])
    score: pl.Float64 = pa.Field(in_range={"min_value": -1.0, "max_value": 1.0})
    mentions: pl.Int64 = pa.Field(ge=0)

    class Config:
        strict = True
        coerce = False

    @pa.check("score", name="finite")
    def _finite(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return finite(data)

    @pa.dataframe_check(name="unique (symbol, source, timestamp)")
    def _unique(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_rules.unique("symbol", "source", "timestamp"))
