"""Fixed-window statistics with pandas' NaN rules: each window re-summed or re-centred
often enough that sliding sums cannot drift (pandas uses compensated sums; `ta` often sums
each window afresh with ``rolling.apply``). Polars' sliding sums carry rounding residue
(-1e-9 after large values): a square root turns it into NaN where the true sum is 0, a
ratio of zero sums into +-inf; these kernels return an exact 0 for all-zero windows."""

from __future__ import annotations

import numpy as np

from omni_research.indicators._kernels.jit import F64, JIT


@JIT
def rolling_mean(x: F64, window: int) -> F64:  # pragma: no cover
    """pandas' ``rolling(window).mean()`` (NaN unless the window holds ``window`` values).

    A running sum (add the new value, drop the old: TA-Lib's method, one dependent add per
    row) re-summed from scratch every 4096 rows, so rounding cannot drift over long series
    (pandas uses a compensated sum; both stay within ~1e-14 of the exact mean).
    """
    n = x.shape[0]
    # every row from ``window - 1`` on is written below: NaN-filling only the warm-up spares
    # a pass over the whole output
    out = np.empty(n)
    out[: min(window - 1, n)] = np.nan
    s = 0.0
    nans = 0
    for i in range(n):
        v = x[i]
        if np.isnan(v):
            nans += 1
        else:
            s += v
        if i >= window:
            old = x[i - window]
            if np.isnan(old):
                nans -= 1
            else:
                s -= old
        if i >= window - 1:
            if (i & 4095) == 0:
                s = 0.0
                for j in range(i - window + 1, i + 1):
                    if not np.isnan(x[j]):
                        s += x[j]
            out[i] = s / window if nans == 0 else np.nan
    return out


