"""Runs of equal keys: where each series starts in a frame grouped by series.

The run search reads the Arrow string views of a String column (no string is compared
unless two views of a long string differ), block-vectorised in compiled code and split
over threads for large inputs. The bar builders and the indicators' group search both
use :func:`series_first_rows`.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

I64 = npt.NDArray[np.int64]
U = npt.NDArray[Any]  # unsigned codes: string views, category codes, run ids

_WORKERS = min(os.cpu_count() or 1, 4)
_THREAD_ROWS = 1_000_000  # below this, threads cost more than they save


def parts(n: int) -> list[int]:
    """Row boundaries splitting ``n`` rows into one part per worker thread (the kernels
    release the GIL); one part for small inputs, where threads cost more than they save."""
    workers = _WORKERS if n >= _THREAD_ROWS else 1
    return [n * w // workers for w in range(workers + 1)]


def in_threads(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls (in threads when more than one) and return their results in order."""
    if len(calls) == 1:
        return [calls[0]()]
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def run_starts(codes: U, width: int) -> I64:
    """First rows of the runs of equal rows (row 0 included), in threads over row ranges;
    a row is ``width`` consecutive words of the flat ``codes``."""
    from omni_research._segments._kernels import runs  # numba, imported on first use

    n = codes.shape[0] // width
    bounds = parts(n)

    def part(lo: int, hi: int) -> Callable[[], I64]:
        # from the row before ``lo``, so a change at ``lo`` itself is seen
        start = max(lo - 1, 0)
        return lambda: runs(codes[start * width : hi * width], width) + start

    found = in_threads([part(lo, hi) for lo, hi in itertools.pairwise(bounds)])
    return np.concatenate([np.zeros(1, np.int64), *found])


def string_views(col: pl.Series) -> npt.NDArray[np.uint64] | None:
    """The 16-byte views of a String column without nulls, as (n, 2) uint64, zero-copy.

    Polars stores strings as Arrow string views: the length (4 bytes), then up to 12
    bytes inline, or a 4-byte prefix plus the buffer and offset of a longer string. Equal
    views therefore mean equal strings, and a short string is known from its view alone,
    which spares a comparison of every row's text.
    """
    if col.dtype != pl.String or col.null_count() or not len(col):
        return None
    if col.n_chunks() > 1:
        col = col.rechunk()
    try:
        import pyarrow as pa

        arr = col.to_arrow(compat_level=pl.CompatLevel.newest())
        if not isinstance(arr, pa.StringViewArray):
            return None
        views = np.frombuffer(arr.buffers()[1], np.uint64).reshape(-1, 2)
    except Exception:  # an older pyarrow or polars: take the general way
        return None
    return views[arr.offset : arr.offset + len(col)]


def series_first_rows(col: pl.Series) -> I64 | None:
    """The first row of each run of equal values of a column without nulls, or None when
    a value comes back after another (symbols interleaved) or the column holds nulls.

    For strings, runs are found on the 16-byte views (see :func:`string_views`); a change
    of view is confirmed on the text, since a long string stored twice has two views.

    Examples
    --------
    >>> import polars as pl
    >>> series_first_rows(pl.Series(["a", "a", "b", "c", "c"])).tolist()
    [0, 2, 3]
    >>> series_first_rows(pl.Series(["a", "b", "a"])) is None
    True
    """
    if col.null_count():
        return None
    views = string_views(col)
    if views is not None:
        firsts = run_starts(views.reshape(-1), 2)
        if len(firsts) > 1:
            cut = pl.Series(firsts[1:])
            if (col.gather(cut) == col.gather(cut - 1)).any():
                firsts = run_starts(col.rle_id().to_numpy(), 1)
    elif col.dtype == pl.Categorical or isinstance(col.dtype, pl.Enum) or col.dtype.is_integer():
        firsts = run_starts(col.to_physical().to_numpy(), 1)
    else:
        firsts = run_starts(col.rle_id().to_numpy(), 1)
    if len(firsts) > 1 and col.gather(firsts).n_unique() != len(firsts):
        return None  # a series appears in several runs: rows of symbols interleaved
    return firsts
