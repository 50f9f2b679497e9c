"""Pandera models of the market kinds: ohlcv, trades, orderbook, funding, coins."""

from __future__ import annotations

from typing import Annotated

import pandera.polars as pa
import polars as pl
from pandera.backends.polars.register import register_polars_backends

from omni_research._typing import TIMEFRAMES
from omni_research.schemas import _rules

# Pandera registers its built-in Polars checks lazily, at the first validate(); a model whose
# Field checks are made before that holds dispatchers that cannot be called directly, which
# the one-query rule check in _validate.py does. Register first, then define the models.
register_polars_backends()

UTC = Annotated[pl.Datetime, "us", "UTC"]
BOOK_LEVELS = 5
BID_PX = tuple(f"bid_px_{i}" for i in range(1, BOOK_LEVELS + 1))
BID_SZ = tuple(f"bid_sz_{i}" for i in range(1, BOOK_LEVELS + 1))
ASK_PX = tuple(f"ask_px_{i}" for i in range(1, BOOK_LEVELS + 1))
ASK_SZ = tuple(f"ask_sz_{i}" for i in range(1, BOOK_LEVELS + 1))


def finite(data: pa.PolarsData) -> pl.LazyFrame:
    """NaN and inf are not prices: Polars orders NaN above every number, so gt(0) passes it."""
    return data.lazyframe.select(pl.col(data.key).is_finite())


def not_blank(data: pa.PolarsData) -> pl.LazyFrame:
    return data.lazyframe.select(pl.col(data.key).str.strip_chars().str.len_chars() > 0)


