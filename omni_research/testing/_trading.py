"""Seeded trading and agent records consistent with a synthetic market.

Agents decide every 30 minutes; buy/sell decisions place orders; orders fill against the
quote of the moment (market: at the ask/bid, limit: at the limit price when the market
trades through it); positions and P&L follow from the fills by a plain FIFO loop written
here, independently of :mod:`omni_research.pnl`.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass

import numpy as np
import polars as pl

from omni_research.testing._market import _spec

AGENTS = {"momentum_v2": "ACC-1001", "meanrev_v1": "ACC-1002"}
MODEL_VERSIONS = {"momentum_v2": "momentum-2.3.1", "meanrev_v1": "meanrev-1.0.4"}
TAKER_FEE = 0.00055
MAKER_FEE = 0.0002
DECISION_MINUTES = 30


@dataclass(frozen=True, kw_only=True)
class _Quote:
    bid: np.ndarray
    ask: np.ndarray
    times: np.ndarray  # microseconds since epoch, sorted


def _quotes(orderbook: pl.DataFrame, symbol: str) -> _Quote:
    book = orderbook.filter(pl.col("symbol") == symbol)
    return _Quote(
        bid=book["bid_px_1"].to_numpy(),
        ask=book["ask_px_1"].to_numpy(),
        times=book["timestamp"].dt.epoch("us").to_numpy(),
    )


def _us(value: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(value))


def make_trading(market: dict[str, pl.DataFrame], *, seed: int = 11) -> dict[str, pl.DataFrame]:
    """Decisions, orders, fills, positions, pnl and agent_metrics for ``market``.

    Examples
    --------
    >>> from omni_research.testing import make_market, make_trading
    >>> records = make_trading(make_market(symbols=["BTCUSDT"], days=1, seed=1))
    >>> sorted(records)
    ['agent_metrics', 'decisions', 'fills', 'orders', 'pnl', 'positions']
    """
    rng = np.random.default_rng(seed)
    ohlcv = market["ohlcv"]
    decisions, orders, fills = [], [], []
    order_no = fill_no = 0
    for symbol in sorted(ohlcv["symbol"].unique()):
        spec = _spec(symbol)
        quote = _quotes(market["orderbook"], symbol)
        bars = ohlcv.filter(pl.col("symbol") == symbol)
        closes = bars["close"].to_numpy()
        stamps = bars["timestamp"].dt.epoch("us").to_numpy()
        for agent, account in AGENTS.items():
            for i in range(DECISION_MINUTES, len(stamps) - 2, DECISION_MINUTES):
                t = int(stamps[i]) + int(rng.integers(1_000_000, 50_000_000))
                momentum = closes[i] / closes[i - DECISION_MINUTES] - 1
                lean = momentum if agent == "momentum_v2" else -momentum
                score = lean / (spec.minute_vol * np.sqrt(DECISION_MINUTES)) + rng.normal(0, 0.7)
                action = "buy" if score > 0.8 else "sell" if score < -0.8 else "hold"
                confidence = float(np.round(1 / (1 + np.exp(-abs(score))), 4))
                order_id = None
                if action != "hold":
                    order_no += 1
                    order_id = f"ORD-{order_no:06d}"
                    k = int(np.searchsorted(quote.times, t, side="right") - 1)
                    size = float(
                        np.round(
                            np.round(spec.typical_size * rng.uniform(0.5, 3.0) / spec.lot)
                            * spec.lot,
                            6,
                        )
                    )
                    kind = "market" if rng.random() < 0.6 else "limit"
                    made, order_fills, fill_no = _execute(
                        rng,
                        order_id,
                        symbol,
                        agent,
                        account,
                        action,
                        kind,
                        size,
                        t,
                        k,
                        quote,
                        spec.tick,
                        fill_no,
                    )
                    orders.append(made)
                    fills.extend(order_fills)
                decisions.append(
                    {
                        "timestamp": _us(t),
                        "agent_id": agent,
                        "symbol": symbol,
                        "model_version": MODEL_VERSIONS[agent],
                        "action": action,
                        "confidence": confidence,
                        "reason": f"{DECISION_MINUTES}m return {momentum:+.4%}, score {score:+.2f}",
                        "order_id": order_id,
                    }
                )
    dec = pl.DataFrame(decisions).sort("timestamp", "agent_id", "symbol")
    ords = pl.DataFrame(orders).sort("timestamp", "order_id")
    fls = pl.DataFrame(fills).sort("timestamp", "fill_id")
    ords = ords.with_columns(pl.col("price").cast(pl.Float64))
    positions, pnl = _fifo_positions(fls, ohlcv)
    metrics = _agent_metrics(dec, fls)
    return {
        "decisions": dec,
        "orders": ords,
        "fills": fls,
        "positions": positions,
        "pnl": pnl,
        "agent_metrics": metrics,
    }


def _execute(
    rng: np.random.Generator,
    order_id: str,
    symbol: str,
    agent: str,
    account: str,
    side: str,
    kind: str,
    size: float,
    t: int,
    k: int,
    quote: _Quote,
    tick: float,
    fill_no: int,
) -> tuple[dict[str, object], list[dict[str, object]], int]:
    buy = side == "buy"
    decimals = max(0, round(-np.log10(tick)))
    price: float | None = None
    if kind == "limit":
        # a limit a few ticks inside the touch; it fills if the market comes to it soon
        offset = int(rng.integers(0, 6)) * tick
        price = float(
            np.round((quote.bid[k] - offset) if buy else (quote.ask[k] + offset), decimals)
        )
    status_roll = rng.random()
    pieces = 1 if rng.random() < 0.7 else 2
    chunks = [size] if pieces == 1 else [np.round(size * 0.5, 6), size - np.round(size * 0.5, 6)]
    chunks = [float(np.round(c, 6)) for c in chunks]
    fills: list[dict[str, object]] = []
    filled = 0.0
    when = t
    if kind == "market":
        for j, chunk in enumerate(chunks):
            idx = min(k + j, len(quote.bid) - 1)
            px = float(quote.ask[idx] if buy else quote.bid[idx])
            when = max(when, int(quote.times[idx])) + int(rng.integers(1_000, 400_000))
            fill_no += 1
            fills.append(
                _fill(fill_no, order_id, symbol, agent, account, side, px, chunk, when, "taker")
            )
            filled += chunk
        status = "filled"
        if status_roll < 0.03:
            fills, filled, status = [], 0.0, "rejected"
    else:
        assert price is not None
        horizon = slice(k + 1, min(k + 40, len(quote.bid)))
        touch = quote.ask[horizon] <= price if buy else quote.bid[horizon] >= price
        hits = np.flatnonzero(touch)
        take = len(chunks) if status_roll > 0.25 else (1 if len(chunks) > 1 else 0)
        for j, chunk in enumerate(chunks[:take]):
            if j >= hits.size:
                break
            when = int(quote.times[horizon][hits[j]]) + int(rng.integers(1_000, 900_000))
            fill_no += 1
            fills.append(
                _fill(fill_no, order_id, symbol, agent, account, side, price, chunk, when, "maker")
            )
            filled += chunk
        filled = float(np.round(filled, 6))
        if filled == 0:
            status = "cancelled" if status_roll > 0.1 else "new"
        elif filled < size:
            status = "partially_filled" if status_roll > 0.15 else "cancelled"
        else:
            status = "filled"
        if status in ("cancelled",):
            when = max(when, t + 10 * 60 * 1_000_000)
    order = {
        "timestamp": _us(t),
        "order_id": order_id,
        "symbol": symbol,
        "agent_id": agent,
        "account_id": account,
        "side": side,
        "order_type": kind,
        "price": price,
        "size": size,
        "status": status,
        "filled_size": float(np.round(filled, 6)),
        "updated_at": _us(when),
    }
    return order, fills, fill_no


def _fill(
    no: int,
    order_id: str,
    symbol: str,
    agent: str,
    account: str,
    side: str,
    price: float,
    size: float,
    when: int,
    liquidity: str,
) -> dict[str, object]:
    rate = TAKER_FEE if liquidity == "taker" else MAKER_FEE
    return {
        "timestamp": _us(when),
        "fill_id": f"FIL-{no:07d}",
        "order_id": order_id,
        "symbol": symbol,
        "agent_id": agent,
        "account_id": account,
        "side": side,
        "price": price,
        "size": size,
        "fee": round(price * size * rate, 8),
        "liquidity": liquidity,
    }


def _fifo_positions(fills: pl.DataFrame, ohlcv: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """End-of-day FIFO positions and cumulative P&L, by a plain loop over fills."""
    days = ohlcv["timestamp"].dt.date().unique().sort().to_list()
    marks = ohlcv.group_by("symbol", pl.col("timestamp").dt.date().alias("day")).agg(
        pl.col("close").sort_by("timestamp").last()
    )
    mark_of = {(r["symbol"], r["day"]): r["close"] for r in marks.iter_rows(named=True)}
    pos_rows, pnl_rows = [], []
    keys = fills.select("symbol", "account_id").unique().sort("symbol", "account_id").rows()
    for symbol, account in keys:
        mine = fills.filter((pl.col("symbol") == symbol) & (pl.col("account_id") == account))
        lots: deque[list[float]] = deque()  # [signed size, price]
        realized = fees = 0.0
        rows = mine.sort("timestamp", "fill_id").iter_rows(named=True)
        pending = next(rows, None)
        for day in days:
            end = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) + dt.timedelta(days=1)
            while pending is not None and pending["timestamp"] < end:
                qty = pending["size"] if pending["side"] == "buy" else -pending["size"]
                fees += pending["fee"]
                while qty != 0 and lots and (lots[0][0] > 0) != (qty > 0):
                    take = min(abs(qty), abs(lots[0][0]))
                    sign = 1.0 if lots[0][0] > 0 else -1.0
                    realized += take * sign * (pending["price"] - lots[0][1])
                    lots[0][0] -= sign * take
                    qty += sign * take
                    if abs(lots[0][0]) < 1e-12:
                        lots.popleft()
                    if abs(qty) < 1e-12:
                        qty = 0.0
                if qty != 0:
                    lots.append([qty, pending["price"]])
                pending = next(rows, None)
            size = round(sum(lot[0] for lot in lots), 10)
            mark = mark_of[(symbol, day)]
            unrealized = sum(lot[0] * (mark - lot[1]) for lot in lots)
            avg = (sum(abs(lot[0]) * lot[1] for lot in lots) / abs(size)) if lots else None
            pos_rows.append(
                {
                    "timestamp": end,
                    "symbol": symbol,
                    "account_id": account,
                    "size": size,
                    "avg_entry_price": None if not lots else round(avg or 0.0, 8),
                    "mark_price": mark,
                    "unrealized_pnl": round(unrealized, 6),
                    "realized_pnl": round(realized, 6),
                }
            )
            pnl_rows.append(
                {
                    "date": day,
                    "symbol": symbol,
                    "account_id": account,
                    "realized_pnl": round(realized, 6),
                    "unrealized_pnl": round(unrealized, 6),
                    "fees": round(fees, 8),
                    "net_pnl": round(round(realized, 6) + round(unrealized, 6) - round(fees, 8), 6),
                }
            )
    positions = pl.DataFrame(
        pos_rows,
        schema_overrides={"avg_entry_price": pl.Float64, "timestamp": pl.Datetime("us", "UTC")},
    )
    pnl = pl.DataFrame(pnl_rows)
    return positions, pnl


def _agent_metrics(decisions: pl.DataFrame, fills: pl.DataFrame) -> pl.DataFrame:
    day = pl.col("timestamp").dt.truncate("1d")
    dec = decisions.group_by("agent_id", day).agg(
        decisions=pl.len().cast(pl.Float64),
        avg_confidence=pl.col("confidence").mean(),
        hold_share=(pl.col("action") == "hold").mean(),
    )
    fil = fills.group_by("agent_id", day).agg(
        fills=pl.len().cast(pl.Float64),
        traded_notional=(pl.col("price") * pl.col("size")).sum(),
        fees_paid=pl.col("fee").sum(),
    )
    wide = dec.join(fil, on=["agent_id", "timestamp"], how="left").fill_null(0.0)
    return (
        wide.unpivot(index=["agent_id", "timestamp"], variable_name="metric", value_name="value")
        .with_columns(pl.col("timestamp") + pl.duration(days=1), pl.col("value").round(8))
        .select("timestamp", "agent_id", "metric", "value")
        .sort("timestamp", "agent_id", "metric")
    )
