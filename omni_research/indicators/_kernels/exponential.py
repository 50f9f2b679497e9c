"""pandas' exponential moving average (``ewm(adjust=False)``) with its NaN-gap rule, and
the indicators built on it: MACD, PPO/PVO, TSI, STC (EMA-smoothed stochastics) and KAMA
(an EMA whose smoothing constant changes every row). Polars' ``ewm_mean`` propagates a NaN
where pandas carries the mean over it."""

from __future__ import annotations

import numpy as np

from omni_research.indicators._kernels.jit import F64, JIT, JIT_FMA
from omni_research.indicators._kernels.rolling import stoch_window


@JIT_FMA
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


@JIT_FMA
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


@JIT_FMA
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


@JIT_FMA
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


def percentage_oscillator(
    x: F64, window_slow: int, window_fast: int, window_sign: int, fillna: bool = False
) -> tuple[F64, F64, F64]:
    """`ta`'s PPO/PVO: the line ``(EMA_fast - EMA_slow) / EMA_slow * 100``, its EMA signal
    and the histogram, with pandas' EWM (NaN carried over, min_periods counting values;
    `_kernels.ewm_gaps`). Plain Python around three compiled EWMs on contiguous arrays
    (the same loops inside one numba function, on rows of a 2-D array, ran 3x slower).
    ``fillna``: `ta`'s ``min_periods=0``, every EWM from its first value."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    m = 0 if fillna else 1
    fast = ewm_gaps(x, 2.0 / (window_fast + 1.0), window_fast * m)
    slow = ewm_gaps(x, 2.0 / (window_slow + 1.0), window_slow * m)
    with np.errstate(divide="ignore", invalid="ignore"):
        line = (fast - slow) / slow * 100
    signal = ewm_gaps(line, 2.0 / (window_sign + 1.0), window_sign * m)
    return line, signal, line - signal


def tsi(close: F64, window_slow: int, window_fast: int, fillna: bool = False) -> F64:
    """`ta.momentum.TSIIndicator`: 100 * EMA_fast(EMA_slow(diff)) / EMA_fast(EMA_slow(|diff|))
    with pandas' EWM; NaN where both smoothings are 0 (a long flat stretch), as in `ta`.
    ``fillna``: `ta`'s ``min_periods=0``, every EWM from its first value."""
    d = np.empty(close.shape[0])
    d[:1] = np.nan
    np.subtract(close[1:], close[:-1], out=d[1:])
    a_s = 2.0 / (window_slow + 1.0)
    a_f = 2.0 / (window_fast + 1.0)
    ms, mf = (0, 0) if fillna else (window_slow, window_fast)
    num = ewm_gaps(ewm_gaps(d, a_s, ms), a_f, mf)
    den = ewm_gaps(ewm_gaps(np.abs(d), a_s, ms), a_f, mf)
    with np.errstate(divide="ignore", invalid="ignore"):
        return num / den * 100  # type: ignore[no-any-return]


@JIT
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


@JIT
def stc(
    macd: F64, cycle: int, smooth1: int, smooth2: int, fillna: bool = False
) -> F64:  # pragma: no cover
    """Schaff Trend Cycle from a MACD line, as `ta.trend.STCIndicator` does after its MACD.

    Two stochastic passes, each smoothed by pandas' EMA (with its gap rule for the 0/0 of a
    flat window). One loop instead of an expression that would evaluate the MACD 9 times
    (each stochastic reads its input three times: value, rolling min, rolling max).
    """
    m = 0 if fillna else 1  # `ta`'s fillna=True: the EWMs with min_periods=0
    k = stoch_window(macd, cycle)
    d = ewm_gaps(k, 2.0 / (smooth1 + 1.0), smooth1 * m)
    kd = stoch_window(d, cycle)
    return ewm_gaps(kd, 2.0 / (smooth2 + 1.0), smooth2 * m)


def macd_from_start(close: F64, slow: int, fast: int, sign: int) -> F64:
    """`ta.trend.MACD` with ``fillna=True``: every EMA with ``min_periods=0``, so the line and
    the signal start at the first close (a (3, n) array: line, signal, histogram)."""
    close = np.ascontiguousarray(close, dtype=np.float64)
    line = ewm_gaps(close, 2.0 / (fast + 1.0), 0) - ewm_gaps(close, 2.0 / (slow + 1.0), 0)
    signal = ewm_gaps(line, 2.0 / (sign + 1.0), 0)
    return np.stack([line, signal, line - signal])
