"""Eager fast path of the bar builders: compiled passes over contiguous segments.

A hash ``group_by`` on (symbol, bucket) costs several times what pandas' resample does on
one series. For an in-memory frame whose rows are grouped by symbol and in time order
(the catalog's order) every bar is a contiguous run of rows, so the work splits into:

1. series runs, from the Arrow string views of the symbol column (``_string_views``,
   ``_runs``): no string is compared unless two views of a long string differ;
2. bar cuts: binary search of bucket edges for time bars (``_time_cuts``), or row by row
   (``_cuts``) for tick bars, calendar buckets and sparse data;
3. per-bar sums (``_reduce_trades``, ``_reduce_ohlcv_ranges``), with the buy/sell split
   read from the side column's views (``_side_codes``); volume and dollar bars cut and
   sum in one fused pass (``_threshold_bars``).

Row-range passes run in threads (the kernels release the GIL) for large inputs. The lazy
path (hash group-by, streaming-friendly) gives the same bars; tests compare the two. Each
entry point returns None when its preconditions do not hold (nulls, time going back
inside a series, symbols interleaved), and the caller takes the lazy path. numba is
imported with this module, which the bar builders import only when they run.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
import polars as pl

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B1 = npt.NDArray[np.bool_]
U = npt.NDArray[Any]  # unsigned codes: string views, category codes, run ids

_JIT = numba.njit(cache=True, nogil=True)

MODE_KEYS, MODE_TICK, MODE_VOLUME, MODE_DOLLAR, MODE_TIME = 0, 1, 2, 3, 4
_MONDAY_US = 4 * 86_400_000_000  # 1970-01-01 was a Thursday; weeks start on Monday
_WORKERS = min(os.cpu_count() or 1, 4)
_THREAD_ROWS = 1_000_000  # below this, threads cost more than they save


@_JIT
def _keys(
    mode: int, keys_in: I64, ts: I64, starts: B1, step: int, offset: int
) -> tuple[I64, int]:  # pragma: no cover
    """Per-row bucket start and the number of bars (resampling, row by row).

    ``MODE_TIME``: ``ts`` floored to ``step`` µs from ``offset``, as ``dt.truncate`` gives
    for fixed-length timeframes; ``MODE_KEYS``: ``keys_in``, truncated by Polars.
    """
    n = ts.shape[0]
    key = np.empty(n, np.int64)
    bars = 0
    k = lo = hi = 0
    for i in range(n):
        if mode == MODE_KEYS:
            k = keys_in[i]
        elif i == 0 or starts[i] or ts[i] >= hi or ts[i] < lo:
            # sorted times stay in the same bucket for many rows: divide only on leaving it
            t = ts[i] - offset
            k = t - t % step + offset
            lo = k
            hi = k + step
        key[i] = k
        if i == 0 or starts[i] or k != key[i - 1]:
            bars += 1
    return key, bars


@_JIT
def _runs(codes: U, width: int) -> I64:  # pragma: no cover
    """Rows (from 1) that differ from the row before; a row is ``width`` consecutive
    words of the flat ``codes``.

    Mostly one branch-free (vectorised) pass: a block of rows is only searched when it
    holds a change.
    """
    cur = codes[width:]
    prev = codes[: codes.shape[0] - width]
    n = cur.shape[0]
    out = np.empty(16, np.int64)
    m = 0
    block = 2048  # a multiple of any width used
    for base in range(0, n, block):
        size = min(block, n - base)
        c = cur[base : base + size]
        p = prev[base : base + size]
        changed = 0
        for q in range(size):
            changed += c[q] != p[q]
        if changed:
            for q in range(size):
                if c[q] != p[q]:
                    row = (base + q) // width + 1
                    if m == 0 or row != out[m - 1]:
                        if m == out.shape[0]:
                            grown = np.empty(2 * m, np.int64)
                            grown[:m] = out
                            out = grown
                        out[m] = row
                        m += 1
    return out[:m]


def _parts(n: int) -> list[int]:
    """Row boundaries splitting ``n`` rows into one part per worker thread (the kernels
    release the GIL); one part for small inputs, where threads cost more than they save."""
    workers = _WORKERS if n >= _THREAD_ROWS else 1
    return [n * w // workers for w in range(workers + 1)]


def _in_threads(calls: list[Callable[[], Any]]) -> list[Any]:
    if len(calls) == 1:
        return [calls[0]()]
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def _run_starts(codes: U, width: int) -> I64:
    """First rows of the runs of equal rows (row 0 included), in threads over row ranges."""
    n = codes.shape[0] // width
    bounds = _parts(n)

    def part(lo: int, hi: int) -> Callable[[], I64]:
        # from the row before ``lo``, so a change at ``lo`` itself is seen
        start = max(lo - 1, 0)
        return lambda: _runs(codes[start * width : hi * width], width) + start

    found = _in_threads([part(lo, hi) for lo, hi in itertools.pairwise(bounds)])
    return np.concatenate([np.zeros(1, np.int64), *found])


@_JIT
def _cuts(
    mode: int, keys_in: I64, ts: I64, starts: I64, step: int, offset: int, cap: int
) -> tuple[int, I64, I64]:  # pragma: no cover
    """The first row and key of every bar, series by series (``starts``: first rows), row
    by row: tick bars, calendar buckets and sparse time bars (``_time_cuts`` does the
    dense ones; ``_threshold_bars`` volume and dollar bars).

    The key is the bucket start (time modes) or the bar id within the series,
    ``row index // step`` (tick bars). Returns the bar count, or -1 when time goes back
    inside a series of time bars (a bucket could come back: the caller takes the lazy
    path), or -2 when more than ``cap`` bars are needed.
    """
    n = ts.shape[0]
    first = np.empty(cap, np.int64)
    key = np.empty(cap, np.int64)
    j = 0
    n_series = starts.shape[0]
    for g in range(n_series):
        a = starts[g]
        b = starts[g + 1] if g + 1 < n_series else n
        if mode == MODE_TICK:
            for i in range(a, b, step):
                if j == cap:
                    return -2, first, key
                first[j] = i
                key[j] = (i - a) // step
                j += 1
            continue
        prev_t = ts[a]
        k = 0
        lo_t = hi_t = 0
        for i in range(a, b):
            new = i == a
            t = ts[i]
            if t < prev_t:
                return -1, first, key
            prev_t = t
            if mode == MODE_KEYS:
                new = new or keys_in[i] != k
                k = keys_in[i]
            elif new or t >= hi_t or t < lo_t:
                shifted = t - offset
                k = shifted - shifted % step + offset
                lo_t = k
                hi_t = k + step
                new = True
            if new:
                if j == cap:
                    return -2, first, key
                first[j] = i
                key[j] = k
                j += 1
    return j, first, key


@_JIT
def _reduce_trades(
    first: I64, end: int, price: F64, size: F64, side: U, buy_mask: np.uint64,
    buy_val: np.uint64, sell_mask: np.uint64, sell_val: np.uint64, out: F64,
) -> None:  # pragma: no cover  # fmt: skip
    """Open, high, low, close, volume, turnover, buy and sell volume of each bar, a bar
    being the rows from ``first[j]`` to the next bar's first row (``end`` after the
    last bar), written to ``out``.

    A row is a buy when ``side & buy_mask == buy_val``, a sell when ``side & sell_mask
    == sell_val``: arithmetic rather than a branch, as sides alternate at random.
    """
    m = first.shape[0]
    for j in range(m):
        a = first[j]
        b = first[j + 1] if j + 1 < m else end
        hp = lp = price[a]
        v = tv = bv = sv = 0.0
        for i in range(a, b):
            p = price[i]
            s = size[i]
            hp = max(hp, p)
            lp = min(lp, p)
            v += s
            tv += p * s
            code = side[i]
            bv += s * ((code & buy_mask) == buy_val)
            sv += s * ((code & sell_mask) == sell_val)
        out[j, 0] = price[a]
        out[j, 1] = hp
        out[j, 2] = lp
        out[j, 3] = price[b - 1]
        out[j, 4] = v
        out[j, 5] = tv
        out[j, 6] = bv
        out[j, 7] = sv


@_JIT
def _threshold_bars(
    mode: int, starts: I64, price: F64, size: F64, side: U, buy_mask: np.uint64,
    buy_val: np.uint64, sell_mask: np.uint64, sell_val: np.uint64, threshold: float,
    first: I64, key: I64, out: F64,
) -> int:  # pragma: no cover  # fmt: skip
    """Volume or dollar bars in one pass: the cut of ``_cuts`` and the sums of
    ``_reduce_trades`` together, so the running total's chain of additions (one per row,
    in order, to match the lazy path's ``cum_sum`` to the bit) overlaps the streaming of
    the rows. Writes ``first``, ``key`` and ``out``; returns the bar count, or -2 when
    more bars are needed than they hold.
    """
    n = price.shape[0]
    cap = first.shape[0]
    n_series = starts.shape[0]
    j = -1
    hp = lp = v = tv = bv = sv = 0.0
    for g in range(n_series):
        a = starts[g]
        b = starts[g + 1] if g + 1 < n_series else n
        cum = 0.0
        k = 0
        safe_lo = 1.0
        safe_hi = 0.0
        for i in range(a, b):
            p = price[i]
            s = size[i]
            x = s if mode == MODE_VOLUME else p * s
            cum = cum + x
            before = cum - x  # the lazy path's cum_sum(x) - x, to the bit
            new = i == a
            # most rows lie well inside the current bar's window: no division or floor
            if new or not (safe_lo <= before < safe_hi):
                kk = int(np.floor(before * (1.0 / threshold)))
                new = new or kk != k
                k = kk
                edge_lo = k * threshold
                edge_hi = (k + 1) * threshold
                safe_lo = edge_lo + (abs(edge_lo) + threshold) * 1e-9
                safe_hi = edge_hi - (abs(edge_hi) + threshold) * 1e-9
                if new:
                    if j >= 0:
                        out[j, 1] = hp
                        out[j, 2] = lp
                        out[j, 3] = price[i - 1]
                        out[j, 4] = v
                        out[j, 5] = tv
                        out[j, 6] = bv
                        out[j, 7] = sv
                    j += 1
                    if j == cap:
                        return -2
                    first[j] = i
                    key[j] = k
                    out[j, 0] = p
                    hp = lp = p
                    v = tv = bv = sv = 0.0
            hp = max(hp, p)
            lp = min(lp, p)
            v += s
            tv += p * s
            code = side[i]
            bv += s * ((code & buy_mask) == buy_val)
            sv += s * ((code & sell_mask) == sell_val)
    if j >= 0:
        out[j, 1] = hp
        out[j, 2] = lp
        out[j, 3] = price[n - 1]
        out[j, 4] = v
        out[j, 5] = tv
        out[j, 6] = bv
        out[j, 7] = sv
    return j + 1


@_JIT
def _reduce_ohlcv(
    key: I64, m: int, starts: B1, o: F64, h: F64, lo: F64, c: F64, v: F64, t: F64, n_tr: I64
) -> tuple[I64, I64, F64, F64, F64, F64, F64, F64, I64]:  # pragma: no cover
    n = key.shape[0]
    first = np.empty(m, np.int64)
    last = np.empty(m, np.int64)
    oo = np.empty(m)
    hh = np.empty(m)
    ll = np.empty(m)
    cc = np.empty(m)
    vv = np.empty(m)
    tt = np.empty(m)
    kk = np.empty(m, np.int64)
    j = -1
    hp = lp = sv = st = 0.0
    sk = 0
    for i in range(n):
        if i == 0 or starts[i] or key[i] != key[i - 1]:
            if j >= 0:
                hh[j] = hp
                ll[j] = lp
                cc[j] = c[i - 1]
                last[j] = i - 1
                vv[j] = sv
                tt[j] = st
                kk[j] = sk
            j += 1
            first[j] = i
            oo[j] = o[i]
            hp = h[i]
            lp = lo[i]
            sv = st = 0.0
            sk = 0
        hp = max(hp, h[i])
        lp = min(lp, lo[i])
        sv += v[i]
        st += t[i]
        sk += n_tr[i]
    if j >= 0:
        hh[j] = hp
        ll[j] = lp
        cc[j] = c[n - 1]
        last[j] = n - 1
        vv[j] = sv
        tt[j] = st
        kk[j] = sk
    return first, last, oo, hh, ll, cc, vv, tt, kk


@_JIT
def _reduce_ohlcv_ranges(
    first: I64, o: F64, h: F64, lo: F64, c: F64, v: F64, t: F64, n_tr: I64
) -> tuple[F64, F64, F64, F64, F64, F64, I64]:  # pragma: no cover
    """OHLCV of each higher bar, a bar being the rows from ``first[j]`` to the next one's."""
    n = o.shape[0]
    m = first.shape[0]
    oo = np.empty(m)
    hh = np.empty(m)
    ll = np.empty(m)
    cc = np.empty(m)
    vv = np.empty(m)
    tt = np.empty(m)
    kk = np.empty(m, np.int64)
    for j in range(m):
        a = first[j]
        b = first[j + 1] if j + 1 < m else n
        hp = h[a]
        lp = lo[a]
        sv = st = 0.0
        sk = 0
        for i in range(a, b):
            hp = max(hp, h[i])
            lp = min(lp, lo[i])
            sv += v[i]
            st += t[i]
            sk += n_tr[i]
        oo[j] = o[a]
        hh[j] = hp
        ll[j] = lp
        cc[j] = c[b - 1]
        vv[j] = sv
        tt[j] = st
        kk[j] = sk
    return oo, hh, ll, cc, vv, tt, kk


