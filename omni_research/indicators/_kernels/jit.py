"""The numba decorators every kernel module uses."""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

# error_model="numpy": x/0 gives inf or NaN as in numpy and pandas, instead of raising
JIT = numba.njit(cache=True, nogil=True, error_model="numpy")

# Recursions whose loop-carried chain is a multiply-add (Wilder's ATR, pandas' EWM and the
# MACD built on it) may fuse it ("contract": FMA rounds once, so it is as accurate or more):
# that halves the loop's latency, which is what bounds them (EMA on 1,000,000 rows: 2.6 ->
# 2.0 ms, TA-Lib's time). The general (NaN-aware) loops use it too, so both paths keep the
# same arithmetic.
JIT_FMA = numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
