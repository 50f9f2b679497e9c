"""P&L from trading records: FIFO realised and unrealised P&L, and execution analysis.

``fifo_ledger`` walks the fills of each (symbol, account) through a FIFO queue of lots;
``positions`` and ``daily_pnl`` mark the ledger to market with 1m closes and give frames of
the ``positions`` and ``pnl`` kinds (docs/data_model.md), which reconcile with what the
trading system records. ``execution_analysis`` measures the system's own fills against the
market: slippage against the order-book mid and the bar's VWAP, fees, fill rates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

import numpy as np
import polars as pl

from omni_research._typing import FrameT
from omni_research.exceptions import DataFormatError

__all__ = ["daily_pnl", "execution_analysis", "execution_costs", "fifo_ledger", "positions"]

_UTC = pl.Datetime("us", "UTC")


def _collect(frame: pl.DataFrame | pl.LazyFrame, what: str) -> pl.DataFrame:
    if isinstance(frame, pl.LazyFrame):
        return frame.collect()
    if isinstance(frame, pl.DataFrame):
        return frame
    raise DataFormatError(f"pnl: {what} must be a polars DataFrame or LazyFrame, got {type(frame)}")


def _require(frame: pl.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataFormatError(
            f"pnl: {what} lacks column(s) {missing}; expected the {what} kind of "
            f"docs/data_model.md, got {frame.columns}"
        )


_FILL_COLUMNS = ("timestamp", "fill_id", "symbol", "account_id", "side", "price", "size", "fee")


def _ledger(fills: pl.DataFrame) -> pl.DataFrame:
    _require(fills, _FILL_COLUMNS, "fills")
    bad_side = fills.filter(~pl.col("side").is_in(["buy", "sell"]))
    if bad_side.height:
        raise DataFormatError(
            f"pnl: fills side must be 'buy' or 'sell'; {bad_side.height} row(s) hold "
            f"{bad_side['side'].unique().to_list()[:5]}"
        )
    df = fills.sort("symbol", "account_id", "timestamp", "fill_id").with_columns(
        pl.struct("symbol", "account_id").rank("dense").alias("__g")
    )
    qty = (
        df.select(pl.when(pl.col("side") == "buy").then(pl.col("size")).otherwise(-pl.col("size")))
        .to_series()
        .cast(pl.Float64)
        .to_numpy()
    )
    from omni_research._pnl import fifo  # numba, imported on first use

    pos, real, cum_real, basis, avg, cum_fees = fifo(
        df["__g"].cast(pl.Int64).to_numpy(),
        np.ascontiguousarray(qty),
        df["price"].cast(pl.Float64).to_numpy(),
        df["fee"].cast(pl.Float64).fill_null(0.0).to_numpy(),
    )
    return df.drop("__g").with_columns(
        pl.Series("position", pos),
        pl.Series("realized_pnl", real),
        pl.Series("cum_realized_pnl", cum_real),
        pl.Series("cost_basis", basis),
        pl.Series("avg_entry_price", avg).fill_nan(None),
        pl.Series("cum_fees", cum_fees),
    )


@overload
def fifo_ledger(fills: pl.DataFrame, /) -> pl.DataFrame: ...
@overload
def fifo_ledger(fills: pl.LazyFrame, /) -> pl.LazyFrame: ...
def fifo_ledger(fills: FrameT, /) -> FrameT:
    """Each fill with the FIFO position and P&L of its (symbol, account) after it.

    Parameters
    ----------
    fills : DataFrame or LazyFrame
        The ``fills`` kind.

    Returns
    -------
    DataFrame or LazyFrame
        The fills sorted by symbol, account_id, timestamp, fill_id, plus: position (signed
        size after the fill), realized_pnl (of this fill, before fees), cum_realized_pnl,
        cost_basis (sum of open lots' signed size x price), avg_entry_price (of the open
        lots; null when flat), cum_fees.

    Examples
    --------
    >>> import datetime as dt, polars as pl
    >>> from omni_research.pnl import fifo_ledger
    >>> t = dt.datetime(2025, 1, 6, tzinfo=dt.UTC)
    >>> fills = pl.DataFrame({"timestamp": [t, t + dt.timedelta(minutes=1)],
    ...     "fill_id": ["F1", "F2"], "symbol": "BTCUSDT", "account_id": "A",
    ...     "side": ["buy", "sell"], "price": [100.0, 110.0], "size": [2.0, 1.0],
    ...     "fee": [0.1, 0.05]})
    >>> fifo_ledger(fills)["cum_realized_pnl"].to_list()
    [0.0, 10.0]
    """
    if isinstance(fills, pl.LazyFrame):
        return _ledger(fills.collect()).lazy()
    return _ledger(_collect(fills, "fills"))


def _days(ohlcv: pl.DataFrame) -> pl.DataFrame:
    """symbol, date, mark (close of the day's last bar)."""
    _require(ohlcv, ("timestamp", "symbol", "close"), "ohlcv")
    if "timeframe" in ohlcv.columns and ohlcv.get_column("timeframe").n_unique() > 1:
        # Marks are the close of the day's last 1m bar; other timeframes would double count.
        ohlcv = ohlcv.filter(pl.col("timeframe") == "1m")
        if ohlcv.height == 0:
            raise DataFormatError(
                "pnl: ohlcv holds several timeframes but no 1m bars; pass 1m bars to mark "
                "positions at each day's last 1m close"
            )
    return (
        ohlcv.group_by("symbol", pl.col("timestamp").dt.date().alias("date"))
        .agg(pl.col("close").sort_by("timestamp").last().cast(pl.Float64).alias("mark_price"))
        .sort("symbol", "date")
    )


def _snapshots(fills: pl.DataFrame, ohlcv: pl.DataFrame) -> pl.DataFrame:
    ledger = _ledger(fills)
    days = _days(ohlcv)
    keys = ledger.select("symbol", "account_id").unique()
    grid = keys.join(days, on="symbol", how="inner").with_columns(
        (
            pl.col("date").cast(pl.Datetime("us")).dt.replace_time_zone("UTC") + pl.duration(days=1)
        ).alias("end")
    )
    # A fill stamped exactly at midnight belongs to the new day: strictly before the end.
    snap = grid.sort("end").join_asof(
        ledger.select(
            "symbol",
            "account_id",
            pl.col("timestamp").cast(_UTC).alias("end"),
            "position",
            "cum_realized_pnl",
            "cost_basis",
            "avg_entry_price",
            "cum_fees",
        ).sort("end"),
        on="end",
        by=["symbol", "account_id"],
        strategy="backward",
        allow_exact_matches=False,
        check_sortedness=False,  # sorted on "end" above; polars cannot check it per group
    )
    flat = pl.col("position").fill_null(0.0).abs() < 1e-9
    return snap.with_columns(
        pl.when(flat).then(0.0).otherwise(pl.col("position")).alias("size"),
        pl.when(flat).then(None).otherwise(pl.col("avg_entry_price")).alias("avg_entry_price"),
        pl.when(flat)
        .then(0.0)
        .otherwise(pl.col("position") * pl.col("mark_price") - pl.col("cost_basis"))
        .alias("unrealized_pnl"),
        pl.col("cum_realized_pnl").fill_null(0.0).alias("realized_pnl"),
        pl.col("cum_fees").fill_null(0.0).alias("fees"),
    ).sort("symbol", "account_id", "date")


@overload
def positions(fills: pl.DataFrame, ohlcv: pl.DataFrame | pl.LazyFrame, /) -> pl.DataFrame: ...
@overload
def positions(fills: pl.LazyFrame, ohlcv: pl.DataFrame | pl.LazyFrame, /) -> pl.LazyFrame: ...
def positions(fills: FrameT, ohlcv: pl.DataFrame | pl.LazyFrame, /) -> FrameT:
    """End-of-day FIFO positions per symbol and account (the ``positions`` kind).

    Parameters
    ----------
    fills : DataFrame or LazyFrame
        The ``fills`` kind.
    ohlcv : DataFrame or LazyFrame
        1m bars of the same symbols; the mark is the close of each day's last bar, and
        every day with bars gets a snapshot for every (symbol, account) that has fills.

    Returns
    -------
    DataFrame or LazyFrame
        timestamp (the day's end, next midnight UTC), symbol, account_id, size (signed),
        avg_entry_price (of the open FIFO lots, null when flat), mark_price, unrealized_pnl,
        realized_pnl (cumulative, before fees).
    """
    lazy = isinstance(fills, pl.LazyFrame)
    snap = _snapshots(_collect(fills, "fills"), _collect(ohlcv, "ohlcv"))
    out = snap.select(
        pl.col("end").alias("timestamp"),
        "symbol",
        "account_id",
        "size",
        "avg_entry_price",
        "mark_price",
        "unrealized_pnl",
        "realized_pnl",
    ).sort("timestamp", "symbol", "account_id")
    return out.lazy() if lazy else out  # type: ignore[return-value]


@overload
def daily_pnl(fills: pl.DataFrame, ohlcv: pl.DataFrame | pl.LazyFrame, /) -> pl.DataFrame: ...
@overload
def daily_pnl(fills: pl.LazyFrame, ohlcv: pl.DataFrame | pl.LazyFrame, /) -> pl.LazyFrame: ...
def daily_pnl(fills: FrameT, ohlcv: pl.DataFrame | pl.LazyFrame, /) -> FrameT:
    """Cumulative P&L per day, symbol and account (the ``pnl`` kind).

    Parameters
    ----------
    fills : DataFrame or LazyFrame
        The ``fills`` kind.
    ohlcv : DataFrame or LazyFrame
        1m bars; unrealised P&L is marked at each day's last close.

    Returns
    -------
    DataFrame or LazyFrame
        date, symbol, account_id, realized_pnl, unrealized_pnl, fees, net_pnl
        (= realized + unrealized - fees), all cumulative to the end of the date.
    """
    lazy = isinstance(fills, pl.LazyFrame)
    snap = _snapshots(_collect(fills, "fills"), _collect(ohlcv, "ohlcv"))
    out = snap.select(
        "date",
        "symbol",
        "account_id",
        "realized_pnl",
        "unrealized_pnl",
        "fees",
        (pl.col("realized_pnl") + pl.col("unrealized_pnl") - pl.col("fees")).alias("net_pnl"),
    ).sort("date", "symbol", "account_id")
    return out.lazy() if lazy else out  # type: ignore[return-value]


def execution_costs(
    fills: pl.DataFrame | pl.LazyFrame,
    /,
    *,
    orderbook: pl.DataFrame | pl.LazyFrame | None = None,
    ohlcv: pl.DataFrame | pl.LazyFrame | None = None,
) -> pl.DataFrame:
    """Each fill measured against the market at its time.

    Parameters
    ----------
    fills : DataFrame or LazyFrame
        The ``fills`` kind.
    orderbook : DataFrame or LazyFrame, optional
        Snapshots; the mid is taken from the last snapshot at or before the fill.
    ohlcv : DataFrame or LazyFrame, optional
        Bars; the VWAP of the bar containing the fill is turnover / volume.

    Returns
    -------
    pl.DataFrame
        The fills plus notional, fee_bps, and when the market data is given: mid,
        slippage_mid_bps, vwap, slippage_vwap_bps. Slippage is signed as a cost: positive
        when a buy paid more (a sell received less) than the reference.
    """
    f = _collect(fills, "fills")
    _require(f, (*_FILL_COLUMNS, "agent_id"), "fills")
    sign = pl.when(pl.col("side") == "buy").then(1.0).otherwise(-1.0)
    f = f.with_columns(
        pl.col("timestamp").cast(_UTC),
        (pl.col("price") * pl.col("size")).alias("notional"),
    ).with_columns((pl.col("fee") / pl.col("notional") * 1e4).alias("fee_bps"))
    f = f.sort("timestamp")
    if orderbook is not None:
        book = _collect(orderbook, "orderbook")
        _require(book, ("timestamp", "symbol", "bid_px_1", "ask_px_1"), "orderbook")
        mids = book.select(
            pl.col("timestamp").cast(_UTC),
            "symbol",
            ((pl.col("bid_px_1") + pl.col("ask_px_1")) / 2).alias("mid"),
        ).sort("timestamp")
        f = f.join_asof(
            mids, on="timestamp", by="symbol", strategy="backward", check_sortedness=False
        ).with_columns(
            (sign * (pl.col("price") / pl.col("mid") - 1.0) * 1e4).alias("slippage_mid_bps")
        )
    if ohlcv is not None:
        bars = _collect(ohlcv, "ohlcv")
        _require(bars, ("timestamp", "symbol", "volume", "turnover"), "ohlcv")
        vw = bars.select(
            pl.col("timestamp").cast(_UTC).alias("__bar"),
            "symbol",
            pl.when(pl.col("volume") > 0)
            .then(pl.col("turnover") / pl.col("volume"))
            .otherwise(None)
            .alias("vwap"),
        ).sort("__bar")
        # The bar containing the fill is the last one opening at or before it.
        f = (
            f.with_columns(pl.col("timestamp").alias("__bar"))
            .join_asof(vw, on="__bar", by="symbol", strategy="backward", check_sortedness=False)
            .drop("__bar")
            .with_columns(
                (sign * (pl.col("price") / pl.col("vwap") - 1.0) * 1e4).alias("slippage_vwap_bps")
            )
        )
    return f.sort("timestamp", "fill_id")


def execution_analysis(
    fills: pl.DataFrame | pl.LazyFrame,
    /,
    *,
    orders: pl.DataFrame | pl.LazyFrame | None = None,
    orderbook: pl.DataFrame | pl.LazyFrame | None = None,
    ohlcv: pl.DataFrame | pl.LazyFrame | None = None,
    by: Sequence[str] = ("symbol", "agent_id"),
) -> pl.DataFrame:
    """Execution quality per group (default per symbol and agent).

    Parameters
    ----------
    fills : DataFrame or LazyFrame
        The ``fills`` kind.
    orders : DataFrame or LazyFrame, optional
        The ``orders`` kind, for fill rates.
    orderbook, ohlcv : DataFrame or LazyFrame, optional
        Market data for slippage (see `execution_costs`).
    by : sequence of str
        Grouping columns, e.g. ``("symbol",)`` or ``("agent_id",)``.

    Returns
    -------
    pl.DataFrame
        The ``by`` columns, fills, notional, fees, fee_bps (fees over notional),
        maker_share (of notional), slippage_mid_bps and slippage_vwap_bps (notional-weighted
        means, when the market data is given), and with orders: orders, fill_rate (filled
        size over ordered size, rejected orders included), filled_share (orders whose
        status is ``filled``).

    Examples
    --------
    >>> from omni_research import open_catalog  # doctest: +SKIP
    >>> cat = open_catalog()  # doctest: +SKIP
    >>> execution_analysis(  # doctest: +SKIP
    ...     cat.load("fills"), orders=cat.load("orders"), orderbook=cat.load("orderbook"),
    ...     ohlcv=cat.load("ohlcv"))
    """
    keys = list(by)
    costs = execution_costs(fills, orderbook=orderbook, ohlcv=ohlcv)
    _require(costs, keys, "fills")
    w = pl.col("notional")
    aggs = [
        pl.len().alias("fills"),
        w.sum().alias("notional"),
        pl.col("fee").sum().alias("fees"),
        (pl.col("fee").sum() / w.sum() * 1e4).alias("fee_bps"),
        (w.filter(pl.col("liquidity") == "maker").sum() / w.sum()).alias("maker_share")
        if "liquidity" in costs.columns
        else pl.lit(None, dtype=pl.Float64).alias("maker_share"),
    ]
    for col in ("slippage_mid_bps", "slippage_vwap_bps"):
        if col in costs.columns:
            ok = pl.col(col).is_not_null()
            aggs.append(((pl.col(col) * w).filter(ok).sum() / w.filter(ok).sum()).alias(col))
    out = costs.group_by(keys).agg(aggs)
    if orders is not None:
        o = _collect(orders, "orders")
        _require(o, (*keys, "size", "filled_size", "status"), "orders")
        rates = o.group_by(keys).agg(
            pl.len().alias("orders"),
            (pl.col("filled_size").sum() / pl.col("size").sum()).alias("fill_rate"),
            (pl.col("status") == "filled").mean().alias("filled_share"),
        )
        out = rates.join(out, on=keys, how="full", coalesce=True).with_columns(
            pl.col("fills").fill_null(0)
        )
    return out.sort(keys)
