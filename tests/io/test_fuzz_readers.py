"""Bad bytes: every reader, fed mutated real files, ends in a valid frame or the kit's own error.

The inputs are the shipped test data (``data_test/``), one file per format (Parquet, CSV,
csv.gz, JSON, JSON lines) and the manifest (with an ``[access]`` table), mutated by
Hypothesis: bytes flipped, cut, inserted, deleted, duplicated; for csv.gz also the text
inside the gzip, so the CSV parser behind the decompressor is reached. The property: the
parse (and the full validation after it, and the row counter ``verify`` uses) returns a
frame of the kind's exact schema or raises :class:`~omni_research.exceptions.OmniDataError`
and nothing else, within a deadline (no hang). ``benchmarks/fuzz_readers.py`` (``make
fuzz``) runs the same property far longer and counts findings.
"""

from __future__ import annotations

import datetime as dt
import gzip
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omni_research._access import access_table
from omni_research._catalog import _parquet_schema
from omni_research._manifest import read_manifest, rows_in
from omni_research.config import MANIFEST_NAME
from omni_research.exceptions import OmniDataError
from omni_research.io._readers import parse_bytes
from omni_research.schemas import polars_schema, validate

DATA = Path(__file__).resolve().parents[2] / "data_test"
Op = tuple[str, int, int]


@dataclass(frozen=True)
class Sample:
    """One real file to mutate: its name (the format comes from it), kind and bytes."""

    name: str
    kind: str
    data: bytes
    gzipped_text: bool = False  # mutate the text inside the gzip too


def _head_lines(path: Path, lines: int) -> bytes:
    """The first ``lines`` lines of a real text file (small inputs keep examples fast)."""
    return b"".join(path.read_bytes().splitlines(keepends=True)[:lines])


def _manifest_sample() -> bytes:
    text = (DATA / MANIFEST_NAME).read_text()
    cut = text.index("\n[files.")
    entries = text[cut:].split("\n\n")[:4]  # the header and three file entries
    access = (
        '\n[access]\nservice_accounts = ["jupyter"]\n'
        '[access.roles]\nresearcher = ["market"]\n"trading-analyst" = ["market", "trading"]\n'
        '[access.users]\nalice = ["researcher"]\n[access.groups]\nquants = ["trading-analyst"]\n'
    )
    return (text[:cut] + access + "\n\n".join(entries) + "\n").encode()


@cache
def samples() -> dict[str, Sample]:
    """The real files the fuzz starts from, by format."""
    metrics = DATA / "test/agent_metrics/agent_metrics.csv.gz"
    return {
        "parquet": Sample(
            "part-0.parquet",
            "funding",
            (DATA / "historical/funding/symbol=BTCUSDT/part-0.parquet").read_bytes(),
        ),
        "csv": Sample(
            "sentiment.csv",
            "sentiment",
            _head_lines(DATA / "historical/sentiment/sentiment.csv", 12),
        ),
        "csv.gz": Sample("agent_metrics.csv.gz", "agent_metrics", metrics.read_bytes(), True),
        "json": Sample("coins.json", "coins", (DATA / "historical/coins/coins.json").read_bytes()),
        "jsonl": Sample("news.jsonl", "news", _head_lines(DATA / "historical/news/news.jsonl", 8)),
        "jsonl-decisions": Sample(
            "decisions.jsonl", "decisions", _head_lines(DATA / "test/decisions/decisions.jsonl", 4)
        ),
        "manifest": Sample(MANIFEST_NAME, "", _manifest_sample()),
    }


OPS = ("flip", "cut", "insert", "delete", "duplicate", "set")
_INTERESTING = b'\x00\xff",\n\r{}[]:-.eE0189Z+T \\\x1c\xe2\x80\xa8'


