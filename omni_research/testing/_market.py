"""Seeded synthetic market data with realistic structure.

The order book is a 15-second quote process; trades print at that quote's bid (sells) or ask
(buys), so every snapshot brackets the trades that follow it; 1-minute bars are the exact
aggregation of the trades.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import numpy as np
import polars as pl

from omni_research.schemas._market import BOOK_LEVELS

START = dt.datetime(2025, 1, 6, tzinfo=dt.UTC)
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
QUOTE_SECONDS = 15


@dataclass(frozen=True, kw_only=True)
class SymbolSpec:
    """How one synthetic market behaves."""

    price: float
    tick: float
    lot: float
    trades_per_minute: float
    minute_vol: float
    typical_size: float


SPECS = {
    "BTCUSDT": SymbolSpec(
        price=94_000.0,
        tick=0.1,
        lot=0.001,
        trades_per_minute=6.0,
        minute_vol=0.0007,
        typical_size=0.02,
    ),
    "ETHUSDT": SymbolSpec(
        price=3_300.0,
        tick=0.01,
        lot=0.01,
        trades_per_minute=5.0,
        minute_vol=0.0009,
        typical_size=0.5,
    ),
    "SOLUSDT": SymbolSpec(
        price=190.0, tick=0.001, lot=0.1, trades_per_minute=4.0, minute_vol=0.0012, typical_size=8.0
    ),
}
# A short exchange outage in SOLUSDT: no quotes, no trades, no bars.
OUTAGES = {"SOLUSDT": (dt.datetime(2025, 1, 8, 13, 0, tzinfo=dt.UTC), 7)}


def _spec(symbol: str) -> SymbolSpec:
    return SPECS.get(
        symbol,
        SymbolSpec(
            price=50.0,
            tick=0.001,
            lot=0.1,
            trades_per_minute=4.0,
            minute_vol=0.001,
            typical_size=10.0,
        ),
    )


def _round(values: np.ndarray, step: float) -> np.ndarray:
    decimals = max(0, round(-np.log10(step)))
    return np.round(np.round(values / step) * step, decimals)


def _symbol_market(
    symbol: str, start: dt.datetime, minutes: int, rng: np.random.Generator
) -> dict[str, pl.DataFrame]:
    spec = _spec(symbol)
    steps_per_minute = 60 // QUOTE_SECONDS
    steps = minutes * steps_per_minute
    step_vol = spec.minute_vol / np.sqrt(steps_per_minute)
    # fat tails: Student-t shocks, a little mean reversion of volatility by regime
    regime = np.repeat(
        rng.choice([0.7, 1.0, 1.6], size=minutes // 240 + 1, p=[0.3, 0.5, 0.2]),
        240 * steps_per_minute,
    )[:steps]
    shocks = rng.standard_t(df=4, size=steps) / np.sqrt(2.0) * step_vol * regime
    mid = spec.price * np.exp(np.cumsum(shocks))
    spread_ticks = rng.choice([1, 1, 1, 2, 3], size=steps)
    bid1 = np.floor(mid / spec.tick - spread_ticks / 2) * spec.tick
    ask1 = bid1 + spread_ticks * spec.tick
    step_time = np.arange(steps, dtype=np.int64) * QUOTE_SECONDS * 1_000_000
    start_us = int(start.timestamp() * 1_000_000)

    alive = np.ones(steps, dtype=bool)
    minute_alive = np.ones(minutes, dtype=bool)
    if symbol in OUTAGES:
        begin, length = OUTAGES[symbol]
        first = int((begin - start).total_seconds() // 60)
        if 0 <= first < minutes:
            minute_alive[first : first + length] = False
            alive[first * steps_per_minute : (first + length) * steps_per_minute] = False

    book: dict[str, np.ndarray] = {}
    gaps_b = np.cumsum(rng.integers(1, 4, size=(steps, BOOK_LEVELS)), axis=1) - 1
    gaps_a = np.cumsum(rng.integers(1, 4, size=(steps, BOOK_LEVELS)), axis=1) - 1
    for level in range(BOOK_LEVELS):
        book[f"bid_px_{level + 1}"] = _round(bid1 - gaps_b[:, level] * spec.tick, spec.tick)
    for level in range(BOOK_LEVELS):
        book[f"bid_sz_{level + 1}"] = _round(
            spec.typical_size * rng.lognormal(1.0, 0.8, steps) + spec.lot, spec.lot
        )
    for level in range(BOOK_LEVELS):
        book[f"ask_px_{level + 1}"] = _round(ask1 + gaps_a[:, level] * spec.tick, spec.tick)
    for level in range(BOOK_LEVELS):
        book[f"ask_sz_{level + 1}"] = _round(
            spec.typical_size * rng.lognormal(1.0, 0.8, steps) + spec.lot, spec.lot
        )
    orderbook = pl.DataFrame(
        {
            "timestamp": pl.Series(start_us + step_time[alive]).cast(pl.Datetime("us", "UTC")),
            "symbol": symbol,
            **{name: values[alive] for name, values in book.items()},
        }
    )

    # trades: at least one per live minute, Poisson otherwise, at uniform times in the minute
    counts = np.maximum(1, rng.poisson(spec.trades_per_minute, size=minutes)) * minute_alive
    minute_of = np.repeat(np.arange(minutes), counts)
    offset = rng.integers(0, 60_000_000, size=minute_of.size)
    t_us = minute_of.astype(np.int64) * 60_000_000 + offset
    order = np.lexsort((offset, minute_of))
    t_us = t_us[order]
    step_of = t_us // (QUOTE_SECONDS * 1_000_000)
    buy = rng.random(t_us.size) < 0.5
    price = np.where(buy, book["ask_px_1"][step_of], book["bid_px_1"][step_of])
    size = _round(spec.typical_size * rng.lognormal(0.0, 1.0, t_us.size) + spec.lot, spec.lot)
    raw_ids = rng.integers(0, 256, size=(t_us.size, 16), dtype=np.uint8)
    ids = [str(uuid.UUID(bytes=row.tobytes(), version=4)) for row in raw_ids]
    trades = pl.DataFrame(
        {
            "timestamp": pl.Series(start_us + t_us).cast(pl.Datetime("us", "UTC")),
            "symbol": symbol,
            "trade_id": ids,
            "side": np.where(buy, "buy", "sell"),
            "price": price,
            "size": size,
        }
    )
    funding_every = 8 * 60
    fund_minutes = np.arange(0, minutes, funding_every)
    funding = pl.DataFrame(
        {
            "timestamp": pl.Series(start_us + fund_minutes.astype(np.int64) * 60_000_000).cast(
                pl.Datetime("us", "UTC")
            ),
            "symbol": symbol,
            "funding_rate": np.round(
                np.clip(rng.normal(0.0001, 0.00012, fund_minutes.size), -0.0075, 0.0075), 8
            ),
            "mark_price": _round(mid[fund_minutes * steps_per_minute], spec.tick),
        }
    )
    return {"orderbook": orderbook, "trades": trades, "funding": funding}


def bars_from_trades(trades: pl.DataFrame | pl.LazyFrame, *, every: str = "1m") -> pl.DataFrame:
    """OHLCV bars (1 minute by default) as the plain aggregation of ``trades``.

    Minutes with no trade have no bar. Sums run in trade order with numpy's ``reduceat`` so
    that the result is bit-for-bit reproducible (a parallel group-by sums in varying order).
    """
    df = trades.lazy().sort("symbol", "timestamp").collect()
    keyed = df.with_columns(bucket=pl.col("timestamp").dt.truncate(every))
    starts = (
        keyed.with_row_index("row")
        .filter(
            (pl.col("bucket") != pl.col("bucket").shift(1))
            | (pl.col("symbol") != pl.col("symbol").shift(1))
            | (pl.col("row") == 0)
        )["row"]
        .to_numpy()
        .astype(np.int64)
    )
    price, size = df["price"].to_numpy(), df["size"].to_numpy()
    ends = np.r_[starts[1:], len(df)]
    return pl.DataFrame(
        {
            "timestamp": keyed["bucket"].gather(starts),
            "symbol": df["symbol"].gather(starts),
            "timeframe": every,
            "open": price[starts],
            "high": np.maximum.reduceat(price, starts),
            "low": np.minimum.reduceat(price, starts),
            "close": price[ends - 1],
            "volume": np.add.reduceat(size, starts),
            "turnover": np.add.reduceat(price * size, starts),
            "trade_count": (ends - starts).astype(np.int64),
        }
    )


def make_market(
    *,
    symbols: tuple[str, ...] | list[str] = SYMBOLS,
    start: dt.datetime = START,
    days: int = 7,
    seed: int = 7,
) -> dict[str, pl.DataFrame]:
    """Seeded market data: ohlcv (1m), trades, orderbook and funding for ``symbols``.

    Examples
    --------
    >>> from omni_research.testing import make_market
    >>> market = make_market(symbols=["BTCUSDT"], days=1, seed=1)
    >>> sorted(market)
    ['funding', 'ohlcv', 'orderbook', 'trades']
    """
    rng = np.random.default_rng(seed)
    parts: dict[str, list[pl.DataFrame]] = {"orderbook": [], "trades": [], "funding": []}
    for symbol in sorted(symbols):
        for name, frame in _symbol_market(symbol, start, days * 1440, rng).items():
            parts[name].append(frame)
    out = {name: pl.concat(frames) for name, frames in parts.items()}
    out["ohlcv"] = bars_from_trades(out["trades"])
    return out


def make_ohlcv(
    *,
    symbols: tuple[str, ...] | list[str] = ("BTCUSDT",),
    n: int = 1440,
    start: dt.datetime = START,
    timeframe: str = "1m",
    seed: int = 0,
) -> pl.DataFrame:
    """A valid random-walk OHLCV frame with ``n`` bars per symbol (no gaps).

    Examples
    --------
    >>> from omni_research.testing import make_ohlcv
    >>> make_ohlcv(n=2, seed=3).select("symbol", "timeframe").rows()
    [('BTCUSDT', '1m'), ('BTCUSDT', '1m')]
    """
    rng = np.random.default_rng(seed)
    frames = []
    for symbol in sorted(symbols):
        spec = _spec(symbol)
        close = spec.price * np.exp(np.cumsum(rng.normal(0, spec.minute_vol, n)))
        open_ = np.r_[spec.price, close[:-1]]
        high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, spec.minute_vol / 2, n)))
        low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, spec.minute_vol / 2, n)))
        volume = np.round(spec.typical_size * rng.lognormal(1.5, 0.6, n), 6)
        stamps = pl.datetime_range(
            start,
            start + (n - 1) * _delta(timeframe),
            timeframe,
            eager=True,
            time_unit="us",
            time_zone="UTC",
        )
        frames.append(
            pl.DataFrame(
                {
                    "timestamp": stamps,
                    "symbol": symbol,
                    "timeframe": timeframe,
                    "open": open_,
                    "high": high,
                    "low": low,
                    "close": close,
                    "volume": volume,
                    "turnover": volume * (open_ + close) / 2,
                    "trade_count": rng.integers(1, 50, n).astype(np.int64),
                }
            )
        )
    return pl.concat(frames)


_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _delta(timeframe: str) -> dt.timedelta:
    value, unit = int(timeframe[:-1]), timeframe[-1]
    return dt.timedelta(**{_UNITS[unit]: value})
