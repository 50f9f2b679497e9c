"""Wilder's averages (``alpha = 1 / window``) as `ta` seeds them: RSI from row 0 with a
0.0 change, ATR and ADX with the mean (or sum) of the first window, 0.0 before as `ta`
writes it. Polars' ``ewm_mean`` cannot be seeded with a window mean."""

from __future__ import annotations

import numpy as np

from omni_research.indicators._kernels.jit import F64, JIT, JIT_FMA


@JIT
def rsi(close: F64, window: int, min_periods: int = -1) -> F64:  # pragma: no cover
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
    # `ta`'s fillna=True (min_periods=0) shows the averages from row 0
    first = window - 1 if min_periods < 0 else max(min_periods - 1, 0)
    for i in range(1, n):
        d = close[i] - close[i - 1]
        up = d if d > 0 else 0.0
        dn = -d if d < 0 else 0.0
        up_avg = up_avg * keep + up * alpha
        dn_avg = dn_avg * keep + dn * alpha
        if i >= first:
            out[i] = 100.0 if dn_avg == 0 else 100.0 - 100.0 / (1.0 + up_avg / dn_avg)
    if n >= 1 and first == 0:
        out[0] = 100.0
    return out


@JIT
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


@JIT_FMA
def _atr_fast(high: F64, low: F64, close: F64, window: int) -> F64:  # pragma: no cover
    n = close.shape[0]
    # every row from ``window - 1`` on is written below: zero-filling only the warm-up spares
    # a pass over the whole output (~0.15 ms per 1,000,000 rows)
    out = np.empty(n)
    out[: window - 1] = 0.0
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


@JIT
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
