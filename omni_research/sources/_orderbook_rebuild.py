"""Order books rebuilt from Bybit's historical order-book dumps, sampled into top-N snapshots.

A dump (``<date>_<SYMBOL>_ob500.data.zip``, 200 levels for some symbols since 2025) holds
JSON lines in the shape of the v5 WebSocket ``orderbook.{depth}.{symbol}`` topic::

    {"topic": "orderbook.500.BTCUSDT", "type": "snapshot" | "delta", "ts": 1736121600012,
     "data": {"s": "BTCUSDT", "b": [["95000.1", "1.5"], ...], "a": [...], "u": 8841, "seq": 2},
     "cts": 1736121600009}

The rules, from Bybit's documentation of that topic: a ``snapshot`` replaces the whole book
(one arrives first, and again whenever Bybit's service restarts, then with ``u = 1``); a
``delta`` carries absolute sizes per price, a size of 0 deletes the level (deleting a level
the book does not have is harmless); ``u`` is continuous, so a delta whose ``u`` is not the
previous message's ``u + 1`` means messages were lost: every such **sequence gap** is
reported (:class:`BookGap`) and the deltas after it are still applied (the book is then
only as good as the next snapshot makes it again).

The book is kept per side in a sorted array with the best price at the end (bids by price,
asks by negated price), so that the updates, which mostly touch the top of the book, shift
few elements; a numba kernel applies the level updates and samples the top ``levels`` of
both sides on a grid of instants (multiples of the interval since the epoch). The row at
instant ``g`` is the book after every message with ``ts <= g``; instants before the first
message, after the last, or where a side has fewer than ``levels`` levels (or the book is
crossed) give no row. The dump is fed in chunks of lines, so memory stays bounded whatever
the day's size (a BTCUSDT day is 84–362 MB zipped).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import numba
import numpy as np
import polars as pl

from omni_research.exceptions import ConfigurationError, DataFormatError

__all__ = [
    "BookGap",
    "BookRebuilder",
    "RebuildResult",
    "interval_ms",
    "line_chunks",
    "rebuild_orderbook",
]

_MESSAGE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "topic": pl.String,
    "type": pl.String,
    "ts": pl.Int64,
    "data": pl.Struct(
        {
            "s": pl.String,
            "b": pl.List(pl.List(pl.String)),
            "a": pl.List(pl.List(pl.String)),
            "u": pl.Int64,
            "seq": pl.Int64,
        }
    ),
}
_TOPIC = re.compile(r"^orderbook\.(\d+)\.([A-Z0-9_-]+)$")
_INTERVAL = re.compile(r"^(\d+)(ms|s|m|h)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
_NO_U = np.iinfo(np.int64).min  # "no message yet"
CHUNK_BYTES = 32 << 20
"""Bytes of JSON lines parsed at a time."""


def interval_ms(interval: str | int, /) -> int:
    """Milliseconds of a sampling interval such as ``"1s"``, ``"500ms"``, ``"1m"``.

    Examples
    --------
    >>> interval_ms("1s"), interval_ms("250ms"), interval_ms("5m")
    (1000, 250, 300000)
    """
    if isinstance(interval, int) and not isinstance(interval, bool) and interval > 0:
        return interval
    match = _INTERVAL.match(str(interval).strip())
    if match is None or int(match.group(1)) <= 0:
        raise ConfigurationError(
            f"book interval {interval!r} is not understood; expected a positive number "
            "followed by ms, s, m or h (for example '1s', '500ms', '1m')"
        )
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


@dataclass(frozen=True, kw_only=True)
class BookGap:
    """A delta whose update id ``u`` does not follow the previous message's.

    Attributes
    ----------
    ts : int
        The delta's ``ts`` (epoch milliseconds).
    previous : int or None
        The previous message's ``u`` (None: the delta came before any snapshot).
    u : int
        The delta's ``u``.
    """

    ts: int
    previous: int | None
    u: int

    def __str__(self) -> str:
        import datetime as dt

        at = dt.datetime.fromtimestamp(self.ts / 1000, dt.UTC)
        if self.previous is None:
            return f"delta u={self.u} at {at:%Y-%m-%d %H:%M:%S.%f} UTC before any snapshot"
        return (
            f"sequence gap at {at:%Y-%m-%d %H:%M:%S.%f} UTC: u={self.u} after "
            f"u={self.previous} ({self.u - self.previous - 1:+d} updates lost)"
        )


@dataclass(frozen=True, kw_only=True)
class RebuildResult:
    """What a rebuild produced.

    Attributes
    ----------
    frame : pl.DataFrame
        ``timestamp`` (UTC), ``symbol``, then ``bid_px_1 .. bid_px_N``, ``bid_sz_*``,
        ``ask_px_*``, ``ask_sz_*`` (the ``orderbook`` kind's columns when N is 5).
    gaps : tuple of BookGap
        Every sequence gap, in order.
    messages, updates, snapshots : int
        Messages read, level updates applied, snapshots among the messages.
    depth : int or None
        The depth the dump declares in its topic (``orderbook.500.BTCUSDT``: 500).
    skipped : int
        Sampled instants left out: a side had fewer than N levels, or the book was crossed.
    late : int
        Messages stamped earlier than one before them in the file: applied in file order
        (the order of the update ids) and sampled as of the latest ``ts`` seen before them.
    """

    frame: pl.DataFrame
    gaps: tuple[BookGap, ...] = ()
    messages: int = 0
    updates: int = 0
    snapshots: int = 0
    depth: int | None = None
    skipped: int = 0
    late: int = 0


# --------------------------------------------------------------------------- the kernel


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _set_level(
    keys: np.ndarray, sizes: np.ndarray, n: int, key: float, size: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Set (or delete, size 0) one level of a side kept ascending with the best at the end."""
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) >> 1
        if keys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    if lo < n and keys[lo] == key:
        if size == 0.0:
            for j in range(lo, n - 1):
                keys[j] = keys[j + 1]
                sizes[j] = sizes[j + 1]
            return keys, sizes, n - 1
        sizes[lo] = size
        return keys, sizes, n
    if size == 0.0:
        return keys, sizes, n
    if n == keys.shape[0]:
        grown_keys = np.empty(2 * n, dtype=np.float64)
        grown_sizes = np.empty(2 * n, dtype=np.float64)
        grown_keys[:n] = keys[:n]
        grown_sizes[:n] = sizes[:n]
        keys = grown_keys
        sizes = grown_sizes
    for j in range(n, lo, -1):
        keys[j] = keys[j - 1]
        sizes[j] = sizes[j - 1]
    keys[lo] = key
    sizes[lo] = size
    return keys, sizes, n + 1


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _sample(
    out: np.ndarray,
    ok: np.ndarray,
    k: int,
    bk: np.ndarray,
    bs: np.ndarray,
    nb: int,
    ak: np.ndarray,
    asz: np.ndarray,
    na: int,
    depth: int,
) -> None:
    good = nb >= depth and na >= depth
    if good and bk[nb - 1] >= -ak[na - 1]:
        good = False  # crossed or locked book
    ok[k] = good
    if not good:
        return
    for i in range(depth):
        out[k, i] = bk[nb - 1 - i]
        out[k, depth + i] = bs[nb - 1 - i]
        out[k, 2 * depth + i] = -ak[na - 1 - i]
        out[k, 3 * depth + i] = asz[na - 1 - i]


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _apply(
    ts: np.ndarray,
    snapshot: np.ndarray,
    offsets: np.ndarray,
    side: np.ndarray,
    price: np.ndarray,
    size: np.ndarray,
    bk: np.ndarray,
    bs: np.ndarray,
    ak: np.ndarray,
    asz: np.ndarray,
    counts: np.ndarray,
    next_sample: int,
    step: int,
    final: bool,
    depth: int,
    out_ts: np.ndarray,
    out: np.ndarray,
    ok: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int]:
    nb = counts[0]
    na = counts[1]
    k = 0
    for i in range(ts.shape[0]):
        t = ts[i]
        while next_sample < t:  # the book after every message with ts <= the instant
            out_ts[k] = next_sample
            _sample(out, ok, k, bk, bs, nb, ak, asz, na, depth)
            k += 1
            next_sample += step
        if snapshot[i]:
            nb = 0
            na = 0
        for j in range(offsets[i], offsets[i + 1]):
            if side[j] == 0:
                bk, bs, nb = _set_level(bk, bs, nb, price[j], size[j])
            else:
                ak, asz, na = _set_level(ak, asz, na, -price[j], size[j])
    if final and ts.shape[0] > 0:
        last = ts[ts.shape[0] - 1]
        while next_sample <= last:
            out_ts[k] = next_sample
            _sample(out, ok, k, bk, bs, nb, ak, asz, na, depth)
            k += 1
            next_sample += step
    counts[0] = nb
    counts[1] = na
    return bk, bs, ak, asz, k, next_sample


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True, kw_only=True)
class _Messages:
    ts: np.ndarray  # int64 ms
    snapshot: np.ndarray  # bool
    u: np.ndarray  # int64
    offsets: np.ndarray  # int64, len(ts) + 1
    side: np.ndarray  # int8: 0 bid, 1 ask
    price: np.ndarray  # float64
    size: np.ndarray  # float64
    symbols: tuple[str, ...]
    depth: int | None


