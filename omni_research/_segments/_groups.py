"""Groups as contiguous segments: the group search, chunk views and the kept results.

A kernel that recurses on its own output (an EMA, a PSAR) must restart at every symbol.
Polars' ``.over`` gathers and scatters every group around every call; here the groups
are found once (:func:`group_segments`), the kernel runs on views of contiguous rows
(:func:`run_segmented`, :class:`ChunkedColumn`), and the results that one query would
otherwise compute several times are kept in one :class:`SegmentCache` object, whose
lifetime is explicit: :data:`SEGMENTS` lives as long as the process, and ``clear()``
forgets everything (benchmarks call it so every query runs cold).
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt
import polars as pl

from omni_research._segments._runs import series_first_rows

KernelResult: TypeAlias = npt.NDArray[np.float64]
Segments: TypeAlias = tuple[npt.NDArray[np.int64] | None, list[int]]
"""``(order, bounds)``: the permutation making groups contiguous (None when they already
are) and the segment edges ``[0, ..., n]`` in that order."""

_T = TypeVar("_T", KernelResult, list[KernelResult])


def to_numpy(s: pl.Series) -> KernelResult:
    """A column as contiguous float64: zero-copy for a null-free Float64 column; nulls
    become NaN, which the kernels propagate."""
    arr = s.cast(pl.Float64).to_numpy()
    return np.ascontiguousarray(arr, dtype=np.float64)


def series_ident(series: Sequence[pl.Series]) -> tuple[tuple[int, int], ...] | None:
    """(address, length) of every chunk of ``series`` if all are null-free Float64 buffers
    (their zero-copy numpy views), else None."""
    ident = []
    for s in series:
        if s.dtype != pl.Float64:
            return None
        for chunk in s.get_chunks():
            if chunk.null_count():
                return None
            view = chunk.to_numpy()
            ident.append((int(view.__array_interface__["data"][0]), int(view.shape[0])))
    return tuple(ident)


def as_series(res: KernelResult, outputs: Sequence[str] | None) -> pl.Series:
    """A kernel result as a Series: NaN becomes null; a 2-D result becomes a Struct with
    one field per row, named by ``outputs``."""
    if outputs is None:
        return pl.Series("", res, dtype=pl.Float64, nan_to_null=True)
    cols = {
        name: pl.Series(name, res[k], dtype=pl.Float64, nan_to_null=True)
        for k, name in enumerate(outputs)
    }
    return pl.DataFrame(cols).to_struct("")


def _keys_ident(keys: Sequence[pl.Series]) -> Hashable | None:
    """The key columns' identity as Arrow buffers, or None for dtypes not cached (only
    String and integer keys: a categorical's Arrow form does not name its categories)."""
    ident: list[Hashable] = []
    for k in keys:
        if not (k.dtype == pl.String or k.dtype.is_integer()):
            return None
        for chunk in k.get_chunks():
            try:
                arr = chunk.to_arrow(compat_level=pl.CompatLevel.newest())
                buffers = tuple(0 if b is None else b.address for b in arr.buffers())
            except Exception:  # an Arrow form we cannot read: no caching
                return None
            ident.append((str(k.dtype), arr.offset, len(arr), buffers))
    return tuple(ident)


