"""The numba decorators every kernel module uses."""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

# error_model="numpy": x/0 gives inf or NaN as in numpy and pandas, instead of raising
JIT = numba.njit(cache=True, nogil=True, error_model="numpy")

# Fast paths. NaN-free inputs (the common case) skip every per-row NaN test, and a Wilder
# recursion may use fused multiply-adds ("contract": FMA rounds once, so it is as accurate
# or more): that halves the loop-carried latency, which is what bounds ATR.
JIT_FMA = numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
