"""Benchmark: Bybit dump import and order-book rebuild, omni_research versus the plain way.

Prints medians of ``--repeat`` runs, the ratios, and ``os.getloadavg()`` (the machine is
shared: read the figures against the load).

Cases
-----
1. dump import: a synthetic derivatives trade dump (``--rows`` rows, gzip CSV with the
   RPI column) through the download's own path (gunzip and CRC check, layout check, the
   kit's importer's parsing and row checks, Pandera validation, zstd Parquet with page
   checksums, manifest record) versus pandas ``read_csv`` + ``to_parquet`` (zstd) of the
   same file, in rows per second.
2. order-book rebuild: ``--updates`` level updates (a 500-level book, deltas of 5 levels,
   20 % deletes) through the numba kernel (arrays in, 1-second top-5 samples out) versus
   a plain Python dict rebuild (on ``--dict-updates`` of them), in updates per second; and
   the whole path from JSON lines (parsing included).
3. peak memory: a synthetic one-day book (``--day-messages`` messages over 24 h, zipped
   JSON lines like ``<date>_<SYMBOL>_ob500.data.zip``) rebuilt by the download's path
   (zip stream → chunks of lines → rebuild) in a fresh child process; its peak resident
   memory (``ru_maxrss``) and the baseline after imports.

Usage: ``python benchmarks/bench_sources.py [--rows 1_000_000] [--updates 5_000_000]``
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

DAY_MS = 86_400_000
START_MS = 1_736_121_600_000  # 2025-01-06 00:00 UTC


def _median(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


# --------------------------------------------------------------------------- case 1


def trade_dump(rows: int, *, seed: int = 0) -> bytes:
    """A derivatives dump of ``rows`` trades in one day, gzip CSV with RPI."""
    rng = np.random.default_rng(seed)
    units = np.sort(rng.integers(0, 864_000_000, rows))
    price = np.round(95_000 * np.exp(np.cumsum(rng.normal(0, 2e-5, rows))), 1)
    size = np.round(rng.gamma(1.5, 0.2, rows), 3) + 0.001
    frame = pl.DataFrame(
        {
            "s": START_MS // 1000 + units // 10_000,
            "f": units % 10_000,
            "side": np.where(rng.random(rows) < 0.5, "Buy", "Sell"),
            "size": size,
            "price": price,
            "id": np.arange(rows),
        }
    ).select(
        pl.format("{}.{}", "s", pl.col("f").cast(pl.String).str.zfill(4)).alias("timestamp"),
        pl.lit("BTCUSDT").alias("symbol"),
        "side",
        pl.col("size").round(3).cast(pl.String).alias("size"),
        pl.col("price").round(1).cast(pl.String).alias("price"),
        pl.lit("ZeroPlusTick").alias("tickDirection"),
        pl.format("00000000-0000-4000-8000-{}", pl.col("id").cast(pl.String).str.zfill(12))
        .alias("trdMatchID"),
        (pl.col("price") * pl.col("size") * 1e8).round(0).cast(pl.Int64).cast(pl.String)
        .alias("grossValue"),
        pl.col("size").round(3).cast(pl.String).alias("homeNotional"),
        (pl.col("price") * pl.col("size")).round(8).cast(pl.String).alias("foreignNotional"),
        pl.lit("0").alias("RPI"),
    )  # fmt: skip
    return gzip.compress(frame.write_csv().encode(), compresslevel=6, mtime=0)


def import_ours(body: bytes, root: Path, scratch: Path) -> int:
    import datetime as dt

    from omni_research import _layout
    from omni_research.sources._bybit_dumps import _gunzip, _trade_csv, _trades_by_day
    from omni_research.sources._resume import Unit, commit

    url = "http://127.0.0.1/trading/BTCUSDT/BTCUSDT2025-01-06.csv.gz"
    csv = _trade_csv(_gunzip(body), url=url, category="linear", symbol="BTCUSDT")
    frames, _ = _trades_by_day(csv, url=url, symbol="BTCUSDT", scratch=scratch)
    day = dt.date(2025, 1, 6)
    path = _layout.path_for(root, "trades", symbol="BTCUSDT", date=day)
    commit(root, Unit(kind="trades", path=path, label="bench", symbol="BTCUSDT", day=day),
           frames[day])  # fmt: skip
    return frames[day].height


def import_pandas(path: Path, out: Path) -> int:
    frame = pd.read_csv(path)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="s", utc=True)
    frame.to_parquet(out, compression="zstd", index=False)
    return len(frame)


def case_import(rows: int, repeat: int) -> None:
    from omni_research.sources import init_root

    body = trade_dump(rows)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        gz = base / "BTCUSDT2025-01-06.csv.gz"
        gz.write_bytes(body)
        runs = iter(range(10_000))

        def ours() -> None:
            k = next(runs)
            root = init_root(base / f"root{k}")
            assert import_ours(body, root, base / f"scratch{k}") == rows

        def plain() -> None:
            assert import_pandas(gz, base / "pandas.parquet") == rows

        ours()  # warm-up: imports, numba-free but pandera's first validation
        t_ours = _median(ours, repeat)
        t_pandas = _median(plain, repeat)
    print(f"dump import, {rows:,} rows ({len(body) / 1e6:.1f} MB gzip CSV):")
    print(
        f"  omni_research  {t_ours:8.3f} s  {rows / t_ours:>12,.0f} rows/s  (validated, manifest)"
    )
    print(f"  pandas         {t_pandas:8.3f} s  {rows / t_pandas:>12,.0f} rows/s  "
          "(read_csv + to_parquet zstd, unchecked)")  # fmt: skip
    print(f"  ratio ours/pandas time: {t_ours / t_pandas:.2f}")


# --------------------------------------------------------------------------- case 2


def book_stream(updates: int, *, seed: int = 1, per: int = 5, span_ms: int = DAY_MS) -> tuple[
    np.ndarray, ...
]:  # fmt: skip
    """Arrays of a stream: a 500-level snapshot, then deltas of ``per`` levels."""
    rng = np.random.default_rng(seed)
    n_msg = (updates - 1000) // per + 1
    ts = np.sort(rng.integers(0, span_ms, n_msg)).astype(np.int64) + START_MS
    snapshot = np.zeros(n_msg, dtype=bool)
    snapshot[0] = True
    u = np.arange(1, n_msg + 1, dtype=np.int64)
    counts = np.full(n_msg, per)
    counts[0] = 1000
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    m = int(offsets[-1])
    side = np.zeros(m, dtype=np.int8)
    side[500:1000] = 1
    side[1000:] = rng.integers(0, 2, m - 1000)
    ticks = np.empty(m)
    ticks[:1000] = np.tile(np.arange(500), 2)
    ticks[1000:] = np.abs(rng.standard_normal(m - 1000) * 60).astype(np.int64)
    price = np.where(side == 0, 95_000 - 0.1 * ticks - 0.1, 95_000 + 0.1 * ticks)
    price = np.round(price, 1)
    size = np.where(rng.random(m) < 0.2, 0.0, np.round(rng.random(m) * 5 + 0.001, 3))
    size[:1000] = 1.0
    return ts, snapshot, u, offsets, side, price, size


def dict_rebuild(stream: tuple[np.ndarray, ...], step: int = 1000, levels: int = 5) -> int:
    """The plain Python way: two dicts, sorted on every sample."""
    ts, snapshot, _u, offsets, side, price, size = (a.tolist() for a in stream)
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    rows = 0
    instant = -(-ts[0] // step) * step
    for i, t in enumerate(ts):
        while instant < t:
            top_b = sorted(bids, reverse=True)[:levels]
            top_a = sorted(asks)[:levels]
            rows += len(top_b) == levels and len(top_a) == levels
            instant += step
        if snapshot[i]:
            bids.clear()
            asks.clear()
        for j in range(offsets[i], offsets[i + 1]):
            book = bids if side[j] == 0 else asks
            if size[j] == 0.0:
                book.pop(price[j], None)
            else:
                book[price[j]] = size[j]
    return rows


def stream_lines(stream: tuple[np.ndarray, ...]) -> bytes:
    """The stream as the dump's JSON lines (built with Polars, not json.dumps per line)."""
    ts, snapshot, u, offsets, side, price, size = stream
    m = np.repeat(np.arange(len(ts)), np.diff(offsets))
    levels = pl.DataFrame({"m": m, "side": side, "px": price, "sz": size}).with_columns(
        pl.concat_str(
            pl.lit('["'),
            pl.col("px").round(1).cast(pl.String),
            pl.lit('","'),
            pl.col("sz").round(3).cast(pl.String),
            pl.lit('"]'),
        ).alias("lv")
    )
    sides = {
        key: levels.filter(pl.col("side") == code)
        .group_by("m", maintain_order=True)
        .agg(pl.col("lv").str.join(","))
        for key, code in (("b", 0), ("a", 1))
    }
    msgs = pl.DataFrame({"m": np.arange(len(ts)), "ts": ts, "snap": snapshot, "u": u})
    for key, frame in sides.items():
        msgs = msgs.join(frame.rename({"lv": key}), on="m", how="left")
    lit = pl.lit
    lines = msgs.select(
        pl.concat_str(
            lit('{"topic":"orderbook.500.BTCUSDT","type":"'),
            pl.when("snap").then(lit("snapshot")).otherwise(lit("delta")),
            lit('","ts":'),
            pl.col("ts").cast(pl.String),
            lit(',"data":{"s":"BTCUSDT","b":['),
            pl.col("b").fill_null(""),
            lit('],"a":['),
            pl.col("a").fill_null(""),
            lit('],"u":'),
            pl.col("u").cast(pl.String),
            lit(',"seq":'),
            pl.col("u").cast(pl.String),
            lit('},"cts":'),
            pl.col("ts").cast(pl.String),
            lit("}"),
        )
    )
    return ("\n".join(lines.to_series().to_list()) + "\n").encode()


