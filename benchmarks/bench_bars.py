"""Benchmark: trades → bars and OHLCV resampling, omni_research versus the pandas way.

Prints, for each case, the pandas time, ours, the ratio (medians of ``--repeat`` runs),
throughput in rows per second, and the peak memory of the streaming case.

Cases
-----
1. time bars: 1-minute bars from ``--memory-trades`` trades held in memory;
   pandas ``resample("1min").ohlc()`` plus a volume sum versus :func:`time_bars`
   (which also gives turnover, trade count, VWAP and the buy/sell split).
2. volume bars and dollar bars: the usual pandas way (cumulative sum, integer bucket,
   ``groupby``) versus :func:`volume_bars` / :func:`dollar_bars`, twice: pandas computing
   OHLC and volume only, then pandas computing the same columns as ours (trade times,
   turnover, trade count, VWAP, buy/sell split). Each line says which.
3. resampling: 1-minute OHLCV to 1 hour, pandas ``resample().agg`` versus
   :func:`resample_ohlcv`.
4. streaming: ``--trades`` trades written as daily Parquet partitions into a temporary
   research root of the catalog, scanned with ``open_catalog(root).scan("trades")`` and
   turned into 1-minute bars by Polars' streaming engine in a fresh child process, whose
   peak resident memory (``ru_maxrss``) is reported. The goal is below 4 GB at 100M trades:
   ``python benchmarks/bench_bars.py --trades 100_000_000``.

Usage: ``python benchmarks/bench_bars.py [--memory-trades 10_000_000] [--trades 10_000_000]``
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from omni_research.bars import dollar_bars, resample_ohlcv, time_bars, volume_bars

START_US = 1_736_121_600_000_000  # 2025-01-06 00:00 UTC


def make_trades(n: int, *, seed: int = 0, start_us: int = START_US, day_span: float = 7.0) -> (
    pl.DataFrame
):  # fmt: skip
    """n trades of one symbol over ``day_span`` days, sorted by time."""
    rng = np.random.default_rng(seed)
    span_us = int(day_span * 86_400_000_000)
    t = np.sort(rng.integers(0, span_us, n)) + start_us
    price = 95_000.0 * np.exp(np.cumsum(rng.normal(0, 2e-5, n)))
    return pl.DataFrame(
        {
            "timestamp": pl.Series(t).cast(pl.Datetime("us", "UTC")),
            "symbol": pl.Series(["BTCUSDT"], dtype=pl.Categorical).gather(np.zeros(n, np.int64))
            .cast(pl.String),
            "trade_id": pl.int_range(0, n, eager=True).cast(pl.String),
            "side": np.where(rng.random(n) < 0.5, "buy", "sell"),
            "price": np.round(price, 1),
            "size": np.round(rng.lognormal(-4.0, 1.0, n) + 0.001, 3),
        }
    )  # fmt: skip


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def report(name: str, rows: int, peer: float, ours: float, goal: float | None) -> None:
    ratio = peer / ours
    verdict = (
        "" if goal is None else f"  goal >= {goal:g}x: {'met' if ratio >= goal else 'NOT met'}"
    )
    print(
        f"{name:<36} pandas {peer:8.3f} s   ours {ours:8.3f} s   ratio {ratio:6.1f}x   "
        f"ours {rows / ours / 1e6:7.1f} M rows/s{verdict}"
    )


# --------------------------------------------------------------------------- pandas ways


def pandas_time_bars(pdf: pd.DataFrame) -> pd.DataFrame:
    s = pdf.set_index("timestamp")
    bars = s["price"].resample("1min").ohlc()
    bars["volume"] = s["size"].resample("1min").sum()
    return bars.dropna()


def pandas_time_bars_full(pdf: pd.DataFrame) -> pd.DataFrame:
    """The pandas way to the same columns as ours: OHLC, volume, turnover, count, VWAP and
    the buy/sell split."""
    s = pdf.set_index("timestamp")
    notional = s["price"] * s["size"]
    buy = s["size"].where(s["side"] == "buy", 0.0)
    frame = pd.DataFrame(
        {"size": s["size"], "notional": notional, "buy": buy, "sell": s["size"] - buy}
    )
    bars = s["price"].resample("1min").ohlc()
    sums = frame.resample("1min").sum()
    bars["volume"] = sums["size"]
    bars["turnover"] = sums["notional"]
    bars["trade_count"] = s["price"].resample("1min").count()
    bars["vwap"] = sums["notional"] / sums["size"]
    bars["buy_volume"] = sums["buy"]
    bars["sell_volume"] = sums["sell"]
    return bars[bars["trade_count"] > 0]


def pandas_threshold_bars(pdf: pd.DataFrame, measure: pd.Series, threshold: float) -> (
    pd.DataFrame
):  # fmt: skip
    cum = measure.cumsum()
    bucket = ((cum - measure) // threshold).astype("int64")
    return pdf.groupby(bucket).agg(
        open=("price", "first"), high=("price", "max"), low=("price", "min"),
        close=("price", "last"), volume=("size", "sum"),
    )  # fmt: skip


def pandas_threshold_bars_full(pdf: pd.DataFrame, measure: pd.Series, threshold: float) -> (
    pd.DataFrame
):  # fmt: skip
    """The same pandas way, to the same columns as ours: first and last trade time, OHLC,
    volume, turnover, trade count, VWAP and the buy/sell split."""
    cum = measure.cumsum()
    bucket = ((cum - measure) // threshold).astype("int64")
    frame = pdf.assign(
        notional=pdf["price"] * pdf["size"],
        buy=pdf["size"].where(pdf["side"] == "buy", 0.0),
        sell=pdf["size"].where(pdf["side"] == "sell", 0.0),
    )
    bars = frame.groupby(bucket).agg(
        timestamp=("timestamp", "first"), end_timestamp=("timestamp", "last"),
        open=("price", "first"), high=("price", "max"), low=("price", "min"),
        close=("price", "last"), volume=("size", "sum"), turnover=("notional", "sum"),
        trade_count=("price", "size"), buy_volume=("buy", "sum"), sell_volume=("sell", "sum"),
    )  # fmt: skip
    bars["vwap"] = bars["turnover"] / bars["volume"]
    return bars


def pandas_resample(pdf: pd.DataFrame) -> pd.DataFrame:
    r = pdf.set_index("timestamp").resample("1h").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum",
         "turnover": "sum"}
    )  # fmt: skip
    return r.dropna()


# --------------------------------------------------------------------------- streaming


def write_catalog(root: Path, n: int, days: int) -> None:
    """A research root with n trades as one Parquet file per day (written day by day)."""
    from omni_research.io._atomic import write_parquet_atomic

    (root / "omni-data.toml").write_text('tier = "research"\nschema_version = "1.0"\n')
    per_day = n // days
    for d in range(days):
        count = per_day + (n - per_day * days if d == days - 1 else 0)
        day = make_trades(count, seed=d, start_us=START_US + d * 86_400_000_000, day_span=1.0)
        day = day.with_columns(pl.format("{}-{}", pl.lit(d), pl.col("trade_id")).alias("trade_id"))
        date = (pl.Series([START_US + d * 86_400_000_000]).cast(pl.Datetime("us", "UTC"))
                .dt.date()[0])  # fmt: skip
        path = root / f"historical/trades/symbol=BTCUSDT/date={date}/part-0.parquet"
        write_parquet_atomic(day, path)
        del day
        gc.collect()


def _peak_rss_kb() -> int:
    """Peak resident memory of this process image.

    ``VmHWM`` of /proc rather than ``ru_maxrss``: Linux carries ``ru_maxrss`` across
    fork and exec, so a child would report its parent's peak (the in-memory cases).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def streaming_child(root: str) -> None:
    """Run in a fresh process: scan the catalog, build 1m bars streaming, print stats."""
    import omni_research as omr

    t0 = time.perf_counter()
    catalog = omr.open_catalog(root)
    bars = time_bars(catalog.scan("trades"), timeframe="1m").collect(engine="streaming")
    elapsed = time.perf_counter() - t0
    peak_kb = _peak_rss_kb()
    print(f"{elapsed} {peak_kb} {bars.height} {int(bars['trade_count'].sum())}")


