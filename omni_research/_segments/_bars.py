"""Bars over contiguous segments: the eager fast path of the bar builders.

A hash ``group_by`` on (symbol, bucket) costs several times what pandas' resample does on
one series. For an in-memory frame whose rows are grouped by symbol and in time order
(the catalog's order) every bar is a contiguous run of rows, so the work splits into:

1. series runs (``_runs.series_first_rows``);
2. bar cuts: binary search of bucket edges for time bars (:func:`time_cuts`), or row by
   row (``_kernels.cuts``) for tick bars, calendar buckets and sparse data;
3. per-bar sums (``_kernels.reduce_trades``, ``_kernels.reduce_ohlcv_ranges``), with the
   buy/sell split read from the side column's views (:func:`side_codes`); volume and
   dollar bars cut and sum in one fused pass (``_kernels.threshold_bars``).

Row-range passes run in threads (the kernels release the GIL) for large inputs. The lazy
path of ``omni_research.bars`` (hash group-by, streaming-friendly) gives the same bars;
tests compare the two. Each entry point returns None when its preconditions do not hold
(nulls, time going back inside a series, symbols interleaved), and the caller takes the
lazy path. numba is imported on the first call, not with this module.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import polars as pl

from omni_research._segments._runs import in_threads, parts, series_first_rows, string_views
from omni_research._time import MONDAY_US, timeframe_duration_us

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
U = npt.NDArray[Any]  # unsigned codes: string views, category codes, run ids

ThresholdKind: TypeAlias = Literal["tick", "volume", "dollar"]
"""How threshold bars are cut: every n trades, every ``size`` base or quote units."""


def time_mode(every: str) -> tuple[int, int, int]:
    """(mode, step µs, offset µs) for a time bucket: computed in the loop for minutes,
    hours, one day and one week; anything else comes from Polars' ``dt.truncate``."""
    from omni_research._segments import _kernels as K  # numba, imported on first use

    unit = every[-1:]
    if unit in ("m", "h") or every in ("1d", "1w"):
        return K.MODE_TIME, timeframe_duration_us(every), MONDAY_US if unit == "w" else 0
    return K.MODE_KEYS, 1, 0


_BUY_3 = 3 | int.from_bytes(b"buy", "little") << 32  # length 3, then the inline bytes
_SELL_4 = 4 | int.from_bytes(b"sell", "little") << 32
_LOW_7_BYTES = (1 << 56) - 1
_ALL = (1 << 64) - 1


