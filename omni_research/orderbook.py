"""Order-book features and their as-of join onto trades or bars, without look-ahead.

Snapshots follow the ``orderbook`` kind: ``bid_px_1..5, bid_sz_1..5, ask_px_1..5,
ask_sz_1..5`` with level 1 the best. The feature functions return ``pl.Expr`` so they
compose in ``with_columns`` and on LazyFrames; :func:`book_features` adds them all.

Examples
--------
>>> import polars as pl
>>> from omni_research.orderbook import microprice, mid_price
>>> book = pl.DataFrame({"bid_px_1": [99.0], "bid_sz_1": [3.0], "ask_px_1": [101.0],
...                      "ask_sz_1": [1.0]})
>>> book.select(mid=mid_price(), micro=microprice()).row(0)
(100.0, 100.5)
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import polars as pl

from omni_research._typing import FrameT
from omni_research.exceptions import ConfigurationError, DataFormatError

__all__ = [
    "BookSide",
    "book_features",
    "depth",
    "imbalance",
    "join_book",
    "microprice",
    "mid_price",
    "spread",
    "spread_bps",
]

BookSide: TypeAlias = Literal["bid", "ask"]
_MAX_LEVELS = 5


def _check_levels(levels: int) -> None:
    if not isinstance(levels, int) or isinstance(levels, bool) or not 1 <= levels <= _MAX_LEVELS:
        raise ConfigurationError(
            f"levels must be an integer from 1 to {_MAX_LEVELS} (the orderbook kind stores "
            f"{_MAX_LEVELS} levels), got {levels!r}"
        )


def mid_price() -> pl.Expr:
    """Mid price ``(best bid + best ask) / 2``.

    Returns
    -------
    pl.Expr
        A Float64 expression named ``mid``.
    """
    return ((pl.col("bid_px_1") + pl.col("ask_px_1")) / 2).alias("mid")


def spread() -> pl.Expr:
    """Absolute spread ``best ask − best bid`` in quote units.

    Returns
    -------
    pl.Expr
        A Float64 expression named ``spread``; negative on a crossed book.
    """
    return (pl.col("ask_px_1") - pl.col("bid_px_1")).alias("spread")


def spread_bps() -> pl.Expr:
    """Spread relative to the mid, in basis points: ``10_000 × spread / mid``.

    Returns
    -------
    pl.Expr
        A Float64 expression named ``spread_bps``.
    """
    mid = (pl.col("bid_px_1") + pl.col("ask_px_1")) / 2
    return (1e4 * (pl.col("ask_px_1") - pl.col("bid_px_1")) / mid).alias("spread_bps")


def microprice() -> pl.Expr:
    """Size-weighted mid of the top level (Stoikov's microprice, first order).

    ``(bid_px × ask_sz + ask_px × bid_sz) / (bid_sz + ask_sz)``: the price leans toward
    the side with less size, where the next trade is more likely to move it.

    Returns
    -------
    pl.Expr
        A Float64 expression named ``microprice``.
    """
    bid_px, bid_sz = pl.col("bid_px_1"), pl.col("bid_sz_1")
    ask_px, ask_sz = pl.col("ask_px_1"), pl.col("ask_sz_1")
    return ((bid_px * ask_sz + ask_px * bid_sz) / (bid_sz + ask_sz)).alias("microprice")


def depth(side: BookSide, /, *, levels: int = 5) -> pl.Expr:
    """Summed size (base units) on one side over the top ``levels`` levels.

    Parameters
    ----------
    side
        ``"bid"`` or ``"ask"``.
    levels
        How many levels to add, 1 to 5.

    Returns
    -------
    pl.Expr
        A Float64 expression named ``<side>_depth_<levels>``. A missing level counts as 0.
    """
    _check_levels(levels)
    if side not in ("bid", "ask"):
        raise ConfigurationError(f"side must be 'bid' or 'ask', got {side!r}")
    sizes = [pl.col(f"{side}_sz_{i}").fill_null(0.0) for i in range(1, levels + 1)]
    return pl.sum_horizontal(sizes).alias(f"{side}_depth_{levels}")


def imbalance(*, levels: int = 5) -> pl.Expr:
    """Depth imbalance ``(bid depth − ask depth) / (bid depth + ask depth)`` in [−1, 1].

    Parameters
    ----------
    levels
        How many levels to add on each side, 1 to 5.

    Returns
    -------
    pl.Expr
        A Float64 expression named ``imbalance_<levels>``; positive when bids are deeper.
    """
    bid, ask = depth("bid", levels=levels), depth("ask", levels=levels)
    return ((bid - ask) / (bid + ask)).alias(f"imbalance_{levels}")


def _features(levels: int) -> list[pl.Expr]:
    return [
        mid_price(),
        spread(),
        spread_bps(),
        microprice(),
        depth("bid", levels=levels),
        depth("ask", levels=levels),
        imbalance(levels=levels),
    ]


def _feature_names(levels: int) -> list[str]:
    return [e.meta.output_name() for e in _features(levels)]


def _required(levels: int) -> list[str]:
    cols = ["timestamp", "symbol"]
    for side in ("bid", "ask"):
        cols += [f"{side}_px_1"] + [f"{side}_sz_{i}" for i in range(1, levels + 1)]
    return cols


def _require(frame: pl.DataFrame | pl.LazyFrame, columns: list[str], where: str) -> pl.Schema:
    try:
        schema = frame.collect_schema()
    except pl.exceptions.PolarsError as exc:
        raise DataFormatError(f"{where}: could not read the input's columns: {exc}") from exc
    missing = [c for c in columns if c not in schema]
    if missing:
        raise DataFormatError(
            f"{where}: missing column(s) {missing}; expected the orderbook kind's columns "
            f"(docs/data_model.md), got {schema.names()}"
        )
    return schema


def _same_kind(original: FrameT, result: pl.LazyFrame, where: str) -> FrameT:
    if isinstance(original, pl.DataFrame):
        try:
            return result.collect()
        except pl.exceptions.PolarsError as exc:
            raise DataFormatError(f"{where}: polars could not compute the result: {exc}") from exc
    return result  # type: ignore[return-value]


def book_features(book: FrameT, /, *, levels: int = 5) -> FrameT:
    """Compute the book features of every snapshot.

    Parameters
    ----------
    book
        Order-book snapshots (``orderbook`` kind), any number of symbols.
    levels
        Levels used for depth and imbalance, 1 to 5.

    Returns
    -------
    DataFrame or LazyFrame
        ``timestamp, symbol, mid, spread, spread_bps, microprice, bid_depth_<n>,
        ask_depth_<n>, imbalance_<n>``, one row per snapshot.

    Examples
    --------
    >>> from omni_research.testing import make_market
    >>> book_features(make_market(days=1)["orderbook"], levels=3).columns[2:5]
    ['mid', 'spread', 'spread_bps']
    """
    _check_levels(levels)
    _require(book, _required(levels), "book_features")
    out = book.lazy().select(pl.col("timestamp"), pl.col("symbol"), *_features(levels))
    return _same_kind(book, out, "book_features")


def join_book(
    frame: FrameT,
    book: pl.DataFrame | pl.LazyFrame,
    /,
    *,
    levels: int = 5,
    at: Literal["auto", "timestamp", "close"] = "auto",
    max_age: str | None = None,
    allow_exact_matches: bool = True,
    by: str = "symbol",
) -> FrameT:
    """Attach the latest earlier book snapshot's features to trades or bars.

    An as-of (backward) join: each row gets the features of the last snapshot taken at
    or before the row's time, never a later one.

    Parameters
    ----------
    frame
        Trades or bars with ``timestamp`` and ``symbol``.
    book
        Order-book snapshots (``orderbook`` kind).
    levels
        Levels used for depth and imbalance, 1 to 5.
    at
        The row's time: ``"timestamp"``; ``"close"`` = ``timestamp + timeframe`` (a bar's
        close, when the whole bar is known); ``"auto"`` picks ``"close"`` when ``frame``
        has a ``timeframe`` column, else ``"timestamp"``.
    max_age
        Leave the features null when the latest snapshot is older than this (a Polars
        duration such as ``"5s"``); default no limit.
    allow_exact_matches
        Whether a snapshot stamped exactly at the row's time may be used. Set ``False``
        when a snapshot at the same microsecond may already reflect the trade.
    by
        The column that separates series.

    Returns
    -------
    DataFrame or LazyFrame
        ``frame`` in its original order with ``book_timestamp`` and the feature columns
        of :func:`book_features`.

    Examples
    --------
    >>> from omni_research.testing import make_market
    >>> m = make_market(days=1)
    >>> join_book(m["trades"], m["orderbook"]).columns[-2:]
    ['ask_depth_5', 'imbalance_5']
    """
    from omni_research._time import duration_expr

    where = "join_book"
    _check_levels(levels)
    _require(book, _required(levels), where)
    schema = _require(frame, ["timestamp", by], where)
    if at not in ("auto", "timestamp", "close"):
        raise ConfigurationError(f"{where}: at must be 'auto', 'timestamp' or 'close', got {at!r}")
    use_close = at == "close" or (at == "auto" and "timeframe" in schema)
    if use_close and "timeframe" not in schema:
        raise ConfigurationError(f"{where}: at='close' needs a 'timeframe' column in the frame")
    row_time = pl.col("timestamp") + duration_expr(None) if use_close else pl.col("timestamp")
    right = (
        book.lazy()
        .select(
            pl.col(by),
            pl.col("timestamp").alias("book_timestamp"),
            *_features(levels),
        )
        .sort("book_timestamp")
    )
    left = frame.lazy().with_row_index("_row").with_columns(_row_time=row_time).sort("_row_time")
    out = (
        left.join_asof(
            right,
            left_on="_row_time",
            right_on="book_timestamp",
            by=by,
            strategy="backward",
            tolerance=max_age,
            allow_exact_matches=allow_exact_matches,
            check_sortedness=False,  # both sides are sorted on the key just above
        )
        .sort("_row")
        .drop("_row", "_row_time")
    )
    return _same_kind(frame, out, where)
