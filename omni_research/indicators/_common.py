"""Building blocks shared by every indicator family (`ta`'s conventions, as Polars expressions).

Conventions (both families follow them):

* `ta` returns NaN in warm-up rows; these helpers return **null** there (Polars' missing
  value), so ``is_null()``/``drop_nulls()`` work. A genuine 0/0 stays NaN, as in `ta`.
* Every helper takes a column name or an expression and returns an expression, so it
  composes inside ``select``/``with_columns``, on LazyFrames and under ``.over(...)``.
* Helpers that recurse on their own output run a numba kernel from `_kernels`
  (see that module for why) through :func:`kernel_expr`, which is group-aware.
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

ColumnLike: TypeAlias = str | pl.Expr
"""A column name or any expression evaluating to one float column."""

KernelResult: TypeAlias = npt.NDArray[np.float64]


def to_expr(x: ColumnLike) -> pl.Expr:
    """``pl.col(x)`` for a name, the expression itself otherwise."""
    return pl.col(x) if isinstance(x, str) else x


def as_float(x: ColumnLike) -> pl.Expr:
    """The column as Float64 (integer volumes, decimals...)."""
    return to_expr(x).cast(pl.Float64)


def sma(x: ColumnLike, window: int, *, min_samples: int | None = None) -> pl.Expr:
    """`ta`'s ``_sma``: ``rolling(window, min_periods=window).mean()`` (null before)."""
    return to_expr(x).rolling_mean(
        window, min_samples=window if min_samples is None else min_samples
    )


def ema(
    x: ColumnLike,
    window: int,
    *,
    min_samples: int | None = None,
    interior_nulls: bool = False,
) -> pl.Expr:
    """`ta`'s ``_ema``: ``ewm(span=window, adjust=False, min_periods=window).mean()``.

    Seeded at the first non-null value (not at an SMA as TA-Lib does); leading nulls (the
    warm-up of an inner indicator) are skipped and do not count towards ``min_samples``,
    exactly as pandas does. Pass ``interior_nulls=True`` when the input can also be null
    *after* its first value (e.g. a 0/0 turned null): pandas then carries the mean through
    the gap and, at the next value, weighs it as if the gap had held that value; Polars'
    ``ewm_mean`` does neither, so that case runs a numba loop instead.
    """
    ms = window if min_samples is None else min_samples
    if interior_nulls:
        return _ewm_with_gaps(x, 2.0 / (window + 1.0), ms)
    return to_expr(x).ewm_mean(span=window, adjust=False, min_samples=ms)


def _ewm_with_gaps(x: ColumnLike, alpha: float, min_samples: int) -> pl.Expr:
    # pandas' ewm (adjust=False, ignore_na=False) carries the mean through missing values and,
    # after a gap, weighs the next value as if the gap had held it; Polars' ewm_mean gives
    # null in the gap and weighs differently. A numba loop does pandas' rule in one pass.
    def run(a: KernelResult) -> KernelResult:
        from omni_research.indicators._kernels import exponential

        return exponential.ewm_gaps(a, alpha, min_samples)  # type: ignore[no-any-return]

    return kernel_expr(run, [x])


def wilder_ewm(
    x: ColumnLike,
    window: int,
    *,
    min_samples: int | None = None,
    interior_nulls: bool = False,
) -> pl.Expr:
    """`ta`'s RSI smoothing: ``ewm(alpha=1/window, adjust=False, min_periods=window).mean()``.

    ``interior_nulls`` as in :func:`ema`.
    """
    ms = window if min_samples is None else min_samples
    if interior_nulls:
        return _ewm_with_gaps(x, 1.0 / window, ms)
    return to_expr(x).ewm_mean(alpha=1.0 / window, adjust=False, min_samples=ms)


