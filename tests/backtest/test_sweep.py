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


def zscore_signal(window: int, level: float) -> pl.Expr:
    # Nested windows, an aggregation and arithmetic: the shared-subexpression rewrite must
    # give exactly what plain evaluation (run) gives.
    c = pl.col("close")
    z = (c - c.rolling_mean(window)) / c.rolling_std(window)
    demeaned = c - c.mean()
    return (
        pl.when((z > level) & (demeaned > 0))
        .then(-1.0)
        .when(z < -level)
        .then(pl.col("close").pct_change().over("symbol").sign())
        .otherwise(None)
    )


def python_udf_signal(window: int) -> pl.Expr:
    # A Python function in the tree cannot be serialised: plain evaluation takes over.
    return pl.col("close").map_batches(
        lambda s: (s > s.rolling_mean(window)).cast(pl.Float64), return_dtype=pl.Float64
    )


@pytest.mark.parametrize(
    ("make", "grid"),
    [
        (zscore_signal, {"window": [10, 30], "level": [0.5, 1.5]}),
        (python_udf_signal, {"window": [5, 15]}),
    ],
)
def test_sweep_shared_subexpressions_equal_plain_runs(
    make: object, grid: dict[str, list[float]]
) -> None:
    bars = pl.concat([random_bars(500, seed=6), random_bars(500, seed=7, symbol="ETHUSDT")])
    out = sweep(bars, make, grid, fee=0.001, batch=3)  # type: ignore[arg-type]
    names = list(grid)
    for row in out.iter_rows(named=True):
        params = {k: row[k] for k in names}
        res = run(bars, make(**params), fee=0.001)  # type: ignore[operator]
        assert row["final_equity"] == pytest.approx(res.equity["equity"][-1], rel=1e-12)
        assert row["n_trades"] == res.stats()["n_trades"]


def test_shared_evaluator_computes_each_moving_average_once() -> None:
    from omni_research.backtest._shared import SharedEvaluator

    frame = random_bars(100, seed=1).with_columns(
        pl.int_range(pl.len()).alias("__t"), pl.lit("").alias("__sym")
    )
    evaluator = SharedEvaluator(frame, grouped=False)
    exprs = [sma_cross(f, s) for f in (5, 10) for s in (20, 30)]
    shared = evaluator.frame_for(exprs)
    assert shared is not None
    # Four combinations, four distinct moving averages (5, 10, 20, 30).
    assert len(evaluator.cache) == 4
    got = shared[0].select(e.alias(str(i)) for i, e in enumerate(shared[1]))
    assert got.equals(frame.select(e.alias(str(i)) for i, e in enumerate(exprs)))
