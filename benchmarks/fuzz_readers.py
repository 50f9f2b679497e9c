"""Fuzz: the readers and the manifest parser over many mutated real files (``make fuzz``).

The same inputs, mutations and property as ``tests/io/test_fuzz_readers.py`` (which runs a
short Hypothesis fuzz in the test command), here as a long seeded random run: each example
takes a real file of ``data_test/`` (Parquet, CSV, csv.gz, JSON, JSON lines, the manifest),
applies 1-6 random mutations (flip, set, cut, insert, delete, duplicate; for csv.gz also
inside the gzip), and runs every reader on it. The outcome must be a frame of the kind's
exact schema or the kit's own error (``OmniDataError``); anything else is a finding, and so
is an example slower than ``--timeout`` seconds (a hang, stopped by SIGALRM).

Prints examples per second, the outcome counts per format, and each distinct finding (its
format, exception and message, how often, and the seed and mutations that reproduce it).
Exit code 1 when there are findings.

Usage: ``python benchmarks/fuzz_readers.py [--examples 20000] [--seed 0] [--timeout 10]``
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import signal
import sys
import time
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests package

from tests.io.test_fuzz_readers import OPS, Op, mutated, outcome, samples


class _Hang(Exception):
    pass


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise _Hang


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per example")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    formats = sorted(samples())
    counts: dict[str, collections.Counter[str]] = {f: collections.Counter() for f in formats}
    findings: dict[tuple[str, str, str], list[tuple[int, list[Op], bool]]] = {}
    signal.signal(signal.SIGALRM, _alarm)
    started = time.perf_counter()
    for number in range(args.examples):
        fmt = formats[number % len(formats)]
        sample = samples()[fmt]
        ops: list[Op] = [
            (rng.choice(OPS), rng.randrange(1 << 20), rng.randrange(256))
            for _ in range(rng.randint(1, 6))
        ]
        inside = rng.random() < 0.5
        data = mutated(sample, ops, inside)
        signal.setitimer(signal.ITIMER_REAL, args.timeout)
        try:
            result = outcome(sample, data)
        except _Hang:
            result = "finding"
            key = (fmt, "hang", f"slower than {args.timeout:g} s")
            findings.setdefault(key, []).append((number, ops, inside))
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            result = "finding"
            key = (fmt, type(exc).__name__, str(exc).split("\n")[0][:160])
            findings.setdefault(key, []).append((number, ops, inside))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        counts[fmt][result] += 1
    elapsed = time.perf_counter() - started

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"fuzz_readers: {args.examples} examples in {elapsed:.1f} s "
        f"({args.examples / elapsed:.0f} examples/s), seed {args.seed}, load {load}"
    )
    for fmt in formats:
        c = counts[fmt]
        print(
            f"  {fmt:16s} frame {c['frame']:6d}  refused (kit error) {c['refused']:6d}  "
            f"findings {c['finding']:4d}"
        )
    if not findings:
        print("findings: none")
        return 0
    print(f"findings: {len(findings)} distinct")
    for (fmt, kind, message), where in sorted(findings.items()):
        number, ops, inside = where[0]
        print(f"  [{fmt}] {kind}: {message}  (x{len(where)})")
        print(f"      first at example {number}: mutated(samples()[{fmt!r}], {ops}, {inside})")
    return 1


if __name__ == "__main__":
    sys.exit(main())
