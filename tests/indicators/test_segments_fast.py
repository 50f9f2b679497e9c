"""The fast group search of ``by=`` equals the general one, and its kept results are never
stale.

`group_segments` (``omni_research._segments``, used by every ``by=``) finds the groups of a
null-free String key from its Arrow string views chunk by chunk (`string_runs`), and keeps
the last few results keyed by the key columns' buffers. Both must give what the general
search (`general_segments`: run
starts, then a hash group-by when a group is split) gives, on chunked columns whose runs
straddle chunks, symbols coming back in a later chunk, single-row groups, long strings
stored twice, nulls and several keys.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from omni_research import indicators as ind
from omni_research._segments import SEGMENTS, group_segments
from omni_research._segments._groups import general_segments, string_runs
from omni_research.indicators._common import clear_shared

from .conftest import random_walk_ohlcv

LONG = "A-VERY-LONG-SYMBOL-NAME-PERP"  # longer than the 12 bytes a string view inlines


def _chunked(values: Sequence[str | None], cuts: list[int]) -> pl.Series:
    whole = pl.Series("symbol", values, dtype=pl.String)
    parts = [pl.Series("symbol", values[a:b], dtype=pl.String) for a, b in itertools.pairwise(cuts)]
    out = pl.concat(parts, rechunk=False) if parts else whole
    assert out.to_list() == list(values)
    return out


def _general(keys: list[pl.Series]) -> tuple[list[int] | None, list[int]]:
    order, bounds = general_segments(keys)
    return (None if order is None else order.tolist()), bounds


def _fast(keys: list[pl.Series]) -> tuple[list[int] | None, list[int]]:
    clear_shared()
    order, bounds = group_segments(keys)
    return (None if order is None else order.tolist()), bounds


CASES: dict[str, tuple[Sequence[str | None], list[int]]] = {
    "runs straddle chunks": (["a"] * 5 + ["b"] * 3 + ["c"], [0, 3, 6, 9]),
    "single-row groups": (["a", "b", "c", "d"], [0, 1, 2, 4]),
    "symbol back in a later chunk": (["a", "a", "b", "b", "a"], [0, 2, 5]),
    "symbol back in the same chunk": (["a", "b", "a", "c"], [0, 4]),
    "long strings stored twice": ([LONG] * 3 + [LONG] * 2 + ["b", LONG + "2"], [0, 3, 5, 7]),
    "long string back later": ([LONG, LONG, "b", LONG], [0, 2, 3, 4]),
    "null keys": (["a", None, None, "b"], [0, 2, 4]),
    "one row": (["a"], [0, 1]),
    "empty chunk between": (["a", "a", "b"], [0, 2, 2, 3]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_string_runs_equal_the_general_search(case: str) -> None:
    values, cuts = CASES[case]
    keys = [_chunked(values, cuts)]
    expected = _general(keys)
    assert _fast(keys) == expected
    # a contiguous result is exactly the value runs; otherwise the rows grouped stably
    if expected[0] is None:
        starts = [i for i in range(len(values)) if i == 0 or values[i] != values[i - 1]]
        assert expected[1] == [*starts, len(values)]
    else:
        assert sorted(expected[0]) == list(range(len(values)))


def test_string_runs_only_where_they_apply() -> None:
    contiguous = _chunked(["a", "a", "b"], [0, 1, 3])
    assert string_runs([contiguous]) == (None, [0, 2, 3])
    assert string_runs([_chunked(["a", "b", "a"], [0, 3])]) is None  # interleaved
    assert string_runs([_chunked(["a", None], [0, 2])]) is None  # nulls
    assert string_runs([contiguous, contiguous]) is None  # several keys
    assert string_runs([pl.Series([1, 1, 2])]) is None  # not a String


def test_random_chunked_keys_equal_the_general_search() -> None:
    rng = np.random.default_rng(7)
    names = ["a", "bb", LONG, LONG + "x", "c"]
    for _ in range(200):
        n = int(rng.integers(1, 40))
        if rng.random() < 0.5:  # contiguous runs of distinct symbols
            picks = rng.permutation(len(names))[: int(rng.integers(1, min(n, len(names)) + 1))]
            lengths = rng.multinomial(n - len(picks), np.ones(len(picks)) / len(picks)) + 1
            values: list[str | None] = [
                names[p] for p, m in zip(picks, lengths, strict=True) for _ in range(m)
            ]
        else:  # anything, symbols coming back
            values = [names[i] for i in rng.integers(0, len(names), n)]
        n = len(values)
        inner = sorted(rng.integers(0, n + 1, int(rng.integers(0, 5))).tolist())
        keys = [_chunked(values, [0, *inner, n])]
        assert _fast(keys) == _general(keys), (values, inner)


def test_kept_segmentation_is_reused_and_never_stale() -> None:
    clear_shared()
    a = _chunked(["a", "a", "b"], [0, 1, 3])
    first = group_segments([a])
    assert group_segments([a]) is first  # the second expression of a query finds it kept
    # equal content in other buffers, and other content: each gets its own, right answer
    b = _chunked(["a", "b", "b"], [0, 3])
    assert group_segments([b]) == (None, [0, 1, 3])
    c = _chunked(["a", "b", "a"], [0, 3])
    order, bounds = group_segments([c])
    assert order is not None and order.tolist() == [0, 2, 1] and bounds == [0, 2, 3]
    assert group_segments([a]) == (None, [0, 2, 3])


def test_by_on_one_panel_then_another_is_never_stale() -> None:
    # panels built and dropped in turn may reuse freed addresses: the kept entry holds its
    # key Series, so a new panel never matches an old entry
    clear_shared()
    for k in range(6):
        lengths = [30 + 7 * k, 1, 25 - k]
        panel = pl.concat(
            [
                random_walk_ohlcv(k * 3 + j, m).with_columns(pl.lit(f"S{j}{k % 2}").alias("symbol"))
                for j, m in enumerate(lengths)
            ]
        )
        if k % 3 == 2:  # and rows interleaved by time
            panel = panel.with_columns(pl.int_range(pl.len()).over("symbol").alias("t")).sort("t")
        exprs = [ind.sma_indicator(window=5, by="symbol"), ind.rsi(window=3, by="symbol")]
        general = [ind.sma_indicator(window=5).over("symbol"), ind.rsi(window=3).over("symbol")]
        assert_frame_equal(panel.select(exprs), panel.select(general), check_exact=True)


def test_shared_result_is_converted_once_and_never_stale() -> None:
    clear_shared()
    res = np.array([[np.nan, 1.0, 2.0], [np.nan, 0.5, 0.25]])
    first = SEGMENTS.shared_series(res, ("mavg", "std"))
    assert first.struct.field("mavg").to_list() == [None, 1.0, 2.0]
    assert SEGMENTS.shared_series(res, ("mavg", "std")) is first
    other = res.copy()
    other[0, 2] = 3.0
    assert SEGMENTS.shared_series(other, ("mavg", "std")).struct.field("mavg").to_list() == [
        None,
        1.0,
        3.0,
    ]
    assert SEGMENTS.shared_series(res, ("a", "b")).struct.fields == ["a", "b"]
    # the three Bollinger functions selected together equal each alone, on two frames in turn
    for seed in (3, 4, 3):
        frame = random_walk_ohlcv(seed, 120)
        fns = (ind.bollinger_hband, ind.bollinger_mavg, ind.bollinger_lband)
        together = frame.select(f() for f in fns)
        alone = pl.concat([frame.select(f()) for f in fns], how="horizontal")
        assert_frame_equal(together, alone, check_exact=True)
