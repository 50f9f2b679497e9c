"""Engines: the 2,500-combination sweep and the universe job, serial vs process vs ray.

Measures, on this machine (2 cores):

- the sweep of a 50 x 50 SMA-crossover grid on 525,600 synthetic 1m bars (a year) with
  ``engine="serial"`` (in process: Polars and the compiled loop already use both cores),
  ``"process"`` (2 workers) and ``"ray"`` (a local Ray with 2 CPUs, as the kit starts it
  when ``RAY_ADDRESS`` is unset); the frames are checked equal;
- the per-task overhead of each engine: 1,000 empty shards through ``map_shards``;
- the universe job (`indicators.materialize`) on a root shaped like the shipped one
  (1m ohlcv per symbol and day) scaled up to ``--symbols`` x ``--days``, on each engine;
- the machine's load before and after each block (``os.getloadavg()``): the machine is
  shared, so figures move with it.

Usage: ``.venv/bin/python benchmarks/bench_engines.py [--repeat 1] [--quick]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

import omni_research as omr
from omni_research._engine import map_shards, ray_connect
from omni_research._layout import path_for
from omni_research._manifest import Manifest, record_files, write_manifest
from omni_research.backtest import sweep
from omni_research.indicators import materialize
from omni_research.io._atomic import write_parquet_atomic
from omni_research.testing import make_ohlcv

FEE = 0.00055
UNIVERSE_INDICATORS = ["rsi", "macd", "bollinger", "average_true_range", "adx"]


def sma_cross(fast: int, slow: int) -> pl.Expr:
    c = pl.col("close")
    return pl.when(c.rolling_mean(fast) > c.rolling_mean(slow)).then(1.0).otherwise(-1.0)


def nothing(context: None, shard: int) -> int:
    return shard


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f} (5 min {five:.1f})"


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def bench_sweep(n_bars: int, side: int, repeat: int) -> dict[str, float]:
    bars = make_ohlcv(n=n_bars, seed=1)
    grid = {"fast": list(range(2, 2 + side)), "slow": list(range(60, 60 + 5 * side, 5))}
    combos = side * side
    sweep(bars.head(2_000), sma_cross, {"fast": [2], "slow": [20]}, fee=FEE)  # compile
    print(f"\nsweep: {combos:,} combinations on {n_bars:,} 1m bars ({load()})")
    out: dict[str, float] = {}
    reference = None
    for engine in ("serial", "process", "ray"):
        secs, frame = timed(
            lambda e=engine: sweep(bars, sma_cross, grid, fee=FEE, engine=e), repeat
        )
        assert isinstance(frame, pl.DataFrame)
        if reference is None:
            reference = frame
        else:
            assert_frame_equal(frame, reference, check_exact=True)
        out[engine] = secs
        print(f"  {engine:8s} {secs:8.2f} s  ({secs / combos * 1e3:.1f} ms a combination)")
    print(
        f"  ray / serial {out['ray'] / out['serial']:.2f}x, process / serial "
        f"{out['process'] / out['serial']:.2f}x (goal ray within 1.2x); frames equal; {load()}"
    )
    return out


def bench_overhead(tasks: int) -> dict[str, float]:
    print(f"\nper-task overhead: {tasks:,} empty shards through map_shards ({load()})")
    out = {}
    for engine in ("serial", "process", "ray"):
        map_shards(nothing, list(range(8)), context=None, engine=engine)  # warm
        secs, _ = timed(
            lambda e=engine: map_shards(nothing, list(range(tasks)), context=None, engine=e), 3
        )
        out[engine] = secs / tasks
        print(f"  {engine:8s} {secs:7.3f} s  ({secs / tasks * 1e3:.3f} ms a task)")
    return out


def make_universe(root: Path, symbols: int, days: int) -> Path:
    root.mkdir(parents=True)
    write_manifest(root, Manifest(tier="test"))
    names = [f"SYM{i:02d}USDT" for i in range(symbols)]
    bars = make_ohlcv(
        symbols=names, n=days * 1440, start=dt.datetime(2025, 1, 1, tzinfo=dt.UTC), seed=5
    ).with_columns(_day=pl.col("timestamp").dt.date())
    written = []
    for (symbol, day), part in bars.group_by(["symbol", "_day"], maintain_order=True):
        path = path_for(root, "ohlcv", symbol=str(symbol), timeframe="1m", date=day)
        write_parquet_atomic(part.drop("_day"), path)
        written.append(path)
    record_files(root, written)
    return root


def bench_universe(symbols: int, days: int, repeat: int) -> dict[str, float]:
    base = Path(tempfile.mkdtemp(prefix="bench-engines-"))
    try:
        template = make_universe(base / "template", symbols, days)
        size = sum(p.stat().st_size for p in (template / "historical").rglob("*.parquet"))
        out: dict[str, float] = {}
        print(
            f"\nuniverse job: materialize {UNIVERSE_INDICATORS} on {symbols} symbols x {days} "
            f"days of 1m ohlcv ({symbols * days * 1440:,} rows, {size / 1e6:.1f} MB Parquet; "
            f"{load()})"
        )
        shards = 0
        for engine in ("serial", "process", "ray"):
            times = []
            for k in range(repeat):
                root = base / f"{engine}-{k}"
                shutil.copytree(template, root)
                t = time.perf_counter()
                report = materialize(omr.open_catalog(root), UNIVERSE_INDICATORS, engine=engine)
                times.append(time.perf_counter() - t)
                shards = report.height
                shutil.rmtree(root)
            out[engine] = statistics.median(times)
            print(
                f"  {engine:8s} {out[engine]:8.2f} s  ({shards} shards, "
                f"{out[engine] / shards * 1e3:.0f} ms a shard)"
            )
        print(
            f"  ray / serial {out['ray'] / out['serial']:.2f}x, process / serial "
            f"{out['process'] / out['serial']:.2f}x; {load()}"
        )
        return out
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    ap.add_argument("--symbols", type=int, default=6)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--skip-sweep", action="store_true")
    args = ap.parse_args()
    n_bars, side, tasks = (525_600, 50, 1_000) if not args.quick else (20_000, 6, 100)
    symbols, days = (args.symbols, args.days) if not args.quick else (2, 40)
    print(
        f"bench_engines {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"{load()}"
    )
    t = time.perf_counter()
    ray_connect()  # a local Ray (RAY_ADDRESS unset) or the cluster in RAY_ADDRESS
    print(f"ray start/connect: {time.perf_counter() - t:.1f} s")
    bench_overhead(tasks)
    if not args.skip_sweep:
        bench_sweep(n_bars, side, args.repeat)
    bench_universe(symbols, days, args.repeat)


if __name__ == "__main__":
    main()
