"""Benchmark: the catalog read from a bucket (SeaweedFS S3 on loopback) against a local root.

Prints medians of ``--repeat`` runs (alternating local and bucket runs), the ratios, and
``os.getloadavg()`` (the machine is shared: read the figures against the load).

Cases
-----
1. full scan: ``scan(kind).collect()`` of every file of a dataset, local root against the
   same root published to the bucket with ``sync``. From the bucket, each object is fetched
   once (8 at a time), its sha256 and rows checked against the manifest, and the checked
   bytes parsed by Polars (the kit's promise: what is parsed is what was checked).
2. Polars' own cloud reader on the same objects (``pl.scan_parquet([s3://...],
   storage_options=...)``), which checks nothing: the price of the checks and of fetching
   whole objects.
3. partition filter: one symbol and one day from the bucket: objects fetched (counted at
   the store) against the dataset's objects, and the time.
4. predicate and projection: ``price > median`` and two columns, bucket against local
   (applied to each checked file inside the source; whole objects are still fetched).

Usage: ``python benchmarks/bench_object_store.py [--days 7] [--repeat 7] [--kind trades]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import polars as pl

import omni_research as omr
from omni_research._sync import sync
from omni_research.testing import SeaweedServer, make_test_data


def _alternate(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Median seconds of each function, run in turns so load changes hit all alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=7, help="days of the generated test root")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--kind", default="trades")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, SeaweedServer() as s3:
        os.environ.setdefault("OMNI_AUDIT_LOG", os.path.join(tmp, "audit.jsonl"))
        root = os.path.join(tmp, "root")
        make_test_data(root, days=args.days)
        uri = f"s3://{s3.bucket}/bench"
        t = time.perf_counter()
        report = sync(root, uri, storage_options=s3.storage_options)
        publish = time.perf_counter() - t
        t = time.perf_counter()
        again = sync(root, uri, storage_options=s3.storage_options)
        resync = time.perf_counter() - t

        local = omr.open_catalog(root)
        remote = omr.open_catalog(uri, storage_options=s3.storage_options)
        files = local.dataset(args.kind).files
        size = sum(os.path.getsize(f.path) for f in files)
        uris = [remote.store.uri_of(f.relpath) for f in files] if remote.store else []
        print(
            f"root: {args.days} days, {len(local.manifest.files)} files; {args.kind}: "
            f"{len(files)} objects, {size / 1e6:.1f} MB; load {os.getloadavg()}"
        )
        print(
            f"sync to the bucket: {len(report.copied)} files, {report.bytes_copied / 1e6:.1f} MB "
            f"in {publish:.2f} s; again: {len(again.copied)} copied, "
            f"{len(again.skipped)} skipped in {resync:.2f} s"
        )
        assert local.scan(args.kind).collect().equals(remote.scan(args.kind).collect())

        full = _alternate(
            {
                "local": lambda: local.scan(args.kind).collect(),
                "bucket": lambda: remote.scan(args.kind).collect(),
                "polars cloud, unchecked": lambda: pl.scan_parquet(
                    uris, storage_options=s3.storage_options
                ).collect(),
            },
            args.repeat,
        )
        print(f"\n1-2. full scan of {args.kind}, medians of {args.repeat}:")
        for name, sec in full.items():
            print(f"  {name:<24} {sec * 1000:8.1f} ms  ({sec / full['local']:.2f}x local)")
        print(f"  bucket / polars cloud: {full['bucket'] / full['polars cloud, unchecked']:.2f}x")

        symbol = files[0].partitions.get("symbol")
        day = files[0].partitions.get("date")
        where: dict[str, Any] = {"symbols": symbol, "start": day, "end": day}
        fetched: list[str] = []
        store = remote.store
        assert store is not None
        get = store.get

        def counted(relpath: str) -> bytes:
            fetched.append(relpath)
            return get(relpath)

        store.get = counted  # type: ignore[method-assign]
        rows = remote.scan(args.kind, **where).collect().height
        store.get = get  # type: ignore[method-assign]
        pruned = _alternate(
            {
                "local": lambda: local.scan(args.kind, **where).collect(),
                "bucket": lambda: remote.scan(args.kind, **where).collect(),
            },
            args.repeat,
        )
        print(
            f"\n3. partition filter symbols={symbol!r} day={day}: {rows} rows; objects "
            f"fetched {len(fetched)} of {len(files)}; local {pruned['local'] * 1000:.1f} ms, "
            f"bucket {pruned['bucket'] * 1000:.1f} ms ({pruned['bucket'] / pruned['local']:.2f}x)"
        )

        cut = local.scan(args.kind).select(pl.col("price").median()).collect().item()

        def query(cat: omr.Catalog) -> pl.DataFrame:
            lazy = cat.scan(args.kind).filter(pl.col("price") > cut)
            return lazy.select("timestamp", "price").collect()

        pushed = _alternate(
            {"local": lambda: query(local), "bucket": lambda: query(remote)}, args.repeat
        )
        print(
            f"\n4. predicate price > {cut} and 2 columns: {query(local).height} rows; local "
            f"{pushed['local'] * 1000:.1f} ms, bucket {pushed['bucket'] * 1000:.1f} ms "
            f"({pushed['bucket'] / pushed['local']:.2f}x)"
        )
        print(f"\nload after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