def time_cuts(ts: I64, starts: I64, lasts: I64, step: int, offset: int) -> tuple[I64, I64] | None:
    """First row and bucket start of every time bar, by binary search of the bucket edges
    in each series (time sorted within a series is checked first, in one vectorised
    pass); None when time goes back inside a series, or when the edges far outnumber the
    rows (sparse trades: the row-by-row cut pass is then cheaper)."""
    from omni_research._segments import _kernels as K  # numba, imported on first use

    bounds = parts(ts.shape[0])

    def part(lo: int, hi: int) -> Callable[[], I64]:
        start = max(lo - 1, 0)
        return lambda: K.descents(ts[start:hi]) + start

    back = np.concatenate(in_threads([part(lo, hi) for lo, hi in itertools.pairwise(bounds)]))
    if len(back) and not np.isin(back, starts).all():
        return None
    lo_edge = ts[starts] - offset
    lo_edge = lo_edge - lo_edge % step + offset
    if int(((ts[lasts] - lo_edge) // step + 1).sum()) > ts.shape[0] // 4:
        return None
    firsts = []
    for a, b, edge in zip(starts.tolist(), lasts.tolist(), lo_edge.tolist(), strict=True):
        edges = np.arange(edge, int(ts[b]) + 1, step)
        rows = np.searchsorted(ts[a : b + 1], edges) + a
        # an empty bucket gives the same row as the next one: keep each row once
        keep = np.r_[rows[1:] != rows[:-1], True] & (rows <= b)
        firsts.append(rows[keep])
    first = np.concatenate(firsts).astype(np.int64)
    shifted = ts[first] - offset
    return first, shifted - shifted % step + offset


def side_codes(col: pl.Series) -> tuple[U, int, int, int, int]:
    """(array, buy mask, buy value, sell mask, sell value): a row is a buy when
    ``array & buy_mask == buy_value``; exact, not a guess on the first byte."""
    views = string_views(col)
    if views is not None:
        return views[:, 0], _LOW_7_BYTES, _BUY_3, _ALL, _SELL_4
    if (col.dtype == pl.Categorical or isinstance(col.dtype, pl.Enum)) and not col.null_count():
        buy, sell = pl.Series(["buy", "sell"]).cast(col.dtype, strict=False).to_physical()
        never = (0, 1)  # x & 0 == 1 never holds: the category is absent
        b = (_ALL, int(buy)) if buy is not None else never
        s = (_ALL, int(sell)) if sell is not None else never
        return col.to_physical().to_numpy(), b[0], b[1], s[0], s[1]
    code = (
        pl.select(
            (col == "buy").fill_null(False).cast(pl.UInt8)
            + 2 * (col == "sell").fill_null(False).cast(pl.UInt8)
        )
        .to_series()
        .to_numpy()
    )
    return code, _ALL, 1, _ALL, 2


def floats(df: pl.DataFrame, name: str) -> F64 | None:
    col = df.get_column(name)
    if col.null_count():
        return None
    return np.ascontiguousarray(col.cast(pl.Float64).to_numpy(), dtype=np.float64)


def trade_segments(
    df: pl.DataFrame,
    *,
    by: str,
    bucket: str | None,
    threshold: tuple[ThresholdKind, float] | None,
) -> pl.DataFrame | None:
    """Bars of trades: time buckets (``bucket``, a truncate ``every``) or threshold bars
    (``threshold`` = (``"tick"`` | ``"volume"`` | ``"dollar"``, size)).

    Returns ``by``, ``_key`` (bucket start in µs, or bar id), ``_first_ts``, ``_last_ts``
    and the bar statistics, in input order; None when the fast path does not apply.
    """
    from omni_research._segments import _kernels as K  # numba, imported on first use

    n = df.height
    if n == 0 or df.get_column("timestamp").null_count():
        return None
    starts = series_first_rows(df.get_column(by))
    price, size = floats(df, "price"), floats(df, "size")
    if starts is None or price is None or size is None:
        return None
    ts = np.ascontiguousarray(df.get_column("timestamp").to_physical().to_numpy(), np.int64)
    lasts = np.r_[starts[1:], n] - 1
    keys_in = np.empty(0, np.int64)
    limit = 0.0
    offset = 0
    # a bound of the bar count sizes the outputs; when it proves short, the cut pass runs
    # again with room for one bar per row
    if bucket is not None:
        mode, step, offset = time_mode(bucket)
        if mode == K.MODE_KEYS:
            keys_in = np.ascontiguousarray(
                df.get_column("timestamp").dt.truncate(bucket).to_physical().to_numpy(), np.int64
            )
            bound = 1024
        else:
            bound = int(np.maximum((ts[lasts] - ts[starts]) // step + 2, 1).sum())
    else:
        assert threshold is not None
        modes = {"tick": K.MODE_TICK, "volume": K.MODE_VOLUME, "dollar": K.MODE_DOLLAR}
        mode, limit = modes[threshold[0]], float(threshold[1])
        step = int(limit) if mode == K.MODE_TICK else 1
        if mode == K.MODE_TICK:
            bound = int((-(-(lasts - starts + 1) // step)).sum())
        else:  # the total per series (np.dot: no temporary) over the threshold, plus slack
            totals = [
                size[a : b + 1].sum()
                if mode == K.MODE_VOLUME
                else np.dot(price[a : b + 1], size[a : b + 1])
                for a, b in zip(starts, lasts, strict=True)
            ]
            bound = int(
                np.nan_to_num(np.floor(np.array(totals) / limit), posinf=n).sum()
            ) + 2 * len(starts)
    cap = max(16, min(bound, n))
    side, buy_mask, buy_val, sell_mask, sell_val = side_codes(df.get_column("side"))
    marks = np.uint64(buy_mask), np.uint64(buy_val), np.uint64(sell_mask), np.uint64(sell_val)
    if mode in (K.MODE_VOLUME, K.MODE_DOLLAR):
        for size_out in (cap, n) if cap < n else (n,):
            first, key = np.empty(size_out, np.int64), np.empty(size_out, np.int64)
            stats = np.empty((size_out, 8))
            args = (mode, starts, price, size, side, *marks, limit, first, key, stats)
            m = K.threshold_bars(*args)
            if m >= 0:
                break
        first, key, stats = first[:m], key[:m], stats[:m]
    else:
        timed = time_cuts(ts, starts, lasts, step, offset) if mode == K.MODE_TIME else None
        if timed is not None:
            first, key = timed
            m = len(first)
        else:
            m, first, key = K.cuts(mode, keys_in, ts, starts, step, offset, cap)
            if m == -2 and cap < n:
                m, first, key = K.cuts(mode, keys_in, ts, starts, step, offset, n)
            if m < 0:
                return None
        first, key = first[:m], key[:m]
        stats = np.empty((m, 8))
        # bars split into parts of about equal rows, one thread each
        cuts = np.r_[0, np.searchsorted(first, parts(n)[1:-1]), m]

        def part(a: int, b: int) -> Callable[[], None]:
            end = int(first[b]) if b < m else n
            return lambda: K.reduce_trades(first[a:b], end, price, size, side, *marks, stats[a:b])

        in_threads([part(a, b) for a, b in itertools.pairwise(cuts.tolist()) if b > a])
    last = np.r_[first[1:], n] - 1
    vol, turn = stats[:, 4], stats[:, 5]
    return (
        df.select(by)
        .gather(first)
        .with_columns(
            pl.Series("_key", key),
            pl.Series("_first_ts", ts[first]),
            pl.Series("_last_ts", ts[last]),
            pl.Series("open", stats[:, 0]),
            pl.Series("high", stats[:, 1]),
            pl.Series("low", stats[:, 2]),
            pl.Series("close", stats[:, 3]),
            pl.Series("volume", vol),
            pl.Series("turnover", turn),
            pl.Series("trade_count", last - first + 1),
            pl.Series("vwap", turn / vol),
            pl.Series("buy_volume", stats[:, 6]),
            pl.Series("sell_volume", stats[:, 7]),
        )
    )


def ohlcv_segments(df: pl.DataFrame, *, by: str, every: str) -> pl.DataFrame | None:
    """Resampled OHLCV over contiguous (series, bucket) runs, or None.

    Returns ``by``, ``_key`` (bucket start, µs), ``_last_ts``, ``open, high, low, close,
    volume`` and, when the input has them, ``turnover`` and ``trade_count``.
    """
    from omni_research._segments import _kernels as K  # numba, imported on first use

    n = df.height
    if n == 0 or df.get_column("timestamp").null_count():
        return None
    first_rows = series_first_rows(df.get_column(by))
    arrays = [floats(df, c) for c in ("open", "high", "low", "close", "volume")]
    has_turnover, has_count = "turnover" in df.columns, "trade_count" in df.columns
    turnover = floats(df, "turnover") if has_turnover else np.zeros(df.height)
    count_col = df.get_column("trade_count") if has_count else None
    if first_rows is None or turnover is None or any(a is None for a in arrays):
        return None
    if count_col is not None and count_col.null_count():
        return None
    counts = (
        np.ascontiguousarray(count_col.cast(pl.Int64).to_numpy(), np.int64)
        if count_col is not None
        else np.zeros(df.height, np.int64)
    )
    ts = np.ascontiguousarray(df.get_column("timestamp").to_physical().to_numpy(), np.int64)
    mode, step, offset = time_mode(every)
    keys_in = np.empty(0, np.int64)
    if mode == K.MODE_KEYS:
        keys_in = np.ascontiguousarray(
            df.get_column("timestamp").dt.truncate(every).to_physical().to_numpy(), np.int64
        )
    o, h, lo, c, v = (a for a in arrays if a is not None)
    lasts = np.r_[first_rows[1:], n] - 1
    timed = time_cuts(ts, first_rows, lasts, step, offset) if mode == K.MODE_TIME else None
    if timed is not None:  # bucket edges by binary search, then one pass per bar
        first, key = timed
        last = np.r_[first[1:], n] - 1
        oo, hh, ll, cc, vv, tt, kk = K.reduce_ohlcv_ranges(first, o, h, lo, c, v, turnover, counts)
    else:  # row by row: sparse bars, calendar buckets, or time going back (then None)
        back = K.descents(ts)
        if len(back) and not np.isin(back, first_rows).all():
            return None
        starts = np.zeros(n, np.bool_)
        starts[first_rows] = True
        row_key, m = K.bucket_keys(mode, keys_in, ts, starts, step, offset)
        first, last, oo, hh, ll, cc, vv, tt, kk = K.reduce_ohlcv(
            row_key, m, starts, o, h, lo, c, v, turnover, counts
        )
        key = row_key[first]
    out = (
        df.select(by)
        .gather(first)
        .with_columns(
            pl.Series("_key", key),
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
