"""Literal aliases for the kit's string options, in one place."""

from __future__ import annotations

from typing import Literal, TypeAlias, TypeVar

import polars as pl

Tier: TypeAlias = Literal["test", "research", "production"]
Kind: TypeAlias = Literal[
    "ohlcv",
    "trades",
    "orderbook",
    "funding",
    "open_interest",
    "instruments",
    "coins",
    "news",
    "sentiment",
    "posts",
    "orders",
    "fills",
    "positions",
    "pnl",
    "agent_metrics",
    "decisions",
]
Timeframe: TypeAlias = Literal[
    "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d", "1w"
]
Side: TypeAlias = Literal["buy", "sell"]
FileFormat: TypeAlias = Literal["parquet", "csv", "csv.gz", "json", "jsonl"]
Units: TypeAlias = Literal["fractional", "whole"]
Execution: TypeAlias = Literal["next_open", "close"]
Severity: TypeAlias = Literal["info", "warning", "error"]

FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)
"""A DataFrame or a LazyFrame; functions typed with it return the same kind they were given."""

KINDS: tuple[Kind, ...] = Kind.__args__  # type: ignore[attr-defined]
TIMEFRAMES: tuple[Timeframe, ...] = Timeframe.__args__  # type: ignore[attr-defined]
