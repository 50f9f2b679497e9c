"""Benchmark: omni_research.backtest against backtesting.py and vectorbt.

One backtest of an SMA(10, 30) long/short crossover on 1,000,000 one-minute bars, and a
50 x 50 grid of (fast, slow) windows on 500,000 bars. Prints peer time, ours and the ratio.
The single backtest runs backtesting.py once on the full data. A whole 2,500-combination
grid would take backtesting.py many hours, so its grid time is measured on two
combinations on 100,000 bars and scaled linearly in bars and combinations (the printed
line says so). ``--quick`` shrinks everything for a smoke run.

    .venv/bin/python benchmarks/bench_backtest.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from omni_research.backtest import run, sweep

FEE = 0.00055


def make_bars(n: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    close = 30_000 * np.exp(np.cumsum(rng.normal(0, 0.0008, n)))
    open_ = np.r_[close[0], close[:-1]]
    wiggle = np.abs(rng.normal(0, 0.0004, n)) * close
    start = pd.Timestamp("2024-01-01", tz="UTC")
    return pl.DataFrame(
        {
            "timestamp": pl.datetime_range(
                start, start + pd.Timedelta(minutes=n - 1), "1m", eager=True, time_zone="UTC"
            ),
            "symbol": "BTCUSDT",
            "open": open_,
            "high": np.maximum(open_, close) + wiggle,
            "low": np.minimum(open_, close) - wiggle,
            "close": close,
            "volume": rng.uniform(1, 10, n),
        }
    )


def sma_cross(fast: int, slow: int) -> pl.Expr:
    c = pl.col("close")
    f, s = c.rolling_mean(fast), c.rolling_mean(slow)
    return pl.when(f > s).then(1.0).when(f < s).then(-1.0).otherwise(None)


def timed(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def backtesting_run(bars: pl.DataFrame, fast: int, slow: int) -> float:
    """Seconds for one backtesting.py run of the same crossover on ``bars``."""
    from backtesting import Backtest, Strategy

    df = bars.to_pandas().set_index("timestamp")
    df.index = df.index.tz_convert(None)
    df = df.rename(columns=str.capitalize)

    def sma(x: np.ndarray, n: int) -> np.ndarray:
        return pd.Series(x).rolling(n).mean().to_numpy()

    class Cross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            self.f = self.I(sma, self.data.Close, fast)
            self.s = self.I(sma, self.data.Close, slow)

        def next(self) -> None:
            if self.f[-1] > self.s[-1] and not self.position.is_long:
                self.buy()
            elif self.f[-1] < self.s[-1] and not self.position.is_short:
                self.sell()

    bt = Backtest(df, Cross, cash=1_000_000_000, commission=FEE, exclusive_orders=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        bt.run()
        return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    args = ap.parse_args()
    n_single, n_grid, side = (1_000_000, 500_000, 50) if not args.quick else (100_000, 50_000, 8)
    peer_bars = 100_000 if not args.quick else 20_000
    peer_combos = 2

    bars = make_bars(n_single)
    run(bars.head(1_000), sma_cross(10, 30), fee=FEE)  # compile the numba loop outside timing
    ours = timed(lambda: run(bars, sma_cross(10, 30), fee=FEE), repeat=3)
    peer = backtesting_run(bars, 10, 30)  # one run: it takes about a minute
    print(f"single backtest, {n_single:,} 1m bars, SMA(10,30) long/short, fee {FEE}")
    print(f"  backtesting.py {peer:9.2f} s  (one run, same data and rules)")
    print(f"  omni_research  {ours:9.3f} s")
    print(f"  ratio          {peer / ours:9.1f} x faster")

    grid_bars = bars.head(n_grid)
    fasts = list(range(2, 2 + side))
    slows = list(range(20, 20 + 2 * side, 2))
    sweep(grid_bars.head(2_000), sma_cross, {"fast": [2], "slow": [20]}, fee=FEE)  # compile
    t = time.perf_counter()
    table = sweep(grid_bars, sma_cross, {"fast": fasts, "slow": slows}, fee=FEE)
    ours_grid = time.perf_counter() - t
    per = [backtesting_run(grid_bars.head(peer_bars), f, s) for f, s in ((5, 30), (20, 60))]
    peer_grid = statistics.median(per) * (n_grid / peer_bars) * len(table)
    print(f"\nparameter grid {side} x {side} = {len(table):,} combinations on {n_grid:,} bars")
    print(
        f"  backtesting.py {peer_grid:9.0f} s  (median of {peer_combos} runs on {peer_bars:,} "
        f"bars, scaled to {n_grid:,} bars x {len(table):,} combinations)"
    )
    per_combo = ours_grid / len(table) * 1e3
    print(f"  omni_research  {ours_grid:9.2f} s  ({per_combo:.1f} ms per combination)")
    print(f"  ratio          {peer_grid / ours_grid:9.0f} x faster")
    vectorbt_compare(bars, grid_bars, fasts, slows, ours, ours_grid, quick=args.quick)


def vectorbt_signals(close: pd.Series, pairs: list[tuple[int, int]]) -> tuple[Any, Any]:
    """Crossing signals of the SMA pairs, shifted one bar: decided at a close, filled next open."""
    import vectorbt as vbt

    fast = vbt.MA.run(close, [f for f, _ in pairs], short_name="fast")
    slow = vbt.MA.run(close, [s for _, s in pairs], short_name="slow")
    up, down = fast.ma_crossed_above(slow), fast.ma_crossed_below(slow)
    return up.vbt.fshift(1), down.vbt.fshift(1)


def vectorbt_run(bars: pl.DataFrame, pairs: list[tuple[int, int]]) -> float:
    """Seconds for vectorbt to backtest the crossover for every pair (one column each)."""
    import vectorbt as vbt

    close, open_ = bars["close"].to_pandas(), bars["open"].to_pandas()
    t = time.perf_counter()
    long_entries, short_entries = vectorbt_signals(close, pairs)
    portfolio = vbt.Portfolio.from_signals(
        close, long_entries, short_entries, price=open_, fees=FEE, direction="both", freq="1min"
    )
    portfolio.total_return()
    return time.perf_counter() - t


def vectorbt_compare(
    bars: pl.DataFrame,
    grid_bars: pl.DataFrame,
    fasts: list[int],
    slows: list[int],
    ours: float,
    ours_grid: float,
    *,
    quick: bool,
) -> None:
    try:
        import vectorbt
    except ImportError:
        print("\nvectorbt: not installed in this environment; skipped")
        return
    print(
        f"\nvectorbt {vectorbt.__version__}: the same crossover as reversal signals "
        "(long on the fast crossing above, short on crossing below), next-bar open, same fee"
    )
    # compile its numba code (single and multi-column paths) outside timing
    vectorbt_run(bars.head(2_000), [(10, 30)])
    vectorbt_run(grid_bars.head(2_000), [(fasts[0], s) for s in slows])
    single = statistics.median(vectorbt_run(bars, [(10, 30)]) for _ in range(3))
    print(
        f"  single backtest  vectorbt {single:8.3f} s   omni_research {ours:8.3f} s   "
        f"ratio {single / ours:6.1f} x"
    )
    # The whole grid as one frame would hold 2,500 columns x 500,000 rows per array (10 GB):
    # vectorbt runs it in batches of one fast window (all slow windows), a few measured.
    batches = 2 if quick else 5
    per_batch = statistics.median(
        vectorbt_run(grid_bars, [(f, s) for s in slows]) for f in fasts[:batches]
    )
    grid = per_batch * len(fasts)
    print(
        f"  parameter grid   vectorbt {grid:8.1f} s   omni_research {ours_grid:8.2f} s   "
        f"ratio {grid / ours_grid:6.1f} x  (vectorbt: median of {batches} batches of "
        f"{len(slows)} combinations, times {len(fasts)} batches)"
    )


if __name__ == "__main__":
    main()
