"""The segment layer: the group search equals a plain-Python reference, the kept results
live in one cache object whose ``clear()`` forgets them, and a kernel per group equals the
kernel on each group alone."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import polars as pl
import pytest

from omni_research._segments import (
    SEGMENTS,
    ChunkedColumn,
    SegmentCache,
    group_segments,
    run_segmented,
    series_first_rows,
)

LONG = "A-VERY-LONG-SYMBOL-NAME-PERP"  # longer than the 12 bytes a string view inlines


def _chunked(values: Sequence[str | None], cuts: list[int]) -> pl.Series:
    parts = [pl.Series("s", values[a:b], dtype=pl.String) for a, b in itertools.pairwise(cuts)]
    return pl.concat(parts, rechunk=False)


def _reference(values: Sequence[object]) -> tuple[list[int] | None, list[int]]:
    """Groups in order of first appearance, rows in order within a group (as ``.over``)."""
    groups: dict[object, list[int]] = {}
    for i, v in enumerate(values):
        groups.setdefault(v, []).append(i)
    order = [i for rows in groups.values() for i in rows]
    bounds = [0, *itertools.accumulate(len(r) for r in groups.values())]
    return (None if order == list(range(len(values))) else order), bounds


@pytest.mark.parametrize(
    ("values", "cuts"),
    [
        (["a"] * 5 + ["b"] * 3 + ["c"], [0, 3, 6, 9]),  # runs straddle chunks
        (["a", "a", "b", "b", "a"], [0, 2, 5]),  # a symbol back in a later chunk
        (["a", "b", "a", "c"], [0, 4]),  # back in the same chunk
        ([LONG] * 3 + [LONG] * 2 + ["b", LONG + "2"], [0, 3, 5, 7]),  # long text stored twice
        (["a", None, None, "b"], [0, 2, 4]),  # null keys are one group
        (["a"], [0, 1]),
    ],
)
def test_group_segments_equal_a_python_reference(values: list[str | None], cuts: list[int]) -> None:
    cache = SegmentCache()
    order, bounds = group_segments([_chunked(values, cuts)], cache=cache)
    assert ((None if order is None else order.tolist()), bounds) == _reference(values)


def test_cache_keeps_a_search_until_cleared() -> None:
    cache = SegmentCache(kept=2)
    keys = pl.Series(["a", "a", "b"])
    first = cache.segments([keys])
    assert cache.segments([keys]) is first  # the next expression of a query finds it
    assert len(cache) == 1
    cache.clear()
    assert len(cache) == 0
    assert cache.segments([keys]) is not first
    assert cache.segments([keys]) == (None, [0, 2, 3])


def test_process_wide_cache_is_one_object() -> None:
    from omni_research._segments import _groups

    assert _groups.SEGMENTS is SEGMENTS
    SEGMENTS.clear()
    assert len(SEGMENTS) == 0


def test_chunked_column_segments_are_views_inside_a_chunk() -> None:
    s = pl.concat([pl.Series([1.0, 2.0, 3.0]), pl.Series([4.0, 5.0])], rechunk=False)
    col = ChunkedColumn(s)
    assert col.segment(3, 5).tolist() == [4.0, 5.0]
    assert col.segment(1, 4).tolist() == [2.0, 3.0, 4.0]  # spans chunks: from the whole
    assert col.whole().tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]


@pytest.mark.parametrize("symbols", [["x", "x", "y", "y", "y"], ["x", "y", "x", "y", "y"]])
def test_run_segmented_equals_the_kernel_per_group(symbols: list[str]) -> None:
    values = pl.Series([1.0, 2.0, 10.0, 20.0, 30.0])
    keys = pl.Series(symbols)
    (got,) = run_segmented(np.cumsum, [values], [keys], cache=SegmentCache())
    expected = [0.0] * len(symbols)
    for sym in set(symbols):
        rows = [i for i, s in enumerate(symbols) if s == sym]
        for i, total in zip(rows, np.cumsum(values.to_numpy()[rows]), strict=True):
            expected[i] = float(total)
    assert got.to_list() == expected


def test_series_first_rows_of_integers_and_interleaved() -> None:
    first = series_first_rows(pl.Series([3, 3, 1, 1, 1, 7]))
    assert first is not None
    assert first.tolist() == [0, 2, 5]
    assert series_first_rows(pl.Series([3, 1, 3])) is None
    assert series_first_rows(pl.Series(["a", None])) is None


def test_shared_results_keep_the_last_few_and_are_read_only() -> None:
    cache = SegmentCache(kept=2)
    calls: list[str] = []

    def compute(tag: str) -> np.ndarray:
        calls.append(tag)
        return np.arange(3.0)

    a = cache.shared_run("a", None, lambda: compute("a"))
    cache.shared_run("b", None, lambda: compute("b"))
    assert cache.shared_run("a", None, lambda: compute("a")) is a  # still kept
    assert not a.flags.writeable
    cache.shared_run("c", None, lambda: compute("c"))  # replaces the oldest ("a")
    cache.shared_run("a", None, lambda: compute("a"))
    assert calls == ["a", "b", "c", "a"]
    two = cache.shared_run("two", None, lambda: np.array([[1.0, np.nan], [3.0, 4.0]]))
    built = cache.shared_series(two, ("x", "y"))
    assert cache.shared_series(two, ("x", "y")) is built  # converted once; a row per output
    assert built.struct.unnest().to_dict(as_series=False) == {"x": [1.0, None], "y": [3.0, 4.0]}


def test_stride_is_found_only_for_the_repeating_layout() -> None:
    from omni_research._segments import SegmentCache

    cache = SegmentCache()
    strided = np.array([0, 3, 6, 1, 4, 7, 2, 5, 8])
    assert cache.stride(strided, [0, 3, 6, 9]) == 3
    assert cache.stride(strided, None) == 3  # kept with this very array
    assert cache.stride(strided.copy(), None) == 0  # another array: not known
    # same bounds, rows of two groups swapped: not the layout
    other = np.array([0, 3, 6, 1, 7, 4, 2, 5, 8])
    assert cache.stride(other, [0, 3, 6, 9]) == 0
    # groups of unequal sizes
    assert cache.stride(np.array([0, 2, 4, 1, 3]), [0, 3, 5]) == 0
    inverse = cache.inverse(strided).to_numpy()
    assert (strided[inverse] == np.arange(9)).all()
    assert (other[cache.inverse(other).to_numpy()] == np.arange(9)).all()


def test_shared_runs_of_different_passes_do_not_wait_for_each_other() -> None:
    import threading

    from omni_research._segments import SegmentCache

    cache = SegmentCache()
    started, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow() -> np.ndarray:
        calls.append("a")
        started.set()
        assert release.wait(10)
        return np.zeros(3)

    worker = threading.Thread(target=lambda: cache.shared_run("a", None, slow))
    worker.start()
    assert started.wait(10)
    # another pass runs while "a" is computing (one lock for all would block here)
    done = threading.Event()
    other = threading.Thread(
        target=lambda: (cache.shared_run("b", None, lambda: np.ones(3)), done.set())
    )
    other.start()
    assert done.wait(10)
    # the same pass waits for the first computation and reuses it
    second: list[np.ndarray] = []
    same = threading.Thread(
        target=lambda: second.append(cache.shared_run("a", None, lambda: np.full(3, 9.0)))
    )
    same.start()
    release.set()
    worker.join(10)
    same.join(10)
    other.join(10)
    assert calls == ["a"]
    assert second[0].tolist() == [0.0, 0.0, 0.0]
