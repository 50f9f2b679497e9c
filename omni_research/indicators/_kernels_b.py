"""Compiled loops for the momentum, volume and volatility indicators that need them.

Why numba, per kernel:

* ``atr``: `ta` seeds the Wilder recursion with the mean of the first ``window`` true ranges
  and writes 0.0 before; Polars' ``ewm_mean`` cannot be seeded that way, and computing the
  true range as expressions first costs more than the whole one-pass loop (which is what
  brings ATR near TA-Lib's C speed).
* ``rsi``: two Wilder averages are plain ``ewm_mean`` in Polars, but five passes over the
  data (diff, two clips, two EWMs, a division) cost about 4x one fused loop.
* ``kama``: the smoothing constant changes every row, a recursion no Polars expression
  computes short of a quadratic ``cumulative_eval``.
* ``rolling_sum_exact``, ``rolling_ratio``, ``mfi``, ``ulcer_index``: `ta` sums each
  window afresh (``rolling.apply``) or gets pandas' 0/0 = NaN for a window of zeros.
  Polars' sliding sum carries rounding residue (-1e-9 after large values): a square root
  turns it into NaN where the true sum is 0, a ratio of zero sums into +-inf. These kernels
  slide too, but re-sum from scratch every ``window`` rows and return an exact 0 for
  all-zero windows.
* ``pandas_rolling_mean`` / ``keltner_original``: pandas' rolling mean step for step (bit
  for bit), so Keltner's band flags decide ties exactly as `ta`.
* ``rolling_mean_std`` (Bollinger), ``rolling_max_min`` (Stochastic, Williams %R,
  Donchian), ``ultimate_oscillator``, ``acc_dist_index``, ``nan_cumsum``: one pass instead of
  several Polars passes, with pandas' NaN rules; Bollinger's is exact where pandas drifts.
* ``percentage_oscillator`` and ``tsi`` (plain Python over the compiled ``ewm_gaps``):
  pandas' EWM carries its mean over a NaN, Polars' propagates it.

Each kernel follows `ta`'s (pandas') arithmetic, with one deliberate change: a recursion
``prev = (prev * (w - 1) + x) / w`` is computed as ``prev * ((w - 1) / w) + x * (1 / w)``.
A division in the loop-carried chain costs ~3x the whole loop (divisions do not pipeline);
the multiplication form differs from `ta` by ~1e-15 relative and does not accumulate
(the recursion is contractive), far inside the 1e-9 parity tolerance. The same goes for
the Wilder averages of RSI (pandas divides by ``(1 - alpha) + alpha`` at every step).

Kernels take float64 arrays (NaN for missing) and return float64 arrays of the same
length. This module imports numba at import time, so callers import it lazily, inside
the function that runs the kernel.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

# pandas' EWM (adjust=False) with its NaN-gap rule, pinned against pandas by the trend
# tests; reused so PPO/PVO/TSI get the same rule
from omni_research.indicators._kernels import ewm_gaps

F64 = npt.NDArray[np.float64]

# error_model="numpy": x/0 gives inf or NaN as in pandas, instead of raising
_JIT = numba.njit(cache=True, nogil=True, error_model="numpy")


@_JIT
def _atr_nan(high: F64, low: F64, close: F64, window: int) -> F64:  # pragma: no cover
    """`ta.volatility.AverageTrueRange`: 0.0 before row ``window-1``, then Wilder's average.

    The true range of row 0 is ``high - low`` (pandas' row-wise max skips the missing
    previous close); ``out[w-1]`` is the mean of the first ``w`` true ranges and
    ``out[i] = (out[i-1] * (w-1) + tr[i]) / w``. Shorter inputs give all 0.0 (`ta` raises).
    """
    n = close.shape[0]
    out = np.zeros(n)
    if n < window or window < 1:
        return out
    a = (window - 1) / window
    b = 1.0 / window
    acc = 0.0
    count = 0
    prev = 0.0
    for i in range(n):
        tr = high[i] - low[i]
        if i > 0:
            pc = close[i - 1]
            up = abs(high[i] - pc)
            dn = abs(low[i] - pc)
            # pandas' DataFrame.max(axis=1) skips NaN
            if up > tr or np.isnan(tr):
                tr = up
            if dn > tr or np.isnan(tr):
                tr = dn
        if i < window:
            if not np.isnan(tr):
                acc += tr
                count += 1
            if i == window - 1:
                prev = acc / count if count > 0 else np.nan
                out[i] = prev
        else:
            prev = prev * a + tr * b
            out[i] = prev
    return out


@_JIT
def rsi(close: F64, window: int) -> F64:  # pragma: no cover
    """`ta.momentum.RSIIndicator`: Wilder averages of gains and losses, NaN before ``w-1``.

    pandas' ``diff().where(diff > 0, 0.0)`` makes a missing difference (row 0, or next to a
    NaN close) a 0.0 gain and loss, so the averages start at row 0 with 0.0.
    """
    n = close.shape[0]
    out = np.full(n, np.nan)
    alpha = 1.0 / window
    keep = 1.0 - alpha
    up_avg = 0.0
    dn_avg = 0.0
    for i in range(1, n):
        d = close[i] - close[i - 1]
        up = d if d > 0 else 0.0
        dn = -d if d < 0 else 0.0
        up_avg = up_avg * keep + up * alpha
        dn_avg = dn_avg * keep + dn * alpha
        if i >= window - 1:
            out[i] = 100.0 if dn_avg == 0 else 100.0 - 100.0 / (1.0 + up_avg / dn_avg)
    if n >= window and window == 1:
        out[0] = 100.0
    return out


@_JIT
def kama(close: F64, window: int, pow1: float, pow2: float) -> F64:  # pragma: no cover
    """`ta.momentum.KAMAIndicator`: NaN before row ``w-1``, the close at ``w-1``, then
    ``kama[i] = kama[i-1] + sc[i] * (close[i] - kama[i-1])``.

    `ta` builds its efficiency ratio with ``np.roll``, which wraps the last rows around to
    the front; those wrapped values only reach row ``w-1``, whose output is the close
    itself, so no future value reaches the result (the no-look-ahead property test checks
    it). A zero volatility sum gives an efficiency ratio of 0, as in `ta`.
    """
    n = close.shape[0]
    out = np.full(n, np.nan)
    if n < window or window < 1:
        return out
    fast = 2.0 / (pow1 + 1)
    slow = 2.0 / (pow2 + 1.0)
    prev = close[window - 1]
    out[window - 1] = prev
    den = 0.0
    nonzero = 0  # moves in the window: an all-flat window has an exact 0 sum
    for j in range(1, window):
        m = abs(close[j] - close[j - 1])
        den += m
        nonzero += m != 0
    # re-sum every `window` rows with a countdown: a per-row modulo (integer division)
    # costs more than the rest of the row
    countdown = window
    for i in range(window, n):
        m = abs(close[i] - close[i - 1])
        # the move leaving the window (rows 1..w-1 started it: nothing leaves at row w)
        old = abs(close[i - window] - close[i - window - 1]) if i > window else 0.0
        countdown -= 1
        if countdown == 0:
            countdown = window
            den = 0.0
            nonzero = 0
            for j in range(i - window + 1, i + 1):
                mm = abs(close[j] - close[j - 1])
                den += mm
                nonzero += mm != 0
        else:
            den += m - old
            nonzero += (m != 0) - (old != 0)
        d = den if nonzero > 0 else 0.0
        num = abs(close[i] - close[i - window])
        er = num / d if d != 0 else 0.0
        sc = er * (fast - slow) + slow
        sc = sc * sc
        # a NaN (from a NaN close) sticks, as in `ta`'s loop
        prev = prev + sc * (close[i] - prev)
        out[i] = prev
    return out


@_JIT
def _window_sums(x: F64, window: int, nonfinite_nan: bool = False) -> F64:  # pragma: no cover
    """Sum of each ``window``-row window, NaN before row ``w-1`` and where the window holds
    a NaN; exactly 0.0 for an all-zero window; re-summed from scratch every ``window`` rows
    so sliding residue never builds up.

    ``nonfinite_nan``: a window holding +-inf is NaN too, as pandas' rolling sum and mean
    give (their compensated summation turns inf - inf into NaN); ``rolling.apply(np.sum)``
    (MFI) keeps the infinity instead.
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    if window < 1:
        return out
    acc = 0.0
    nonzero = 0
    bad = 0  # NaN (or non-finite) values in the window
    countdown = window  # re-sum every `window` rows, without a per-row modulo
    for i in range(n):
        countdown -= 1
        if countdown == 0:
            countdown = window
        if countdown == window and i >= window:
            acc = 0.0
            nonzero = 0
            bad = 0
            for j in range(i - window + 1, i + 1):
                v = x[j]
                if np.isnan(v) or (nonfinite_nan and np.isinf(v)):
                    bad += 1
                else:
                    acc += v
                    nonzero += v != 0
        else:
            v = x[i]
            if np.isnan(v) or (nonfinite_nan and np.isinf(v)):
                bad += 1
            else:
                acc += v
                nonzero += v != 0
            if i >= window:
                o = x[i - window]
                if np.isnan(o) or (nonfinite_nan and np.isinf(o)):
                    bad -= 1
                else:
                    acc -= o
                    nonzero -= o != 0
        if i >= window - 1:
            if bad > 0:
                out[i] = np.nan
            elif nonzero == 0:
                out[i] = 0.0
            else:
                out[i] = acc
    return out


