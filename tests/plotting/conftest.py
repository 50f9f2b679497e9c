"""Fixtures for the plotting tests: seeded 1-minute OHLCV bars with UTC timestamps."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import matplotlib
import numpy as np
import polars as pl
import pytest

matplotlib.use("Agg")

START = datetime(2025, 1, 6, tzinfo=UTC)


def _make_bars(
    n: int, *, seed: int = 0, symbol: str = "BTCUSDT", start: datetime = START
) -> pl.DataFrame:
    """``n`` consistent 1m OHLCV bars (a geometric random walk) for one symbol."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, n)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.001, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.001, n))
    ts = pl.datetime_range(
        start, start + timedelta(minutes=n - 1), "1m", eager=True, time_zone="UTC"
    ).dt.cast_time_unit("us")
    return pl.DataFrame(
        {
            "timestamp": ts,
            "symbol": symbol,
            "timeframe": "1m",
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": rng.uniform(1.0, 10.0, n),
        }
    )


@pytest.fixture
def make_bars() -> Callable[..., pl.DataFrame]:
    """``make_bars(n, *, seed=0, symbol="BTCUSDT", start=START)``: seeded 1m OHLCV bars."""
    return _make_bars


@pytest.fixture
def registry_loaded() -> None:
    """The indicator package imported, so every family has registered its indicators."""
    importlib.import_module("omni_research.indicators")
