"""Pandera models of the agent kinds: agent_metrics, decisions."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from omni_research.schemas import _rules
from omni_research.schemas._market import UTC, finite, not_blank


class AgentMetrics(pa.DataFrameModel):
    """Agent performance metrics in long form: one value per agent, metric and time."""

    timestamp: UTC
    agent_id: pl.String
    metric: pl.String
    value: pl.Float64

    class Config:
        strict = True
        coerce = False

    @pa.check("agent_id", "metric", name="not_blank")
    def _blank(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return not_blank(data)

    @pa.check("value", name="finite")
    def _finite(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return finite(data)

    @pa.dataframe_check(name="unique (agent_id, metric, timestamp)")
    def _unique(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_rules.unique("agent_id", "metric", "timestamp"))


class Decisions(pa.DataFrameModel):
    """The agents' decision log, with the model version and confidence behind each decision."""

    timestamp: UTC
    agent_id: pl.String
    symbol: pl.String
    model_version: pl.String
    action: pl.String = pa.Field(isin=["buy", "sell", "hold"])
    confidence: pl.Float64 = pa.Field(in_range={"min_value": 0.0, "max_value": 1.0})
    reason: pl.String
    order_id: pl.String = pa.Field(nullable=True)

    class Config:
        strict = True
        coerce = False

    @pa.check("agent_id", "symbol", "model_version", name="not_blank")
    def _blank(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return not_blank(data)

    @pa.check("confidence", name="finite")
    def _finite(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return finite(data)

    @pa.dataframe_check(name="hold decisions place no order")
    def _hold(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("action") != "hold") | pl.col("order_id").is_null())

    # One decision per agent, symbol and moment: a second row at the same key is a stray copy.
    @pa.dataframe_check(name="unique (agent_id, symbol, timestamp)")
    def _unique(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_rules.unique("agent_id", "symbol", "timestamp"))