@_JIT
def rolling_sum_exact(x: F64, window: int, nonfinite_nan: bool = False) -> F64:  # pragma: no cover
    """`rolling(window).sum()` with an exact 0 for all-zero windows (see ``_window_sums``)."""
    return _window_sums(x, window, nonfinite_nan)


@_JIT
def rolling_ratio(num: F64, den: F64, window: int) -> F64:  # pragma: no cover
    """``num.rolling(w).sum() / den.rolling(w).sum()`` as pandas gives it (CMF, VWAP): a
    window of zero volume is 0/0 = NaN, not a sliding sum's residue."""
    return _window_sums(num, window, True) / _window_sums(den, window, True)


@_JIT
def mfi(high: F64, low: F64, close: F64, volume: F64, window: int) -> F64:  # pragma: no cover
    """`ta.volume.MFIIndicator`: NaN before row ``w-1``.

    The typical price is divided by 3 here because Polars multiplies by the reciprocal
    when dividing by a constant: one ulp apart, two equal-looking typical prices (frequent
    on tick-rounded prices) would then compare equal where `ta` sees a rise, or vice versa.
    """
    n = close.shape[0]
    pos = np.empty(n)
    neg = np.empty(n)
    prev = 0.0
    for i in range(n):
        tp = (high[i] + low[i] + close[i]) / 3.0
        flow = tp * volume[i]
        if np.isnan(flow):
            pos[i] = np.nan
            neg[i] = np.nan
        elif i > 0 and tp < prev:
            pos[i] = 0.0
            neg[i] = flow
        elif i > 0 and tp > prev:
            pos[i] = flow
            neg[i] = 0.0
        else:
            pos[i] = 0.0
            neg[i] = 0.0
        prev = tp
    p = _window_sums(pos, window)
    q = _window_sums(neg, window)
    return 100.0 - 100.0 / (1.0 + p / q)


