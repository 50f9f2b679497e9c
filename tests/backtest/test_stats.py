"""Metrics of `BacktestResult.stats` against empyrical and quantstats on the same returns."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest

from omni_research.backtest import BacktestResult, run
from tests.backtest.test_engine import random_bars


@pytest.fixture(scope="module")
def result() -> BacktestResult:
    bars = random_bars(2_000, seed=11)  # hourly bars
    fast = pl.col("close").rolling_mean(8)
    slow = pl.col("close").rolling_mean(30)
    signal = pl.when(fast > slow).then(1.0).when(fast < slow).then(-0.5).otherwise(None)
    return run(bars, signal, fee=0.0005, slippage=0.0002)


def _returns(res: BacktestResult) -> pd.Series:
    equity = res.equity["equity"].to_numpy()
    prev = np.r_[res.options["cash"], equity[:-1]]
    index = pd.DatetimeIndex(res.equity["timestamp"].to_list())
    return pd.Series(equity / prev - 1.0, index=index)


def test_stats_state_the_annualisation_convention(result: BacktestResult) -> None:
    stats = result.stats()
    assert stats["periods_per_year"] == 365 * 24  # hourly bars, 24/7
    assert "365 days/year" in str(stats["annualisation"])
    assert result.stats(days_per_year=252)["periods_per_year"] == 252 * 24


def test_stats_match_empyrical(result: BacktestResult) -> None:
    import empyrical as ep

    r = _returns(result)
    ppy = 365 * 24
    stats = result.stats()
    assert stats["sharpe"] == pytest.approx(ep.sharpe_ratio(r, annualization=ppy), rel=1e-9)
    assert stats["sortino"] == pytest.approx(ep.sortino_ratio(r, annualization=ppy), rel=1e-9)
    assert stats["volatility"] == pytest.approx(ep.annual_volatility(r, annualization=ppy))
    assert stats["max_drawdown"] == pytest.approx(ep.max_drawdown(r), rel=1e-9)
    assert stats["cagr"] == pytest.approx(ep.annual_return(r, annualization=ppy), rel=1e-9)
    assert stats["calmar"] == pytest.approx(ep.calmar_ratio(r, annualization=ppy), rel=1e-9)
    assert stats["total_return"] == pytest.approx(ep.cum_returns_final(r), rel=1e-9)


def test_stats_match_quantstats(result: BacktestResult) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # its own imports under pandas 3
        import quantstats as qs

    r = _returns(result)
    ppy = 365 * 24
    stats = result.stats()
    assert stats["sharpe"] == pytest.approx(qs.stats.sharpe(r, periods=ppy), rel=1e-9)
    assert stats["sortino"] == pytest.approx(qs.stats.sortino(r, periods=ppy), rel=1e-9)
    assert stats["volatility"] == pytest.approx(qs.stats.volatility(r, periods=ppy), rel=1e-9)
    assert stats["max_drawdown"] == pytest.approx(qs.stats.max_drawdown(r), rel=1e-9)


def test_stats_trade_metrics_match_the_trade_list(result: BacktestResult) -> None:
    stats = result.stats()
    closed = result.trades.filter(~pl.col("is_open"))
    pnl = closed["pnl"].to_numpy()
    assert stats["n_trades"] == closed.height > 20
    assert stats["win_rate"] == pytest.approx((pnl > 0).mean())
    assert stats["profit_factor"] == pytest.approx(pnl[pnl > 0].sum() / -pnl[pnl <= 0].sum())
    assert stats["expectancy"] == pytest.approx(pnl.mean())
    assert stats["avg_trade_return"] == pytest.approx(closed["return"].mean())
    exposed = result.positions.group_by("timestamp").agg((pl.col("size") != 0).any())
    assert stats["exposure"] == pytest.approx(exposed["size"].mean())
    assert stats["fees"] == pytest.approx(result.trades["fees"].sum())
    # Every fill is an entry or an exit of some trade row: traded notional from the list.
    traded = (result.trades["size"].abs() * result.trades["entry_price"]).sum() + (
        closed["size"].abs() * closed["exit_price"]
    ).sum()
    assert stats["turnover"] == pytest.approx(traded / result.equity["equity"].mean())
    assert stats["final_equity"] == result.equity["equity"][-1]


def test_stats_max_drawdown_duration_counts_bars_below_the_peak(result: BacktestResult) -> None:
    eq = result.equity["equity"].to_numpy()
    peak = np.maximum.accumulate(np.r_[result.options["cash"], eq])[1:]
    below = eq < peak
    longest = run_length = 0
    for b in below:
        run_length = run_length + 1 if b else 0
        longest = max(longest, run_length)
    stats = result.stats()
    assert stats["max_drawdown_duration_bars"] == longest > 0
    assert stats["max_drawdown_duration_days"] == pytest.approx(longest / 24)