class OHLCV(pa.DataFrameModel):
    """Candles: one row per symbol, timeframe and bar open time."""

    timestamp: UTC
    symbol: pl.String
    timeframe: pl.String = pa.Field(isin=list(TIMEFRAMES))
    open: pl.Float64 = pa.Field(gt=0)
    high: pl.Float64 = pa.Field(gt=0)
    low: pl.Float64 = pa.Field(gt=0)
    close: pl.Float64 = pa.Field(gt=0)
    volume: pl.Float64 = pa.Field(ge=0)
    turnover: pl.Float64 = pa.Field(ge=0)
    trade_count: pl.Int64 = pa.Field(ge=0, nullable=True)  # null: unknown (e.g. klines)

    class Config:
        strict = True
        coerce = False

    @pa.check("symbol", name="not_blank")
    def _symbol(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return not_blank(data)

    @pa.check("open", "high", "low", "close", "volume", "turnover", name="finite")
    def _finite(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return finite(data)

    @pa.dataframe_check(name="high >= max(open, close)")
    def _high(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_rules.high_above_open_close())

    @pa.dataframe_check(name="low <= min(open, close)")
    def _low(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_rules.low_below_open_close())

    @pa.dataframe_check(name="unique and sorted by (symbol, timeframe, timestamp)")
    def _sorted(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_rules.strictly_increasing("symbol", "timeframe", "timestamp"))

    @pa.dataframe_check(name="timestamp aligned to timeframe (weeks start Monday 00:00 UTC)")
    def _aligned(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_rules.bar_aligned())


class Trades(pa.DataFrameModel):
    """Public trades (prints)."""

    timestamp: UTC
    symbol: pl.String
    trade_id: pl.String = pa.Field(unique=True)
    side: pl.String = pa.Field(isin=["buy", "sell"])
    price: pl.Float64 = pa.Field(gt=0)
    size: pl.Float64 = pa.Field(gt=0)

    class Config:
        strict = True
        coerce = False

    @pa.check("price", "size", name="finite")
    def _finite(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return finite(data)

    @pa.dataframe_check(name="sorted by (symbol, timestamp)")
    def _sorted(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_rules.non_decreasing("symbol", "timestamp"))


class OrderBook(pa.DataFrameModel):
    """Level-2 snapshots, top 5 levels each side; level 1 is the best price."""

    timestamp: UTC
    symbol: pl.String
    bid_px_1: pl.Float64 = pa.Field(gt=0)
    bid_px_2: pl.Float64 = pa.Field(gt=0)
    bid_px_3: pl.Float64 = pa.Field(gt=0)
    bid_px_4: pl.Float64 = pa.Field(gt=0)
    bid_px_5: pl.Float64 = pa.Field(gt=0)
    bid_sz_1: pl.Float64 = pa.Field(gt=0)
    bid_sz_2: pl.Float64 = pa.Field(gt=0)
    bid_sz_3: pl.Float64 = pa.Field(gt=0)
    bid_sz_4: pl.Float64 = pa.Field(gt=0)
    bid_sz_5: pl.Float64 = pa.Field(gt=0)
    ask_px_1: pl.Float64 = pa.Field(gt=0)
    ask_px_2: pl.Float64 = pa.Field(gt=0)
    ask_px_3: pl.Float64 = pa.Field(gt=0)
    ask_px_4: pl.Float64 = pa.Field(gt=0)
    ask_px_5: pl.Float64 = pa.Field(gt=0)
    ask_sz_1: pl.Float64 = pa.Field(gt=0)
    ask_sz_2: pl.Float64 = pa.Field(gt=0)
    ask_sz_3: pl.Float64 = pa.Field(gt=0)
    ask_sz_4: pl.Float64 = pa.Field(gt=0)
    ask_sz_5: pl.Float64 = pa.Field(gt=0)

    class Config:
        strict = True
        coerce = False

    @pa.check(*BID_PX, *BID_SZ, *ASK_PX, *ASK_SZ, name="finite")
    def _finite(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return finite(data)

    @pa.dataframe_check(name="bids strictly descending")
    def _bids(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_rules.strictly_descending(*BID_PX))

    @pa.dataframe_check(name="asks strictly ascending")
    def _asks(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_rules.strictly_ascending(*ASK_PX))

    @pa.dataframe_check(name="best bid < best ask")
    def _uncrossed(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("bid_px_1") < pl.col("ask_px_1"))

    @pa.dataframe_check(name="unique and sorted by (symbol, timestamp)")
    def _sorted(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_rules.strictly_increasing("symbol", "timestamp"))


class Funding(pa.DataFrameModel):
    """Perpetual funding: rate per 8-hour interval as a fraction, settled at ``timestamp``."""

    timestamp: UTC
    symbol: pl.String
    funding_rate: pl.Float64 = pa.Field(in_range={"min_value": -0.05, "max_value": 0.05})
    mark_price: pl.Float64 = pa.Field(gt=0)

    class Config:
        strict = True
        coerce = False

    @pa.check("funding_rate", "mark_price", name="finite")
    def _finite(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return finite(data)

    @pa.dataframe_check(name="unique and sorted by (symbol, timestamp)")
    def _sorted(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_rules.strictly_increasing("symbol", "timestamp"))


class Coins(pa.DataFrameModel):
    """CoinGecko-style market data and metadata, one row per coin and snapshot time."""

    timestamp: UTC
    coin_id: pl.String
    symbol: pl.String
    name: pl.String
    price_usd: pl.Float64 = pa.Field(gt=0)
    market_cap_usd: pl.Float64 = pa.Field(ge=0)
    volume_24h_usd: pl.Float64 = pa.Field(ge=0)
    circulating_supply: pl.Float64 = pa.Field(ge=0)
    market_cap_rank: pl.Int64 = pa.Field(ge=1, nullable=True)

    class Config:
        strict = True
        coerce = False

    @pa.check("coin_id", "symbol", "name", name="not_blank")
    def _blank(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return not_blank(data)

    @pa.check("price_usd", "market_cap_usd", "volume_24h_usd", "circulating_supply", name="finite")
    def _finite(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return finite(data)

    @pa.dataframe_check(name="unique (coin_id, timestamp)")
    def _unique(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_rules.unique("coin_id", "timestamp"))


class Indicators(pa.DataFrameModel):
    """The ``indicators`` dataset (``indicators.materialize``): its base columns.

    Its other columns, all Float64, are the ones the manifest's ``[indicators.<timeframe>]``
    table records; the catalog checks every file has exactly those (the model is not strict
    for that reason). Indicator values are not range-checked: warm-up rows may hold NaN.
    """

    timestamp: UTC
    symbol: pl.String
    timeframe: pl.String = pa.Field(isin=list(TIMEFRAMES))

    class Config:
        strict = False
        coerce = False

    @pa.check("symbol", name="not_blank")
    def _symbol(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return not_blank(data)

    @pa.dataframe_check(name="unique and sorted by (symbol, timeframe, timestamp)")
    def _sorted(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_rules.strictly_increasing("symbol", "timeframe", "timestamp"))
