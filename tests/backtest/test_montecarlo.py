"""`monte_carlo`: bootstrap percentiles."""

from __future__ import annotations

import polars as pl
import pytest

from omni_research.backtest import monte_carlo, run
from omni_research.exceptions import ConfigurationError
from tests.backtest.test_engine import make_bars, random_bars


def test_monte_carlo_of_identical_trades_has_no_spread() -> None:
    # Price alternates 100 -> 110; long from 100, out at 110: every trade returns +10%.
    opens = [100.0, 100.0, 110.0] * 4
    bars = make_bars(opens, opens).with_columns(sig=pl.Series([1.0, 0.0, 0.0] * 4))
    res = run(bars, "sig")
    closed = res.trades.filter(~pl.col("is_open"))
    assert closed.height == 4 and closed["return"].to_list() == pytest.approx([0.1] * 4)
    # All-in trades: each adds 10% to the equity it starts from.
    mc = monte_carlo(res, n=200)
    assert mc["total_return"].to_list() == pytest.approx([1.1**4 - 1] * 5)
    assert mc["max_drawdown"].to_list() == [0.0] * 5


def test_monte_carlo_percentiles_are_ordered_and_reproducible() -> None:
    bars = random_bars(1_500, seed=2)
    sig = pl.when(pl.col("close") > pl.col("close").rolling_mean(10)).then(1.0).otherwise(-1.0)
    res = run(bars, sig)
    a = res.monte_carlo(n=500, seed=4)
    b = monte_carlo(res, n=500, seed=4)
    assert a.equals(b)
    assert a["total_return"].is_sorted() and a["max_drawdown"].is_sorted()
    assert (a["max_drawdown"] <= 0).all()
    # Contributions are pnl over the equity before entry; any order of the same trades
    # compounds to the same total, which the bootstrap's middle percentiles bracket.
    closed = res.trades.filter(~pl.col("is_open"))
    before = res.equity.select(
        pl.col("timestamp").alias("entry_time"),
        pl.col("equity").shift(1, fill_value=10_000.0).alias("eq"),
    )
    contrib = closed.join(before, on="entry_time").select(pl.col("pnl") / pl.col("eq"))
    total = (1 + contrib.to_series()).product() - 1
    assert a["total_return"][1] < total < a["total_return"][3]


def test_monte_carlo_without_trades_raises_configuration_error() -> None:
    res = run(random_bars(20, seed=1), pl.lit(0.0))
    with pytest.raises(ConfigurationError, match="no closed trade"):
        monte_carlo(res)