def true_range(high: ColumnLike, low: ColumnLike, close: ColumnLike) -> pl.Expr:
    """`ta`'s true range against the previous close: ``max(h-l, |h-c[-1]|, |l-c[-1]|)``.

    Row 0 has no previous close; `ta` takes the row-wise max skipping NaN, so row 0 is
    ``high - low``. Polars' ``max_horizontal`` skips nulls the same way.
    """
    h, lo = to_expr(high), to_expr(low)
    prev_close = to_expr(close).shift(1)
    return pl.max_horizontal(h - lo, (h - prev_close).abs(), (lo - prev_close).abs())


def shift_fill_mean(x: ColumnLike, n: int, *, ta_compat: bool) -> pl.Expr:
    """``x.shift(n)`` with the first ``n`` rows null, or, with ``ta_compat=True``, filled with
    the mean of the **whole** column as `ta` does (``shift(n, fill_value=x.mean())``).

    The `ta` form looks ahead (the mean includes every future row); use it only to reproduce
    `ta`. Under ``.over(...)`` the mean is the group's mean, as `ta` per symbol would give.
    """
    e = to_expr(x)
    shifted = e.shift(n)
    if ta_compat and n > 0:
        # only the n rows the shift vacates get the mean; nulls shifted in from the input's
        # own warm-up stay null, as in pandas
        return pl.when(pl.int_range(pl.len()) < n).then(e.mean()).otherwise(shifted)
    return shifted


By: TypeAlias = str | Sequence[str] | None
"""Group columns for a kernel's ``by=`` option (``None``: the whole column is one series)."""


def by_columns(by: By) -> list[str]:
    """``by`` as a list of column names (empty for ``None``)."""
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def _to_numpy(s: pl.Series) -> KernelResult:
    # zero-copy for a null-free Float64 column; nulls become NaN, which the kernels propagate
    arr = s.cast(pl.Float64).to_numpy()
    return np.ascontiguousarray(arr, dtype=np.float64)


Segments: TypeAlias = tuple[npt.NDArray[np.int64] | None, list[int]]

# The last few segmentations, keyed by the key columns' dtypes and Arrow buffers (addresses,
# offsets, lengths): the expressions of one query see the same key column, so finding its
# groups once serves all of them (a String symbol column costs ~10-30 ms per search on
# 10,000,000 rows, ~850 ms when rows are interleaved). Each entry holds its key Series, so
# no other buffer can take their addresses while the entry lives; Polars buffers are
# immutable while shared, so an equal key means equal keys. Cleared by `clear_shared`.
_SEGMENTS_LOCK = threading.Lock()
_SEGMENTS: list[tuple[Hashable, object, Segments]] = []
_SEGMENTS_KEPT = 4


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


def group_segments(keys: Sequence[pl.Series]) -> Segments:
    """How to run a kernel once per group of ``keys`` without Polars' per-group gather.

    Returns ``(order, bounds)``: ``order`` is ``None`` when every group already sits in one
    contiguous run of rows (a panel concatenated or sorted symbol by symbol: no copy at all),
    else the stable permutation that makes them contiguous (rows keep their order within a
    group, as ``.over`` sees them); ``bounds`` are the segment edges in that order,
    ``[0, ..., n]``. Null keys form one group, as in ``.over``. The result is kept for
    the next calls on the same key columns (see ``_SEGMENTS``): treat it as read-only.
    """
    ident = _keys_ident(keys)
    if ident is not None:
        with _SEGMENTS_LOCK:
            for entry_ident, _, cached in _SEGMENTS:
                if entry_ident == ident:
                    return cached
    result = _string_runs(keys)
    if result is None:
        result = _group_segments(keys)
    if ident is not None:
        with _SEGMENTS_LOCK:
            _SEGMENTS[:] = [(ident, list(keys), result), *_SEGMENTS[: _SEGMENTS_KEPT - 1]]
    return result


