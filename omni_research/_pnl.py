"""The compiled FIFO loop of `omni_research.pnl` (numba, imported on first use)."""

from __future__ import annotations

import numpy as np
from numba import njit

# Lot remainders below this are float dust from subtracting decimal sizes, not positions.
_DUST = 1e-12


@njit(cache=True)
def fifo(
    group: np.ndarray, qty: np.ndarray, price: np.ndarray, fee: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # A sequential queue per (symbol, account): matching closes against the oldest lots is
    # inherently ordered, so it is a compiled loop rather than expressions.
    n = qty.shape[0]
    lot_q = np.empty(n)
    lot_p = np.empty(n)
    head = 0
    tail = 0
    realized = 0.0
    fees = 0.0
    out_pos = np.empty(n)
    out_real = np.empty(n)
    out_cum_real = np.empty(n)
    out_basis = np.empty(n)
    out_avg = np.empty(n)
    out_fees = np.empty(n)
    for i in range(n):
        if i == 0 or group[i] != group[i - 1]:
            head = 0
            tail = 0
            realized = 0.0
            fees = 0.0
        q = qty[i]
        px = price[i]
        fees += fee[i]
        made = 0.0
        while q != 0.0 and head < tail and (lot_q[head] > 0.0) != (q > 0.0):
            take = min(abs(q), abs(lot_q[head]))
            sign = 1.0 if lot_q[head] > 0.0 else -1.0
            made += take * sign * (px - lot_p[head])
            lot_q[head] -= sign * take
            q += sign * take
            if abs(lot_q[head]) < _DUST:
                head += 1
            if abs(q) < _DUST:
                q = 0.0
        if q != 0.0:
            lot_q[tail] = q
            lot_p[tail] = px
            tail += 1
        realized += made
        size = 0.0
        basis = 0.0
        absq = 0.0
        for j in range(head, tail):
            size += lot_q[j]
            basis += lot_q[j] * lot_p[j]
            absq += abs(lot_q[j])
        out_pos[i] = size
        out_real[i] = made
        out_cum_real[i] = realized
        out_basis[i] = basis
        out_avg[i] = abs(basis) / absq if head < tail else np.nan
        out_fees[i] = fees
    return out_pos, out_real, out_cum_real, out_basis, out_avg, out_fees