@_JIT
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


@_JIT
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


@_JIT
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
    avg1 = _window_sums(bp, w1) / _window_sums(tr, w1)
    avg2 = _window_sums(bp, w2) / _window_sums(tr, w2)
    avg3 = _window_sums(bp, w3) / _window_sums(tr, w3)
    return 100.0 * (k1 * avg1 + k2 * avg2 + k3 * avg3) / (k1 + k2 + k3)


@_JIT
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


@_JIT
def keltner_original(high: F64, low: F64, close: F64, window: int) -> F64:  # pragma: no cover
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
    out[0] = pandas_rolling_mean(mid, window, window)
    out[1] = pandas_rolling_mean(up, window, 0)
    out[2] = pandas_rolling_mean(lo, window, 0)
    return out


# Fast paths. NaN-free inputs (the common case) skip every per-row NaN test, and the
# Wilder recursion may use fused multiply-adds ("contract": FMA rounds once, so it is as
# accurate or more): that halves the loop-carried latency, which is what bounds ATR.
_JIT_FMA = numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})


@_JIT_FMA
def _atr_fast(high: F64, low: F64, close: F64, window: int) -> F64:  # pragma: no cover
    n = close.shape[0]
    out = np.zeros(n)
    acc = high[0] - low[0]
    for i in range(1, window):
        pc = close[i - 1]
        tr = max(high[i] - low[i], abs(high[i] - pc), abs(low[i] - pc))
        acc += tr
    prev = acc / window
    out[window - 1] = prev
    a = (window - 1) / window
    b = 1.0 / window
    for i in range(window, n):
        pc = close[i - 1]
        tr = max(high[i] - low[i], abs(high[i] - pc), abs(low[i] - pc))
        prev = prev * a + tr * b
        out[i] = prev
    return out


def _has_nan(*arrays: F64) -> bool:
    # numpy's vectorised isnan beats a numba early-exit loop by ~6x here
    return any(bool(np.isnan(x).any()) for x in arrays)


def atr(high: F64, low: F64, close: F64, window: int) -> F64:
    """`ta.volatility.AverageTrueRange`: 0.0 before row ``window-1``, then Wilder's average.

    The true range of row 0 is ``high - low`` (pandas' row-wise max skips the missing
    previous close); ``out[w-1]`` is the mean of the first ``w`` true ranges and
    ``out[i] = (out[i-1] * (w-1) + tr[i]) / w``. Shorter inputs give all 0.0 (`ta` raises).
    """
    n = close.shape[0]
    if n < window or window < 1:
        return np.zeros(n)
    out = _atr_fast(high, low, close, window)
    # A NaN high or low reaches the fast path's recursion and so its last row (a NaN close
    # only drops out of the next true range, as pandas' skipna max does): an O(1) check
    # instead of scanning three inputs (which costs half the kernel's time)
    if np.isnan(out[-1]):
        return _atr_nan(high, low, close, window)  # type: ignore[no-any-return]
    return out  # type: ignore[no-any-return]