def _string_runs(keys: Sequence[pl.Series]) -> Segments | None:
    """Contiguous groups of one null-free String key from its Arrow string views (the bar
    builders' run search, `_bars_segments._series_first_rows`), chunk by chunk so that a
    panel concatenated symbol by symbol is not rechunked; None when that does not apply
    (several keys, nulls, another dtype, a symbol in several runs)."""
    if len(keys) != 1 or keys[0].dtype != pl.String or keys[0].null_count():
        return None
    col = keys[0]
    n = col.len()
    if n == 0:
        return None
    from omni_research._segments import series_first_rows as _series_first_rows

    firsts: list[npt.NDArray[np.int64]] = []
    offset = 0
    prev_last: str | None = None
    for chunk in col.get_chunks():
        m = chunk.len()
        if m == 0:
            continue
        found = _series_first_rows(chunk)
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


def _group_segments(keys: Sequence[pl.Series]) -> Segments:
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


class _Chunked:
    """A float64 column as its chunks' numpy arrays (zero-copy where Polars allows), so a
    segment lying inside one chunk is a view; the whole column is concatenated only when a
    segment spans chunks or the rows must be permuted. A panel read or concatenated symbol
    by symbol has one chunk per symbol: no copy of the inputs at all."""

    def __init__(self, series: pl.Series) -> None:
        self.chunks = [_to_numpy(c) for c in series.cast(pl.Float64).get_chunks()]
        self.ends: list[int] = np.cumsum([c.shape[0] for c in self.chunks]).tolist()
        self._whole: KernelResult | None = None

    def whole(self) -> KernelResult:
        if self._whole is None:
            if len(self.chunks) == 1:
                self._whole = self.chunks[0]
            else:
                self._whole = np.concatenate(self.chunks) if self.chunks else np.empty(0)
        return self._whole

    def segment(self, start: int, end: int) -> KernelResult:
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
) -> list[pl.Series]:
    """``kernel`` on each group of ``keys`` in turn, state reset at every group boundary.

    One Python call per group on views of (at most once permuted) contiguous arrays: Polars'
    ``.over`` gathers and scatters every group around every kernel call, which cost 4-8x the
    kernel itself. Returns one Float64 Series per output (``n_outputs``, or one), in the
    original row order: each group's result becomes a chunk as it is (no copy into one
    buffer); NaN becomes null when ``nan_to_null``, and each group's first ``null_rows``
    rows are null. ``share``/``hold``: the cache key and the objects to keep with a shared
    result (`_shared_run`), only for contiguous groups (the segment bounds join the key).
    """
    # Polars calls (group_segments, Series) stay outside `_shared_run`'s lock
    order, bounds = group_segments(keys)
    columns = [_Chunked(x) for x in inputs]
    permuted = None if order is None else [c.whole()[order] for c in columns]

    def piece(j: int, s: int, e: int) -> KernelResult:
        return columns[j].segment(s, e) if permuted is None else permuted[j][s:e]

    def compute() -> list[KernelResult]:
        return [
            np.asarray(kernel(*[piece(j, s, e) for j in range(len(columns))]), dtype=np.float64)
            for s, e in itertools.pairwise(bounds)
        ]

    if share is None or order is not None:
        results = compute()
    else:
        results = _shared_run((share, tuple(bounds)), hold, compute)
    k_out = 1 if n_outputs is None else n_outputs
    chunks: list[list[pl.Series]] = [[] for _ in range(k_out)]
    for (s, e), res in zip(itertools.pairwise(bounds), results, strict=True):
        w = min(null_rows, e - s)
        for j, row in enumerate(res.reshape(k_out, e - s)):
            col = pl.Series("", row, dtype=pl.Float64, nan_to_null=nan_to_null)
            if w > 0:
                col = pl.concat([pl.Series("", [None] * w, dtype=pl.Float64), col.slice(w)])
            chunks[j].append(col)
    cols: list[pl.Series] = [
        pl.concat(ch, rechunk=False) if ch else pl.Series("", [], dtype=pl.Float64) for ch in chunks
    ]
    if order is None:
        return cols
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.shape[0])
    return [c.gather(inverse) for c in cols]


