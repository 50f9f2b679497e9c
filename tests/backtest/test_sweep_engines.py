"""`sweep(..., engine=...)`: process and ray give the serial frame exactly, row for row."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from omni_research._engine import Engine
from omni_research.backtest import sweep
from omni_research.exceptions import ConfigurationError
from tests._ray import shared_ray_cluster
from tests.backtest.test_engine import random_bars


def sma_cross(fast: int, slow: int) -> pl.Expr:
    c = pl.col("close")
    return pl.when(c.rolling_mean(fast) > c.rolling_mean(slow)).then(1.0).otherwise(-1.0)


GRID = {"fast": [2, 3, 5, 8, 13], "slow": [20, 30, 40, 60]}  # 20 combinations


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    return pl.concat([random_bars(800, seed=21), random_bars(800, seed=22, symbol="ETHUSDT")])


@pytest.mark.xdist_group("ray")
@pytest.mark.parametrize(("engine", "symbols"), [("process", 2), ("ray", 1), ("ray", 2)])
def test_sweep_on_every_engine_equals_serial_exactly(
    engine: Engine, symbols: int, bars: pl.DataFrame, request: pytest.FixtureRequest
) -> None:
    if engine == "ray":
        shared_ray_cluster(request.config)
    data = bars if symbols == 2 else bars.filter(pl.col("symbol") == "BTCUSDT")
    options = {"fee": 0.0005, "batch": 3}
    serial = sweep(data, sma_cross, GRID, **options)
    # 20 combinations, batches of 3, 4 shards: shards of 6 (two whole batches each)
    got = sweep(data, sma_cross, GRID, engine=engine, shards=4, **options)
    assert serial.height == 20
    assert serial.select("fast", "slow").rows() == [
        (f, s) for f in GRID["fast"] for s in GRID["slow"]
    ]
    assert_frame_equal(got, serial, check_exact=True)


def test_sweep_rejects_an_unknown_engine() -> None:
    with pytest.raises(
        ConfigurationError, match=r"sweep: engine='gpu'.*'serial', 'process', 'ray'"
    ):
        sweep(random_bars(50, seed=1), sma_cross, {"fast": [2], "slow": [5]}, engine="gpu")