def _parse(data: bytes, *, where: str) -> _Messages:
    """JSON lines of one chunk into flat arrays; a line off the documented shape raises."""
    try:
        frame = pl.read_ndjson(io.BytesIO(data), schema=_MESSAGE_SCHEMA)
    except pl.exceptions.PolarsError as exc:
        raise DataFormatError(
            f"{where}: a line is not a JSON object of the orderbook topic's shape "
            f"({str(exc)[:200]}); expected {{topic, type, ts, data: {{s, b, a, u, seq}}, cts}}"
        ) from exc
    flat = frame.select(
        "ts",
        "type",
        "topic",
        pl.col("data").struct.field("s").alias("s"),
        pl.col("data").struct.field("u").alias("u"),
    )
    bad_type = flat.filter(~pl.col("type").is_in(["snapshot", "delta"]).fill_null(False))
    if bad_type.height:
        raise DataFormatError(
            f"{where}: message type {bad_type['type'][0]!r}; expected 'snapshot' or 'delta'"
        )
    for name in ("ts", "u", "s"):
        missing = flat[name].null_count()
        if missing:
            raise DataFormatError(
                f"{where}: {missing} message(s) without {'data.' if name != 'ts' else ''}{name}"
            )
    levels = (
        pl.concat(
            [
                frame.select(
                    pl.int_range(pl.len(), dtype=pl.Int64).alias("m"),
                    pl.col("data").struct.field(key).alias("level"),
                    pl.lit(code, pl.Int8).alias("side"),
                )
                for key, code in (("b", 0), ("a", 1))
            ]
        )
        .explode("level")
        .filter(pl.col("level").is_not_null())
        .sort("m", maintain_order=True)
    )
    parsed = levels.select(
        "m",
        "side",
        pl.col("level").list.len().alias("width"),
        pl.col("level").list.get(0, null_on_oob=True).cast(pl.Float64, strict=False).alias("px"),
        pl.col("level").list.get(1, null_on_oob=True).cast(pl.Float64, strict=False).alias("sz"),
    )
    broken = parsed.filter(
        (pl.col("width") != 2)
        | ~pl.col("px").is_finite().fill_null(False)
        | ~pl.col("sz").is_finite().fill_null(False)
        | (pl.col("px") <= 0)
        | (pl.col("sz") < 0)
    )
    if broken.height:
        raise DataFormatError(
            f"{where}: {broken.height} level(s) are not [price, size] pairs of decimal strings "
            f"with price > 0 and size >= 0 (first in message {broken['m'][0]} of the chunk)"
        )
    m = parsed["m"].to_numpy()
    topics = flat["topic"].drop_nulls().unique().to_list()
    depth = None
    for topic in topics:
        match = _TOPIC.match(topic)
        if match is None:
            raise DataFormatError(f"{where}: topic {topic!r}; expected orderbook.<depth>.<SYMBOL>")
        depth = int(match.group(1))
    return _Messages(
        ts=flat["ts"].to_numpy().astype(np.int64, copy=False),
        snapshot=(flat["type"] == "snapshot").to_numpy(),
        u=flat["u"].to_numpy().astype(np.int64, copy=False),
        offsets=np.searchsorted(m, np.arange(flat.height + 1, dtype=np.int64)).astype(np.int64),
        side=parsed["side"].to_numpy(),
        price=parsed["px"].to_numpy(),
        size=parsed["sz"].to_numpy(),
        symbols=tuple(flat["s"].unique().to_list()),
        depth=depth,
    )