# The last results of kernels marked ``share=``: Polars never shares a Python UDF's result
# between expressions (no common-subexpression elimination for UDFs), so the seven
# Bollinger functions selected together would each run the same pass (and MACD's, ADX's and
# PSAR's outputs in `add_all_ta_features` theirs). ``_SHARED_KEPT`` entries, each keyed by
# the kernel's key and the addresses and lengths of the input Series' chunks (each a
# null-free Float64 buffer; otherwise nothing is shared). The entry holds those Series, so
# no other buffer can reuse an address while the entry lives, and Polars buffers are
# immutable while shared: an equal key means equal input. Read-only results; a miss
# replaces the oldest entry. With ``by``, only for contiguous groups (the segment bounds
# join the key).
_SHARE_LOCK = threading.Lock()
_SHARED: list[tuple[Any, object, Any]] = []
_SHARED_KEPT = 4
_T = TypeVar("_T", KernelResult, list[KernelResult])


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


def _shared_run(ident: Hashable, hold: object, compute: Callable[[], _T]) -> _T:
    # computed under the lock: Polars evaluates the expressions of one select in parallel,
    # and the second caller should wait for the first one's pass rather than run its own.
    # ``compute`` is numba/numpy only (no Polars call), so holding the lock cannot starve
    # Polars' thread pool.
    with _SHARE_LOCK:
        for entry_ident, _, cached in _SHARED:
            if entry_ident == ident:
                return cached  # type: ignore[no-any-return]
        result = compute()
        for r in result if isinstance(result, list) else [result]:
            r.flags.writeable = False
        _SHARED[:] = [(ident, hold, result), *_SHARED[: _SHARED_KEPT - 1]]
    return result


def _as_series(res: KernelResult, outputs: Sequence[str] | None) -> pl.Series:
    # NaN becomes null; a 2-D result becomes a Struct with one field per row
    if outputs is None:
        return pl.Series("", res, dtype=pl.Float64, nan_to_null=True)
    cols = {
        name: pl.Series(name, res[k], dtype=pl.Float64, nan_to_null=True)
        for k, name in enumerate(outputs)
    }
    return pl.DataFrame(cols).to_struct("")


# The Series built from the shared result, so the expressions sharing one pass also share
# its conversion to Polars (~0.4 ms per 1,000,000 rows and output). Keyed by the identity of
# the (read-only) result array, which the entry holds; built outside any lock (a Polars
# call), so two callers may both build it: the same values either way.
_BUILT_LOCK = threading.Lock()
_BUILT: list[tuple[int, tuple[str, ...] | None, KernelResult, pl.Series]] = []


def _shared_series(res: KernelResult, outputs: Sequence[str] | None) -> pl.Series:
    names = None if outputs is None else tuple(outputs)
    with _BUILT_LOCK:
        for res_id, entry_names, _, built in _BUILT:
            if res_id == id(res) and entry_names == names:
                return built
    built = _as_series(res, outputs)
    with _BUILT_LOCK:
        _BUILT[:] = [(id(res), names, res, built), *_BUILT[: _SHARED_KEPT - 1]]
    return built


def clear_shared() -> None:
    """Forget the shared kernel result and the kept segmentations (benchmarks call it so
    every query runs cold)."""
    with _SHARE_LOCK:
        _SHARED.clear()
    with _SEGMENTS_LOCK:
        _SEGMENTS.clear()
    with _BUILT_LOCK:
        _BUILT.clear()


