"""Pandera models of the trading kinds: orders, fills, positions, pnl."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from omni_research.schemas import _rules
from omni_research.schemas._market import UTC, finite, not_blank

ORDER_STATUSES = ["new", "partially_filled", "filled", "cancelled", "rejected"]
# Cents: P&L identities are checked to a tenth of a cent, the precision the records carry.
_PNL_TOLERANCE = 1e-3


class Orders(pa.DataFrameModel):
    """Orders with their latest status; ``filled_size`` must agree with the status."""

    timestamp: UTC
    order_id: pl.String = pa.Field(unique=True)
    symbol: pl.String
    agent_id: pl.String
    account_id: pl.String
    side: pl.String = pa.Field(isin=["buy", "sell"])
    order_type: pl.String = pa.Field(isin=["market", "limit"])
    price: pl.Float64 = pa.Field(gt=0, nullable=True)
    size: pl.Float64 = pa.Field(gt=0)
    status: pl.String = pa.Field(isin=ORDER_STATUSES)
    filled_size: pl.Float64 = pa.Field(ge=0)
    updated_at: UTC

    class Config:
        strict = True
        coerce = False

    @pa.check("symbol", "agent_id", "account_id", name="not_blank")
    def _blank(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return not_blank(data)

    @pa.check("price", "size", "filled_size", name="finite")
    def _finite(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return finite(data)

    @pa.dataframe_check(name="status lifecycle matches filled_size")
    def _lifecycle(cls, data: pa.PolarsData) -> pl.LazyFrame:
        status, filled, size = pl.col("status"), pl.col("filled_size"), pl.col("size")
        ok = (
            pl.when(status == "filled")
            .then(filled == size)
            .when(status.is_in(["new", "rejected"]))
            .then(filled == 0)
            .when(status == "partially_filled")
            .then((filled > 0) & (filled < size))
            .otherwise(filled < size)  # cancelled: whatever filled before the cancel
        )
        return data.lazyframe.select(ok.fill_null(False))

    @pa.dataframe_check(name="limit orders have a price, market orders none")
    def _price(cls, data: pa.PolarsData) -> pl.LazyFrame:
        limit = pl.col("order_type") == "limit"
        return data.lazyframe.select(limit == pl.col("price").is_not_null())

    @pa.dataframe_check(name="updated_at >= timestamp")
    def _updated(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("updated_at") >= pl.col("timestamp"))


class Fills(pa.DataFrameModel):
    """Executions of orders; ``fee`` in quote currency."""

    timestamp: UTC
    fill_id: pl.String = pa.Field(unique=True)
    order_id: pl.String
    symbol: pl.String
    agent_id: pl.String
    account_id: pl.String
    side: pl.String = pa.Field(isin=["buy", "sell"])
    price: pl.Float64 = pa.Field(gt=0)
    size: pl.Float64 = pa.Field(gt=0)
    fee: pl.Float64 = pa.Field(ge=0)
    liquidity: pl.String = pa.Field(isin=["maker", "taker"])

    class Config:
        strict = True
        coerce = False

    @pa.check("price", "size", "fee", name="finite")
    def _finite(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return finite(data)


class Positions(pa.DataFrameModel):
    """End-of-day position snapshots per symbol and account (size signed)."""

    timestamp: UTC
    symbol: pl.String
    account_id: pl.String
    size: pl.Float64
    avg_entry_price: pl.Float64 = pa.Field(gt=0, nullable=True)
    mark_price: pl.Float64 = pa.Field(gt=0)
    unrealized_pnl: pl.Float64
    realized_pnl: pl.Float64

    class Config:
        strict = True
        coerce = False

    @pa.check(
        "size", "avg_entry_price", "mark_price", "unrealized_pnl", "realized_pnl", name="finite"
    )
    def _finite(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return finite(data)

    @pa.dataframe_check(name="avg_entry_price is null exactly when flat")
    def _flat(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("size") == 0) == pl.col("avg_entry_price").is_null())

    # Not the sorted form: positions() builds snapshots in time order, the catalog by symbol.
    @pa.dataframe_check(name="unique (symbol, account_id, timestamp)")
    def _unique(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_rules.unique("symbol", "account_id", "timestamp"))


class PnL(pa.DataFrameModel):
    """Daily cumulative P&L per symbol and account: net = realized + unrealized - fees."""

    date: pl.Date
    symbol: pl.String
    account_id: pl.String
    realized_pnl: pl.Float64
    unrealized_pnl: pl.Float64
    fees: pl.Float64 = pa.Field(ge=0)
    net_pnl: pl.Float64

    class Config:
        strict = True
        coerce = False

    @pa.check("realized_pnl", "unrealized_pnl", "fees", "net_pnl", name="finite")
    def _finite(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return finite(data)

    @pa.dataframe_check(name="net_pnl = realized_pnl + unrealized_pnl - fees")
    def _net(cls, data: pa.PolarsData) -> pl.LazyFrame:
        net = pl.col("realized_pnl") + pl.col("unrealized_pnl") - pl.col("fees")
        return data.lazyframe.select((pl.col("net_pnl") - net).abs() <= _PNL_TOLERANCE)

    # Not the sorted form: daily_pnl() sorts by date first, the catalog by symbol.
    @pa.dataframe_check(name="unique (symbol, account_id, date)")
    def _unique(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_rules.unique("symbol", "account_id", "date"))