def _time_mode(every: str) -> tuple[int, int, int]:
    """(mode, step µs, offset µs) for a time bucket: computed in the loop for minutes,
    hours, one day and one week; anything else comes from Polars' ``dt.truncate``."""
    from omni_research._time import timeframe_duration_us

    unit = every[-1:]
    if unit in ("m", "h") or every in ("1d", "1w"):
        return MODE_TIME, timeframe_duration_us(every), _MONDAY_US if unit == "w" else 0
    return MODE_KEYS, 1, 0


_BUY_3 = 3 | int.from_bytes(b"buy", "little") << 32  # length 3, then the inline bytes
_SELL_4 = 4 | int.from_bytes(b"sell", "little") << 32
_LOW_7_BYTES = (1 << 56) - 1
_ALL = (1 << 64) - 1


def _string_views(col: pl.Series) -> npt.NDArray[np.uint64] | None:
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


@_JIT
def _descents(ts: I64) -> I64:  # pragma: no cover
    """Rows (from 1) whose time is before the previous row's; block-vectorised as
    ``_runs``."""
    cur = ts[1:]
    prev = ts[:-1]
    n = cur.shape[0]
    out = np.empty(16, np.int64)
    m = 0
    block = 2048
    for base in range(0, n, block):
        size = min(block, n - base)
        c = cur[base : base + size]
        p = prev[base : base + size]
        back = 0
        for q in range(size):
            back += c[q] < p[q]
        if back:
            for q in range(size):
                if c[q] < p[q]:
                    if m == out.shape[0]:
                        grown = np.empty(2 * m, np.int64)
                        grown[:m] = out
                        out = grown
                    out[m] = base + q + 1
                    m += 1
    return out[:m]