@JIT
def pandas_rolling_mean(x: F64, window: int, min_periods: int) -> F64:  # pragma: no cover
    """pandas' ``rolling(window, min_periods).mean()``, step for step (Kahan-compensated
    add and remove, a window of identical values returns that value, a mean of all
    non-negative values is never below 0): bit-identical to pandas, so comparisons against
    it (Keltner's band flags) decide exactly as `ta` does, ties included."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    nobs = 0
    neg_ct = 0
    sum_x = 0.0
    comp_add = 0.0
    comp_rem = 0.0
    same = 0
    prev = np.nan
    for i in range(n):
        if i == 0:
            prev = x[0]
        else:
            old_i = i - window
            if old_i >= 0:
                val = x[old_i]
                if val == val:
                    nobs -= 1
                    y = -val - comp_rem
                    t = sum_x + y
                    comp_rem = t - sum_x - y
                    sum_x = t
                    if np.signbit(val):
                        neg_ct -= 1
        val = x[i]
        if val == val:
            nobs += 1
            y = val - comp_add
            t = sum_x + y
            comp_add = t - sum_x - y
            sum_x = t
            if np.signbit(val):
                neg_ct += 1
            if val == prev:
                same += 1
            else:
                same = 1
            prev = val
        if nobs >= min_periods and nobs > 0:
            res = sum_x / nobs
            if same >= nobs:
                res = prev
            elif (neg_ct == 0 and res < 0) or (neg_ct == nobs and res > 0):
                res = 0.0
            out[i] = res
    return out


def has_nan(*arrays: F64) -> bool:
    # numpy's vectorised isnan beats a numba early-exit loop by ~6x here
    return any(bool(np.isnan(x).any()) for x in arrays)


@JIT
def _rolling_mean_std_nan(x: F64, window: int) -> F64:  # pragma: no cover
    """Rolling mean and population std (ddof=0) of ``window`` rows: a (2, n) array, NaN
    before row ``w-1`` and for windows holding a NaN.

    One pass of sliding sums of deviations from a reference, re-centred and re-summed
    (two-pass, exact) every ``window`` rows, so neither drift (pandas' running sums drift
    by 1e-4 over 1,000,000 rows) nor cancellation (large prices, small spread) builds up.
    A window of identical values gives std exactly 0 and the value as mean, as pandas does.
    """
    n = x.shape[0]
    out = np.full((2, n), np.nan)
    if window < 1:
        return out
    ref = 0.0
    s1 = 0.0
    s2 = 0.0
    nans = 0
    same = 0  # length of the run of identical values ending at row i
    # re-centre at rows w-1, 2w-1, ... with a countdown (a per-row modulo costs ~8 ms/1M)
    countdown = window
    for i in range(n):
        v = x[i]
        same = same + 1 if i > 0 and v == x[i - 1] else 1
        countdown -= 1
        if countdown == 0:
            countdown = window
        if i >= window - 1 and countdown == window:
            # re-centre on this window's mean and re-sum from scratch
            nans = 0
            acc = 0.0
            for j in range(i - window + 1, i + 1):
                if np.isnan(x[j]):
                    nans += 1
                else:
                    acc += x[j]
            ref = acc / window if nans == 0 else 0.0
            s1 = 0.0
            s2 = 0.0
            for j in range(i - window + 1, i + 1):
                if not np.isnan(x[j]):
                    d = x[j] - ref
                    s1 += d
                    s2 += d * d
        else:
            if np.isnan(v):
                nans += 1
            else:
                d = v - ref
                s1 += d
                s2 += d * d
            if i >= window:
                o = x[i - window]
                if np.isnan(o):
                    nans -= 1
                else:
                    d = o - ref
                    s1 -= d
                    s2 -= d * d
        if i >= window - 1 and nans == 0:
            if same >= window:
                out[0, i] = v
                out[1, i] = 0.0
            else:
                m = s1 / window
                var = s2 / window - m * m
                out[0, i] = ref + m
                out[1, i] = np.sqrt(var) if var > 0 else 0.0
    return out


@JIT
def _rolling_mean_std_fast(x: F64, window: int) -> F64:  # pragma: no cover
    n = x.shape[0]
    # every row from ``window - 1`` on is written below: NaN-filling only the warm-up spares
    # a pass over the whole output
    out = np.empty((2, n))
    out[:, : min(window - 1, n)] = np.nan
    inv = 1.0 / window
    ref = 0.0
    s1 = 0.0
    s2 = 0.0
    same = 0
    countdown = window
    for i in range(n):
        v = x[i]
        same = same + 1 if i > 0 and v == x[i - 1] else 1
        countdown -= 1
        if countdown == 0:
            countdown = window
        if i >= window - 1 and countdown == window:
            acc = 0.0
            for j in range(i - window + 1, i + 1):
                acc += x[j]
            ref = acc * inv
            s1 = 0.0
            s2 = 0.0
            for j in range(i - window + 1, i + 1):
                d = x[j] - ref
                s1 += d
                s2 += d * d
        else:
            d = v - ref
            s1 += d
            s2 += d * d
            if i >= window:
                o = x[i - window] - ref
                s1 -= o
                s2 -= o * o
        if i >= window - 1:
            if same >= window:
                out[0, i] = v
                out[1, i] = 0.0
            else:
                m = s1 * inv
                var = s2 * inv - m * m
                out[0, i] = ref + m
                out[1, i] = np.sqrt(var) if var > 0 else 0.0
    return out


def rolling_mean_std(x: F64, window: int) -> F64:
    """Rolling mean and population std (ddof=0) of ``window`` rows: a (2, n) array, NaN
    before row ``w-1`` and for windows holding a NaN.

    One pass of sliding sums of deviations from a reference, re-centred and re-summed
    (two-pass, exact) every ``window`` rows, so neither drift (pandas' running sums drift
    by 1e-4 over 1,000,000 rows) nor cancellation (large prices, small spread) builds up.
    A window of identical values gives std exactly 0 and the value as mean, as pandas does.
    """
    if window < 1 or has_nan(x):
        return _rolling_mean_std_nan(x, window)  # type: ignore[no-any-return]
    return _rolling_mean_std_fast(x, window)  # type: ignore[no-any-return]


@JIT
def rolling_max_min(high: F64, low: F64, window: int) -> F64:  # pragma: no cover
    """Rolling max of ``high`` and min of ``low`` over ``window`` rows: a (2, n) array, NaN
    before row ``w-1`` and for windows holding a NaN (pandas' ``min_periods=window``).

    TA-Lib's scheme: keep the extreme and its row, rescan the window only when that row
    leaves it. ~5x faster than Polars' rolling_max + rolling_min, and exact (no arithmetic).
    """
    n = high.shape[0]
    out = np.full((2, n), np.nan)
    if window < 1:
        return out
    hi = -np.inf
    hi_i = -1
    lo = np.inf
    lo_i = -1
    nan_h = -1  # last row with a NaN
    nan_l = -1
    for i in range(n):
        start = i - window + 1
        h = high[i]
        if np.isnan(h):
            nan_h = i
        elif hi_i < start:
            hi = -np.inf
            for j in range(max(start, 0), i + 1):
                if high[j] >= hi:
                    hi = high[j]
                    hi_i = j
        elif h >= hi:
            hi = h
            hi_i = i
        v = low[i]
        if np.isnan(v):
            nan_l = i
        elif lo_i < start:
            lo = np.inf
            for j in range(max(start, 0), i + 1):
                if low[j] <= lo:
                    lo = low[j]
                    lo_i = j
        elif v <= lo:
            lo = v
            lo_i = i
        if start >= 0:
            if nan_h < start:
                out[0, i] = hi
            if nan_l < start:
                out[1, i] = lo
    return out


@JIT
def rolling_mad(x: F64, window: int, partial: bool = False) -> F64:  # pragma: no cover
    """Rolling mean absolute deviation ``mean(|x - mean(x)|)`` over each full window (CCI).

    Polars has no rolling MAD and ``rolling_map`` calls Python per row; two passes over each
    window keep it exact (no running sums), O(n * w). ``partial`` (`ta`'s ``fillna=True``):
    the first rows use the rows they have.
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    for i in range(0 if partial else window - 1, n):
        start = max(i - window + 1, 0)
        k = i - start + 1
        s = 0.0
        for j in range(start, i + 1):
            s += x[j]
        m = s / k
        d = 0.0
        for j in range(start, i + 1):
            d += abs(x[j] - m)
        out[i] = d / k
    return out


@JIT
def aroon(x: F64, window: int, is_max: bool, partial: bool = False) -> F64:  # pragma: no cover
    """``100 * argmax(x[i-w : i+1]) / w`` (argmin if not ``is_max``), first occurrence on ties.

    `ta` runs ``rolling(w + 1).apply(np.argmax)``, a Python call per row; Polars has no rolling
    arg-extreme. A plain O(n * w) loop is exact (ties pick the first, as ``np.argmax``) and
    fast for the small windows Aroon uses. A NaN in the window gives NaN, as pandas does.
    ``partial`` (`ta`'s ``fillna=True``): the first rows use the rows they have.
    """
    n = x.shape[0]
    span = window + 1
    out = np.full(n, np.nan)
    for i in range(0 if partial else span - 1, n):
        start = max(i - span + 1, 0)
        best = x[start]
        pos = 0
        bad = np.isnan(best)
        for j in range(1, i - start + 1):
            v = x[start + j]
            if np.isnan(v):
                bad = True
                break
            if (is_max and v > best) or ((not is_max) and v < best):
                best = v
                pos = j
        if not bad:
            out[i] = float(pos) / window * 100
    return out


@JIT
def stoch_window(x: F64, cycle: int) -> F64:  # pragma: no cover
    # 100 * (x - min) / (max - min) over full windows of `cycle` non-NaN values (pandas'
    # rolling(cycle).min()/max()); 0/0 on a flat window stays NaN, as in pandas
    n = x.shape[0]
    out = np.full(n, np.nan)
    for i in range(cycle - 1, n):
        lo = np.inf
        hi = -np.inf
        bad = False
        for j in range(i - cycle + 1, i + 1):
            v = x[j]
            if np.isnan(v):
                bad = True
                break
            lo = min(lo, v)
            hi = max(hi, v)
        if not bad:
            out[i] = 100.0 * (x[i] - lo) / (hi - lo)
    return out


@JIT
def window_sums(
    x: F64, window: int, nonfinite_nan: bool = False, min_periods: int = -1
) -> F64:  # pragma: no cover
    """Sum of each ``window``-row window, NaN before row ``w-1`` and where the window holds
    a NaN; exactly 0.0 for an all-zero window; re-summed from scratch every ``window`` rows
    so sliding residue never builds up.

    ``nonfinite_nan``: a window holding +-inf is NaN too, as pandas' rolling sum and mean
    give (their compensated summation turns inf - inf into NaN); ``rolling.apply(np.sum)``
    (MFI) keeps the infinity instead. ``min_periods`` below ``window`` (`ta`'s
    ``fillna=True``: pandas' ``min_periods=0``) sums the values a window holds, skipping
    NaN, once it holds at least ``min_periods`` of them (from the first row for 0).
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    if window < 1:
        return out
    need = window if min_periods < 0 else min_periods
    acc = 0.0
    nonzero = 0
    nans = 0  # NaN values in the window
    infs = 0  # +-inf values in the window (counted only with ``nonfinite_nan``)
    countdown = window  # re-sum every `window` rows, without a per-row modulo
    for i in range(n):
        countdown -= 1
        if countdown == 0:
            countdown = window
        if countdown == window and i >= window:
            acc = 0.0
            nonzero = 0
            nans = 0
            infs = 0
            for j in range(i - window + 1, i + 1):
                v = x[j]
                if np.isnan(v):
                    nans += 1
                elif nonfinite_nan and np.isinf(v):
                    infs += 1
                else:
                    acc += v
                    nonzero += v != 0
        else:
            v = x[i]
            if np.isnan(v):
                nans += 1
            elif nonfinite_nan and np.isinf(v):
                infs += 1
            else:
                acc += v
                nonzero += v != 0
            if i >= window:
                o = x[i - window]
                if np.isnan(o):
                    nans -= 1
                elif nonfinite_nan and np.isinf(o):
                    infs -= 1
                else:
                    acc -= o
                    nonzero -= o != 0
        held = min(i + 1, window) - nans
        if infs == 0 and held >= need:
            out[i] = 0.0 if nonzero == 0 else acc
    return out


@JIT
def rolling_sum_exact(
    x: F64, window: int, nonfinite_nan: bool = False, min_periods: int = -1
) -> F64:  # pragma: no cover
    """`rolling(window).sum()` with an exact 0 for all-zero windows (see ``window_sums``)."""
    return window_sums(x, window, nonfinite_nan, min_periods)


@JIT
def rolling_ratio(
    num: F64, den: F64, window: int, min_periods: int = -1
) -> F64:  # pragma: no cover
    """``num.rolling(w).sum() / den.rolling(w).sum()`` as pandas gives it (CMF, VWAP): a
    window of zero volume is 0/0 = NaN, not a sliding sum's residue."""
    return window_sums(num, window, True, min_periods) / window_sums(den, window, True, min_periods)


@JIT
def keltner_original(
    high: F64, low: F64, close: F64, window: int, mid_min_periods: int = -1
) -> F64:  # pragma: no cover
    """`ta.volatility.KeltnerChannel(original_version=True)`: a (3, n) array of the middle
    line (mean of ``(H + L + C) / 3``, NaN before row ``w-1``) and the upper and lower
    bands (means of ``(4H - 2L + C) / 3`` and ``(-2H + 4L + C) / 3`` from row 0, `ta`'s
    ``min_periods=0``), each exactly as pandas computes it."""
    n = close.shape[0]
    mid = np.empty(n)
    up = np.empty(n)
    lo = np.empty(n)
    for i in range(n):
        h = high[i]
        v = low[i]
        c = close[i]
        mid[i] = (h + v + c) / 3.0
        up[i] = (4 * h - 2 * v + c) / 3.0
        lo[i] = (-2 * h + 4 * v + c) / 3.0
    out = np.empty((3, n))
    out[0] = pandas_rolling_mean(mid, window, window if mid_min_periods < 0 else mid_min_periods)
    out[1] = pandas_rolling_mean(up, window, 0)
    out[2] = pandas_rolling_mean(lo, window, 0)
    return out


@JIT
def ulcer_index(close: F64, window: int) -> F64:  # pragma: no cover
    """`ta.volatility.UlcerIndex`: the drawdown from the running max of up to ``window``
    rows (pandas' ``min_periods=1``, NaN skipped), squared over ``window``, summed per
    window as ``rolling.apply(np.sum)`` (see ``window_sums``), square-rooted."""
    n = close.shape[0]
    sq = np.empty(n)
    hi = -np.inf
    hi_i = -1
    for i in range(n):
        start = i - window + 1
        v = close[i]
        if hi_i < start:
            hi = -np.inf
            hi_i = -1
            for j in range(max(start, 0), i + 1):
                if close[j] >= hi:
                    hi = close[j]
                    hi_i = j
        elif v >= hi:
            hi = v
            hi_i = i
        peak = hi if hi_i >= 0 else np.nan
        r = 100 * (v - peak) / peak
        sq[i] = r**2 / window
    return np.sqrt(window_sums(sq, window))


@JIT
def ultimate_oscillator(
    high: F64,
    low: F64,
    close: F64,
    w1: int,
    w2: int,
    w3: int,
    k1: float,
    k2: float,
    k3: float,
    min_periods: int = -1,
) -> F64:  # pragma: no cover
    """`ta.momentum.UltimateOscillator`: buying pressure ``close - min(low, prev close)``
    (missing in row 0) over the true range (``high - low`` in row 0), summed over three
    windows; NaN before row ``max(w1, w2, w3)`` and where a window's range sums to 0."""
    n = close.shape[0]
    bp = np.empty(n)
    tr = np.empty(n)
    for i in range(n):
        if i == 0:
            bp[i] = np.nan
            tr[i] = high[i] - low[i]
        else:
            pc = close[i - 1]
            lo_i = low[i]
            # pandas' min(axis=1, skipna=False): missing if either is
            bp[i] = np.nan if np.isnan(pc) or np.isnan(lo_i) else close[i] - min(lo_i, pc)
            t = high[i] - low[i]
            a = abs(high[i] - pc)
            b = abs(low[i] - pc)
            if a > t or np.isnan(t):
                t = a
            if b > t or np.isnan(t):
                t = b
            tr[i] = t
    m = min_periods
    avg1 = window_sums(bp, w1, False, m) / window_sums(tr, w1, False, m)
    avg2 = window_sums(bp, w2, False, m) / window_sums(tr, w2, False, m)
    avg3 = window_sums(bp, w3, False, m) / window_sums(tr, w3, False, m)
    return 100.0 * (k1 * avg1 + k2 * avg2 + k3 * avg3) / (k1 + k2 + k3)


def forward_fill(x: F64, value: float, backfill: bool) -> F64:
    """pandas' ``replace([inf, -inf], nan).ffill()`` then ``fillna(value)``, or ``bfill()``
    when ``backfill`` (`ta`'s ``_check_fillna``)."""
    out = np.where(np.isinf(x), np.nan, x)
    valid = ~np.isnan(out)
    if not valid.any():
        return out if backfill else np.full_like(out, value)
    index = np.where(valid, np.arange(out.shape[0]), 0)
    np.maximum.accumulate(index, out=index)
    out = out[index]
    first = int(np.argmax(valid))
    out[:first] = out[first] if backfill else value
    return out