class SegmentCache:
    """The results kept between the expressions of one query, in one object.

    Memos under their locks (a shared pass under a lock of its own):

    * segmentations (the last ``kept``), keyed by the key columns' dtypes and Arrow
      buffers (addresses, offsets, lengths): the expressions of one query see the same
      key column, so finding its groups once serves all of them (a String symbol column
      costs ~10-30 ms per search on 10,000,000 rows, ~850 ms when rows are interleaved);
    * the last ``kept`` shared kernel results (``share=`` of ``run_segmented`` and
      ``shared_run``): Polars never shares a Python UDF's result between expressions, so
      the seven Bollinger functions selected together would each run the same pass (and
      MACD's, ADX's and PSAR's outputs in one query theirs);
    * the Series built from those shared results, so the expressions sharing one pass also
      share its conversion to Polars (~0.4 ms per 1,000,000 rows and output), and, for
      groups that are not contiguous, the outputs put back in row order
      (:meth:`assembled`);
    * for groups that are not contiguous (a panel sorted by time): the input columns in
      the permuted order (:meth:`permuted`), and per permutation its layout
      (:meth:`stride`) and inverse (:meth:`inverse`). A query on 10,000,000 rows keeps
      ~80 MB per permuted input until the entries are replaced or cleared.

    Each entry holds the Series its key names, so no other buffer can take their
    addresses while the entry lives; Polars buffers are immutable while shared, so an
    equal key means equal input. Results are read-only; a miss replaces the oldest entry.
    :meth:`clear` forgets all.
    """

    def __init__(self, *, kept: int = 4) -> None:
        self.kept = kept
        self._segments_lock = threading.Lock()
        self._segments: list[tuple[Hashable, object, Segments]] = []
        self._shared_lock = threading.Lock()
        self._shared: list[tuple[Any, object, Any]] = []
        self._inflight: dict[Hashable, threading.Lock] = {}
        self._built_lock = threading.Lock()
        self._built: list[tuple[int, tuple[str, ...] | None, KernelResult, pl.Series]] = []
        self._permuted_lock = threading.Lock()
        self._permuted: list[tuple[Hashable, object, KernelResult]] = []
        self._strides: list[tuple[npt.NDArray[np.int64], int]] = []
        self._inverses: list[tuple[npt.NDArray[np.int64], pl.Series]] = []
        self._order_series: list[tuple[npt.NDArray[np.int64], pl.Series]] = []
        self._assembled: list[tuple[Hashable, list[KernelResult], list[pl.Series]]] = []

    def clear(self) -> None:
        """Forget the kept segmentations, the shared kernel result and its Series."""
        with self._shared_lock:
            self._shared.clear()
        with self._segments_lock:
            self._segments.clear()
        with self._built_lock:
            self._built.clear()
            self._assembled.clear()
        with self._permuted_lock:
            self._permuted.clear()
            self._strides.clear()
            self._inverses.clear()
            self._order_series.clear()

    def __len__(self) -> int:
        return len(self._segments) + len(self._shared) + len(self._built) + len(self._permuted)

    def stride(self, order: npt.NDArray[np.int64], bounds: list[int] | None) -> int:
        """``k`` when ``order`` lists the rows of a layout of ``k`` groups repeating in the
        same order (rows ``g, g + k, g + 2k, ...`` for group ``g``: a panel sorted by time
        with every symbol at every timestamp), else 0. Checked once per permutation (two
        comparisons) and kept with it; ``bounds`` None: only the kept answer, else 0."""
        with self._permuted_lock:
            for kept_order, k in self._strides:
                if kept_order is order:
                    return k
        if bounds is None:
            return 0
        k = len(bounds) - 1
        n = order.shape[0]
        found = 0
        if k >= 2 and n % k == 0 and bounds == list(range(0, n + 1, n // k)):
            grid = order.reshape(k, n // k)
            if np.array_equal(grid[:, 0], np.arange(k)) and bool(
                (np.diff(grid, axis=1) == k).all()
            ):
                found = k
        with self._permuted_lock:
            self._strides[:] = [(order, found), *self._strides[: self.kept - 1]]
        return found

    def assembled(
        self,
        results: list[KernelResult],
        order: npt.NDArray[np.int64],
        bounds: list[int],
        k_out: int,
        null_rows: int,
        nan_to_null: bool,
        *,
        keep: bool = True,
    ) -> list[pl.Series]:
        """The per-group ``results`` (in the permuted order of ``order``) as one Series per
        output in the original row order, built once per result list (the expressions
        sharing one pass share it). Done in Polars: its allocator keeps its pages, where
        each fresh 80 MB numpy buffer of a 10,000,000-row output costs ~20 ms of page faults
        (a second of kernel time per query); one rechunk and one gather by the inverse
        permutation (:meth:`inverse`) per output. ``keep=False``: a result no other
        expression shares, not kept."""
        key = (id(results), k_out, null_rows, nan_to_null)
        with self._built_lock:
            for entry_key, held, cols in self._assembled:
                if entry_key == key and held is results:
                    return cols
        inverse = self.inverse(order)
        spans = list(itertools.pairwise(bounds))
        cols = []
        for j in range(k_out):
            parts = [
                pl.Series("", res.reshape(k_out, e - s)[j], dtype=pl.Float64)
                for res, (s, e) in zip(results, spans, strict=True)
            ]
            col = pl.concat(parts, rechunk=True).gather(inverse)
            if nan_to_null:
                col = col.fill_nan(None)
            cols.append(col)
        if null_rows > 0 and spans:
            idx = np.concatenate([order[s : min(s + null_rows, e)] for s, e in spans])
            if idx.shape[0]:
                cols = [c.scatter(idx, None) for c in cols]
        if keep:
            with self._built_lock:
                self._assembled[:] = [(key, results, cols), *self._assembled[: self.kept - 1]]
        return cols

    def order_series(self, order: npt.NDArray[np.int64]) -> pl.Series:
        """``order`` as a Polars index Series, kept with it."""
        with self._permuted_lock:
            for kept_order, ser in self._order_series:
                if kept_order is order:
                    return ser
        n = order.shape[0]
        ser = pl.Series("", order.astype(np.uint32) if n < 2**32 else order)
        with self._permuted_lock:
            self._order_series[:] = [(order, ser), *self._order_series[: self.kept - 1]]
        return ser

    def inverse(self, order: npt.NDArray[np.int64]) -> pl.Series:
        """The inverse permutation of ``order`` as a Polars index Series, kept with it."""
        with self._permuted_lock:
            for kept_order, inv in self._inverses:
                if kept_order is order:
                    return inv
        n = order.shape[0]
        stride = self.stride(order, None)
        if stride:
            rows = np.arange(n, dtype=np.int64)
            arr = (rows % stride) * (n // stride) + rows // stride
        else:
            arr = np.empty(n, dtype=np.int64)
            arr[order] = np.arange(n, dtype=np.int64)
        inv = pl.Series("", arr.astype(np.uint32) if n < 2**32 else arr)
        with self._permuted_lock:
            self._inverses[:] = [(order, inv), *self._inverses[: self.kept - 1]]
        return inv

    def permuted(self, series: pl.Series, order: npt.NDArray[np.int64]) -> KernelResult:
        """``series`` as float64 in the row order ``order`` (a permutation from
        :meth:`segments`), kept for the other expressions of the query: a time-sorted panel's
        close feeds most indicators, and each permutation of 10,000,000 rows costs
        ~50-135 ms. Keyed by the column's buffers (:func:`series_ident`) and the permutation
        itself (held by the entry, as is the column); a column with nulls is not kept."""
        ident = series_ident([series])
        key = None if ident is None else (ident, id(order))
        if key is not None:
            with self._permuted_lock:
                for entry_key, hold, cached in self._permuted:
                    if entry_key == key and hold[1] is order:  # type: ignore[index]
                        return cached
        # gathered by Polars (its allocator keeps its pages: no fresh 80 MB to page-fault),
        # then viewed as numpy without a copy when null-free
        result = to_numpy(series.gather(self.order_series(order)))
        result.flags.writeable = False
        if key is not None:
            with self._permuted_lock:
                self._permuted[:] = [
                    (key, (series, order), result),
                    *self._permuted[: self.kept - 1],
                ]
        return result

    def segments(self, keys: Sequence[pl.Series]) -> Segments:
        """:func:`group_segments` of ``keys``, kept for the next calls on the same keys."""
        ident = _keys_ident(keys)
        if ident is not None:
            with self._segments_lock:
                for entry_ident, _, cached in self._segments:
                    if entry_ident == ident:
                        return cached
        result = interleaved_segments(keys)
        if result is None:
            result = string_runs(keys)
        if result is None:
            result = general_segments(keys)
        if ident is not None:
            with self._segments_lock:
                self._segments[:] = [
                    (ident, list(keys), result),
                    *self._segments[: self.kept - 1],
                ]
        return result

    def shared_run(self, ident: Hashable, hold: object, compute: Callable[[], _T]) -> _T:
        """``compute()``, or the kept result of the last call with the same ``ident``.

        Computed under a lock of its own ``ident``: Polars evaluates the expressions of one
        select in parallel, and the second caller of the same pass should wait for the
        first one's rather than run its own, while passes with other idents (MACD's and
        Bollinger's) run side by side. ``compute`` must be numba/numpy only (no Polars
        call), so holding the lock cannot starve Polars' thread pool. ``hold``: the objects
        ``ident`` names.
        """
        with self._shared_lock:
            for entry_ident, _, cached in self._shared:
                if entry_ident == ident:
                    return cached  # type: ignore[no-any-return]
            own = self._inflight.setdefault(ident, threading.Lock())
        with own:
            with self._shared_lock:
                for entry_ident, _, cached in self._shared:
                    if entry_ident == ident:
                        return cached  # type: ignore[no-any-return]
            try:
                result = compute()
                for r in result if isinstance(result, list) else [result]:
                    r.flags.writeable = False
                with self._shared_lock:
                    self._shared[:] = [(ident, hold, result), *self._shared[: self.kept - 1]]
            finally:
                with self._shared_lock:
                    self._inflight.pop(ident, None)
        return result

    def shared_series(self, res: KernelResult, outputs: Sequence[str] | None) -> pl.Series:
        """:func:`as_series` of a shared (read-only) result, built once per result.

        Built outside any lock (a Polars call), so two callers may both build it: the
        same values either way.
        """
        names = None if outputs is None else tuple(outputs)
        with self._built_lock:
            for res_id, entry_names, _, built in self._built:
                if res_id == id(res) and entry_names == names:
                    return built
        built = as_series(res, outputs)
        with self._built_lock:
            self._built[:] = [(id(res), names, res, built), *self._built[: self.kept - 1]]
        return built


SEGMENTS = SegmentCache()
"""The process-wide cache of the kit's group searches and shared kernel results."""


def group_segments(keys: Sequence[pl.Series], *, cache: SegmentCache = SEGMENTS) -> Segments:
    """How to run a kernel once per group of ``keys`` without Polars' per-group gather.

    Returns ``(order, bounds)``: ``order`` is ``None`` when every group already sits in one
    contiguous run of rows (a panel concatenated or sorted symbol by symbol: no copy at all),
    else the stable permutation that makes them contiguous (rows keep their order within a
    group, as ``.over`` sees them); ``bounds`` are the segment edges in that order,
    ``[0, ..., n]``. Null keys form one group, as in ``.over``. The result is kept in
    ``cache`` for the next calls on the same key columns: treat it as read-only.

    Examples
    --------
    >>> import polars as pl
    >>> group_segments([pl.Series(["a", "a", "b"])])
    (None, [0, 2, 3])
    """
    return cache.segments(keys)


def string_runs(keys: Sequence[pl.Series]) -> Segments | None:
    """Contiguous groups of one null-free String key from its Arrow string views (the bar
    builders' run search, :func:`series_first_rows`), chunk by chunk so that a panel
    concatenated symbol by symbol is not rechunked; None when that does not apply
    (several keys, nulls, another dtype, a symbol in several runs)."""
    if len(keys) != 1 or keys[0].dtype != pl.String or keys[0].null_count():
        return None
    col = keys[0]
    n = col.len()
    if n == 0:
        return None
    firsts: list[npt.NDArray[np.int64]] = []
    offset = 0
    prev_last: str | None = None
    for chunk in col.get_chunks():
        m = chunk.len()
        if m == 0:
            continue
        found = series_first_rows(chunk)
        if found is None:
            return None
        if prev_last is not None and chunk[0] == prev_last:
            found = found[1:]  # the run goes on from the previous chunk
        firsts.append(found + offset)
        prev_last = chunk[m - 1]
        offset += m
    starts = np.concatenate(firsts)
    # a symbol coming back after another (in another chunk) is not contiguous
    if col.gather(pl.Series(starts)).n_unique() != starts.shape[0]:
        return None
    return None, [*starts.tolist(), n]


def interleaved_segments(keys: Sequence[pl.Series]) -> Segments | None:
    """The group search for one key whose first two rows differ (a panel sorted by time,
    symbols interleaved), without hashing every row into lists; None when that does not
    apply (several keys, an unsupported dtype, the first two rows in one group).

    First the common layout, every timestamp listing the same ``k`` symbols in the same
    order: the first ``k`` keys are distinct and each row equals the row ``k`` before
    (one comparison, ~15 ms on 10,000,000 strings); the permutation is then a transpose.
    Otherwise the key's integer codes (a String key cast to Categorical, ~150 ms; an integer
    key offset by its minimum) are counting-sorted (``_kernels.group_order``), O(n). Both
    list the groups in order of first appearance and the rows of a group in their order,
    as the hash group-by of :func:`general_segments` does, nulls as one group.
    """
    if len(keys) != 1:
        return None
    key = keys[0]
    n = key.len()
    if n < 2 or not (key.dtype == pl.String or key.dtype.is_integer()):
        return None
    if not key.slice(0, 1).ne_missing(key.slice(1, 1)).item():
        return None
    if not key.null_count():
        # k: the first row repeating row 0's key
        repeats = key.slice(1).eq(key[0]).arg_true()
        k = int(repeats[0]) + 1 if repeats.len() else n
        if (
            n % k == 0
            and key.slice(0, k).n_unique() == k
            and bool(key.slice(k).eq(key.slice(0, n - k)).all())
        ):
            if k == n:  # every row its own group
                return None, list(range(n + 1))
            order = (
                np.arange(k, dtype=np.int64)[:, None] + np.arange(0, n, k, dtype=np.int64)
            ).ravel()
            return order, list(range(0, n + 1, n // k))
    if key.dtype == pl.String:
        codes = key.cast(pl.Categorical).to_physical().cast(pl.Int64)
    else:
        lo, hi = key.min(), key.max()
        if lo is None or hi is None or int(hi) - int(lo) > 4 * n:  # type: ignore[arg-type]
            return None
        codes = (key.cast(pl.Int64) - int(lo)).cast(pl.Int64)  # type: ignore[arg-type]
    top = codes.max()
    n_codes = 0 if top is None else int(top) + 1  # type: ignore[arg-type]
    if n_codes > 4 * n + 1:
        return None
    # nulls: one group of their own, after every code
    arr = codes.fill_null(n_codes).to_numpy().astype(np.int64, copy=False)
    from omni_research._segments import _kernels

    order, sizes = _kernels.group_order(np.ascontiguousarray(arr), n_codes + 1)
    bounds = [0, *np.cumsum(sizes).tolist()]
    if np.array_equal(order, np.arange(n)):  # contiguous after all: no permutation
        return None, bounds
    return order, bounds


def general_segments(keys: Sequence[pl.Series]) -> Segments:
    """The group search for any keys (several columns, nulls, any dtype)."""
    frame = pl.DataFrame({f"k{i}": k for i, k in enumerate(keys)})
    n = frame.height
    if n == 0:
        return None, [0]
    # run starts from one comparison with the previous row (~25 ms on 10,000,000 strings):
    # the frame is contiguous when no key starts two runs, which is checked on the run
    # starts only (hashing every row, as n_unique would, costs 4x more)
    changed = pl.any_horizontal(pl.col(c).ne_missing(pl.col(c).shift(1)) for c in frame.columns)
    starts = frame.select(changed.arg_true()).to_series()
    if frame[starts].n_unique() == starts.len():
        return None, [*starts.to_list(), n]
    # a group is split into several runs (rows interleaved by time): a hash group-by lists
    # each group's rows in their order; sorting string keys instead costs ~10x more
    groups = (
        frame.with_row_index("__row")
        .group_by(frame.columns, maintain_order=True)
        .agg(pl.col("__row"))
        .get_column("__row")
    )
    order = groups.explode().to_numpy().astype(np.int64, copy=False)
    lengths = groups.list.len().to_numpy()
    return order, [0, *np.cumsum(lengths).tolist()]


class ChunkedColumn:
    """A float64 column as its chunks' numpy arrays (zero-copy where Polars allows), so a
    segment lying inside one chunk is a view; the whole column is concatenated only when a
    segment spans chunks or the rows must be permuted. A panel read or concatenated symbol
    by symbol has one chunk per symbol: no copy of the inputs at all."""

    def __init__(self, series: pl.Series) -> None:
        self.chunks = [to_numpy(c) for c in series.cast(pl.Float64).get_chunks()]
        self.ends: list[int] = np.cumsum([c.shape[0] for c in self.chunks]).tolist()
        self._whole: KernelResult | None = None

    def whole(self) -> KernelResult:
        """The column as one array (a view when it has one chunk)."""
        if self._whole is None:
            if len(self.chunks) == 1:
                self._whole = self.chunks[0]
            else:
                self._whole = np.concatenate(self.chunks) if self.chunks else np.empty(0)
        return self._whole

    def segment(self, start: int, end: int) -> KernelResult:
        """Rows ``start:end``: a view of one chunk when they lie inside it."""
        k = bisect.bisect_right(self.ends, start)
        if k < len(self.chunks) and end <= self.ends[k]:
            offset = self.ends[k] - self.chunks[k].shape[0]
            return self.chunks[k][start - offset : end - offset]
        return self.whole()[start:end]


def run_segmented(
    kernel: Callable[..., KernelResult],
    inputs: Sequence[pl.Series],
    keys: Sequence[pl.Series],
    *,
    n_outputs: int | None = None,
    null_rows: int = 0,
    nan_to_null: bool = True,
    share: Hashable | None = None,
    hold: object = None,
    cache: SegmentCache = SEGMENTS,
) -> list[pl.Series]:
    """``kernel`` on each group of ``keys`` in turn, state reset at every group boundary.

    One Python call per group on views of (at most once permuted) contiguous arrays: Polars'
    ``.over`` gathers and scatters every group around every kernel call, which cost 4-8x the
    kernel itself. Returns one Float64 Series per output (``n_outputs``, or one), in the
    original row order: for contiguous groups each group's result becomes a chunk as it is
    (no copy into one buffer), otherwise each is scattered into one buffer per output; NaN
    becomes null when ``nan_to_null``, and each group's first ``null_rows`` rows are null.
    ``share``/``hold``: the cache key and the objects to keep with a shared result
    (:meth:`SegmentCache.shared_run`; the segment bounds or the permutation join the key).
    """
    # Polars calls (group search, Series) stay outside the shared run's lock
    order, bounds = cache.segments(keys)
    if order is not None:
        return _run_permuted(
            kernel, inputs, order, bounds, n_outputs=n_outputs, null_rows=null_rows,
            nan_to_null=nan_to_null, share=share, hold=hold, cache=cache,
        )  # fmt: skip
    columns = [ChunkedColumn(x) for x in inputs]

    def compute() -> list[KernelResult]:
        return [
            np.asarray(
                kernel(*[columns[j].segment(s, e) for j in range(len(columns))]), dtype=np.float64
            )
            for s, e in itertools.pairwise(bounds)
        ]

    if share is None:
        results = compute()
    else:
        results = cache.shared_run((share, tuple(bounds)), hold, compute)
    k_out = 1 if n_outputs is None else n_outputs
    chunks: list[list[pl.Series]] = [[] for _ in range(k_out)]
    for (s, e), res in zip(itertools.pairwise(bounds), results, strict=True):
        w = min(null_rows, e - s)
        for j, row in enumerate(res.reshape(k_out, e - s)):
            col = pl.Series("", row, dtype=pl.Float64, nan_to_null=nan_to_null)
            if w > 0:
                col = pl.concat([pl.Series("", [None] * w, dtype=pl.Float64), col.slice(w)])
            chunks[j].append(col)
    return [
        pl.concat(ch, rechunk=False) if ch else pl.Series("", [], dtype=pl.Float64) for ch in chunks
    ]


def _run_permuted(
    kernel: Callable[..., KernelResult],
    inputs: Sequence[pl.Series],
    order: npt.NDArray[np.int64],
    bounds: list[int],
    *,
    n_outputs: int | None,
    null_rows: int,
    nan_to_null: bool,
    share: Hashable | None,
    hold: object,
    cache: SegmentCache,
) -> list[pl.Series]:
    """:func:`run_segmented` for groups that are not contiguous: each input permuted once
    per query (:meth:`SegmentCache.permuted`), the kernel run on slices of the permuted
    arrays, the results put back in the original row order by
    :meth:`SegmentCache.assembled`."""
    cache.stride(order, bounds)  # the layout, kept for ``assembled``'s inverse
    permuted = [cache.permuted(x, order) for x in inputs]
    k_out = 1 if n_outputs is None else n_outputs

    def compute() -> list[KernelResult]:
        return [
            np.asarray(kernel(*[p[s:e] for p in permuted]), dtype=np.float64)
            for s, e in itertools.pairwise(bounds)
        ]

    if share is None:
        results = compute()
    else:
        results = cache.shared_run((share, id(order)), (hold, order), compute)
    return cache.assembled(
        results, order, bounds, k_out, null_rows, nan_to_null, keep=share is not None
    )
