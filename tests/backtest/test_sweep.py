"""`sweep`: every row equals a `run` with the same options."""

from __future__ import annotations

import polars as pl
import pytest

from omni_research.backtest import run, sweep
from omni_research.exceptions import ConfigurationError
from tests.backtest.test_engine import random_bars


def sma_cross(fast: int, slow: int) -> pl.Expr:
    c = pl.col("close")
    return pl.when(c.rolling_mean(fast) > c.rolling_mean(slow)).then(1.0).otherwise(-1.0)


@pytest.mark.parametrize("lazy", [False, True])
def test_sweep_rows_equal_single_runs(lazy: bool) -> None:
    bars = pl.concat([random_bars(600, seed=3), random_bars(600, seed=4, symbol="ETHUSDT")])
    data = bars.lazy() if lazy else bars
    grid = {"fast": [3, 5, 8], "slow": [20, 40]}
    out = sweep(data, sma_cross, grid, fee=0.0005, units="fractional", batch=4)
    assert out.height == 6
    assert out.select("fast", "slow").rows() == [(f, s) for f in (3, 5, 8) for s in (20, 40)]
    for row in out.iter_rows(named=True):
        stats = run(bars, sma_cross(row["fast"], row["slow"]), fee=0.0005).stats()
        for name in ("final_equity", "sharpe", "max_drawdown", "n_trades", "turnover", "exposure"):
            assert row[name] == pytest.approx(stats[name], rel=1e-12, nan_ok=True), name
    assert out["annualisation"][0] == stats["annualisation"]


def test_sweep_accepts_a_list_of_combinations_and_run_options() -> None:
    bars = random_bars(300, seed=8)
    combos = [{"fast": 2, "slow": 9}, {"fast": 4, "slow": 30}]
    out = sweep(bars, sma_cross, combos, execution="close", units="whole", cash=50_000)
    for row, params in zip(out.iter_rows(named=True), combos, strict=True):
        res = run(bars, sma_cross(**params), execution="close", units="whole", cash=50_000)
        assert row["final_equity"] == pytest.approx(res.equity["equity"][-1], rel=1e-12)


def test_sweep_unknown_option_raises_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown option\(s\) \['fees'\]"):
        sweep(random_bars(50, seed=1), sma_cross, {"fast": [2], "slow": [5]}, fees=0.1)


def test_sweep_signal_that_rejects_parameters_raises_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="does not accept parameters"):
        sweep(random_bars(50, seed=1), sma_cross, {"window": [2]})
