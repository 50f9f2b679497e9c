"""`lookahead_check` finds leaks and passes sound strategies."""

from __future__ import annotations

import numpy as np
import polars as pl

from omni_research.backtest import lookahead_check
from tests.backtest.test_engine import random_bars

BARS = pl.concat([random_bars(400, seed=21), random_bars(400, seed=22, symbol="ETHUSDT")])


def test_lookahead_check_passes_a_causal_strategy() -> None:
    sound = pl.when(pl.col("close") > pl.col("close").rolling_mean(20)).then(1.0).otherwise(-1.0)
    report = lookahead_check(sound, BARS, cuts=10, fee=0.001)
    assert report.ok and bool(report)
    assert report.cuts == 10 and report.findings.height == 0


def test_lookahead_check_finds_a_shifted_future_close() -> None:
    leak = pl.when(pl.col("close").shift(-1) > pl.col("close")).then(1.0).otherwise(-1.0)
    report = lookahead_check(leak, BARS, cuts=10)
    assert not report.ok
    signal = report.findings.filter(pl.col("kind") == "signal")
    # The leak shows at the last bar before a cut, when the next close (cut away) was higher:
    # the full run says long, the truncated run cannot know and says short.
    assert signal.height > 0
    assert (signal["timestamp"] == signal["cut"]).all()
    assert signal["full"].to_list() == [1.0] * signal.height
    assert signal["truncated"].to_list() == [-1.0] * signal.height
    closes = BARS.sort("timestamp")
    nxt = closes.with_columns(up=pl.col("close").shift(-1).over("symbol") > pl.col("close"))
    cuts = signal.select(pl.col("cut").alias("timestamp"), "symbol").unique()
    assert nxt.join(cuts, on=["timestamp", "symbol"])["up"].all()


def test_lookahead_check_finds_full_sample_normalisation_in_a_callable() -> None:
    def strategy(bars: pl.DataFrame) -> pl.DataFrame:
        z = bars.group_by("symbol").agg(pl.col("close").mean().alias("m"))
        out = bars.join(z, on="symbol")
        return out.with_columns(signal=np.sign(out["close"] - out["m"]))

    report = lookahead_check(strategy, BARS, cuts=8)
    assert not report.ok
    kinds = set(report.findings["kind"].to_list())
    assert kinds == {"signal", "trade"}
    first = report.findings.sort("cut").row(0, named=True)
    assert first["timestamp"] <= first["cut"]
