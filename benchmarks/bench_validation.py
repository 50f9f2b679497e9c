"""Validation must not cost more than the read it guards.

Times, in one run on a 5,000,000-row OHLCV Parquet file: reading it (Polars), eager
validation of every OHLCV rule (omni_research.validate), and for comparison Pandera's own
``unique=True`` on the timestamp, which the kit replaces by a strictly-increasing-keys rule.
Prints medians and ratios.  Usage: python benchmarks/bench_validation.py [--rows N] [--repeat K]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandera.polars as pa
import polars as pl

from omni_research import validate
from omni_research.io._atomic import write_parquet_atomic
from omni_research.testing import make_ohlcv


def _median(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    df = make_ohlcv(n=args.rows, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ohlcv.parquet"
        write_parquet_atomic(df, path)
        read = _median(lambda: pl.read_parquet(path), args.repeat)
        frame = pl.read_parquet(path)
        ours = _median(lambda: validate(frame, "ohlcv"), args.repeat)
        unique_schema = pa.DataFrameSchema({"timestamp": pa.Column(unique=True)})
        unique = _median(lambda: unique_schema.validate(frame), args.repeat)
    print(f"rows: {args.rows:,}  (medians of {args.repeat})")
    print(f"read_parquet                      {read * 1e3:8.1f} ms")
    print(
        f"omni_research.validate (all rules) {ours * 1e3:8.1f} ms   ratio to read {ours / read:.2f}"
        "  (goal <= 0.50)"
    )
    print(
        f"pandera unique=True on timestamp  {unique * 1e3:8.1f} ms   ratio to read "
        f"{unique / read:.2f}  (the rule the kit replaces)"
    )


if __name__ == "__main__":
    main()