def run_streaming(n: int, days: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench_bars_") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        write_catalog(root, n, days)
        size = sum(p.stat().st_size for p in root.rglob("*.parquet"))
        print(f"  wrote {n:,} trades in {days} daily Parquet files ({size / 1e9:.2f} GB) "
              f"in {time.perf_counter() - t0:.1f} s")  # fmt: skip
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(root)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        elapsed, peak_kb, n_bars, counted = out.stdout.split()
        assert int(counted) == n, "the bars must account for every trade"
        peak_gb = int(peak_kb) * 1024 / 1e9
        print(
            f"{'streaming catalog -> 1m bars':<36} ours {float(elapsed):8.3f} s   "
            f"{n / float(elapsed) / 1e6:7.1f} M trades/s   {int(n_bars):,} bars   "
            f"peak RSS {peak_gb:.2f} GB  goal < 4 GB: {'met' if peak_gb < 4 else 'NOT met'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-trades", type=lambda s: int(s.replace("_", "")),
                        default=10_000_000, help="trades for the in-memory cases")  # fmt: skip
    parser.add_argument("--trades", type=lambda s: int(s.replace("_", "")), default=10_000_000,
                        help="trades, streaming catalog case (goal: 100_000_000)")  # fmt: skip
    parser.add_argument("--days", type=int, default=30, help="daily partitions (streaming)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-streaming", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        streaming_child(args.child)
        return

    print(f"polars {pl.__version__}, pandas {pd.__version__}, {os.cpu_count()} cpu(s)")
    if args.memory_trades:
        in_memory_cases(args.memory_trades, args.repeat)
    gc.collect()
    if not args.skip_streaming:
        run_streaming(args.trades, args.days)


def in_memory_cases(n: int, repeat: int) -> None:
    trades = make_trades(n)
    pdf = trades.to_pandas()
    print(f"{n:,} trades in memory, one symbol, 7 days; medians of {repeat} runs")

    peer, expected = timed(lambda: pandas_time_bars(pdf), repeat)
    ours, got = timed(lambda: time_bars(trades, timeframe="1m"), repeat)
    assert np.allclose(got["close"].to_numpy(), expected["close"].to_numpy())
    assert np.allclose(got["volume"].to_numpy(), expected["volume"].to_numpy())
    report("time bars 1m (pandas: ohlc+volume)", n, peer, ours, 3)
    peer, expected = timed(lambda: pandas_time_bars_full(pdf), repeat)
    assert np.allclose(got["buy_volume"].to_numpy(), expected["buy_volume"].to_numpy())
    assert np.allclose(got["vwap"].to_numpy(), expected["vwap"].to_numpy())
    report("time bars 1m (pandas: same columns)", n, peer, ours, 3)

    threshold = float(trades["size"].sum()) / 20_000
    peer, expected = timed(lambda: pandas_threshold_bars(pdf, pdf["size"], threshold), repeat)
    ours, got = timed(lambda: volume_bars(trades, volume=threshold), repeat)
    assert got.height == len(expected)
    assert np.allclose(got["close"].to_numpy(), expected["close"].to_numpy())
    report("volume bars (pandas: OHLC+volume)", n, peer, ours, 10)
    peer, expected = timed(lambda: pandas_threshold_bars_full(pdf, pdf["size"], threshold), repeat)
    assert np.allclose(got["buy_volume"].to_numpy(), expected["buy_volume"].to_numpy())
    assert np.allclose(got["vwap"].to_numpy(), expected["vwap"].to_numpy())
    report("volume bars (pandas: same columns)", n, peer, ours, 10)

    notional = float((trades["price"] * trades["size"]).sum()) / 20_000
    peer, expected = timed(
        lambda: pandas_threshold_bars(pdf, pdf["price"] * pdf["size"], notional), repeat
    )
    ours, got = timed(lambda: dollar_bars(trades, notional=notional), repeat)
    assert got.height == len(expected)
    report("dollar bars (pandas: OHLC+volume)", n, peer, ours, 10)
    peer, expected = timed(
        lambda: pandas_threshold_bars_full(pdf, pdf["price"] * pdf["size"], notional), repeat
    )
    assert np.allclose(got["turnover"].to_numpy(), expected["turnover"].to_numpy())
    report("dollar bars (pandas: same columns)", n, peer, ours, 10)

    m1 = time_bars(trades, timeframe="1m").select(
        "timestamp", "symbol", "timeframe", "open", "high", "low", "close", "volume",
        "turnover", "trade_count",
    )  # fmt: skip
    reps = max(1, 5_000_000 // m1.height)
    # stack shifted copies into a long 1m series (about 5M bars) for the resampling case
    long_m1 = pl.concat(
        [m1.with_columns(pl.col("timestamp") + pl.duration(days=7 * i)) for i in range(reps)]
    )
    pm1 = long_m1.to_pandas()
    peer, expected = timed(lambda: pandas_resample(pm1), repeat)
    ours, got = timed(lambda: resample_ohlcv(long_m1, timeframe="1h"), repeat)
    assert got.height == len(expected)
    report(f"resample 1m->1h ({long_m1.height:,} bars)", long_m1.height, peer, ours, None)


if __name__ == "__main__":
    main()
