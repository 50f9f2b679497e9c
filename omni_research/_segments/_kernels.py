"""Compiled passes over contiguous segments of rows (numba, imported on first use).

The Python drivers in ``_runs`` and ``_bars`` import this module inside their functions,
so ``import omni_research`` (and ``import omni_research._segments``) never loads numba.
Every kernel releases the GIL (``nogil``): the drivers run row ranges in threads.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B1 = npt.NDArray[np.bool_]
U = npt.NDArray[Any]  # unsigned codes: string views, category codes, run ids

_JIT = numba.njit(cache=True, nogil=True)

# how a bar is cut: bucket keys given by Polars, every n trades, volume or dollar
# thresholds, fixed-length time buckets computed in the loop
MODE_KEYS, MODE_TICK, MODE_VOLUME, MODE_DOLLAR, MODE_TIME = 0, 1, 2, 3, 4


@_JIT
def bucket_keys(
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
def runs(codes: U, width: int) -> I64:  # pragma: no cover
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


@_JIT
def cuts(
    mode: int, keys_in: I64, ts: I64, starts: I64, step: int, offset: int, cap: int
) -> tuple[int, I64, I64]:  # pragma: no cover
    """The first row and key of every bar, series by series (``starts``: first rows), row
    by row: tick bars, calendar buckets and sparse time bars (``_bars.time_cuts`` does the
    dense ones; ``threshold_bars`` volume and dollar bars).

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
def reduce_trades(
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
def threshold_bars(
    mode: int, starts: I64, price: F64, size: F64, side: U, buy_mask: np.uint64,
    buy_val: np.uint64, sell_mask: np.uint64, sell_val: np.uint64, threshold: float,
    first: I64, key: I64, out: F64,
) -> int:  # pragma: no cover  # fmt: skip
    """Volume or dollar bars in one pass: the cut of ``cuts`` and the sums of
    ``reduce_trades`` together, so the running total's chain of additions (one per row,
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
def reduce_ohlcv(
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
def reduce_ohlcv_ranges(
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


@_JIT
def descents(ts: I64) -> I64:  # pragma: no cover
    """Rows (from 1) whose time is before the previous row's; block-vectorised as
    ``runs``."""
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


@_JIT
def group_order(codes: I64, n_codes: int) -> tuple[I64, I64]:  # pragma: no cover
    """The stable permutation listing each group's rows together, groups in order of first
    appearance (what a hash group-by with ``maintain_order`` lists), and the group sizes in
    that order; a counting sort of the integer ``codes`` (``0 <= code < n_codes``), O(n)."""
    n = codes.shape[0]
    counts = np.zeros(n_codes, np.int64)
    rank = np.full(n_codes, -1, np.int64)
    groups = 0
    for i in range(n):
        c = codes[i]
        if rank[c] < 0:
            rank[c] = groups
            groups += 1
        counts[c] += 1
    sizes = np.empty(groups, np.int64)
    for c in range(n_codes):
        if rank[c] >= 0:
            sizes[rank[c]] = counts[c]
    pos = np.empty(groups, np.int64)
    total = 0
    for g in range(groups):
        pos[g] = total
        total += sizes[g]
    order = np.empty(n, np.int64)
    for i in range(n):
        g = rank[codes[i]]
        order[pos[g]] = i
        pos[g] += 1
    return order, sizes