def kernel_expr(
    kernel: Callable[..., KernelResult],
    inputs: Sequence[ColumnLike],
    *,
    outputs: Sequence[str] | None = None,
    by: By = None,
    share: Hashable | None = None,
) -> pl.Expr:
    """Run ``kernel`` on the input columns as numpy float64 arrays, as one expression.

    Parameters
    ----------
    kernel
        ``kernel(*arrays) -> ndarray``: a 1-D array of the input length (single output), or a
        2-D ``(len(outputs), n)`` array. NaN in the result becomes null. Bind parameters with
        a closure or ``functools.partial``; import numba kernels *inside* that closure so the
        package imports fast.
    inputs
        Column names or expressions, passed in this order.
    outputs
        Names of the rows of a 2-D result; the expression is then a Struct with these fields
        (take one with ``.struct.field(name)``).
    by
        Group columns: the kernel restarts at every group (see `run_segmented`), giving
        what ``.over(by)`` gives, in one expression call instead of one per group.
    share
        A hashable key naming the kernel and its parameters (e.g. ``("bollinger", 20)``):
        expressions with the same key on the same input reuse one result within a query
        instead of each running the kernel (see `_shared_run`).

    Notes
    -----
    Built on ``pl.map_batches`` (not elementwise), so under ``.over("symbol")`` the kernel
    runs once per group and recursion never crosses symbols; on a LazyFrame it runs at
    ``collect``.
    """
    exprs = [to_expr(i) for i in inputs]
    keys = by_columns(by)
    n_in = len(exprs)

    def run(series: Sequence[pl.Series]) -> pl.Series:
        key_series = list(series[n_in:])
        inputs_ident = None if share is None else series_ident(series[:n_in])
        ident = None if inputs_ident is None else (share, inputs_ident)
        hold = list(series[:n_in])  # kept with a shared result: see `_shared_run`

        if key_series:
            n_out = None if outputs is None else len(outputs)
            # the inputs go as Series: run_segmented slices their chunks without a copy
            parts = run_segmented(
                kernel, list(series[:n_in]), key_series, n_outputs=n_out, share=ident, hold=hold
            )
            if outputs is None:
                return parts[0]
            return pl.DataFrame(
                {name: c.alias(name) for name, c in zip(outputs, parts, strict=True)}
            ).to_struct("")
        arrays = [_to_numpy(s) for s in series[:n_in]]
        if ident is None:
            return _as_series(kernel(*arrays), outputs)
        res = _shared_run(ident, hold, lambda: kernel(*arrays))
        return _shared_series(res, outputs)

    dtype: Any = (
        pl.Float64 if outputs is None else pl.Struct({name: pl.Float64 for name in outputs})
    )
    return pl.map_batches([*exprs, *(pl.col(k) for k in keys)], run, return_dtype=dtype)


def kernel_expr_nan(
    kernel: Callable[..., KernelResult],
    inputs: Sequence[ColumnLike],
    *,
    null_rows: int,
    by: By = None,
) -> pl.Expr:
    """Like `_common.kernel_expr` for one output, but only the first ``null_rows`` rows (the
    warm-up) become null: a NaN further on is a genuine 0/0, which `ta` keeps as NaN. With
    ``by``, the kernel and the warm-up restart at every group (`_common.run_segmented`)."""
    exprs = [to_expr(i) for i in inputs]
    keys = by_columns(by)
    n_in = len(exprs)

    def run(series: Sequence[pl.Series]) -> pl.Series:
        if keys:
            return run_segmented(
                kernel, list(series[:n_in]), series[n_in:], null_rows=null_rows, nan_to_null=False
            )[0]
        arrays = [np.ascontiguousarray(s.cast(pl.Float64).to_numpy()) for s in series[:n_in]]
        res = np.asarray(kernel(*arrays), dtype=np.float64)
        out = pl.Series("", res, dtype=pl.Float64)
        k = min(null_rows, out.len())
        if k == 0:
            return out
        return pl.concat([pl.Series("", [None] * k, dtype=pl.Float64), out.slice(k)])

    return pl.map_batches([*exprs, *(pl.col(k) for k in keys)], run, return_dtype=pl.Float64)


def gt(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """``a > b`` as pandas/numpy compare: False where either side is NaN or null (Polars
    orders NaN above every number, so its ``NaN > x`` is True)."""
    return ((a > b) & a.is_not_nan() & b.is_not_nan()).fill_null(False)


def lt(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """``a < b`` as pandas/numpy compare: False where either side is NaN or null."""
    return ((a < b) & a.is_not_nan() & b.is_not_nan()).fill_null(False)
