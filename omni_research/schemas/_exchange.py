"""Pandera models of the exchange-metadata kinds: open_interest, instruments."""

from __future__ import annotations

from typing import Annotated

import pandera.polars as pa
import polars as pl

from omni_research.schemas import _rules
from omni_research.schemas._market import finite, not_blank

UTC = Annotated[pl.Datetime, "us", "UTC"]

OPEN_INTEREST_INTERVALS = ("5min", "15min", "30min", "1h", "4h", "1d")
"""Bybit v5 ``intervalTime`` values of ``/v5/market/open-interest``."""
INSTRUMENT_CATEGORIES = ("linear", "inverse", "spot", "option")
INSTRUMENT_STATUSES = ("PreLaunch", "Trading", "Delivering", "Closed")
"""Bybit v5 instrument statuses; ``Closed`` is a delisted (or settled) instrument."""


class OpenInterest(pa.DataFrameModel):
    """Open interest of a derivative, one row per symbol, sampling interval and time.

    ``open_interest`` is in the contract's size unit (base coin for linear contracts,
    USD for inverse ones), single side, as Bybit publishes it.
    """

    timestamp: UTC
    symbol: pl.String
    interval: pl.String = pa.Field(isin=list(OPEN_INTEREST_INTERVALS))
    open_interest: pl.Float64 = pa.Field(ge=0)

    class Config:
        strict = True
        coerce = False

    @pa.check("symbol", name="not_blank")
    def _symbol(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return not_blank(data)

    @pa.check("open_interest", name="finite")
    def _finite(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return finite(data)

    @pa.dataframe_check(name="unique and sorted by (symbol, interval, timestamp)")
    def _sorted(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_rules.strictly_increasing("symbol", "interval", "timestamp"))


class Instruments(pa.DataFrameModel):
    """Instrument specifications as listed at ``timestamp`` (a snapshot of the exchange).

    One row per category, symbol and snapshot, delisted instruments (``status`` Closed)
    included, so that a universe can be taken point in time. ``launch_time`` and
    ``delivery_time`` (expiry, or a perpetual's delisting time) are null where the
    exchange gives none; ``funding_interval_min`` is null for instruments without funding.
    """

    timestamp: UTC
    category: pl.String = pa.Field(isin=list(INSTRUMENT_CATEGORIES))
    symbol: pl.String
    status: pl.String = pa.Field(isin=list(INSTRUMENT_STATUSES))
    contract_type: pl.String = pa.Field(nullable=True)
    base_coin: pl.String
    quote_coin: pl.String
    settle_coin: pl.String = pa.Field(nullable=True)
    launch_time: UTC = pa.Field(nullable=True)
    delivery_time: UTC = pa.Field(nullable=True)
    tick_size: pl.Float64 = pa.Field(gt=0)
    qty_step: pl.Float64 = pa.Field(gt=0)
    min_order_qty: pl.Float64 = pa.Field(ge=0)
    funding_interval_min: pl.Int64 = pa.Field(gt=0, nullable=True)

    class Config:
        strict = True
        coerce = False

    @pa.check("symbol", "base_coin", "quote_coin", name="not_blank")
    def _blank(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return not_blank(data)

    @pa.check("tick_size", "qty_step", "min_order_qty", name="finite")
    def _finite(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return finite(data)

    @pa.dataframe_check(name="unique (category, symbol, timestamp)")
    def _unique(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_rules.unique("category", "symbol", "timestamp"))
