"""Bars: resample OHLCV, build bars from trades, align timeframes without look-ahead.

Every function takes a DataFrame or a LazyFrame holding any number of symbols and
returns the same kind. Bars are labelled by their open time in UTC. Within each symbol,
rows are taken in input order (first/last trade or bar), so input must be sorted by time
within each symbol, as the catalog's scans are.

Examples
--------
>>> import polars as pl
>>> from omni_research.bars import resample_ohlcv
>>> from omni_research.testing import make_ohlcv
>>> hourly = resample_ohlcv(make_ohlcv(n=180), timeframe="1h")
>>> hourly.select("timestamp", "open", "close", "is_partial").height
3
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import polars as pl

from omni_research._time import duration_expr, timeframe_duration_us
from omni_research._typing import FrameT
from omni_research.exceptions import ConfigurationError, DataFormatError

__all__ = [
    "BarFill",
    "align_timeframes",
    "dollar_bars",
    "resample_ohlcv",
    "tick_bars",
    "time_bars",
    "timeframe_duration_us",
    "volume_bars",
]

BarFill: TypeAlias = Literal["none", "forward"]
"""What resampling does with an interval that holds no source bar."""

_OHLCV_OUT = (
    "timestamp",
    "symbol",
    "timeframe",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "turnover",
    "trade_count",
)


def _schema(frame: pl.DataFrame | pl.LazyFrame, where: str) -> pl.Schema:
    try:
        return frame.collect_schema()
    except pl.exceptions.PolarsError as exc:
        raise DataFormatError(f"{where}: could not read the input's columns: {exc}") from exc


def _require(schema: pl.Schema, columns: tuple[str, ...], where: str) -> None:
    missing = [c for c in columns if c not in schema]
    if missing:
        raise DataFormatError(
            f"{where}: missing column(s) {missing}; expected {list(columns)}, got "
            f"{list(schema.names())}. Load the data through omni_research.open_catalog()."
        )


def _as_lazy(frame: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    return frame.lazy() if isinstance(frame, pl.DataFrame) else frame


def _same_kind(original: FrameT, result: pl.LazyFrame, where: str) -> FrameT:
    if isinstance(original, pl.DataFrame):
        try:
            return result.collect()
        except pl.exceptions.PolarsError as exc:
            raise DataFormatError(f"{where}: polars could not compute the result: {exc}") from exc
    return result  # type: ignore[return-value]


# --------------------------------------------------------------------------- resampling


def resample_ohlcv(
    ohlcv: FrameT,
    /,
    *,
    timeframe: str,
    fill: BarFill = "none",
    source_timeframe: str | None = None,
    by: str = "symbol",
) -> FrameT:
    """Resample OHLCV bars to a higher timeframe, per symbol.

    First open, highest high, lowest low, last close, summed volume, turnover and trade
    count, labelled by the higher bar's open time in UTC (weeks start on Monday).

    Parameters
    ----------
    ohlcv
        Bars with ``timestamp, symbol, open, high, low, close, volume`` and optionally
        ``turnover``, ``trade_count`` and ``timeframe``.
    timeframe
        Target timeframe, such as ``"5m"``, ``"1h"``, ``"4h"``, ``"1d"``, ``"1w"``.
    fill
        ``"none"`` leaves intervals without source bars out; ``"forward"`` adds them with
        open = high = low = close = the previous close and zero volume, marked ``is_filled``.
    source_timeframe
        The input's timeframe; by default read per row from its ``timeframe`` column.
        Used to tell whether the last bar is complete.
    by
        The column that separates series.

    Returns
    -------
    DataFrame or LazyFrame
        The OHLCV columns with ``timeframe`` set to the target, plus ``is_partial`` (the
        last bar of a symbol whose source bars stop before its close time) and
        ``is_filled`` (a forward-filled empty interval).

    Examples
    --------
    >>> from omni_research.testing import make_ohlcv
    >>> resample_ohlcv(make_ohlcv(n=90), timeframe="1h")["is_partial"].to_list()
    [False, True]
    """
    where = "resample_ohlcv"
    schema = _schema(ohlcv, where)
    _require(schema, ("timestamp", by, "open", "high", "low", "close", "volume"), where)
    if fill not in ("none", "forward"):
        raise ConfigurationError(f"{where}: fill must be 'none' or 'forward', got {fill!r}")
    if source_timeframe is None and "timeframe" not in schema:
        raise ConfigurationError(
            f"{where}: the input has no 'timeframe' column; pass source_timeframe='1m' (or "
            "whatever the bars are)"
        )
    step_us = timeframe_duration_us(timeframe)
    step = pl.duration(microseconds=step_us, time_unit="us")
    lf = None
    if isinstance(ohlcv, pl.DataFrame):
        lf = _resample_eager(ohlcv, timeframe=timeframe, source=source_timeframe, by=by)
    if lf is None:
        lf = _resample_lazy(
            _as_lazy(ohlcv), schema, timeframe=timeframe, source=source_timeframe, by=by
        )
    last_bar = pl.col("timestamp") == pl.col("timestamp").max().over(by)
    lf = (
        lf.sort(by, "timestamp")
        .with_columns(
            is_partial=last_bar & (pl.col("_covered_to") < pl.col("timestamp") + step),
            is_filled=pl.lit(False),
            timeframe=pl.lit(timeframe, pl.String),
        )
        .drop("_covered_to")
    )
    if fill == "forward":
        lf = _forward_fill(lf, timeframe=timeframe, by=by)
    out = lf.select(
        pl.col("timestamp"),
        pl.col(by),
        *[pl.col(c) for c in _OHLCV_OUT[2:]],
        pl.col("is_partial"),
        pl.col("is_filled"),
    )
    return _same_kind(ohlcv, out, where)


def _resample_lazy(
    lf: pl.LazyFrame, schema: pl.Schema, *, timeframe: str, source: str | None, by: str
) -> pl.LazyFrame:
    src_tf = pl.lit(source, pl.String) if source is not None else pl.col("timeframe")
    aggs = [
        pl.col("open").first(),
        pl.col("high").max(),
        pl.col("low").min(),
        pl.col("close").last(),
        pl.col("volume").sum(),
        (pl.col("turnover").sum() if "turnover" in schema else pl.lit(None, pl.Float64)).alias(
            "turnover"
        ),
        (
            pl.col("trade_count").sum().cast(pl.Int64)
            if "trade_count" in schema
            else pl.lit(None, pl.Int64)
        ).alias("trade_count"),
        pl.col("timestamp").last().alias("_last_ts"),
        src_tf.last().alias("timeframe"),
    ]
    # the source bar length is looked up once per output bar, not once per input row
    return (
        lf.with_columns(_bucket=pl.col("timestamp").dt.truncate(timeframe))
        .group_by(by, "_bucket", maintain_order=True)
        .agg(aggs)
        .rename({"_bucket": "timestamp"})
        .with_columns(_covered_to=pl.col("_last_ts") + duration_expr(None))
        .drop("_last_ts")
    )


def _resample_eager(
    df: pl.DataFrame, *, timeframe: str, source: str | None, by: str
) -> pl.LazyFrame | None:
    from omni_research._segments import ohlcv_segments

    if df.height == 0:
        return None
    if source is None:
        # one source timeframe is the usual case; comparing with the first value is much
        # cheaper than unique() on a string column
        tf = df.get_column("timeframe")
        if tf.null_count() or not (tf == tf[0]).all():
            return None
        source = str(tf[0])
    seg = ohlcv_segments(df, by=by, every=timeframe)
    if seg is None:
        return None
    src_us = timeframe_duration_us(source)
    return seg.lazy().select(
        pl.col("_key").cast(pl.Datetime("us", "UTC")).alias("timestamp"),
        pl.col(by),
        pl.col("open", "high", "low", "close", "volume"),
        (pl.col("turnover") if "turnover" in seg.columns else pl.lit(None, pl.Float64)).alias(
            "turnover"
        ),
        (
            pl.col("trade_count").cast(pl.Int64)
            if "trade_count" in seg.columns
            else pl.lit(None, pl.Int64)
        ).alias("trade_count"),
        (pl.col("_last_ts") + src_us).cast(pl.Datetime("us", "UTC")).alias("_covered_to"),
    )


def _forward_fill(lf: pl.LazyFrame, *, timeframe: str, by: str) -> pl.LazyFrame:
    grid = (
        lf.group_by(by)
        .agg(
            pl.datetime_ranges(
                pl.col("timestamp").min(),
                pl.col("timestamp").max(),
                interval=timeframe,
                time_unit="us",
                time_zone="UTC",
            )
            .first()
            .alias("timestamp")
        )
        .explode("timestamp")
    )
    filled = grid.join(lf, on=[by, "timestamp"], how="left").sort(by, "timestamp")
    empty = pl.col("close").is_null()
    prev_close = pl.col("close").forward_fill().over(by)
    return filled.with_columns(
        is_filled=empty,
        is_partial=pl.col("is_partial").fill_null(False),
        timeframe=pl.lit(timeframe, pl.String),
        open=pl.when(empty).then(prev_close).otherwise(pl.col("open")),
        high=pl.when(empty).then(prev_close).otherwise(pl.col("high")),
        low=pl.when(empty).then(prev_close).otherwise(pl.col("low")),
        volume=pl.col("volume").fill_null(0.0),
        turnover=pl.when(empty).then(pl.lit(0.0)).otherwise(pl.col("turnover")),
        trade_count=pl.when(empty).then(pl.lit(0, pl.Int64)).otherwise(pl.col("trade_count")),
    ).with_columns(close=prev_close)


# --------------------------------------------------------------------------- trades → bars

_TRADE_COLS = ("timestamp", "symbol", "side", "price", "size")


def _trade_aggs() -> list[pl.Expr]:
    notional = pl.col("price") * pl.col("size")
    return [
        pl.col("price").first().alias("open"),
        pl.col("price").max().alias("high"),
        pl.col("price").min().alias("low"),
        pl.col("price").last().alias("close"),
        pl.col("size").sum().alias("volume"),
        notional.sum().alias("turnover"),
        pl.len().cast(pl.Int64).alias("trade_count"),
        (notional.sum() / pl.col("size").sum()).alias("vwap"),
        # when/then rather than filter: plain element-wise work keeps the streaming engine
        pl.when(pl.col("side") == "buy")
        .then(pl.col("size"))
        .otherwise(0.0)
        .sum()
        .alias("buy_volume"),
        pl.when(pl.col("side") == "sell")
        .then(pl.col("size"))
        .otherwise(0.0)
        .sum()
        .alias("sell_volume"),
    ]


_BAR_STATS = (
    "open",
    "high",
    "low",
    "close",
    "volume",
    "turnover",
    "trade_count",
    "vwap",
    "buy_volume",
    "sell_volume",
)


def time_bars(trades: FrameT, /, *, timeframe: str = "1m", by: str = "symbol") -> FrameT:
    """Build time bars from trades: OHLCV plus VWAP and the buy/sell volume split.

    Parameters
    ----------
    trades
        Trades with ``timestamp, symbol, side, price, size``, sorted by time per symbol.
    timeframe
        Bar length, such as ``"1m"``, ``"5m"``, ``"1h"``.
    by
        The column that separates series.

    Returns
    -------
    DataFrame or LazyFrame
        One row per symbol and interval that holds a trade: ``timestamp`` (open time),
        ``symbol, timeframe, open, high, low, close, volume, turnover, trade_count, vwap,
        buy_volume, sell_volume``. Intervals without trades are absent.

    Examples
    --------
    >>> from omni_research.testing import make_market
    >>> bars = time_bars(make_market(days=1)["trades"], timeframe="1h")
    >>> bars.columns[:4]
    ['timestamp', 'symbol', 'timeframe', 'open']
    """
    where = "time_bars"
    schema = _schema(trades, where)
    _require(schema, ("timestamp", by, "side", "price", "size"), where)
    timeframe_duration_us(timeframe)  # validates the text early with a clear message
    if isinstance(trades, pl.DataFrame):
        from omni_research._segments import trade_segments

        seg = trade_segments(trades, by=by, bucket=timeframe, threshold=None)
        if seg is not None:
            return seg.select(
                pl.col("_key").cast(pl.Datetime("us", "UTC")).alias("timestamp"),
                pl.col(by),
                pl.lit(timeframe, pl.String).alias("timeframe"),
                *_BAR_STATS,
            ).sort(by, "timestamp")  # type: ignore[return-value]
    out = (
        _as_lazy(trades)
        .with_columns(_bucket=pl.col("timestamp").dt.truncate(timeframe))
        .group_by(by, "_bucket", maintain_order=True)
        .agg(_trade_aggs())
        .rename({"_bucket": "timestamp"})
        .with_columns(timeframe=pl.lit(timeframe, pl.String))
        .select("timestamp", by, "timeframe", *_BAR_STATS)
        .sort(by, "timestamp")
    )
    return _same_kind(trades, out, where)


def _threshold_bars(
    trades: FrameT,
    bar_id: pl.Expr,
    kind: Literal["tick", "volume", "dollar"],
    threshold: float,
    by: str,
    where: str,
) -> FrameT:
    schema = _schema(trades, where)
    _require(schema, ("timestamp", by, "side", "price", "size"), where)
    if not threshold > 0:
        raise ConfigurationError(f"{where}: the bar threshold must be positive, got {threshold}")
    filled = {"tick": "trade_count", "volume": "volume", "dollar": "turnover"}[kind]
    is_partial = (pl.col("bar_id") == pl.col("bar_id").max().over(by)) & (
        pl.col(filled) < threshold
    )
    if isinstance(trades, pl.DataFrame):
        from omni_research._segments import trade_segments

        seg = trade_segments(trades, by=by, bucket=None, threshold=(kind, threshold))
        if seg is not None:
            utc = pl.Datetime("us", "UTC")
            return (  # type: ignore[return-value]
                seg.rename({"_key": "bar_id"})
                .sort(by, "bar_id", maintain_order=True)
                .with_columns(is_partial=is_partial)
                .select(
                    pl.col("_first_ts").cast(utc).alias("timestamp"),
                    pl.col("_last_ts").cast(utc).alias("end_timestamp"),
                    by,
                    "bar_id",
                    *_BAR_STATS,
                    "is_partial",
                )
            )
    out = (
        _as_lazy(trades)
        .with_columns(bar_id=bar_id.over(by))
        .group_by(by, "bar_id", maintain_order=True)
        .agg(
            pl.col("timestamp").first().alias("timestamp"),
            pl.col("timestamp").last().alias("end_timestamp"),
            *_trade_aggs(),
        )
        .sort(by, "bar_id")
        .with_columns(is_partial=is_partial)
        .select("timestamp", "end_timestamp", by, "bar_id", *_BAR_STATS, "is_partial")
    )
    return _same_kind(trades, out, where)


def tick_bars(trades: FrameT, /, *, ticks: int, by: str = "symbol") -> FrameT:
    """Build bars of a fixed number of trades each.

    Parameters
    ----------
    trades
        Trades with ``timestamp, symbol, side, price, size``, sorted by time per symbol.
    ticks
        Trades per bar; the last bar of a symbol may hold fewer (``is_partial``).
    by
        The column that separates series.

    Returns
    -------
    DataFrame or LazyFrame
        ``timestamp`` (first trade), ``end_timestamp`` (last trade), ``symbol``, ``bar_id``
        (0, 1, ... per symbol), ``open, high, low, close, volume, turnover, trade_count,
        vwap, buy_volume, sell_volume, is_partial``.

    Examples
    --------
    >>> from omni_research.testing import make_market
    >>> bars = tick_bars(make_market(days=1)["trades"], ticks=500)
    >>> int(bars["trade_count"].max())
    500
    """
    if not isinstance(ticks, int) or isinstance(ticks, bool) or ticks <= 0:
        raise ConfigurationError(f"tick_bars: ticks must be a positive integer, got {ticks!r}")
    bar_id = pl.int_range(pl.len(), dtype=pl.Int64) // ticks
    return _threshold_bars(trades, bar_id, "tick", float(ticks), by, "tick_bars")


def volume_bars(trades: FrameT, /, *, volume: float, by: str = "symbol") -> FrameT:
    """Build bars that each hold about ``volume`` base units.

    Bars are cut on a fixed grid of cumulative volume (per symbol): a trade belongs to the
    bar its first unit falls in, ``bar_id = floor(cumulative volume before the trade /
    volume)`` (computed as a product with ``1 / volume``, the same double in memory and
    streaming). Trades are not split, so a bar can hold more than ``volume`` and the next
    one correspondingly less; the sum over bars is the total volume. This is the usual
    cumulative-sum-and-bucket construction, computed without a Python loop.

    Parameters
    ----------
    trades
        Trades with ``timestamp, symbol, side, price, size``, sorted by time per symbol.
    volume
        Target base-unit volume per bar.
    by
        The column that separates series.

    Returns
    -------
    DataFrame or LazyFrame
        Same columns as :func:`tick_bars`.

    Examples
    --------
    >>> from omni_research.testing import make_market
    >>> trades = make_market(days=1)["trades"]
    >>> bars = volume_bars(trades, volume=100.0)
    >>> bool(abs(bars["volume"].sum() - trades["size"].sum()) < 1e-6)
    True
    """
    size = pl.col("size")
    # times the reciprocal, not divided: the eager kernel computes the same double
    bar_id = ((size.cum_sum() - size) * (1.0 / volume)).floor().cast(pl.Int64)
    return _threshold_bars(trades, bar_id, "volume", float(volume), by, "volume_bars")


def dollar_bars(trades: FrameT, /, *, notional: float, by: str = "symbol") -> FrameT:
    """Build bars that each hold about ``notional`` quote units (price × size).

    Same grid rule as :func:`volume_bars`, on notional instead of size.

    Parameters
    ----------
    trades
        Trades with ``timestamp, symbol, side, price, size``, sorted by time per symbol.
    notional
        Target quote-currency turnover per bar.
    by
        The column that separates series.

    Returns
    -------
    DataFrame or LazyFrame
        Same columns as :func:`tick_bars`.

    Examples
    --------
    >>> from omni_research.testing import make_market
    >>> bars = dollar_bars(make_market(days=1)["trades"], notional=1e6)
    >>> bars.columns[:4]
    ['timestamp', 'end_timestamp', 'symbol', 'bar_id']
    """
    value = pl.col("price") * pl.col("size")
    bar_id = ((value.cum_sum() - value) * (1.0 / notional)).floor().cast(pl.Int64)
    return _threshold_bars(trades, bar_id, "dollar", float(notional), by, "dollar_bars")


# --------------------------------------------------------------------------- alignment


def align_timeframes(
    lower: FrameT,
    higher: pl.DataFrame | pl.LazyFrame,
    /,
    *,
    columns: list[str] | None = None,
    higher_timeframe: str | None = None,
    lower_timeframe: str | None = None,
    suffix: str | None = None,
    by: str = "symbol",
) -> FrameT:
    """Attach higher-timeframe bars (and their indicators) to lower-timeframe rows.

    A lower row sees only the latest higher bar that had **closed** by the time the row
    is known: an as-of join of the row's time on the higher bar's close time
    (``timestamp + timeframe``). A lower bar is known at its own close
    (``timestamp + its timeframe``); a row without a timeframe (a trade, a signal) at its
    ``timestamp``. So a row never sees its own, still-open higher bar.

    Parameters
    ----------
    lower
        Lower-timeframe rows with ``timestamp`` and ``symbol``.
    higher
        Higher-timeframe bars labelled by open time, with any extra indicator columns.
    columns
        Higher columns to attach (default: all but ``timestamp``, ``symbol``,
        ``timeframe``). The higher bar's open time is always attached.
    higher_timeframe
        The higher bars' timeframe; by default read per row from ``higher["timeframe"]``.
    lower_timeframe
        The lower bars' timeframe; by default read from ``lower["timeframe"]`` when that
        column exists, else the rows are treated as instants.
    suffix
        Appended to attached column names; default ``"_<higher_timeframe>"`` or ``"_htf"``.
    by
        The column that separates series.

    Returns
    -------
    DataFrame or LazyFrame
        ``lower`` in its original order with ``timestamp<suffix>`` (the higher bar's open
        time) and ``<column><suffix>`` for each attached column; null before the first
        closed higher bar.

    Examples
    --------
    >>> from omni_research.testing import make_ohlcv
    >>> m1 = make_ohlcv(n=180)
    >>> h1 = resample_ohlcv(m1, timeframe="1h")
    >>> out = align_timeframes(m1, h1, columns=["close"], higher_timeframe="1h")
    >>> out["close_1h"].null_count()  # the first hour has no closed hourly bar yet
    59
    """
    where = "align_timeframes"
    low_schema = _schema(lower, where + " (lower)")
    high_schema = _schema(higher, where + " (higher)")
    _require(low_schema, ("timestamp", by), where + " (lower)")
    _require(high_schema, ("timestamp", by), where + " (higher)")
    if higher_timeframe is None and "timeframe" not in high_schema:
        raise ConfigurationError(
            f"{where}: the higher frame has no 'timeframe' column; pass higher_timeframe='1h'"
        )
    if columns is None:
        columns = [
            c for c in high_schema.names() if c not in ("timestamp", by, "timeframe", "is_filled")
        ]
    missing = [c for c in columns if c not in high_schema]
    if missing:
        raise ConfigurationError(
            f"{where}: column(s) {missing} are not in the higher frame {high_schema.names()}"
        )
    sfx = suffix if suffix is not None else f"_{higher_timeframe or 'htf'}"
    if lower_timeframe is not None or "timeframe" in low_schema:
        known_at = pl.col("timestamp") + duration_expr(lower_timeframe)
    else:
        known_at = pl.col("timestamp")

    right = (
        _as_lazy(higher)
        .select(
            pl.col(by),
            (pl.col("timestamp") + duration_expr(higher_timeframe)).alias("_closed_at"),
            pl.col("timestamp").alias(f"timestamp{sfx}"),
            *[pl.col(c).alias(f"{c}{sfx}") for c in columns],
        )
        .sort("_closed_at")
    )
    left = _as_lazy(lower).with_row_index("_row").with_columns(_known_at=known_at).sort("_known_at")
    out = (
        left.join_asof(
            right,
            left_on="_known_at",
            right_on="_closed_at",
            by=by,
            strategy="backward",
            check_sortedness=False,  # both sides are sorted on the key just above
        )
        .sort("_row")
        .drop("_row", "_known_at", "_closed_at")
    )
    return _same_kind(lower, out, where)
