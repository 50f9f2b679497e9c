"""Benchmark: what encryption at rest costs (Parquet AES-256-GCM, keys in a KMS).

1. One frame of ``--rows`` fills-like rows: plain Parquet write and read (the kit's writer
   settings: zstd 9, page checksums) against the encrypted write and read, with the file
   key already unwrapped (the cost of AES-GCM itself).
2. A 2-day research root (``make_test_data``): ``encrypt_root`` and a ``load`` of every
   sensitive kind, plain and encrypted, with a local key file and with PyKMIP's server on
   loopback over TLS (one KMS round trip per file the first time; file keys are then cached).
3. The KMIP round trip alone (wrap + unwrap on the thread's open TLS connection).

Medians of ``--repeat`` runs.

    .venv/bin/python benchmarks/bench_encryption.py [--rows 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import omni_research as omr
from omni_research import _crypto
from omni_research._kms import LocalKeyFile, create_local_key
from omni_research.testing import KmipTestServer, make_test_data

SENSITIVE = _crypto.SENSITIVE_KINDS


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def fills(n: int) -> pa.Table:
    rng = np.random.default_rng(0)
    return pa.table(
        {
            "timestamp": pa.array(np.arange(n) * 1_000_000, pa.timestamp("us", "UTC")),
            "symbol": pa.array(rng.choice(["BTCUSDT", "ETHUSDT", "SOLUSDT"], n)),
            "account_id": pa.array(rng.choice([f"acct-{i}" for i in range(50)], n)),
            "price": rng.normal(30_000, 100, n),
            "qty": rng.exponential(0.1, n),
        }
    )


def part_one(rows: int, repeat: int, keys: Path) -> None:
    table = fills(rows)
    kms = LocalKeyFile(keys)

    def plain_write() -> bytes:
        sink = io.BytesIO()
        pq.write_table(
            table, sink, compression="zstd", compression_level=9, write_page_checksum=True
        )
        return sink.getvalue()

    plain = plain_write()
    encrypted, entry = _crypto.encrypt_table(table, kms=kms, key_id="bench", source="x")
    key = kms.unwrap(entry.wrapped, "bench")
    rows_w = median_ms(plain_write, repeat)
    enc_w = median_ms(
        lambda: _crypto.encrypt_table(table, kms=kms, key_id="bench", source="x"), repeat
    )
    rows_r = median_ms(
        lambda: pq.read_table(pa.BufferReader(plain), page_checksum_verification=True), repeat
    )
    enc_r = median_ms(lambda: _crypto.decrypt_table(encrypted, key=key, source="x"), repeat)
    print(
        f"{rows:,} rows: plain {len(plain) / 1e6:.1f} MB, encrypted {len(encrypted) / 1e6:.1f} MB"
    )
    print(f"  write: plain {rows_w:.0f} ms, encrypted {enc_w:.0f} ms ({enc_w / rows_w:.2f}x)")
    print(f"  read:  plain {rows_r:.0f} ms, encrypted {enc_r:.0f} ms ({enc_r / rows_r:.2f}x)")


def part_two(repeat: int, keys: Path, folder: Path, server: KmipTestServer) -> None:
    os.environ["OMNI_PSEUDONYM_KEY"] = "bench"
    os.environ["OMNI_AUDIT_LOG"] = str(folder / "audit.jsonl")
    template = folder / "template"
    make_test_data(template, days=2, seed=3)
    manifest = template / "omni-data.toml"
    manifest.write_text(manifest.read_text().replace('tier = "test"', 'tier = "research"'))

    def load_all(root: Path) -> None:
        catalog = omr.open_catalog(root)
        for kind in SENSITIVE:
            catalog.load(kind)

    import shutil

    plain_ms = median_ms(lambda: load_all(template), repeat)
    print(f"2-day root, load of the 7 sensitive kinds, plain: {plain_ms:.0f} ms")
    kmip_env = server.environ(server.client_credentials())
    for label, env, key_id in (
        ("local key file", {"OMNI_KMS": keys.as_uri()}, "bench"),
        ("KMIP over TLS", kmip_env, server.kms().create_key()),
    ):
        os.environ.update(env)
        times = []
        for i in range(repeat):
            root = folder / f"{label[:5]}-{i}"
            shutil.copytree(template, root)
            start = time.perf_counter()
            report = omr.encrypt_root(root, key_id=key_id)
            times.append((time.perf_counter() - start) * 1000)
        files = len(report.encrypted)
        enc = statistics.median(times)

        def cold(root: Path = root) -> None:
            _crypto.forget_keys()
            load_all(root)

        warm = median_ms(functools.partial(load_all, root), repeat)
        first = median_ms(cold, repeat)
        print(
            f"  {label}: encrypt_root {enc:.0f} ms ({files} files), load {first:.0f} ms with "
            f"no key cached ({first / plain_ms:.2f}x plain), {warm:.0f} ms with the file keys "
            f"cached ({warm / plain_ms:.2f}x)"
        )


def part_three(repeat: int, server: KmipTestServer) -> None:
    kms = server.kms()
    key_id = kms.create_key()
    data_key = os.urandom(32)
    wrapped = kms.wrap(data_key, key_id)
    wrap = median_ms(lambda: kms.wrap(data_key, key_id), repeat * 4)
    unwrap = median_ms(lambda: kms.unwrap(wrapped, key_id), repeat * 4)
    print(
        f"KMIP round trip on loopback (one open TLS connection per thread): wrap {wrap:.1f} ms, "
        f"unwrap {unwrap:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        keys = folder / "keys" / "keys.json"
        create_local_key(keys, "bench")
        part_one(args.rows, args.repeat, keys)
        with KmipTestServer(folder / "kmip") as server:
            part_two(args.repeat, keys, folder, server)
            part_three(args.repeat, server)


if __name__ == "__main__":
    main()