def mutate(data: bytes, ops: list[Op]) -> bytes:
    """Apply ``ops`` (name, position, value) in order; positions wrap around the length."""
    out = bytearray(data)
    for name, position, value in ops:
        at = position % (len(out) + 1)
        if name == "flip" and out:
            out[at % len(out)] ^= 1 << (value % 8)
        elif name == "set" and out:
            out[at % len(out)] = _INTERESTING[value % len(_INTERESTING)]
        elif name == "cut":
            del out[at:]
        elif name == "insert":
            out[at:at] = bytes([_INTERESTING[value % len(_INTERESTING)]]) * (1 + value % 4)
        elif name == "delete":
            del out[at : at + 1 + value % 16]
        elif name == "duplicate":
            out[at:at] = out[at : at + 1 + value % 64]
    return bytes(out)


def mutated(sample: Sample, ops: list[Op], inside: bool) -> bytes:
    """The sample's bytes mutated; for gzip text, the text mutated and compressed again."""
    if inside and sample.gzipped_text:
        return gzip.compress(mutate(gzip.decompress(sample.data), ops), mtime=0)
    return mutate(sample.data, ops)


def outcome(sample: Sample, data: bytes) -> str:
    """Run every reader on ``data``: ``"frame"`` or ``"refused"``; anything else escapes.

    Any exception that is not the kit's own propagates: that is a finding.
    """
    if sample.name == MANIFEST_NAME:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / MANIFEST_NAME).write_bytes(data)
            try:
                access_table(read_manifest(tmp), root=tmp)
            except OmniDataError:
                return "refused"
        return "frame"
    try:
        rows = rows_in(data, Path(sample.name))
    except OmniDataError:
        rows = None
    if sample.name.endswith(".parquet"):  # the catalog reads the footer alone at scan time
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / sample.name).write_bytes(data)
            try:
                footer = _parquet_schema(Path(tmp) / sample.name)
            except OmniDataError:
                footer = None
    expected = polars_schema(sample.kind)
    try:
        df = parse_bytes(data, sample.name, sample.kind, expected)
        validate(df, sample.kind, source=sample.name)
    except OmniDataError:
        return "refused"
    assert isinstance(df, pl.DataFrame)
    assert df.schema == expected  # a frame is of the kind's exact schema
    if sample.name.endswith(".parquet"):
        assert footer is not None  # a file the readers accept, a scan accepts too
    assert rows is not None  # a file the readers accept, verify can count
    return "frame"


ops_strategy = st.lists(
    st.tuples(st.sampled_from(OPS), st.integers(0, 1 << 20), st.integers(0, 255)),
    min_size=1,
    max_size=6,
)


