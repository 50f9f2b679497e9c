"""Compiled loops for the recursive indicators Polars cannot express both exactly and fast.

Why numba here: these recursions carry state that depends on the previous *output*
(PSAR's trend flips, ADX's Wilder sums seeded by a plain sum, ATR's SMA-seeded Wilder
average). Polars' ``ewm_mean`` cannot be seeded with a window sum, and emulating the
recursion with ``cumulative_eval`` is quadratic. A numba loop is one pass over contiguous
float64 arrays (PSAR on 1,000,000 rows in ~15 ms versus 65 s in `ta`), and it reproduces
`ta`'s arithmetic in the same order, so parity is to the last bit rather than 1e-12.

Every kernel takes float64 numpy arrays (NaN for missing) and returns float64 arrays of the
same length with NaN where the output is missing; `_common.kernel_expr` turns NaN into null.
This module imports numba at import time, so it is imported lazily (only when a kernel
actually runs), keeping ``import omni_research`` fast.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

# error_model="numpy": x/0 gives inf/NaN as in numpy and pandas instead of raising
_JIT = numba.njit(cache=True, nogil=True, error_model="numpy")


@_JIT
def wilder_sma_seeded(x: F64, window: int, warmup_value: float) -> F64:  # pragma: no cover
    """``out[w-1] = mean(x[0:w])``, then ``out[i] = (out[i-1] * (w-1) + x[i]) / w``.

    This is `ta`'s AverageTrueRange loop (rows before ``w-1`` get ``warmup_value``: `ta`
    writes 0.0 there). NaN in ``x`` propagates, as in `ta`.
    """
    n = x.shape[0]
    out = np.full(n, warmup_value)
    if n < window:
        return out
    acc = 0.0
    for i in range(window):
        acc += x[i]
    prev = acc / window
    out[window - 1] = prev
    for i in range(window, n):
        prev = (prev * (window - 1) + x[i]) / float(window)
        out[i] = prev
    return out


@_JIT
def adx(high: F64, low: F64, close: F64, window: int) -> F64:  # pragma: no cover
    """ADX, +DI and -DI exactly as `ta.trend.ADXIndicator`, in one pass.

    Returns a (3, n) array: rows adx, adx_pos, adx_neg, with 0.0 in the warm-up rows as
    `ta` writes them (ADX before row ``2w-1``; +DI/-DI before row ``w+1``, row ``w`` included:
    `ta`'s loop starts at its second smoothed value).
    """
    n = high.shape[0]
    w = window
    out = np.zeros((3, n))
    if n <= w:
        return out
    # Wilder sums seeded with the plain sum of rows 1..w (row 0 has no previous close)
    s_tr = 0.0
    s_p = 0.0
    s_n = 0.0
    dx = np.zeros(n)  # dx[r]: directional index at row r (r >= w)
    for r in range(1, n):
        pc = close[r - 1]
        tr = max(high[r], pc) - min(low[r], pc)
        up = high[r] - high[r - 1]
        dn = low[r - 1] - low[r]
        p = up if (up > dn and up > 0) else 0.0
        q = dn if (dn > up and dn > 0) else 0.0
        if r <= w:
            s_tr += tr
            s_p += p
            s_n += q
            if r < w:
                continue
        else:
            s_tr = s_tr - s_tr / float(w) + tr
            s_p = s_p - s_p / float(w) + p
            s_n = s_n - s_n / float(w) + q
        pi = 100.0 * (s_p / s_tr) if s_tr != 0 else 0.0
        ni = 100.0 * (s_n / s_tr) if s_tr != 0 else 0.0
        dx[r] = 100.0 * np.abs((pi - ni) / (pi + ni)) if pi + ni != 0 else 0.0
        if r > w:
            out[1, r] = pi
            out[2, r] = ni
    # ADX: Wilder average of dx seeded by the mean of its first w values (rows w..2w-1)
    first = 2 * w - 1
    if n > first:
        a = 0.0
        for r in range(w, first + 1):
            a += dx[r]
        a = a / w
        out[0, first] = a
        for r in range(first + 1, n):
            a = (a * (w - 1) + dx[r]) / float(w)
            out[0, r] = a
    return out


@_JIT
def psar(high: F64, low: F64, close: F64, step: float, max_step: float) -> F64:  # pragma: no cover
    """Parabolic SAR exactly as `ta.trend.PSARIndicator` (rows 0 and 1 keep the close).

    Returns a (3, n) array: psar, psar_up (NaN when in a down trend), psar_down.
    """
    n = close.shape[0]
    out = np.full((3, n), np.nan)
    if n == 0:
        return out
    for i in range(min(n, 2)):
        out[0, i] = close[i]
    up_trend = True
    af = step
    up_high = high[0]
    down_low = low[0]
    prev = close[1] if n > 1 else 0.0
    for i in range(2, n):
        reversal = False
        max_high = high[i]
        min_low = low[i]
        if up_trend:
            cur = prev + af * (up_high - prev)
            if min_low < cur:
                reversal = True
                cur = up_high
                down_low = min_low
                af = step
            else:
                if max_high > up_high:
                    up_high = max_high
                    af = min(af + step, max_step)
                low1 = low[i - 1]
                low2 = low[i - 2]
                if low2 < cur:
                    cur = low2
                elif low1 < cur:
                    cur = low1
        else:
            cur = prev - af * (prev - down_low)
            if max_high > cur:
                reversal = True
                cur = down_low
                up_high = max_high
                af = step
            else:
                if min_low < down_low:
                    down_low = min_low
                    af = min(af + step, max_step)
                high1 = high[i - 1]
                high2 = high[i - 2]
                if high2 > cur:
                    cur = high2
                elif high1 > cur:
                    cur = high1
        up_trend = up_trend != reversal
        out[0, i] = cur
        if up_trend:
            out[1, i] = cur
        else:
            out[2, i] = cur
        prev = cur
    return out


@_JIT
def aroon(x: F64, window: int, is_max: bool) -> F64:  # pragma: no cover
    """``100 * argmax(x[i-w : i+1]) / w`` (argmin if not ``is_max``), first occurrence on ties.

    `ta` runs ``rolling(w + 1).apply(np.argmax)``, a Python call per row; Polars has no rolling
    arg-extreme. A plain O(n * w) loop is exact (ties pick the first, as ``np.argmax``) and
    fast for the small windows Aroon uses. A NaN in the window gives NaN, as pandas does.
    """
    n = x.shape[0]
    span = window + 1
    out = np.full(n, np.nan)
    for i in range(span - 1, n):
        start = i - span + 1
        best = x[start]
        pos = 0
        bad = np.isnan(best)
        for j in range(1, span):
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


@_JIT
def rolling_mad(x: F64, window: int) -> F64:  # pragma: no cover
    """Rolling mean absolute deviation ``mean(|x - mean(x)|)`` over each full window (CCI).

    Polars has no rolling MAD and ``rolling_map`` calls Python per row; two passes over each
    window keep it exact (no running sums), O(n * w).
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    for i in range(window - 1, n):
        s = 0.0
        for j in range(i - window + 1, i + 1):
            s += x[j]
        m = s / window
        d = 0.0
        for j in range(i - window + 1, i + 1):
            d += abs(x[j] - m)
        out[i] = d / window
    return out


@_JIT
def _ewm_general(x: F64, alpha: float, min_periods: int) -> F64:  # pragma: no cover
    """pandas' ``ewm(alpha=alpha, adjust=False, min_periods=m).mean()`` on input with gaps.

    Polars' ``ewm_mean`` gives null at a missing row and weighs the next value differently;
    pandas carries the mean through the gap and, after ``k`` missing rows, takes
    ``(d * mean + alpha * x) / (d + alpha)`` with ``d = (1 - alpha) ** (k + 1)`` (its
    ``ewma`` loop with ``ignore_na=False``). pandas 3.1 gives ``d * mean + (1 - d) * x``
    instead when alpha is exactly 0.5 (span 3, as in STC); both rules are reproduced and
    pinned by a test against pandas. ``min_periods`` counts observed values, as pandas does.
    Without gaps both rules are the plain ``(1 - alpha) * mean + alpha * x``.
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    mean = np.nan
    nobs = 0
    old = 1.0
    half = alpha == 0.5
    for i in range(n):
        v = x[i]
        observed = not np.isnan(v)
        if observed:
            nobs += 1
        if not np.isnan(mean):
            old *= 1.0 - alpha
            if observed:
                if old == 1.0 - alpha:
                    # no gap: pandas' (old*mean + a*v)/(old + a) with old + a == 1 up to an
                    # ulp; the multiply-add form avoids a division in the loop-carried chain
                    # (3x faster), at most a few ulps from pandas
                    mean = mean + alpha * (v - mean)
                elif mean != v:
                    if half:
                        mean = old * mean + (1.0 - old) * v
                    else:
                        mean = (old * mean + alpha * v) / (old + alpha)
                old = 1.0
        elif observed:
            mean = v
        if nobs >= min_periods and not np.isnan(mean):
            out[i] = mean
    return out


@_JIT
def _stoch_window(x: F64, cycle: int) -> F64:  # pragma: no cover
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


@_JIT
def stc(macd: F64, cycle: int, smooth1: int, smooth2: int) -> F64:  # pragma: no cover
    """Schaff Trend Cycle from a MACD line, as `ta.trend.STCIndicator` does after its MACD.

    Two stochastic passes, each smoothed by pandas' EMA (with its gap rule for the 0/0 of a
    flat window). One loop instead of an expression that would evaluate the MACD 9 times
    (each stochastic reads its input three times: value, rolling min, rolling max).
    """
    k = _stoch_window(macd, cycle)
    d = ewm_gaps(k, 2.0 / (smooth1 + 1.0), smooth1)
    kd = _stoch_window(d, cycle)
    return ewm_gaps(kd, 2.0 / (smooth2 + 1.0), smooth2)


@_JIT
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


@_JIT
def _macd_general(close: F64, slow: int, fast: int, sign: int) -> F64:  # pragma: no cover
    """MACD line, signal and histogram as `ta.trend.MACD`, in one pass: a (3, n) array.

    The three EMAs (pandas' ``ewm(span, adjust=False, min_periods=span)``) advance in the
    same loop: three independent multiply-add chains instead of five EWM passes (an
    expression for the histogram evaluates the line twice). Input with NaN takes the
    general `ewm_gaps` path.
    """
    n = close.shape[0]
    out = np.full((3, n), np.nan)
    if n == 0:
        return out
    if np.isnan(close).any():
        line = ewm_gaps(close, 2.0 / (fast + 1.0), fast) - ewm_gaps(close, 2.0 / (slow + 1.0), slow)
        signal = ewm_gaps(line, 2.0 / (sign + 1.0), sign)
        out[0] = line
        out[1] = signal
        out[2] = line - signal
        return out
    af = 2.0 / (fast + 1.0)
    asl = 2.0 / (slow + 1.0)
    asg = 2.0 / (sign + 1.0)
    ef = close[0]
    es = close[0]
    sig = 0.0
    start = max(fast, slow) - 1  # first row where the line exists
    for i in range(n):
        v = close[i]
        if i > 0:
            ef = ef + af * (v - ef)
            es = es + asl * (v - es)
        if i >= start:
            line = ef - es
            sig = line if i == start else sig + asg * (line - sig)
            out[0, i] = line
            if i - start + 1 >= sign:
                out[1, i] = sig
                out[2, i] = line - sig
    return out


# Fast paths. A NaN in the input reaches the recursion and stays there to the last row, so
# a NaN in the final state is an O(1) test for "the input may hold a NaN": only then does
# the general loop run (scanning the input first costs a third of the loop itself).


@_JIT
def ewm_gaps(x: F64, alpha: float, min_periods: int) -> F64:  # pragma: no cover
    """`_ewm_general` (pandas' EWM with its gap rule) with a branch-free loop for input
    without NaN, which is the general loop's arithmetic on that input, bit for bit."""
    n = x.shape[0]
    out = np.empty(n)
    if n == 0:
        return out
    mean = x[0]
    out[0] = mean
    for i in range(1, n):
        mean = mean + alpha * (x[i] - mean)
        out[i] = mean
    if np.isnan(mean):
        return _ewm_general(x, alpha, min_periods)
    out[: min(max(min_periods - 1, 0), n)] = np.nan
    return out


@_JIT
def macd(close: F64, slow: int, fast: int, sign: int) -> F64:  # pragma: no cover
    """MACD line, signal and histogram as `ta.trend.MACD`, in one pass: a (3, n) array.

    The three EMAs (pandas' ``ewm(span, adjust=False, min_periods=span)``) advance in the
    same loop: three independent multiply-add chains instead of five EWM passes. The warm-up
    rows run in short loops of their own so the main loop has no branch; input with NaN
    takes `_macd_general` (the same arithmetic with pandas' gap rule).
    """
    n = close.shape[0]
    out = np.empty((3, n))
    if n == 0:
        return out
    af = 2.0 / (fast + 1.0)
    asl = 2.0 / (slow + 1.0)
    asg = 2.0 / (sign + 1.0)
    ef = close[0]
    es = close[0]
    start = max(fast, slow) - 1  # first row where the line exists
    out[:, : min(start, n)] = np.nan
    for i in range(1, min(start, n)):
        v = close[i]
        ef = ef + af * (v - ef)
        es = es + asl * (v - es)
    sig = 0.0
    mid = min(max(start + sign - 1, start + 1), n)
    for i in range(start, mid):
        if i > 0:
            v = close[i]
            ef = ef + af * (v - ef)
            es = es + asl * (v - es)
        line = ef - es
        sig = line if i == start else sig + asg * (line - sig)
        out[0, i] = line
        if i - start + 1 >= sign:
            out[1, i] = sig
            out[2, i] = line - sig
        else:
            out[1, i] = np.nan
            out[2, i] = np.nan
    for i in range(mid, n):
        v = close[i]
        ef = ef + af * (v - ef)
        es = es + asl * (v - es)
        line = ef - es
        sig = sig + asg * (line - sig)
        out[0, i] = line
        out[1, i] = sig
        out[2, i] = line - sig
    if np.isnan(ef) or np.isnan(es):
        return _macd_general(close, slow, fast, sign)
    return out
