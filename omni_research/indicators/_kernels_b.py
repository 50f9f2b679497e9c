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
* ``rolling_sum_exact``: `ta`'s Ulcer Index sums each window afresh (``rolling.apply``);
  a sliding sum carries rounding residue (-1e-9 after large values), and the square root
  turns that into NaN or 1e-5-sized errors where the true sum is 0.

Each kernel repeats `ta`'s (pandas') arithmetic in the same order, so parity is to a few
ulps. Kernels take float64 arrays (NaN for missing) and return float64 arrays of the same
length. This module imports numba at import time, so callers import it lazily, inside
the function that runs the kernel.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

# error_model="numpy": x/0 gives inf or NaN as in pandas, instead of raising
_JIT = numba.njit(cache=True, nogil=True, error_model="numpy")


@_JIT
def atr(high: F64, low: F64, close: F64, window: int) -> F64:  # pragma: no cover
    """`ta.volatility.AverageTrueRange`: 0.0 before row ``window-1``, then Wilder's average.

    The true range of row 0 is ``high - low`` (pandas' row-wise max skips the missing
    previous close); ``out[w-1]`` is the mean of the first ``w`` true ranges and
    ``out[i] = (out[i-1] * (w-1) + tr[i]) / w``. Shorter inputs give all 0.0 (`ta` raises).
    """
    n = close.shape[0]
    out = np.zeros(n)
    if n < window or window < 1:
        return out
    acc = 0.0
    count = 0
    prev = 0.0
    for i in range(n):
        hl = high[i] - low[i]
        if i == 0:
            tr = hl
        else:
            pc = close[i - 1]
            tr = hl
            a = abs(high[i] - pc)
            b = abs(low[i] - pc)
            # pandas' DataFrame.max(axis=1) skips NaN: mirror that order-free max
            if np.isnan(tr) or a > tr:
                tr = a
            if np.isnan(tr) or b > tr:
                tr = b
        if i < window:
            if not np.isnan(tr):
                acc += tr
                count += 1
            if i == window - 1:
                prev = acc / count if count > 0 else np.nan
                out[i] = prev
        else:
            prev = (prev * (window - 1) + tr) / float(window)
            out[i] = prev
    return out


@_JIT
def rsi(close: F64, window: int) -> F64:  # pragma: no cover
    """`ta.momentum.RSIIndicator`: Wilder averages of gains and losses, NaN before ``w-1``.

    pandas' ``diff().where(diff > 0, 0.0)`` makes a missing difference (row 0, or next to a
    NaN close) a 0.0 gain and loss, so the averages start at row 0. The update is pandas'
    ``ewm(adjust=False)`` form ``(old_wt * avg + alpha * x) / (old_wt + alpha)``.
    """
    n = close.shape[0]
    out = np.full(n, np.nan)
    alpha = 1.0 / window
    old_wt = 1.0 - alpha
    denom = old_wt + alpha
    up_avg = 0.0
    dn_avg = 0.0
    for i in range(n):
        d = close[i] - close[i - 1] if i > 0 else np.nan
        up = d if d > 0 else 0.0
        dn = -d if d < 0 else 0.0
        if i == 0:
            up_avg = up
            dn_avg = dn
        else:
            if up_avg != up:
                up_avg = (old_wt * up_avg + alpha * up) / denom
            if dn_avg != dn:
                dn_avg = (old_wt * dn_avg + alpha * dn) / denom
        if i >= window - 1:
            if dn_avg == 0:
                out[i] = 100.0
            else:
                out[i] = 100.0 - 100.0 / (1.0 + up_avg / dn_avg)
    return out


@_JIT
def kama(close: F64, window: int, pow1: float, pow2: float) -> F64:  # pragma: no cover
    """`ta.momentum.KAMAIndicator`: NaN before row ``w-1``, the close at ``w-1``, then
    ``kama[i] = kama[i-1] + sc[i] * (close[i] - kama[i-1])``.

    `ta` builds its efficiency ratio with ``np.roll``, which wraps the last rows around to
    the front; those wrapped values only reach row ``w-1``, whose output is the close
    itself, so no future value ever reaches the result (checked by the no-look-ahead
    property test). A zero volatility sum gives an efficiency ratio of 0, as in `ta`.
    """
    n = close.shape[0]
    out = np.full(n, np.nan)
    if n < window or window < 1:
        return out
    fast = 2.0 / (pow1 + 1)
    slow = 2.0 / (pow2 + 1.0)
    # `ta`'s first valid smoothing constant is at row w-1, where its output is the close
    prev = close[window - 1]
    out[window - 1] = prev
    for i in range(window, n):
        num = abs(close[i] - close[i - window])
        den = 0.0
        for j in range(i - window + 1, i + 1):
            den += abs(close[j] - close[j - 1])
        er = num / den if den != 0 else 0.0
        sc = (er * (fast - slow) + slow) ** 2.0
        # a NaN (from a NaN close) sticks, as in `ta`'s loop
        prev = prev + sc * (close[i] - prev)
        out[i] = prev
    return out


@_JIT
def rolling_sum_exact(x: F64, window: int) -> F64:  # pragma: no cover
    """Each window summed afresh (as ``rolling(window).apply(np.sum)``): NaN before row
    ``w-1`` and for any window holding a NaN. O(n * window), exact where a sliding sum
    leaves residue."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    for i in range(window - 1, n):
        acc = 0.0
        for j in range(i - window + 1, i + 1):
            acc += x[j]
        out[i] = acc
    return out


@_JIT
def mfi(high: F64, low: F64, close: F64, volume: F64, window: int) -> F64:  # pragma: no cover
    """`ta.volume.MFIIndicator`: NaN before row ``w-1``; each window's positive and negative
    flows summed afresh, as `ta`'s ``rolling.apply``.

    The typical price is divided by 3 here because Polars multiplies by the reciprocal
    when dividing by a constant: one ulp apart, two equal-looking typical prices (frequent
    on tick-rounded prices) would then compare equal where `ta` sees a rise, or vice versa.
    """
    n = close.shape[0]
    out = np.full(n, np.nan)
    flow = np.empty(n)
    for i in range(n):
        tp = (high[i] + low[i] + close[i]) / 3.0
        if i == 0:
            sign = 0.0
        else:
            prev = (high[i - 1] + low[i - 1] + close[i - 1]) / 3.0
            sign = 1.0 if tp > prev else (-1.0 if tp < prev else 0.0)
        flow[i] = tp * volume[i] * sign
    for i in range(window - 1, n):
        pos = 0.0
        neg = 0.0
        for j in range(i - window + 1, i + 1):
            x = flow[j]
            if x >= 0.0:
                pos += x
            elif x < 0.0:
                neg += x
            else:  # NaN: pandas' rolling drops windows with fewer than `window` values
                pos = np.nan
        out[i] = 100.0 - 100.0 / (1.0 + pos / abs(neg))
    return out