# --------------------------------------------------------------------------- fast scanner
# The dump's lines have one fixed shape, so a byte scanner reads them far faster than a
# general JSON reader. A decimal "95000.1" is read as the integer 950001 divided by 10**1:
# both are exact doubles (below 2**53 and 10**22), and IEEE division rounds correctly, so
# the result is the double nearest the decimal, as float() and Polars give. Anything the
# scanner does not expect (another key order is fine; an exponent, a missing key, another
# symbol, a stray character) makes it give up on the chunk, and the general reader parses
# that chunk and says what differed.

_POW10 = np.array([10.0**k for k in range(23)], dtype=np.float64)
_KEY_TYPE = np.frombuffer(b'"type":', dtype=np.uint8)
_KEY_TS = np.frombuffer(b'"ts":', dtype=np.uint8)
_KEY_S = np.frombuffer(b'"s":', dtype=np.uint8)
_KEY_B = np.frombuffer(b'"b":', dtype=np.uint8)
_KEY_A = np.frombuffer(b'"a":', dtype=np.uint8)
_KEY_U = np.frombuffer(b'"u":', dtype=np.uint8)
_SNAPSHOT = np.frombuffer(b'snapshot"', dtype=np.uint8)
_DELTA = np.frombuffer(b'delta"', dtype=np.uint8)


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _find(buf: np.ndarray, start: int, end: int, key: np.ndarray) -> int:
    """Index just after the first ``key`` in ``buf[start:end]``, or -1."""
    n: int = key.shape[0]
    first = key[0]
    i = start
    last = end - n
    while i <= last:
        if buf[i] == first:
            j = 1
            while j < n and buf[i + j] == key[j]:
                j += 1
            if j == n:
                return i + n
        i += 1
    return -1


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _skip(buf: np.ndarray, i: int, end: int) -> int:
    while i < end and (buf[i] == 32 or buf[i] == 9 or buf[i] == 13):
        i += 1
    return i


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _after(buf: np.ndarray, i: int, end: int, char: int) -> int:
    """Index after ``char`` following ``i`` (blanks skipped), or -1."""
    if i < 0:
        return -1
    i = _skip(buf, i, end)
    if i < end and buf[i] == char:
        return i + 1
    return -1


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _integer(buf: np.ndarray, i: int, end: int) -> tuple[int, int]:
    """(value, index after it); index -1 when there is no integer."""
    i = _skip(buf, i, end)
    start = i
    value = 0
    while i < end and 48 <= buf[i] <= 57 and i - start < 18:
        value = value * 10 + (buf[i] - 48)
        i += 1
    if i == start or (i < end and 48 <= buf[i] <= 57):
        return 0, -1
    return value, i


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _decimal(buf: np.ndarray, i: int, end: int, pow10: np.ndarray) -> tuple[float, int]:
    """A quoted unsigned decimal such as ``"95000.1"``: (value, index after the quote)."""
    if i >= end or buf[i] != 34:
        return 0.0, -1
    i += 1
    mantissa = 0
    digits = 0
    scale = -1
    while i < end:
        c = buf[i]
        if 48 <= c <= 57:
            mantissa = mantissa * 10 + (c - 48)
            digits += 1
            if scale >= 0:
                scale += 1
        elif c == 46 and scale < 0:
            scale = 0
        else:
            break
        i += 1
    if i >= end or buf[i] != 34 or digits == 0 or digits > 15 or scale == 0:
        return 0.0, -1
    if scale < 0:
        scale = 0
    if scale > 22:
        return 0.0, -1
    return mantissa / pow10[scale], i + 1


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _levels(
    buf: np.ndarray, i: int, end: int, code: int, side: np.ndarray, price: np.ndarray,
    size: np.ndarray, k: int, pow10: np.ndarray,
) -> tuple[int, int]:  # fmt: skip
    """The pairs of one side's array (``i`` just after its ``[``): (levels, index after ``]``)."""
    i = _skip(buf, i, end)
    if i < end and buf[i] == 93:
        return k, i + 1
    while i < end:
        if buf[i] != 91:
            return k, -1
        i = _skip(buf, i + 1, end)
        px, i = _decimal(buf, i, end, pow10)
        if i < 0 or px <= 0.0:
            return k, -1
        i = _skip(buf, i, end)
        if i >= end or buf[i] != 44:
            return k, -1
        i = _skip(buf, i + 1, end)
        sz, i = _decimal(buf, i, end, pow10)
        if i < 0:
            return k, -1
        i = _skip(buf, i, end)
        if i >= end or buf[i] != 93:
            return k, -1
        if k >= price.shape[0]:
            return k, -1
        side[k] = code
        price[k] = px
        size[k] = sz
        k += 1
        i = _skip(buf, i + 1, end)
        if i < end and buf[i] == 93:
            return k, i + 1
        if i >= end or buf[i] != 44:
            return k, -1
        i = _skip(buf, i + 1, end)
    return k, -1


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _scan(
    buf: np.ndarray, symbol: np.ndarray, keys: tuple[np.ndarray, ...], pow10: np.ndarray,
    ts: np.ndarray, snapshot: np.ndarray, u: np.ndarray, offsets: np.ndarray,
    side: np.ndarray, price: np.ndarray, size: np.ndarray,
) -> tuple[int, int, bool]:  # fmt: skip
    """Every line of ``buf``: (messages, levels, ok); not ok means "use the general reader"."""
    key_type, key_ts, key_s, key_b, key_a, key_u, snap_word, delta_word = keys
    n = buf.shape[0]
    m = 0
    k = 0
    pos = 0
    while pos < n:
        end = pos
        while end < n and buf[end] != 10:
            end += 1
        start = _skip(buf, pos, end)
        pos = end + 1
        if start >= end:
            continue
        if m >= ts.shape[0]:
            return m, k, False
        i = _after(buf, _find(buf, start, end, key_type), end, 34)
        if i < 0:
            return m, k, False
        if _find(buf, i, min(end, i + 9), snap_word) == i + 9:
            snapshot[m] = True
        elif _find(buf, i, min(end, i + 6), delta_word) == i + 6:
            snapshot[m] = False
        else:
            return m, k, False
        i = _find(buf, start, end, key_ts)
        if i < 0:
            return m, k, False
        ts[m], i = _integer(buf, i, end)
        if i < 0:
            return m, k, False
        i = _after(buf, _find(buf, start, end, key_s), end, 34)
        if i < 0 or i + symbol.shape[0] >= end:
            return m, k, False
        for j in range(symbol.shape[0]):
            if buf[i + j] != symbol[j]:
                return m, k, False
        if buf[i + symbol.shape[0]] != 34:
            return m, k, False
        i = _find(buf, start, end, key_u)
        if i < 0:
            return m, k, False
        u[m], i = _integer(buf, i, end)
        if i < 0:
            return m, k, False
        offsets[m] = k
        i = _after(buf, _find(buf, start, end, key_b), end, 91)
        if i < 0:
            return m, k, False
        k, i = _levels(buf, i, end, 0, side, price, size, k, pow10)
        if i < 0:
            return m, k, False
        i = _after(buf, _find(buf, start, end, key_a), end, 91)
        if i < 0:
            return m, k, False
        k, i = _levels(buf, i, end, 1, side, price, size, k, pow10)
        if i < 0:
            return m, k, False
        m += 1
    offsets[m] = k
    return m, k, True