def _time_cuts(ts: I64, starts: I64, lasts: I64, step: int, offset: int) -> tuple[I64, I64] | None:
    """First row and bucket start of every time bar, by binary search of the bucket edges
    in each series (time sorted within a series is checked first, in one vectorised
    pass); None when time goes back inside a series, or when the edges far outnumber the
    rows (sparse trades: the row-by-row cut pass is then cheaper)."""
    bounds = _parts(ts.shape[0])

    def part(lo: int, hi: int) -> Callable[[], I64]:
        start = max(lo - 1, 0)
        return lambda: _descents(ts[start:hi]) + start

    back = np.concatenate(_in_threads([part(lo, hi) for lo, hi in itertools.pairwise(bounds)]))
    if len(back) and not np.isin(back, starts).all():
        return None
    lo_edge = ts[starts] - offset
    lo_edge = lo_edge - lo_edge % step + offset
    if int(((ts[lasts] - lo_edge) // step + 1).sum()) > ts.shape[0] // 4:
        return None
    firsts = []
    for a, b, edge in zip(starts.tolist(), lasts.tolist(), lo_edge.tolist(), strict=True):
        edges = np.arange(edge, int(ts[b]) + 1, step)
        rows = np.searchsorted(ts[a : b + 1], edges) + a
        # an empty bucket gives the same row as the next one: keep each row once
        keep = np.r_[rows[1:] != rows[:-1], True] & (rows <= b)
        firsts.append(rows[keep])
    first = np.concatenate(firsts).astype(np.int64)
    shifted = ts[first] - offset
    return first, shifted - shifted % step + offset


def _side_codes(col: pl.Series) -> tuple[U, int, int, int, int]:
    """(array, buy mask, buy value, sell mask, sell value): a row is a buy when
    ``array & buy_mask == buy_value``; exact, not a guess on the first byte."""
    views = _string_views(col)
    if views is not None:
        return views[:, 0], _LOW_7_BYTES, _BUY_3, _ALL, _SELL_4
    if (col.dtype == pl.Categorical or isinstance(col.dtype, pl.Enum)) and not col.null_count():
        buy, sell = pl.Series(["buy", "sell"]).cast(col.dtype, strict=False).to_physical()
        never = (0, 1)  # x & 0 == 1 never holds: the category is absent
        b = (_ALL, int(buy)) if buy is not None else never
        s = (_ALL, int(sell)) if sell is not None else never
        return col.to_physical().to_numpy(), b[0], b[1], s[0], s[1]
    code = (
        pl.select(
            (col == "buy").fill_null(False).cast(pl.UInt8)
            + 2 * (col == "sell").fill_null(False).cast(pl.UInt8)
        )
        .to_series()
        .to_numpy()
    )
    return code, _ALL, 1, _ALL, 2


def _floats(df: pl.DataFrame, name: str) -> F64 | None:
    col = df.get_column(name)
    if col.null_count():
        return None
    return np.ascontiguousarray(col.cast(pl.Float64).to_numpy(), dtype=np.float64)


def _series_first_rows(col: pl.Series) -> I64 | None:
    """The first row of each run of equal values of a column without nulls, or None when
    a value comes back after another (symbols interleaved) or the column holds nulls.

    For strings, runs are found on the 16-byte views (see ``_string_views``); a change of
    view is confirmed on the text, since a long string stored twice has two views.
    """
    if col.null_count():
        return None
    views = _string_views(col)
    if views is not None:
        firsts = _run_starts(views.reshape(-1), 2)
        if len(firsts) > 1:
            cut = pl.Series(firsts[1:])
            if (col.gather(cut) == col.gather(cut - 1)).any():
                firsts = _run_starts(col.rle_id().to_numpy(), 1)
    elif col.dtype == pl.Categorical or isinstance(col.dtype, pl.Enum) or col.dtype.is_integer():
        firsts = _run_starts(col.to_physical().to_numpy(), 1)
    else:
        firsts = _run_starts(col.rle_id().to_numpy(), 1)
    if len(firsts) > 1 and col.gather(firsts).n_unique() != len(firsts):
        return None  # a series appears in several runs: rows of symbols interleaved
    return firsts


def trade_segments(
    df: pl.DataFrame, *, by: str, bucket: str | None, threshold: tuple[int, float] | None
) -> pl.DataFrame | None:
    """Bars of trades: time buckets (``bucket``, a truncate ``every``) or threshold bars
    (``threshold`` = (MODE_TICK | MODE_VOLUME | MODE_DOLLAR, size)).

    Returns ``by``, ``_key`` (bucket start in µs, or bar id), ``_first_ts``, ``_last_ts``
    and the bar statistics, in input order; None when the fast path does not apply.
    """
    n = df.height
    if n == 0 or df.get_column("timestamp").null_count():
        return None
    starts = _series_first_rows(df.get_column(by))
    price, size = _floats(df, "price"), _floats(df, "size")
    if starts is None or price is None or size is None:
        return None
    ts = np.ascontiguousarray(df.get_column("timestamp").to_physical().to_numpy(), np.int64)
    lasts = np.r_[starts[1:], n] - 1
    keys_in = np.empty(0, np.int64)
    limit = 0.0
    offset = 0
    # a bound of the bar count sizes the outputs; when it proves short, the cut pass runs
    # again with room for one bar per row
    if bucket is not None:
        mode, step, offset = _time_mode(bucket)
        if mode == MODE_KEYS:
            keys_in = np.ascontiguousarray(
                df.get_column("timestamp").dt.truncate(bucket).to_physical().to_numpy(), np.int64
            )
            bound = 1024
        else:
            bound = int(np.maximum((ts[lasts] - ts[starts]) // step + 2, 1).sum())
    else:
        assert threshold is not None
        mode, limit = threshold[0], float(threshold[1])
        step = int(limit) if mode == MODE_TICK else 1
        if mode == MODE_TICK:
            bound = int((-(-(lasts - starts + 1) // step)).sum())
        else:  # the total per series (np.dot: no temporary) over the threshold, plus slack
            totals = [
                size[a : b + 1].sum()
                if mode == MODE_VOLUME
                else np.dot(price[a : b + 1], size[a : b + 1])
                for a, b in zip(starts, lasts, strict=True)
            ]
            bound = int(
                np.nan_to_num(np.floor(np.array(totals) / limit), posinf=n).sum()
            ) + 2 * len(starts)
    cap = max(16, min(bound, n))
    side, buy_mask, buy_val, sell_mask, sell_val = _side_codes(df.get_column("side"))
    marks = np.uint64(buy_mask), np.uint64(buy_val), np.uint64(sell_mask), np.uint64(sell_val)
    if mode in (MODE_VOLUME, MODE_DOLLAR):
        for size_out in (cap, n) if cap < n else (n,):
            first, key = np.empty(size_out, np.int64), np.empty(size_out, np.int64)
            stats = np.empty((size_out, 8))
            args = (mode, starts, price, size, side, *marks, limit, first, key, stats)
            m = _threshold_bars(*args)
            if m >= 0:
                break
        first, key, stats = first[:m], key[:m], stats[:m]
    else:
        timed = _time_cuts(ts, starts, lasts, step, offset) if mode == MODE_TIME else None
        if timed is not None:
            first, key = timed
            m = len(first)
        else:
            m, first, key = _cuts(mode, keys_in, ts, starts, step, offset, cap)
            if m == -2 and cap < n:
                m, first, key = _cuts(mode, keys_in, ts, starts, step, offset, n)
            if m < 0:
                return None
        first, key = first[:m], key[:m]
        stats = np.empty((m, 8))
        # bars split into parts of about equal rows, one thread each
        cuts = np.r_[0, np.searchsorted(first, _parts(n)[1:-1]), m]

        def part(a: int, b: int) -> Callable[[], None]:
            end = int(first[b]) if b < m else n
            return lambda: _reduce_trades(first[a:b], end, price, size, side, *marks, stats[a:b])

        _in_threads([part(a, b) for a, b in itertools.pairwise(cuts.tolist()) if b > a])
    last = np.r_[first[1:], n] - 1
    vol, turn = stats[:, 4], stats[:, 5]
    return (
        df.select(by)
        .gather(first)
        .with_columns(
            pl.Series("_key", key),
            pl.Series("_first_ts", ts[first]),
            pl.Series("_last_ts", ts[last]),
            pl.Series("open", stats[:, 0]),
            pl.Series("high", stats[:, 1]),
            pl.Series("low", stats[:, 2]),
            pl.Series("close", stats[:, 3]),
            pl.Series("volume", vol),
            pl.Series("turnover", turn),
            pl.Series("trade_count", last - first + 1),
            pl.Series("vwap", turn / vol),
            pl.Series("buy_volume", stats[:, 6]),
            pl.Series("sell_volume", stats[:, 7]),
        )
    )


def ohlcv_segments(df: pl.DataFrame, *, by: str, every: str) -> pl.DataFrame | None:
    """Resampled OHLCV over contiguous (series, bucket) runs, or None.

    Returns ``by``, ``_key`` (bucket start, µs), ``_last_ts``, ``open, high, low, close,
    volume`` and, when the input has them, ``turnover`` and ``trade_count``.
    """
    n = df.height
    if n == 0 or df.get_column("timestamp").null_count():
        return None
    first_rows = _series_first_rows(df.get_column(by))
    arrays = [_floats(df, c) for c in ("open", "high", "low", "close", "volume")]
    has_turnover, has_count = "turnover" in df.columns, "trade_count" in df.columns
    turnover = _floats(df, "turnover") if has_turnover else np.zeros(df.height)
    count_col = df.get_column("trade_count") if has_count else None
    if first_rows is None or turnover is None or any(a is None for a in arrays):
        return None
    if count_col is not None and count_col.null_count():
        return None
    counts = (
        np.ascontiguousarray(count_col.cast(pl.Int64).to_numpy(), np.int64)
        if count_col is not None
        else np.zeros(df.height, np.int64)
    )
    ts = np.ascontiguousarray(df.get_column("timestamp").to_physical().to_numpy(), np.int64)
    mode, step, offset = _time_mode(every)
    keys_in = np.empty(0, np.int64)
    if mode == MODE_KEYS:
        keys_in = np.ascontiguousarray(
            df.get_column("timestamp").dt.truncate(every).to_physical().to_numpy(), np.int64
        )
    o, h, lo, c, v = (a for a in arrays if a is not None)
    lasts = np.r_[first_rows[1:], n] - 1
    timed = _time_cuts(ts, first_rows, lasts, step, offset) if mode == MODE_TIME else None
    if timed is not None:  # bucket edges by binary search, then one pass per bar
        first, key = timed
        last = np.r_[first[1:], n] - 1
        oo, hh, ll, cc, vv, tt, kk = _reduce_ohlcv_ranges(first, o, h, lo, c, v, turnover, counts)
    else:  # row by row: sparse bars, calendar buckets, or time going back (then None)
        back = _descents(ts)
        if len(back) and not np.isin(back, first_rows).all():
            return None
        starts = np.zeros(n, np.bool_)
        starts[first_rows] = True
        row_key, m = _keys(mode, keys_in, ts, starts, step, offset)
        first, last, oo, hh, ll, cc, vv, tt, kk = _reduce_ohlcv(
            row_key, m, starts, o, h, lo, c, v, turnover, counts
        )
        key = row_key[first]
    out = (
        df.select(by)
        .gather(first)
        .with_columns(
            pl.Series("_key", key),
            pl.Series("_last_ts", ts[last]),
            pl.Series("open", oo),
            pl.Series("high", hh),
            pl.Series("low", ll),
            pl.Series("close", cc),
            pl.Series("volume", vv),
        )
    )
    if has_turnover:
        out = out.with_columns(pl.Series("turnover", tt))
    if has_count:
        out = out.with_columns(pl.Series("trade_count", kk))
    return out