def _fuzz(fmt: str) -> Callable[..., None]:
    @settings(
        max_examples=200,
        deadline=dt.timedelta(seconds=5),  # a hang is a finding
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(ops=ops_strategy, inside=st.booleans())
    def run(ops: list[Op], inside: bool) -> None:
        sample = samples()[fmt]
        outcome(sample, mutated(sample, ops, inside))

    return run


@pytest.mark.parametrize("fmt", sorted(samples()))
def test_mutated_real_files_end_in_a_frame_or_the_kits_own_error(fmt: str) -> None:
    assert outcome(samples()[fmt], samples()[fmt].data) == "frame"  # the seed itself is valid
    _fuzz(fmt)()


def _page_end(data: bytes) -> int:
    """The offset of the last byte of the first column's data page (inside the page data)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    column = pq.ParquetFile(pa.BufferReader(data)).metadata.row_group(0).column(0)
    return int(column.data_page_offset + column.total_compressed_size - 1)


KNOWN_BAD: dict[str, tuple[str, Callable[[bytes], list[Op]], bool]] = {
    "json-nul-first": ("json", lambda d: [("insert", 0, 0)], False),
    "json-bracket-only": ("json", lambda d: [("cut", 1, 0)], False),
    "jsonl-not-an-object": ("jsonl", lambda d: [("set", 0, _INTERESTING.index(b"["))], False),
    "csv-stray-quote": ("csv", lambda d: [("set", 3, _INTERESTING.index(b'"'))], False),
    "csv-gz-cut-stream": ("csv.gz", lambda d: [("cut", len(d) // 2, 0)], False),
    "csv-gz-separator-in-text": (
        "csv.gz",
        lambda d: [("set", 30, _INTERESTING.index(b"\x1c"))],
        True,
    ),
    "parquet-page-byte": ("parquet", lambda d: [("flip", _page_end(d), 3)], False),
    "parquet-footer-cut": ("parquet", lambda d: [("cut", len(d) - 9, 0)], False),
    "manifest-unclosed-string": (
        "manifest",
        lambda d: [("cut", d.index(b'tier = "') + 9, 0)],
        False,
    ),
}


@pytest.mark.parametrize("case", sorted(KNOWN_BAD))
def test_known_bad_inputs_are_refused_by_the_kit(case: str) -> None:
    fmt, ops, inside = KNOWN_BAD[case]
    sample = samples()[fmt]
    assert outcome(sample, mutated(sample, ops(sample.data), inside)) == "refused"


def test_a_metadata_key_that_is_not_utf8_reads_the_intact_data_instead_of_panicking() -> None:
    # found by benchmarks/fuzz_readers.py (seed 1, example 12522): one byte of the
    # "ARROW:schema" key set to 0xa8 made Polars panic (PanicException, a BaseException);
    # the kit needs no key-value metadata, so the intact data pages read as they are
    sample = samples()["parquet"]
    at = sample.data.index(b"ARROW:schema") + 2
    data = mutated(sample, [("set", at, _INTERESTING.index(b"\xa8"))], False)
    assert data != sample.data and outcome(sample, data) == "frame"
    got = parse_bytes(data, sample.name, sample.kind, polars_schema(sample.kind))
    assert got.equals(pl.read_parquet(sample.data))


# found by `benchmarks/fuzz_readers.py --examples 200000 --seed 7`: Polars raised a bare
# ComputeError (a time zone name cut to "TC"; a timestamp whose format it cannot infer); the
# catalog's footer read panicked on the same time zones (PanicException)
FOUND: dict[str, tuple[str, list[Op], bool]] = {
    "parquet-time-zone-TC": ("parquet", [("flip", 598297, 164)], True),
    "parquet-time-zone-WDC": (
        "parquet",
        [("set", 752218, 99), ("set", 357599, 97), ("flip", 613051, 50)],
        False,
    ),
    "csv.gz-date-format": (
        "csv.gz",
        [
            ("delete", 562375, 229),
            ("cut", 513922, 42),
            ("delete", 961128, 131),
            ("cut", 459011, 124),
            ("insert", 33288, 69),
            ("flip", 924789, 189),
        ],
        True,
    ),
    "jsonl-decisions-date-format": (
        "jsonl-decisions",
        [
            ("duplicate", 884024, 167),
            ("insert", 917938, 94),
            ("cut", 751877, 168),
            ("flip", 967025, 73),
        ],
        False,
    ),
}


@pytest.mark.parametrize("case", sorted(FOUND))
def test_fuzz_findings_now_end_in_the_kits_error(case: str) -> None:
    fmt, ops, inside = FOUND[case]
    sample = samples()[fmt]
    assert outcome(sample, mutated(sample, ops, inside)) == "refused"


def test_deeply_nested_json_is_a_format_error_not_a_recursion_error() -> None:
    deep = b"[" * 200_000 + b"]" * 200_000
    for name, kind in (("coins.json", "coins"), ("news.jsonl", "news")):
        assert outcome(Sample(name, kind, deep), deep) == "refused"
    toml = b'tier = "test"\nx = ' + b"[" * 200_000 + b"]" * 200_000 + b"\n"
    assert outcome(samples()["manifest"], toml) == "refused"
    records = b'{"records": 5}'
    assert outcome(Sample("coins.json", "coins", records), records) == "refused"
