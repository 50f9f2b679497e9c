"""Compiled loops of the backtest: the account simulation and the metrics.

The account loop is sequential by nature (the size of every order depends on the equity left
by the previous ones, and several symbols share one cash balance), so it cannot be written as
column expressions without approximating. A numba loop over a (bars x symbols) matrix is the
fastest sound form we found: about 10 ns per bar and symbol, and the same code serves `run`
and, compiled once with `prange` over parameter combinations, `sweep`.

The metrics are computed here too, so that `BacktestResult.stats()` and every row of a sweep
come from one definition.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from omni_research.backtest._layout import (
    A_EXPOSED,
    A_FEES,
    A_FUNDING,
    A_TRADED,
    N_STATS,
    N_TRADE_FIELDS,
    T_ENTRY,
    T_EPX,
    T_EXIT,
    T_FEES,
    T_FUND,
    T_OPEN,
    T_PNL,
    T_RET,
    T_SIZE,
    T_SYM,
    T_XPX,
)


@njit(cache=True)
def _close_part(
    trades: np.ndarray,
    k: int,
    s: int,
    entry_idx: int,
    exit_idx: int,
    avg: float,
    price: float,
    qty: float,
    fees: float,
    funding: float,
    is_open: bool,
) -> None:
    # qty is the signed size of the part being closed (positive for a long).
    trades[k, T_SYM] = s
    trades[k, T_ENTRY] = entry_idx
    trades[k, T_EXIT] = exit_idx
    trades[k, T_EPX] = avg
    trades[k, T_XPX] = price
    trades[k, T_SIZE] = qty
    trades[k, T_FEES] = fees
    trades[k, T_FUND] = funding
    pnl = qty * (price - avg) - fees - funding
    trades[k, T_PNL] = pnl
    notional = abs(qty) * avg
    trades[k, T_RET] = pnl / notional if notional > 0 else 0.0
    trades[k, T_OPEN] = 1.0 if is_open else 0.0


@njit(cache=True)
def simulate(
    open_: np.ndarray,
    close: np.ndarray,
    avail: np.ndarray,
    target: np.ndarray,
    fund: np.ndarray,
    next_open: bool,
    cash0: float,
    fee: float,
    slippage: float,
    size: float,
    notional_sizing: bool,
    whole: bool,
    equity_out: np.ndarray,
    pos_out: np.ndarray,
    record_positions: bool,
    trades: np.ndarray,
    acc: np.ndarray,
) -> int:
    """Run the account over (bars x symbols) matrices; return the number of trade rows.

    ``target[t, s]`` is the exposure decided with the information of bar t; NaN (no bar, or
    a null signal) keeps the previous target, and before the first one the target is flat.
    It is executed at ``open_[t + 1, s]`` when ``next_open`` is true and at
    ``close[t, s]`` otherwise, only on bars where the symbol has data (``avail``); a missing
    bar defers the order to the symbol's next bar. ``fund[t, s]`` is the funding owed per unit
    of position held during bar t (rate x mark price, summed over the events in the bar).
    """
    n, m = close.shape
    cash = cash0
    pos = np.zeros(m)
    avg = np.zeros(m)
    entry_idx = np.zeros(m, dtype=np.int64)
    entry_fees = np.zeros(m)
    trade_fund = np.zeros(m)
    done = np.zeros(m)  # exposure last executed per symbol
    want_s = np.zeros(m)  # latest target decided per symbol
    last = np.full(m, np.nan)  # last close seen per symbol
    mark = np.zeros(m)
    k = 0
    traded = 0.0
    fees_total = 0.0
    fund_total = 0.0
    exposed = 0
    alloc_div = 1.0 if notional_sizing else float(m)
    for t in range(n):
        # Reference prices of this step's executions: open (next_open) or close (close).
        for s in range(m):
            if avail[t, s]:
                mark[s] = open_[t, s] if next_open else close[t, s]
            elif not math.isnan(last[s]):
                mark[s] = last[s]
            else:
                mark[s] = 0.0
        if not next_open:
            # With execution at the close, funding during bar t is owed on the position
            # carried into the bar, i.e. before this bar's orders.
            for s in range(m):
                if pos[s] != 0.0 and fund[t, s] != 0.0:
                    pay = pos[s] * fund[t, s]
                    cash -= pay
                    fund_total += pay
                    trade_fund[s] += pay
        for s in range(m):
            if next_open:
                if t > 0 and not math.isnan(target[t - 1, s]):
                    want_s[s] = target[t - 1, s]
            elif not math.isnan(target[t, s]):
                want_s[s] = target[t, s]
            if not avail[t, s]:
                continue
            want = want_s[s]
            if want == done[s]:
                continue
            price = mark[s]
            if not (price > 0.0):
                continue
            # Close first when the direction changes (flat included), like an exchange
            # account with exclusive orders: the new size is sized on the equity left after.
            if pos[s] != 0.0 and (want == 0.0 or (want > 0.0) != (pos[s] > 0.0)):
                q = pos[s]
                px = price * (1.0 - slippage) if q > 0 else price * (1.0 + slippage)
                f = abs(q) * px * fee
                cash += q * px - f
                traded += abs(q) * px
                fees_total += f
                _close_part(
                    trades,
                    k,
                    s,
                    entry_idx[s],
                    t,
                    avg[s],
                    px,
                    q,
                    entry_fees[s] + f,
                    trade_fund[s],
                    False,
                )
                k += 1
                pos[s] = 0.0
                avg[s] = 0.0
                entry_fees[s] = 0.0
                trade_fund[s] = 0.0
            done[s] = want
            if want == 0.0:
                continue
            if notional_sizing:
                budget = want * size
            else:
                equity = cash
                for j in range(m):
                    equity += pos[j] * mark[j]
                if equity <= 0.0:
                    continue  # a wiped-out account opens nothing
                budget = want * size * equity / alloc_div
            px_buy = price * (1.0 + slippage) if budget > 0 else price * (1.0 - slippage)
            q_target = budget / (px_buy * (1.0 + fee))
            if whole:
                q_target = math.floor(abs(q_target)) * (1.0 if q_target > 0 else -1.0)
            delta = q_target - pos[s]
            if delta == 0.0:
                continue
            px = price * (1.0 + slippage) if delta > 0 else price * (1.0 - slippage)
            f = abs(delta) * px * fee
            cash -= delta * px + f
            traded += abs(delta) * px
            fees_total += f
            if pos[s] == 0.0 or (delta > 0.0) == (pos[s] > 0.0):
                # Opening or adding: the trade's entry price is the size-weighted average.
                if pos[s] == 0.0:
                    entry_idx[s] = t
                avg[s] = (pos[s] * avg[s] + delta * px) / (pos[s] + delta)
                entry_fees[s] += f
                pos[s] += delta
            else:
                # Reducing in the same direction: close a part, with its share of the
                # entry fees and funding.
                share = abs(delta) / abs(pos[s])
                ef = entry_fees[s] * share
                fu = trade_fund[s] * share
                _close_part(trades, k, s, entry_idx[s], t, avg[s], px, -delta, ef + f, fu, False)
                k += 1
                entry_fees[s] -= ef
                trade_fund[s] -= fu
                pos[s] += delta
        if next_open:
            # With execution at the open, the position held during bar t is the one just
            # set at its open.
            for s in range(m):
                if pos[s] != 0.0 and fund[t, s] != 0.0:
                    pay = pos[s] * fund[t, s]
                    cash -= pay
                    fund_total += pay
                    trade_fund[s] += pay
        equity = cash
        any_pos = False
        for s in range(m):
            if avail[t, s]:
                last[s] = close[t, s]
            if pos[s] != 0.0:
                any_pos = True
                equity += pos[s] * last[s]
            if record_positions:
                pos_out[t, s] = pos[s]
        if any_pos:
            exposed += 1
        equity_out[t] = equity
    # Positions still open at the end are reported marked at the last close, flagged open.
    for s in range(m):
        if pos[s] != 0.0:
            _close_part(
                trades,
                k,
                s,
                entry_idx[s],
                n - 1,
                avg[s],
                last[s],
                pos[s],
                entry_fees[s],
                trade_fund[s],
                True,
            )
            k += 1
    acc[A_TRADED] = traded
    acc[A_FEES] = fees_total
    acc[A_FUNDING] = fund_total
    acc[A_EXPOSED] = exposed
    return k


@njit(cache=True)
def metrics(
    equity: np.ndarray,
    cash0: float,
    trades: np.ndarray,
    n_trades: int,
    acc: np.ndarray,
    periods_per_year: float,
    closed_only: bool,
) -> np.ndarray:
    """Metrics of one run, in the order of `STAT_NAMES` (see docs/backtest.md)."""
    out = np.full(N_STATS, np.nan)
    n = equity.shape[0]
    if n == 0:
        return out
    # Per-bar simple returns; the first is measured from the starting cash.
    s1 = 0.0
    s2 = 0.0
    down2 = 0.0
    prev = cash0
    peak = cash0
    mdd = 0.0
    dd_len = 0
    dd_max_len = 0
    # Branch-free where the branch is a coin toss and one division per bar: this loop runs
    # once per sweep combination, and the naive form cost twice the simulation itself.
    for t in range(n):
        e = equity[t]
        r = e / prev - 1.0 if prev != 0.0 else 0.0
        s1 += r
        s2 += r * r
        neg = min(r, 0.0)
        down2 += neg * neg
        prev = e
        if e >= peak:
            peak = e
            dd_len = 0
        else:
            dd_len += 1
            dd_max_len = max(dd_max_len, dd_len)
            if e < peak * (1.0 + mdd):
                mdd = e / peak - 1.0
    mean = s1 / n
    var = (s2 - n * mean * mean) / (n - 1) if n > 1 else np.nan
    std = math.sqrt(var) if var > 0 else 0.0
    final = equity[n - 1]
    total = final / cash0 - 1.0
    years = n / periods_per_year
    growth = final / cash0
    cagr = growth ** (1.0 / years) - 1.0 if growth > 0 else -1.0
    out[0] = total
    out[1] = cagr
    out[2] = std * math.sqrt(periods_per_year)
    out[3] = mean / std * math.sqrt(periods_per_year) if std > 0 else np.nan
    downside = math.sqrt(down2 / n) * math.sqrt(periods_per_year)
    out[4] = mean * periods_per_year / downside if downside > 0 else np.nan
    out[5] = cagr / -mdd if mdd < 0 else np.nan
    out[6] = mdd
    out[7] = dd_max_len
    wins = 0
    count = 0
    gross_win = 0.0
    gross_loss = 0.0
    sum_pnl = 0.0
    sum_ret = 0.0
    for i in range(n_trades):
        if closed_only and trades[i, T_OPEN] > 0.0:
            continue
        p = trades[i, T_PNL]
        count += 1
        sum_pnl += p
        sum_ret += trades[i, T_RET]
        if p > 0:
            wins += 1
            gross_win += p
        else:
            gross_loss -= p
    if count > 0:
        out[8] = wins / count
        out[10] = sum_pnl / count
        out[11] = sum_ret / count
        out[9] = gross_win / gross_loss if gross_loss > 0 else np.inf
    out[12] = acc[A_EXPOSED] / n
    mean_equity = 0.0
    for t in range(n):
        mean_equity += equity[t]
    mean_equity /= n
    out[13] = acc[A_TRADED] / mean_equity if mean_equity > 0 else np.nan
    out[14] = count
    out[15] = final
    out[16] = acc[A_FEES]
    out[17] = acc[A_FUNDING]
    return out


@njit(cache=True)
def trade_capacity(target: np.ndarray) -> int:
    """Upper bound of the trade rows of `simulate`: target changes (NaN holds) + 2 per symbol."""
    n, m = target.shape
    total = 2 * int(m) + 2
    for s in range(m):
        prev = np.nan
        for t in range(n):
            v = target[t, s]
            if not math.isnan(v) and v != prev:
                total += 1
                prev = v
    return total


@njit(cache=True, parallel=True)
def sweep_kernel(
    open_: np.ndarray,
    close: np.ndarray,
    avail: np.ndarray,
    targets: np.ndarray,
    fund: np.ndarray,
    next_open: bool,
    cash0: float,
    fee: float,
    slippage: float,
    size: float,
    notional_sizing: bool,
    whole: bool,
    periods_per_year: float,
) -> np.ndarray:
    """One row of `metrics` per combination ``targets[c]`` (combinations run in parallel)."""
    n_comb = targets.shape[0]
    n = close.shape[0]
    out = np.empty((n_comb, N_STATS))
    for c in prange(n_comb):
        equity = np.empty(n)
        pos = np.empty((1, 1))
        trades = np.empty((trade_capacity(targets[c]), N_TRADE_FIELDS))
        acc = np.zeros(4)
        k = simulate(
            open_,
            close,
            avail,
            targets[c],
            fund,
            next_open,
            cash0,
            fee,
            slippage,
            size,
            notional_sizing,
            whole,
            equity,
            pos,
            False,
            trades,
            acc,
        )
        out[c] = metrics(equity, cash0, trades, k, acc, periods_per_year, True)
    return out