def _scan_fast(data: bytes, symbol: str) -> _Messages | None:
    """The fast path of :func:`_parse`; None when the chunk needs the general reader."""
    if not symbol.isascii():
        return None
    buf = np.frombuffer(data, dtype=np.uint8)
    lines = int(np.count_nonzero(buf == 10)) + 1
    brackets = int(np.count_nonzero(buf == 91))
    ts = np.empty(lines, dtype=np.int64)
    snapshot = np.empty(lines, dtype=np.bool_)
    u = np.empty(lines, dtype=np.int64)
    offsets = np.empty(lines + 1, dtype=np.int64)
    side = np.empty(brackets, dtype=np.int8)
    price = np.empty(brackets, dtype=np.float64)
    size = np.empty(brackets, dtype=np.float64)
    keys = (_KEY_TYPE, _KEY_TS, _KEY_S, _KEY_B, _KEY_A, _KEY_U, _SNAPSHOT, _DELTA)
    symbol_bytes = np.frombuffer(symbol.encode(), dtype=np.uint8)
    m, k, ok = _scan(buf, symbol_bytes, keys, _POW10, ts, snapshot, u, offsets, side, price, size)
    if not ok:
        return None
    head = data[: data.find(b"\n")] if b"\n" in data else data
    match = re.search(rb'"topic":\s*"orderbook\.(\d+)\.', head)
    return _Messages(
        ts=ts[:m], snapshot=snapshot[:m], u=u[:m], offsets=offsets[: m + 1],
        side=side[:k], price=price[:k], size=size[:k], symbols=(symbol,),
        depth=int(match.group(1)) if match else None,
    )  # fmt: skip


