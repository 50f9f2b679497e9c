"""Cumulative volume flows with pandas' NaN rules (a NaN row stays NaN, the sum carries
on past it) and the Money Flow Index's exact window sums."""

from __future__ import annotations

import numpy as np

from omni_research.indicators._kernels.jit import F64, JIT
from omni_research.indicators._kernels.rolling import window_sums


@JIT
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


@JIT
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


@JIT
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


@JIT
def mfi(
    high: F64, low: F64, close: F64, volume: F64, window: int, min_periods: int = -1
) -> F64:  # pragma: no cover
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
    p = window_sums(pos, window, False, min_periods)
    q = window_sums(neg, window, False, min_periods)
    return 100.0 - 100.0 / (1.0 + p / q)
