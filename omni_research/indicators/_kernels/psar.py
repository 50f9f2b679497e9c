"""The Parabolic SAR recursion (trend flips depend on the previous output)."""

from __future__ import annotations

import numpy as np

from omni_research.indicators._kernels.jit import F64, JIT


@JIT
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