def line_chunks(stream: IO[bytes], /, *, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Complete lines of ``stream`` in chunks of about ``size`` bytes."""
    rest = b""
    while True:
        block = stream.read(size)
        if not block:
            break
        block = rest + block
        cut = block.rfind(b"\n")
        if cut < 0:
            rest = block
            continue
        rest = block[cut + 1 :]
        yield block[: cut + 1]
    if rest.strip():
        yield rest


# --------------------------------------------------------------------------- the rebuilder


@dataclass(kw_only=True)
class BookRebuilder:
    """Feed a dump's messages chunk by chunk; :meth:`finish` returns the sampled book.

    Parameters
    ----------
    symbol
        The symbol the dump must hold (a message of another symbol is an error).
    interval
        Sampling interval (``"1s"``, ``"500ms"``, or milliseconds).
    levels
        Levels per side in each sample (the ``orderbook`` kind holds 5).
    where
        What the dump is, for messages (its URL).
    fast
        Read the lines with the byte scanner (falling back to Polars' JSON reader for a
        chunk it does not understand); False: always Polars' reader.
    """

    symbol: str
    interval: str | int = "1s"
    levels: int = 5
    where: str = "order-book dump"
    fast: bool = True
    _step: int = field(init=False)
    _state: list[Any] = field(init=False)
    _counts: np.ndarray = field(init=False)
    _next: int | None = field(init=False, default=None)
    _last_ts: int = field(init=False, default=_NO_U)
    _late: int = field(init=False, default=0)
    _last_u: int = field(init=False, default=_NO_U)
    _parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(init=False)
    _gaps: list[BookGap] = field(init=False)
    _messages: int = field(init=False, default=0)
    _updates: int = field(init=False, default=0)
    _snapshots: int = field(init=False, default=0)
    _depth: int | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._step = interval_ms(self.interval)
        if self.levels < 1:
            raise ConfigurationError(f"levels is {self.levels}; expected at least 1")
        capacity = 1024
        self._state = [np.empty(capacity, np.float64) for _ in range(4)]
        self._counts = np.zeros(2, dtype=np.int64)
        self._parts = []
        self._gaps = []

    def feed(self, lines: bytes, /) -> None:
        """Parse and apply a chunk of complete JSON lines."""
        if not lines.strip():
            return
        parsed = _scan_fast(lines, self.symbol) if self.fast else None
        if parsed is None:
            parsed = _parse(lines, where=self.where)
        wrong = [s for s in parsed.symbols if s != self.symbol]
        if wrong:
            raise DataFormatError(
                f"{self.where}: messages of {wrong[0]!r} in a dump of {self.symbol!r}"
            )
        if parsed.depth is not None:
            self._depth = parsed.depth
        self.feed_arrays(
            parsed.ts, parsed.snapshot, parsed.u, parsed.offsets,
            parsed.side, parsed.price, parsed.size,
        )  # fmt: skip

    def feed_arrays(
        self,
        ts: np.ndarray,
        snapshot: np.ndarray,
        u: np.ndarray,
        offsets: np.ndarray,
        side: np.ndarray,
        price: np.ndarray,
        size: np.ndarray,
        /,
        *,
        final: bool = False,
    ) -> None:
        """Apply messages given as arrays (``offsets[i]:offsets[i+1]`` are message i's levels)."""
        if ts.shape[0] == 0:
            return
        stamped = ts
        running = np.maximum.accumulate(np.concatenate([[self._last_ts], ts]))[1:]
        late = ts < running
        if late.any():
            # applied in file order (the update ids' order), sampled at the latest ts seen
            self._late += int(late.sum())
            ts = running
        prev_u = np.concatenate([[self._last_u], u[:-1]])
        for at in np.flatnonzero(~snapshot & (u != prev_u + 1)).tolist():
            before = int(prev_u[at])
            self._gaps.append(
                BookGap(
                    ts=int(stamped[at]), previous=None if before == _NO_U else before, u=int(u[at])
                )
            )
        if self._next is None:
            self._next = -(-int(ts[0]) // self._step) * self._step
        n_out = max(0, (int(ts[-1]) - self._next) // self._step + 2)
        out_ts = np.empty(n_out, dtype=np.int64)
        out = np.empty((n_out, 4 * self.levels), dtype=np.float64)
        ok = np.zeros(n_out, dtype=np.bool_)
        bk, bs, ak, asz = self._state
        bk, bs, ak, asz, k_out, self._next = _apply(
            ts, snapshot, offsets, side, price, size, bk, bs, ak, asz, self._counts,
            self._next, self._step, final, self.levels, out_ts, out, ok,
        )  # fmt: skip
        self._state = [bk, bs, ak, asz]
        self._parts.append((out_ts[:k_out], out[:k_out], ok[:k_out]))
        self._last_ts = int(ts[-1])
        self._last_u = int(u[-1])
        self._messages += int(ts.shape[0])
        self._updates += int(price.shape[0])
        self._snapshots += int(snapshot.sum())

    def finish(self) -> RebuildResult:
        """Sample the instants up to the last message and return the result."""
        if self._next is not None:
            self._finish_tail()
        if self._parts:
            out_ts = np.concatenate([p[0] for p in self._parts])
            out = np.concatenate([p[1] for p in self._parts])
            ok = np.concatenate([p[2] for p in self._parts])
        else:
            out_ts = np.empty(0, dtype=np.int64)
            out = np.empty((0, 4 * self.levels), dtype=np.float64)
            ok = np.empty(0, dtype=np.bool_)
        n = self.levels
        names = [f"{s}_{k}_{i}" for s, k in (("bid", "px"), ("bid", "sz"), ("ask", "px"),
                                             ("ask", "sz")) for i in range(1, n + 1)]  # fmt: skip
        kept = out[ok]
        columns: dict[str, Any] = {
            "timestamp": pl.Series("timestamp", out_ts[ok], dtype=pl.Int64),
            "symbol": pl.Series("symbol", [self.symbol] * int(ok.sum()), dtype=pl.String),
        }
        for j, name in enumerate(names):
            columns[name] = pl.Series(name, kept[:, j], dtype=pl.Float64)
        frame = pl.DataFrame(columns).with_columns(
            pl.from_epoch("timestamp", time_unit="ms")
            .cast(pl.Datetime("us"))
            .dt.replace_time_zone("UTC")
        )
        order = ["timestamp", "symbol"] + [
            f"{s}_{k}_{i}" for s in ("bid", "ask") for k in ("px", "sz") for i in range(1, n + 1)
        ]
        return RebuildResult(
            frame=frame.select(order),
            gaps=tuple(self._gaps),
            messages=self._messages,
            updates=self._updates,
            snapshots=self._snapshots,
            depth=self._depth,
            skipped=int((~ok).sum()),
            late=self._late,
        )

    def _finish_tail(self) -> None:
        assert self._next is not None
        empty_f = np.empty(0, dtype=np.float64)
        last = self._last_ts
        n_out = max(0, (last - self._next) // self._step + 1)
        out_ts = np.empty(n_out, dtype=np.int64)
        out = np.empty((n_out, 4 * self.levels), dtype=np.float64)
        ok = np.zeros(n_out, dtype=np.bool_)
        # one pseudo-message at the last ts with no levels: samples every instant <= last
        bk, bs, ak, asz = self._state
        bk, bs, ak, asz, k_out, self._next = _apply(
            np.array([last], dtype=np.int64), np.zeros(1, dtype=np.bool_),
            np.zeros(2, dtype=np.int64), np.empty(0, dtype=np.int8), empty_f, empty_f,
            bk, bs, ak, asz, self._counts, self._next, self._step, True, self.levels,
            out_ts, out, ok,
        )  # fmt: skip
        self._state = [bk, bs, ak, asz]
        self._parts.append((out_ts[:k_out], out[:k_out], ok[:k_out]))


def rebuild_orderbook(
    source: bytes | IO[bytes] | Iterable[bytes],
    /,
    *,
    symbol: str,
    interval: str | int = "1s",
    levels: int = 5,
    where: str = "order-book dump",
) -> RebuildResult:
    """Rebuild a Bybit order book from its dump's JSON lines and sample its top levels.

    Parameters
    ----------
    source
        The JSON lines: bytes, a binary stream (read in chunks), or chunks of complete lines.
    symbol
        The symbol of the dump.
    interval
        Sampling interval (``"1s"``).
    levels
        Levels per side per sample.
    where
        What the source is, for messages.

    Returns
    -------
    RebuildResult
        The sampled frame, every sequence gap, and counts.

    Raises
    ------
    DataFormatError
        If a line is not in the documented shape (the message says what differed).

    Examples
    --------
    >>> lines = (
    ...     b'{"topic":"orderbook.500.X","type":"snapshot","ts":1000,"data":{"s":"X",'
    ...     b'"b":[["9","1"],["8","2"]],"a":[["10","1"],["11","3"]],"u":1,"seq":1}}\\n'
    ...     b'{"topic":"orderbook.500.X","type":"delta","ts":1500,"data":{"s":"X",'
    ...     b'"b":[["9","0"]],"a":[["10.5","4"]],"u":3,"seq":2}}\\n'
    ...     b'{"topic":"orderbook.500.X","type":"delta","ts":2000,"data":{"s":"X",'
    ...     b'"b":[],"a":[],"u":4,"seq":3}}\\n'
    ... )
    >>> result = rebuild_orderbook(lines, symbol="X", levels=1)
    >>> result.frame.select("bid_px_1", "ask_px_1").rows()
    [(9.0, 10.0), (8.0, 10.0)]
    >>> print(result.gaps[0])
    sequence gap at 1970-01-01 00:00:01.500000 UTC: u=3 after u=1 (+1 updates lost)
    """
    rebuilder = BookRebuilder(symbol=symbol, interval=interval, levels=levels, where=where)
    if isinstance(source, bytes | bytearray | memoryview):
        chunks: Iterable[bytes] = line_chunks(io.BytesIO(bytes(source)))
    elif hasattr(source, "read"):
        chunks = line_chunks(source)  # type: ignore[arg-type]
    else:
        chunks = source  # type: ignore[assignment]
    for chunk in chunks:
        rebuilder.feed(chunk)
    return rebuilder.finish()