def case_rebuild(updates: int, dict_updates: int, repeat: int) -> None:
    from omni_research.sources._orderbook_rebuild import BookRebuilder, rebuild_orderbook

    stream = book_stream(updates)
    small = book_stream(dict_updates)

    def ours(s: tuple[np.ndarray, ...] = stream) -> None:
        r = BookRebuilder(symbol="BTCUSDT", interval="1s")
        ts, snapshot, u, offsets, side, price, size = s
        r.feed_arrays(ts, snapshot, u, offsets, side, price, size)
        r.finish()

    ours(small)  # compile (or load the cached kernel)
    t_ours = _median(ours, repeat)
    t_dict = _median(lambda: dict_rebuild(small), max(1, repeat // 2))
    n_small = int(small[3][-1])
    n = int(stream[3][-1])
    lines = stream_lines(stream)
    t_json = _median(lambda: rebuild_orderbook(lines, symbol="BTCUSDT"), max(1, repeat // 2))
    print(f"order-book rebuild, 1 s top-5 samples over a day ({n:,} level updates):")
    print(f"  numba kernel     {t_ours:8.3f} s  {n / t_ours:>14,.0f} updates/s  (arrays in)")
    print(f"  from JSON lines  {t_json:8.3f} s  {n / t_json:>14,.0f} updates/s  "
          f"({len(lines) / 1e6:.0f} MB parsed too)")  # fmt: skip
    print(f"  Python dicts     {t_dict:8.3f} s  {n_small / t_dict:>14,.0f} updates/s  "
          f"({n_small:,} updates)")  # fmt: skip
    print(f"  ratio kernel/dict throughput: {(n / t_ours) / (n_small / t_dict):.1f}x")


# --------------------------------------------------------------------------- case 3

_CHILD = r"""
import sys, time, zipfile
def hwm():  # this process's own peak (ru_maxrss would carry the parent's over exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
from omni_research.sources._orderbook_rebuild import line_chunks, rebuild_orderbook
base = hwm()
t = time.perf_counter()
with zipfile.ZipFile(sys.argv[1]) as archive, archive.open(archive.infolist()[0]) as stream:
    result = rebuild_orderbook(line_chunks(stream), symbol="BTCUSDT", interval="1s")
took = time.perf_counter() - t
print(base, hwm(), took, result.messages, result.updates, result.frame.height)
"""


def case_memory(day_messages: int) -> None:
    stream = book_stream(day_messages * 5, seed=2)
    lines = stream_lines(stream)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "2025-01-06_BTCUSDT_ob500.data.zip"
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("2025-01-06_BTCUSDT_ob500.data", lines)
        size = path.stat().st_size
        del lines
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, check=True
        ).stdout.split()
    base, peak, took = int(out[0]) / 1024, int(out[1]) / 1024, float(out[2])
    messages, updates, rows = int(out[3]), int(out[4]), int(out[5])
    print(f"one-day book rebuild in a child process ({messages:,} messages, {updates:,} "
          f"updates, {size / 1e6:.0f} MB zip):")  # fmt: skip
    print(f"  peak RSS {peak:,.0f} MB (after imports {base:,.0f} MB); {took:.2f} s; "
          f"{rows:,} snapshots")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--updates", type=int, default=5_000_000)
    parser.add_argument("--dict-updates", type=int, default=500_000)
    parser.add_argument("--day-messages", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    case_import(args.rows, args.repeat)
    case_rebuild(args.updates, args.dict_updates, args.repeat)
    case_memory(args.day_messages)
    print(f"load average after: {os.getloadavg()}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"this process peak RSS: {peak:,.0f} MB")


if __name__ == "__main__":
    main()
