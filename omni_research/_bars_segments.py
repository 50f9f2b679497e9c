"""Eager fast path of the bar builders: one compiled pass over contiguous segments.

A hash ``group_by`` on (symbol, bucket) costs several times what pandas' resample does on
one series. For an in-memory frame whose rows are already grouped by symbol and in time
order (the catalog's order) every bar is a contiguous run of rows, so one numba loop finds
the runs and accumulates open, high, low, close, sums and counts as it goes. The lazy path
(hash group-by, streaming-friendly) gives the same bars; tests compare the two.

Each function returns None when its preconditions do not hold (nulls, unsorted time,
symbols interleaved), and the caller falls back to the lazy path. numba is imported with
this module, which the bar builders import only when they run.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt
import polars as pl

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B1 = npt.NDArray[np.bool_]

_JIT = numba.njit(cache=True, nogil=True)

MODE_KEYS, MODE_TICK, MODE_VOLUME, MODE_DOLLAR, MODE_TIME = 0, 1, 2, 3, 4
_MONDAY_US = 4 * 86_400_000_000  # 1970-01-01 was a Thursday; weeks start on Monday


@_JIT
def _keys(
    mode: int, keys_in: I64, ts: I64, starts: B1, price: F64, size: F64, step: int,
    offset: int, threshold: float,
) -> tuple[I64, int]:  # pragma: no cover  # fmt: skip
    """Per-row bar key and the number of bars.

    Time: the bucket start (``ts`` floored to ``step`` µs from ``offset``), as
    ``dt.truncate`` gives for fixed-length timeframes. Threshold bars: the bar id within the
    series exactly as the lazy path computes it, ``floor((cum_sum(x) - x) / threshold)``
    (tick bars: ``row index // step``).
    """
    n = ts.shape[0]
    key = np.empty(n, np.int64)
    cum = 0.0
    idx = 0
    bars = 0
    k = lo = hi = 0
    for i in range(n):
        if starts[i]:
            cum = 0.0
            idx = 0
        if mode == MODE_KEYS:
            k = keys_in[i]
        elif mode == MODE_TIME:
            # sorted times stay in the same bucket for many rows: divide only on leaving it
            if i == 0 or ts[i] >= hi or ts[i] < lo:
                t = ts[i] - offset
                k = t - t % step + offset
                lo = k
                hi = k + step
        elif mode == MODE_TICK:
            k = idx // step
        else:
            x = size[i] if mode == MODE_VOLUME else price[i] * size[i]
            cum = cum + x
            k = int(np.floor((cum - x) / threshold))
        key[i] = k
        if i == 0 or starts[i] or k != key[i - 1]:
            bars += 1
        idx += 1
    return key, bars


@_JIT
def _trade_bars(
    mode: int, keys_in: I64, ts: I64, starts: B1, price: F64, size: F64, buy: B1, sell: B1,
    step: int, offset: int, threshold: float, m_max: int,
) -> tuple[
    int, I64, I64, I64, F64, F64, F64, F64, F64, F64, I64, F64, F64
]:  # pragma: no cover  # fmt: skip
    """Bars of trades in one pass: the bar key of each row (see ``_keys``) and the running
    open, high, low, close, sums and counts, written once per bar.

    Returns the number of bars first, or -1 when time goes back inside a series or more
    than ``m_max`` bars would be needed (the caller then takes the lazy path).
    """
    n = ts.shape[0]
    first = np.empty(m_max, np.int64)
    last = np.empty(m_max, np.int64)
    key_out = np.empty(m_max, np.int64)
    o = np.empty(m_max)
    h = np.empty(m_max)
    lo = np.empty(m_max)
    c = np.empty(m_max)
    vol = np.empty(m_max)
    turn = np.empty(m_max)
    cnt = np.empty(m_max, np.int64)
    bv = np.empty(m_max)
    sv = np.empty(m_max)
    j = -1
    cum = 0.0
    idx = 0
    k = 0
    prev_k = 0
    lo_t = 0
    hi_t = 0
    k0 = 0
    hp = lp = v = tv = b = sl = 0.0
    for i in range(n):
        t = ts[i]
        p = price[i]
        s = size[i]
        new_series = i == 0 or starts[i]
        if new_series:
            cum = 0.0
            idx = 0
        elif t < ts[i - 1]:
            return -1, first, last, key_out, o, h, lo, c, vol, turn, cnt, bv, sv
        if mode == MODE_KEYS:
            k = keys_in[i]
        elif mode == MODE_TIME:
            # sorted times stay in one bucket for many rows: divide only on leaving it
            if new_series or t >= hi_t or t < lo_t:
                shifted = t - offset
                k = shifted - shifted % step + offset
                lo_t = k
                hi_t = k + step
        elif mode == MODE_TICK:
            k = idx // step
        else:
            x = s if mode == MODE_VOLUME else p * s
            cum = cum + x
            k = int(np.floor((cum - x) / threshold))
        idx += 1
        if new_series or k != prev_k:
            if j >= 0:
                h[j] = hp
                lo[j] = lp
                c[j] = price[i - 1]
                last[j] = i - 1
                vol[j] = v
                turn[j] = tv
                cnt[j] = i - k0
                bv[j] = b
                sv[j] = sl
            j += 1
            if j >= m_max:
                return -1, first, last, key_out, o, h, lo, c, vol, turn, cnt, bv, sv
            k0 = i
            first[j] = i
            key_out[j] = k
            o[j] = p
            hp = p
            lp = p
            v = tv = b = sl = 0.0
        prev_k = k
        # the buy/sell split is arithmetic, not a branch: sides alternate at random
        hp = max(hp, p)
        lp = min(lp, p)
        v += s
        tv += p * s
        b += s * buy[i]
        sl += s * sell[i]
    if j >= 0:
        h[j] = hp
        lo[j] = lp
        c[j] = price[n - 1]
        last[j] = n - 1
        vol[j] = v
        turn[j] = tv
        cnt[j] = n - k0
        bv[j] = b
        sv[j] = sl
    return j + 1, first, last, key_out, o, h, lo, c, vol, turn, cnt, bv, sv


@_JIT
def _reduce_ohlcv(
    key: I64, m: int, starts: B1, o: F64, h: F64, lo: F64, c: F64, v: F64, t: F64, n_tr: I64
) -> tuple[I64, I64, F64, F64, F64, F64, F64, F64, I64]:  # pragma: no cover
    n = key.shape[0]
    first = np.empty(m, np.int64)
    last = np.empty(m, np.int64)
    oo = np.empty(m)
    hh = np.empty(m)
    ll = np.empty(m)
    cc = np.empty(m)
    vv = np.empty(m)
    tt = np.empty(m)
    kk = np.empty(m, np.int64)
    j = -1
    hp = lp = sv = st = 0.0
    sk = 0
    for i in range(n):
        if i == 0 or starts[i] or key[i] != key[i - 1]:
            if j >= 0:
                hh[j] = hp
                ll[j] = lp
                cc[j] = c[i - 1]
                last[j] = i - 1
                vv[j] = sv
                tt[j] = st
                kk[j] = sk
            j += 1
            first[j] = i
            oo[j] = o[i]
            hp = h[i]
            lp = lo[i]
            sv = st = 0.0
            sk = 0
        hp = max(hp, h[i])
        lp = min(lp, lo[i])
        sv += v[i]
        st += t[i]
        sk += n_tr[i]
    if j >= 0:
        hh[j] = hp
        ll[j] = lp
        cc[j] = c[n - 1]
        last[j] = n - 1
        vv[j] = sv
        tt[j] = st
        kk[j] = sk
    return first, last, oo, hh, ll, cc, vv, tt, kk


def _time_mode(every: str) -> tuple[int, int, int]:
    """(mode, step µs, offset µs) for a time bucket: computed in the loop for minutes,
    hours, one day and one week; anything else comes from Polars' ``dt.truncate``."""
    from omni_research.bars import timeframe_duration_us

    unit = every[-1:]
    if unit in ("m", "h") or every in ("1d", "1w"):
        return MODE_TIME, timeframe_duration_us(every), _MONDAY_US if unit == "w" else 0
    return MODE_KEYS, 1, 0


def _series_starts(df: pl.DataFrame, keys: list[str], *, check_time: bool = True) -> B1 | None:
    """A mask of the rows where a series starts, if each series is one contiguous run in
    time order; None otherwise."""
    if any(df.get_column(k).null_count() for k in keys):
        return None
    starts = (
        df.select(
            pl.any_horizontal([pl.col(k) != pl.col(k).shift(1) for k in keys]).fill_null(True)
        )
        .to_series()
        .to_numpy()
    )
    first_rows = np.flatnonzero(starts)
    if df.select(keys).gather(first_rows).n_unique() != len(first_rows):
        return None  # a series appears in several runs: rows of symbols interleaved
    if check_time:
        ts = df.get_column("timestamp").to_physical().to_numpy()
        back = np.flatnonzero(ts[1:] < ts[:-1]) + 1
        if len(back) and not starts[back].all():
            return None  # time goes back inside a series
    return np.ascontiguousarray(starts, dtype=np.bool_)


def _floats(df: pl.DataFrame, name: str) -> F64 | None:
    col = df.get_column(name)
    if col.null_count():
        return None
    return np.ascontiguousarray(col.cast(pl.Float64).to_numpy(), dtype=np.float64)


def trade_segments(
    df: pl.DataFrame, *, by: str, bucket: str | None, threshold: tuple[int, float] | None
) -> pl.DataFrame | None:
    """Bars of trades: time buckets (``bucket``, a truncate ``every``) or threshold bars
    (``threshold`` = (MODE_TICK | MODE_VOLUME | MODE_DOLLAR, size)).

    Returns ``by``, ``_key`` (bucket start in µs, or bar id), ``_first_ts``, ``_last_ts``
    and the bar statistics, in input order; None when the fast path does not apply.
    """
    n = df.height
    if n == 0:
        return None
    starts = _series_starts(df, [by], check_time=False)
    price, size = _floats(df, "price"), _floats(df, "size")
    if starts is None or price is None or size is None:
        return None
    ts = np.ascontiguousarray(df.get_column("timestamp").to_physical().to_numpy(), np.int64)
    firsts = np.flatnonzero(starts)
    lasts = np.r_[firsts[1:], n] - 1
    keys_in = np.empty(0, np.int64)
    limit = 0.0
    # an upper bound of the bar count sizes the outputs, so one pass suffices
    if bucket is not None:
        mode, step, offset = _time_mode(bucket)
        if mode == MODE_KEYS:
            keys_in = np.ascontiguousarray(
                df.get_column("timestamp").dt.truncate(bucket).to_physical().to_numpy(), np.int64
            )
            change = starts.copy()
            change[1:] |= keys_in[1:] != keys_in[:-1]
            bound = int(change.sum())
        else:
            bound = int(np.maximum((ts[lasts] - ts[firsts]) // step + 2, 1).sum())
    else:
        assert threshold is not None
        mode, limit = threshold[0], float(threshold[1])
        offset = 0
        if mode == MODE_TICK:
            step = int(limit)
            bound = int((-(-(lasts - firsts + 1) // step)).sum())
        else:
            step = 1
            totals = np.add.reduceat(size, firsts)
            if mode == MODE_DOLLAR:  # notional <= size × the series' highest price
                totals = totals * np.maximum.reduceat(price, firsts)
            bound = int(np.floor(np.nan_to_num(totals / limit, posinf=n)).sum()) + 2 * len(firsts)
    bound = max(1, min(bound, n))
    sides = df.select(buy=pl.col("side") == "buy", sell=pl.col("side") == "sell").fill_null(False)
    buy = np.ascontiguousarray(sides["buy"].to_numpy(), np.bool_)
    sell = np.ascontiguousarray(sides["sell"].to_numpy(), np.bool_)
    m, first, last, key, o, h, lo, c, vol, turn, cnt, bv, sv = _trade_bars(
        mode, keys_in, ts, starts, price, size, buy, sell, step, offset, limit, bound
    )
    if m < 0:
        return None
    vol, turn = vol[:m], turn[:m]
    return (
        df.select(by)
        .gather(first[:m])
        .with_columns(
            pl.Series("_key", key[:m]),
            pl.Series("_first_ts", ts[first[:m]]),
            pl.Series("_last_ts", ts[last[:m]]),
            pl.Series("open", o[:m]),
            pl.Series("high", h[:m]),
            pl.Series("low", lo[:m]),
            pl.Series("close", c[:m]),
            pl.Series("volume", vol),
            pl.Series("turnover", turn),
            pl.Series("trade_count", cnt[:m]),
            pl.Series("vwap", turn / vol),
            pl.Series("buy_volume", bv[:m]),
            pl.Series("sell_volume", sv[:m]),
        )
    )


def ohlcv_segments(df: pl.DataFrame, *, by: str, every: str) -> pl.DataFrame | None:
    """Resampled OHLCV over contiguous (series, bucket) runs, or None.

    Returns ``by``, ``_key`` (bucket start, µs), ``_last_ts``, ``open, high, low, close,
    volume`` and, when the input has them, ``turnover`` and ``trade_count``.
    """
    if df.height == 0:
        return None
    starts = _series_starts(df, [by])
    arrays = [_floats(df, c) for c in ("open", "high", "low", "close", "volume")]
    has_turnover, has_count = "turnover" in df.columns, "trade_count" in df.columns
    turnover = _floats(df, "turnover") if has_turnover else np.zeros(df.height)
    count_col = df.get_column("trade_count") if has_count else None
    if starts is None or turnover is None or any(a is None for a in arrays):
        return None
    if count_col is not None and count_col.null_count():
        return None
    counts = (
        np.ascontiguousarray(count_col.cast(pl.Int64).to_numpy(), np.int64)
        if count_col is not None
        else np.zeros(df.height, np.int64)
    )
    ts = np.ascontiguousarray(df.get_column("timestamp").to_physical().to_numpy(), np.int64)
    mode, step, offset = _time_mode(every)
    keys_in = np.empty(0, np.int64)
    if mode == MODE_KEYS:
        keys_in = np.ascontiguousarray(
            df.get_column("timestamp").dt.truncate(every).to_physical().to_numpy(), np.int64
        )
    o, h, lo, c, v = (a for a in arrays if a is not None)
    key, m = _keys(mode, keys_in, ts, starts, o, v, step, offset, 0.0)
    first, last, oo, hh, ll, cc, vv, tt, kk = _reduce_ohlcv(
        key, m, starts, o, h, lo, c, v, turnover, counts
    )
    out = (
        df.select(by)
        .gather(first)
        .with_columns(
            pl.Series("_key", key[first]),
            pl.Series("_last_ts", ts[last]),
            pl.Series("open", oo),
            pl.Series("high", hh),
            pl.Series("low", ll),
            pl.Series("close", cc),
            pl.Series("volume", vv),
        )
    )
    if has_turnover:
        out = out.with_columns(pl.Series("turnover", tt))
    if has_count:
        out = out.with_columns(pl.Series("trade_count", kk))
    return out