@_JIT
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
    if window < 1 or _has_nan(x):
        return _rolling_mean_std_nan(x, window)  # type: ignore[no-any-return]
    return _rolling_mean_std_fast(x, window)  # type: ignore[no-any-return]


@_JIT
def nan_cumsum(x: F64) -> F64:  # pragma: no cover
    """pandas' ``cumsum()``: NaN rows stay NaN and the sum carries on past them (Polars'
    ``fill_nan(None).cum_sum()`` on a derived column costs ~5x this pass)."""
    n = x.shape[0]
    out = np.empty(n)
    acc = 0.0
    for i in range(n):
        v = x[i]
        if np.isnan(v):
            out[i] = np.nan
        else:
            acc += v
            out[i] = acc
    return out


@_JIT
def on_balance_volume(close: F64, volume: F64) -> F64:  # pragma: no cover
    """`ta.volume.on_balance_volume`: volume subtracted where the close falls (a NaN close
    compares False, as in pandas), added otherwise; NaN rows stay NaN and the sum carries
    on past them, as ``nan_cumsum`` of the signed volume."""
    n = close.shape[0]
    out = np.empty(n)
    acc = 0.0
    for i in range(n):
        v = volume[i]
        if i > 0 and close[i] < close[i - 1]:
            v = -v
        if np.isnan(v):
            out[i] = np.nan
        else:
            acc += v
            out[i] = acc
    return out


@_JIT
def ulcer_index(close: F64, window: int) -> F64:  # pragma: no cover
    """`ta.volatility.UlcerIndex`: the drawdown from the running max of up to ``window``
    rows (pandas' ``min_periods=1``, NaN skipped), squared over ``window``, summed per
    window as ``rolling.apply(np.sum)`` (see ``_window_sums``), square-rooted."""
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
    return np.sqrt(_window_sums(sq, window))


def percentage_oscillator(
    x: F64, window_slow: int, window_fast: int, window_sign: int
) -> tuple[F64, F64, F64]:
    """`ta`'s PPO/PVO: the line ``(EMA_fast - EMA_slow) / EMA_slow * 100``, its EMA signal
    and the histogram, with pandas' EWM (NaN carried over, min_periods counting values;
    `_kernels.ewm_gaps`). Plain Python around three compiled EWMs on contiguous arrays
    (the same loops inside one numba function, on rows of a 2-D array, ran 3x slower)."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    fast = ewm_gaps(x, 2.0 / (window_fast + 1.0), window_fast)
    slow = ewm_gaps(x, 2.0 / (window_slow + 1.0), window_slow)
    with np.errstate(divide="ignore", invalid="ignore"):
        line = (fast - slow) / slow * 100
    signal = ewm_gaps(line, 2.0 / (window_sign + 1.0), window_sign)
    return line, signal, line - signal


def tsi(close: F64, window_slow: int, window_fast: int) -> F64:
    """`ta.momentum.TSIIndicator`: 100 * EMA_fast(EMA_slow(diff)) / EMA_fast(EMA_slow(|diff|))
    with pandas' EWM; NaN where both smoothings are 0 (a long flat stretch), as in `ta`."""
    d = np.empty(close.shape[0])
    d[:1] = np.nan
    np.subtract(close[1:], close[:-1], out=d[1:])
    a_s = 2.0 / (window_slow + 1.0)
    a_f = 2.0 / (window_fast + 1.0)
    num = ewm_gaps(ewm_gaps(d, a_s, window_slow), a_f, window_fast)
    den = ewm_gaps(ewm_gaps(np.abs(d), a_s, window_slow), a_f, window_fast)
    with np.errstate(divide="ignore", invalid="ignore"):
        return num / den * 100  # type: ignore[no-any-return]


@_JIT
def acc_dist_index(high: F64, low: F64, close: F64, volume: F64) -> F64:  # pragma: no cover
    """`ta.volume.AccDistIndexIndicator`: cumulative close-location value times volume; a
    0/0 location (high == low, or a NaN price) counts 0 as `ta`'s ``fillna(0.0)``, and a NaN
    volume leaves its row NaN while the sum carries on (pandas' cumsum)."""
    n = close.shape[0]
    out = np.empty(n)
    acc = 0.0
    for i in range(n):
        h = high[i]
        lo = low[i]
        c = close[i]
        clv = ((c - lo) - (h - c)) / (h - lo)
        if np.isnan(clv):
            clv = 0.0
        x = clv * volume[i]
        if np.isnan(x):
            out[i] = np.nan
        else:
            acc += x
            out[i] = acc
    return out
