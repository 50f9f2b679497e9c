"""Data-quality reports: what is wrong with a dataset before a backtest trusts it.

:func:`quality_report` runs a set of checks on a (Lazy)Frame of one kind and returns a
Polars DataFrame with one row per finding (per symbol and check):

========== ===================================================================
kind       checks
========== ===================================================================
ohlcv      ``missing_bars`` (against the 24/7 crypto calendar), ``duplicates``,
           ``unsorted``, ``ohlc_rules``, ``zero_volume_run``, ``stale_price``,
           ``outlier_return`` (robust z-score), ``trades_vs_bars`` (with ``trades=``)
trades     ``duplicates`` (trade id), ``unsorted``, ``invalid_values``,
           ``outlier_return``, ``trades_vs_bars`` (with ``bars=``)
orderbook  ``duplicates``, ``unsorted``, ``snapshot_gap``, ``crossed_book``
========== ===================================================================

Every check is a lazy query that ends in an aggregation, collected with Polars' streaming
engine, so the full dataset is never held in memory: checks that compare a row with the
previous one rely on the kit's canonical order (sorted by symbol, then time, as the catalog
stores it; the ``unsorted`` check reports where that does not hold), and run-based checks
keep only the flagged rows. Memory grows with the number of symbols and of flagged rows,
not with the dataset. Two exceptions: trade-id duplicates keep a hash table of the ids,
and the robust z-score takes its median and MAD from a systematic sample of at most
1,000,000 returns. Measured: 6,000,000 one-minute bars (438 MB in memory) checked from
Parquet with a peak RSS of 0.76 GB, 2,000,000 bars with 0.53 GB.

Examples
--------
>>> from omni_research.testing import make_market
>>> report = quality_report(make_market(days=1)["ohlcv"], "ohlcv")
>>> report.columns[:4]
['dataset', 'symbol', 'check', 'severity']
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO

import polars as pl

from omni_research._time import duration_expr, timeframe_duration_us
from omni_research._typing import Severity
from omni_research.bars import time_bars
from omni_research.exceptions import (
    ConfigurationError,
    DataFormatError,
    OmniDataError,
    UnknownKindError,
)

__all__ = [
    "FINDINGS_SCHEMA",
    "QUALITY_KINDS",
    "quality_main",
    "quality_report",
    "quality_summary",
]

QUALITY_KINDS = ("ohlcv", "trades", "orderbook")
"""The kinds :func:`quality_report` knows how to check."""

FINDINGS_SCHEMA: dict[str, Any] = {
    "dataset": pl.String,
    "symbol": pl.String,
    "check": pl.String,
    "severity": pl.String,
    "first_timestamp": pl.Datetime("us", "UTC"),
    "last_timestamp": pl.Datetime("us", "UTC"),
    "count": pl.Int64,
    "detail": pl.String,
    "examples": pl.List(pl.String),
}
"""Columns and dtypes of a quality report."""

_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
_STATS_SAMPLE = 1_000_000


def _collect(lf: pl.LazyFrame, where: str) -> pl.DataFrame:
    try:
        return lf.collect(engine="streaming")
    except pl.exceptions.PolarsError as exc:
        raise DataFormatError(f"quality check {where}: polars could not run it: {exc}") from exc


def _fmt_ts(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def _row_text(columns: Sequence[str]) -> pl.Expr:
    """One flagged row rendered as ``col=value, ...`` text, for the examples column."""
    parts: list[pl.Expr] = []
    for i, col in enumerate(columns):
        prefix = ("" if i == 0 else ", ") + f"{col}="
        parts.append(pl.lit(prefix) + pl.col(col).cast(pl.String).fill_null("null"))
    return pl.concat_str(parts)


def _findings(
    flagged: pl.LazyFrame,
    *,
    keys: list[str],
    check: str,
    severity: Severity,
    columns: Sequence[str],
    examples: int,
    count: pl.Expr | None = None,
    detail: pl.Expr | None = None,
) -> pl.LazyFrame:
    """Aggregate flagged rows into one finding per series."""
    return (
        flagged.group_by(keys)
        .agg(
            pl.col("timestamp").min().alias("first_timestamp"),
            pl.col("timestamp").max().alias("last_timestamp"),
            (count if count is not None else pl.len()).cast(pl.Int64).alias("count"),
            _row_text(columns).head(examples).alias("examples"),
            *([detail.alias("detail")] if detail is not None else []),
        )
        .with_columns(
            check=pl.lit(check),
            severity=pl.lit(severity),
            **({} if detail is not None else {"detail": pl.lit(None, pl.String)}),
        )
    )


def _series_keys(schema: pl.Schema) -> list[str]:
    return ["symbol", "timeframe"] if "timeframe" in schema else ["symbol"]


def _with_previous(lf: pl.LazyFrame, keys: list[str], columns: list[str]) -> pl.LazyFrame:
    """Add ``_prev_<col>`` for the previous row of the same series (null at a series start).

    A plain shift over the whole frame, masked where the series changes, streams; a
    window ``.over()`` would not.
    """
    same = pl.all_horizontal([pl.col(k) == pl.col(k).shift(1) for k in keys]).fill_null(False)
    return lf.with_columns(
        _same_series=same,
        **{f"_prev_{c}": pl.when(same).then(pl.col(c).shift(1)) for c in columns},
    )


def _runs(
    lf: pl.LazyFrame,
    flag: pl.Expr,
    *,
    keys: list[str],
    min_length: int,
    check: str,
    detail_word: str,
    columns: Sequence[str],
    examples: int,
    new_run: pl.Expr | None = None,
) -> pl.LazyFrame:
    """Runs of at least ``min_length`` consecutive flagged rows of one series.

    ``new_run`` marks rows that start a new run even when the previous row is flagged too.
    """
    marked = _with_previous(
        lf.with_columns(
            _flag=flag.fill_null(False), _new=new_run if new_run is not None else False
        ),
        keys,
        ["_flag"],
    )
    continues = pl.col("_same_series") & pl.col("_prev__flag").fill_null(False) & ~pl.col("_new")
    run_start = pl.col("_flag") & ~continues
    runs = (
        marked.with_columns(_run=run_start.cast(pl.Int64).cum_sum())
        .filter(pl.col("_flag"))
        .group_by([*keys, "_run"])
        .agg(
            pl.col("timestamp").min(),
            pl.col("timestamp").max().alias("_end"),
            pl.len().alias("_len"),
            _row_text(columns).first().alias("_example"),
        )
        .filter(pl.col("_len") >= min_length)
    )
    return (
        runs.group_by(keys)
        .agg(
            pl.col("timestamp").min().alias("first_timestamp"),
            pl.col("_end").max().alias("last_timestamp"),
            pl.col("_len").sum().cast(pl.Int64).alias("count"),
            pl.format(
                "{} run(s) of {} (longest {} rows)",
                pl.len(),
                pl.lit(detail_word),
                pl.col("_len").max(),
            ).alias("detail"),
            pl.format("{} rows from {}", pl.col("_len"), pl.col("_example"))
            .sort_by(pl.col("_len"), descending=True)
            .head(examples)
            .alias("examples"),
        )
        .with_columns(check=pl.lit(check), severity=pl.lit("warning"))
    )


# --------------------------------------------------------------------------- checks


def _ensure_order(
    lf: pl.LazyFrame, keys: list[str], name: str
) -> tuple[pl.LazyFrame, pl.DataFrame | None, int]:
    """Check the canonical order in one streaming pass; sort only when it does not hold.

    The row-to-previous-row checks need each series contiguous and in time order. Data
    from the catalog is; anything else is sorted here (in memory) and reported.
    """
    prev = _with_previous(lf, keys, ["timestamp"])
    state = _collect(
        prev.select(
            (~pl.col("_same_series")).sum().alias("starts"),
            (pl.col("timestamp") < pl.col("_prev_timestamp")).sum().alias("backwards"),
            pl.col("timestamp").min().alias("lo"),
            pl.col("timestamp").max().alias("hi"),
            pl.len().alias("rows"),
        ),
        "order",
    ).row(0, named=True)
    series = _collect(lf.select(keys).unique().select(pl.len()), "order").item()
    rows = int(state["rows"])
    if rows == 0 or (state["starts"] <= series and not state["backwards"]):
        return lf, None, rows
    finding = pl.DataFrame(
        {
            "dataset": [name],
            "symbol": [None],
            "check": ["unsorted"],
            "severity": ["warning"],
            "first_timestamp": [state["lo"]],
            "last_timestamp": [state["hi"]],
            "count": [int(state["backwards"]) + max(int(state["starts"]) - series, 0)],
            "detail": [
                "rows are not sorted by symbol, then timestamp (the catalog's order); they were "
                "sorted in memory for the checks, which loses the streaming memory bound"
            ],
            "examples": [[]],
        },
        schema=FINDINGS_SCHEMA,
    )
    return lf.sort([*keys, "timestamp"], maintain_order=True), finding, rows


def _check_duplicate_times(lf: pl.LazyFrame, keys: list[str], examples: int) -> pl.LazyFrame:
    prev = _with_previous(lf, keys, ["timestamp"])
    dup = prev.filter(pl.col("timestamp") == pl.col("_prev_timestamp"))
    return _findings(
        dup,
        keys=keys,
        check="duplicates",
        severity="error",
        columns=[*keys, "timestamp"],
        examples=examples,
        detail=pl.lit("repeated timestamp within a series; keep one row per timestamp"),
    )


def _check_missing_bars(lf: pl.LazyFrame, keys: list[str], examples: int) -> list[pl.LazyFrame]:
    step_us = duration_expr(None).dt.total_microseconds()
    prev = _with_previous(lf, keys, ["timestamp"])
    gap_us = (pl.col("timestamp") - pl.col("_prev_timestamp")).dt.total_microseconds()
    gaps = prev.filter(gap_us > step_us).with_columns(
        _missing=(gap_us // step_us - 1),
        _from=pl.col("_prev_timestamp") + duration_expr(None),
    )
    inner = (
        gaps.group_by(keys)
        .agg(
            pl.col("_from").min().alias("first_timestamp"),
            (pl.col("timestamp") - duration_expr(None)).max().alias("last_timestamp"),
            pl.col("_missing").sum().cast(pl.Int64).alias("count"),
            pl.format(
                "{} gap(s) in the 24/7 calendar; longest {} bars",
                pl.len(),
                pl.col("_missing").max(),
            ).alias("detail"),
            pl.format(
                "{} bars missing from {} to {}",
                pl.col("_missing"),
                pl.col("_from").dt.strftime("%Y-%m-%d %H:%M"),
                (pl.col("timestamp") - duration_expr(None)).dt.strftime("%Y-%m-%d %H:%M"),
            )
            .sort_by(pl.col("_missing"), descending=True)
            .head(examples)
            .alias("examples"),
        )
        .with_columns(check=pl.lit("missing_bars"), severity=pl.lit("warning"))
    )
    # A series that starts after, or ends before, the dataset's span also misses bars.
    # the bar length is looked up once per series, after the aggregation, which streams
    spans = (
        lf.group_by(keys)
        .agg(
            pl.col("timestamp").min().alias("_lo"),
            pl.col("timestamp").max().alias("_hi"),
            *([] if "timeframe" in keys else [pl.col("timeframe").first()]),
        )
        .with_columns(_step=step_us)
    )
    edges = (
        spans.with_columns(
            _all_lo=pl.col("_lo").min().over(keys[1:]) if keys[1:] else pl.col("_lo").min(),
            _all_hi=pl.col("_hi").max().over(keys[1:]) if keys[1:] else pl.col("_hi").max(),
        )
        .with_columns(
            _head=(pl.col("_lo") - pl.col("_all_lo")).dt.total_microseconds() // pl.col("_step"),
            _tail=(pl.col("_all_hi") - pl.col("_hi")).dt.total_microseconds() // pl.col("_step"),
        )
        .filter((pl.col("_head") > 0) | (pl.col("_tail") > 0))
        .select(
            *keys,
            pl.when(pl.col("_head") > 0)
            .then(pl.col("_all_lo"))
            .otherwise(pl.col("_hi") + pl.duration(microseconds=pl.col("_step")))
            .alias("first_timestamp"),
            pl.when(pl.col("_tail") > 0)
            .then(pl.col("_all_hi"))
            .otherwise(pl.col("_lo") - pl.duration(microseconds=pl.col("_step")))
            .alias("last_timestamp"),
            (pl.col("_head") + pl.col("_tail")).cast(pl.Int64).alias("count"),
            pl.format(
                "series covers less than the dataset: {} bars missing before its first bar, "
                "{} after its last",
                pl.col("_head"),
                pl.col("_tail"),
            ).alias("detail"),
            pl.concat_list(
                pl.format("first bar {}, dataset starts {}", pl.col("_lo"), pl.col("_all_lo"))
            ).alias("examples"),
            pl.lit("missing_bars_at_edges").alias("check"),
            pl.lit("info").alias("severity"),
        )
    )
    return [inner, edges]


def _check_ohlc_rules(lf: pl.LazyFrame, keys: list[str], examples: int) -> pl.LazyFrame:
    o, h, lo, c, v = (pl.col(x) for x in ("open", "high", "low", "close", "volume"))
    prices = [o, h, lo, c]
    bad = (
        (h < pl.max_horizontal(o, c))
        | (lo > pl.min_horizontal(o, c))
        | (h < lo)
        | pl.any_horizontal([~p.is_finite() | (p <= 0) for p in prices])
        | ~v.is_finite()
        | (v < 0)
    ).fill_null(True)
    return _findings(
        lf.filter(bad),
        keys=keys,
        check="ohlc_rules",
        severity="error",
        columns=["timestamp", "open", "high", "low", "close", "volume"],
        examples=examples,
        detail=pl.lit(
            "expected high >= max(open, close), low <= min(open, close), positive finite "
            "prices, finite volume >= 0"
        ),
    )


def _check_outliers(
    lf: pl.LazyFrame,
    keys: list[str],
    price: str,
    z: float,
    examples: int,
    *,
    nonzero: bool,
    rows: int,
) -> pl.LazyFrame:
    # Trade-to-trade returns are mostly exactly zero (prints at the same price), which
    # makes the MAD zero and every tick an outlier: for trades, only price changes count.
    prev = _with_previous(lf, keys, [price])
    returns = prev.with_columns(_ret=(pl.col(price) / pl.col(f"_prev_{price}")).log()).filter(
        pl.col("_ret").is_finite() & (pl.col("_ret") != 0 if nonzero else pl.lit(True))
    )
    # A median needs every value in memory, so the per-series median and MAD come from a
    # systematic sample of at most _STATS_SAMPLE returns, collected first (a small table);
    # the scoring pass then streams over all returns.
    every = max(1, rows // _STATS_SAMPLE)
    stats = _collect(
        returns.select(*keys, "_ret")
        .gather_every(every)
        .group_by(keys)
        .agg(
            pl.col("_ret").median().alias("_med"),
            (pl.col("_ret") - pl.col("_ret").median()).abs().median().alias("_mad"),
        ),
        "outlier_return",
    )
    # 1.4826 × MAD estimates σ for normal data; a tiny floor keeps flat series from
    # turning every tick into an infinite z-score.
    scored = returns.join(stats.lazy(), on=keys, how="inner").with_columns(
        _z=(pl.col("_ret") - pl.col("_med")) / (1.4826 * pl.col("_mad")).clip(lower_bound=1e-12)
    )
    return _findings(
        scored.filter(pl.col("_z").abs() > z),
        keys=keys,
        check="outlier_return",
        severity="warning",
        columns=["timestamp", f"_prev_{price}", price, "_z"],
        examples=examples,
        detail=pl.format(
            "log returns with |robust z| > {}; largest {}",
            pl.lit(z),
            pl.col("_z").abs().max().round(1),
        ),
    )


def _check_trades_vs_bars(
    bars: pl.LazyFrame, trades: pl.LazyFrame, examples: int, rel_tol: float
) -> pl.LazyFrame:
    timeframes = _collect(bars.select(pl.col("timeframe").unique()), "trades_vs_bars")
    frames = []
    for tf in timeframes["timeframe"].drop_nulls().to_list():
        timeframe_duration_us(tf)
        built = time_bars(trades, timeframe=tf).select(
            "timestamp",
            "symbol",
            pl.col("open", "high", "low", "close", "volume", "trade_count").name.suffix("_t"),
        )
        ours = bars.filter(pl.col("timeframe") == tf).select(
            "timestamp", "symbol", "open", "high", "low", "close", "volume", "trade_count"
        )
        span = trades.group_by("symbol").agg(
            pl.col("timestamp").min().dt.truncate(tf).alias("_lo"),
            pl.col("timestamp").max().alias("_hi"),
        )
        joined = (
            ours.join(built, on=["symbol", "timestamp"], how="full", coalesce=True)
            .join(span, on="symbol", how="inner")
            .filter(pl.col("timestamp").is_between(pl.col("_lo"), pl.col("_hi")))
        )

        def differs(a: str) -> pl.Expr:
            x, y = pl.col(a), pl.col(f"{a}_t")
            return (x - y).abs() > rel_tol * pl.max_horizontal(x.abs(), y.abs(), pl.lit(1e-300))

        reason = (
            pl.when(pl.col("open").is_null())
            .then(pl.lit("trades but no bar"))
            .when(pl.col("open_t").is_null())
            .then(pl.lit("bar but no trades"))
            .when(differs("volume"))
            .then(pl.lit("volume differs"))
            .when(pl.col("trade_count") != pl.col("trade_count_t"))
            .then(pl.lit("trade_count differs"))
            .when(differs("open") | differs("high") | differs("low") | differs("close"))
            .then(pl.lit("prices differ"))
        )
        bad = joined.with_columns(_reason=reason, timeframe=pl.lit(tf)).filter(
            pl.col("_reason").is_not_null()
        )
        frames.append(
            _findings(
                bad,
                keys=["symbol", "timeframe"],
                check="trades_vs_bars",
                severity="error",
                columns=[
                    "timestamp",
                    "_reason",
                    "volume",
                    "volume_t",
                    "trade_count",
                    "trade_count_t",
                ],
                examples=examples,
                detail=pl.format(
                    "bars disagree with the aggregation of trades: {}",
                    pl.col("_reason").unique().sort().str.join(", "),
                ),
            )
        )
    if not frames:
        return pl.LazyFrame(schema=FINDINGS_SCHEMA)
    return pl.concat(frames, how="diagonal_relaxed")


def _check_snapshot_gaps(
    lf: pl.LazyFrame, keys: list[str], max_gap: str | None, examples: int
) -> pl.LazyFrame:
    prev = _with_previous(lf, keys, ["timestamp"])
    gap = pl.col("timestamp") - pl.col("_prev_timestamp")
    if max_gap is None:
        typical = _collect(prev.select(gap.dt.total_microseconds().median()), "snapshot_gap")
        median_us = typical.item()
        limit_us = int(10 * median_us) if median_us else None
    else:
        limit_us = timeframe_duration_us(max_gap) if max_gap[-1] in "mhdw" else None
        if limit_us is None:
            secs = max_gap.removesuffix("s")
            if not secs.isdigit():
                raise ConfigurationError(
                    f"max_snapshot_gap {max_gap!r} is not understood; expected e.g. '5s', '1m'"
                )
            limit_us = int(secs) * 1_000_000
    if limit_us is None:
        return pl.LazyFrame(schema=FINDINGS_SCHEMA)
    flagged = prev.filter(gap.dt.total_microseconds() > limit_us).with_columns(
        _gap_s=gap.dt.total_microseconds() / 1e6
    )
    return (
        flagged.group_by(keys)
        .agg(
            pl.col("_prev_timestamp").min().alias("first_timestamp"),
            pl.col("timestamp").max().alias("last_timestamp"),
            pl.len().cast(pl.Int64).alias("count"),
            pl.format(
                "snapshot gaps longer than {} s; longest {} s",
                pl.lit(limit_us / 1e6),
                pl.col("_gap_s").max(),
            ).alias("detail"),
            pl.format("no snapshot from {} to {}", pl.col("_prev_timestamp"), pl.col("timestamp"))
            .sort_by(pl.col("_gap_s"), descending=True)
            .head(examples)
            .alias("examples"),
        )
        .with_columns(check=pl.lit("snapshot_gap"), severity=pl.lit("warning"))
    )


def _check_crossed(lf: pl.LazyFrame, keys: list[str], examples: int) -> pl.LazyFrame:
    return _findings(
        lf.filter(pl.col("bid_px_1") >= pl.col("ask_px_1")),
        keys=keys,
        check="crossed_book",
        severity="error",
        columns=["timestamp", "bid_px_1", "ask_px_1"],
        examples=examples,
        detail=pl.format(
            "best bid >= best ask ({} locked, the rest crossed)",
            (pl.col("bid_px_1") == pl.col("ask_px_1")).sum(),
        ),
    )


def _check_trade_ids(lf: pl.LazyFrame, examples: int) -> pl.LazyFrame:
    dup = (
        lf.group_by("symbol", "trade_id")
        .agg(pl.len().alias("_n"), pl.col("timestamp").min())
        .filter(pl.col("_n") > 1)
    )
    return _findings(
        dup,
        keys=["symbol"],
        check="duplicates",
        severity="error",
        columns=["trade_id", "_n"],
        examples=examples,
        count=pl.col("_n").sum() - pl.len(),
        detail=pl.lit("trade ids that occur more than once (count = surplus rows)"),
    )


def _check_trade_values(lf: pl.LazyFrame, examples: int) -> pl.LazyFrame:
    bad = (
        ~pl.col("price").is_finite()
        | (pl.col("price") <= 0)
        | ~pl.col("size").is_finite()
        | (pl.col("size") <= 0)
        | ~pl.col("side").is_in(["buy", "sell"])
    ).fill_null(True)
    return _findings(
        lf.filter(bad),
        keys=["symbol"],
        check="invalid_values",
        severity="error",
        columns=["timestamp", "trade_id", "side", "price", "size"],
        examples=examples,
        detail=pl.lit("expected positive finite price and size, side buy or sell"),
    )


# --------------------------------------------------------------------------- public API


def quality_report(
    data: pl.LazyFrame | pl.DataFrame,
    kind: str,
    /,
    *,
    dataset: str | None = None,
    trades: pl.LazyFrame | pl.DataFrame | None = None,
    bars: pl.LazyFrame | pl.DataFrame | None = None,
    stale_bars: int = 30,
    zero_volume_bars: int = 10,
    outlier_z: float = 12.0,
    max_snapshot_gap: str | None = None,
    examples: int = 3,
    rel_tol: float = 1e-9,
) -> pl.DataFrame:
    """Check a dataset and return one row per finding.

    Parameters
    ----------
    data
        A (Lazy)Frame of ``kind``, any number of symbols, in the catalog's order (sorted
        by symbol, then timestamp; anything else is reported as ``unsorted``).
    kind
        ``"ohlcv"``, ``"trades"`` or ``"orderbook"``.
    dataset
        Name shown in the ``dataset`` column (default: the kind).
    trades
        For ``ohlcv``: trades to rebuild the bars from and reconcile (``trades_vs_bars``).
    bars
        For ``trades``: bars to reconcile the trades with.
    stale_bars
        Report a close unchanged for at least this many consecutive bars.
    zero_volume_bars
        Report at least this many consecutive zero-volume bars.
    outlier_z
        Report log returns whose robust z-score (median and 1.4826 × MAD per symbol)
        exceeds this in absolute value.
    max_snapshot_gap
        For ``orderbook``: report gaps between snapshots longer than this (``"5s"``,
        ``"1m"``); default 10 × the median interval.
    examples
        Example rows kept per finding.
    rel_tol
        Relative tolerance of the trades-versus-bars comparison.

    Returns
    -------
    pl.DataFrame
        Columns of :data:`FINDINGS_SCHEMA`: ``dataset, symbol, check, severity,
        first_timestamp, last_timestamp, count, detail, examples``, sorted by severity
        (errors first), check and symbol. Empty when nothing was found.

    Raises
    ------
    UnknownKindError
        If ``kind`` is not one of :data:`QUALITY_KINDS`.
    DataFormatError
        If columns are missing or Polars cannot run a check.

    Examples
    --------
    >>> from omni_research.testing import make_market
    >>> market = make_market(symbols=["SOLUSDT"], start=datetime(2025, 1, 8, tzinfo=UTC),
    ...                      days=1)  # doctest: +SKIP
    >>> quality_report(market["ohlcv"], "ohlcv")["check"].to_list()  # doctest: +SKIP
    ['missing_bars']
    """
    if kind not in QUALITY_KINDS:
        raise UnknownKindError(
            f"quality_report: no checks for kind {kind!r}; expected one of {QUALITY_KINDS}"
        )
    name = dataset or kind
    lf = data.lazy()
    try:
        schema = lf.collect_schema()
    except pl.exceptions.PolarsError as exc:
        raise DataFormatError(f"quality_report({name}): cannot read the columns: {exc}") from exc
    needed = {
        "ohlcv": ["timestamp", "symbol", "timeframe", "open", "high", "low", "close", "volume"],
        "trades": ["timestamp", "symbol", "trade_id", "side", "price", "size"],
        "orderbook": ["timestamp", "symbol", "bid_px_1", "ask_px_1"],
    }[kind]
    missing = [c for c in needed if c not in schema]
    if missing:
        raise DataFormatError(
            f"quality_report({name}): kind {kind} needs columns {missing}, which are missing; "
            f"got {schema.names()}"
        )
    keys = _series_keys(schema)
    lf, order_finding, rows = _ensure_order(lf, keys, name)
    queries: list[pl.LazyFrame] = []
    if kind == "ohlcv":
        queries.append(_check_duplicate_times(lf, keys, examples))
        queries += _check_missing_bars(lf, keys, examples)
        queries.append(_check_ohlc_rules(lf, keys, examples))
        queries.append(
            _runs(lf, pl.col("volume") == 0, keys=keys, min_length=zero_volume_bars,
                  check="zero_volume_run", detail_word="zero volume",
                  columns=["timestamp", "volume"], examples=examples)
        )  # fmt: skip
        # a bar is stale when its close equals its neighbour's in the same series, so a
        # run of n equal closes flags all n bars
        same_next = pl.all_horizontal([pl.col(k) == pl.col(k).shift(-1) for k in keys])
        prev = _with_previous(lf, keys, ["close"]).with_columns(
            _next_close=pl.when(same_next.fill_null(False)).then(pl.col("close").shift(-1))
        )
        unchanged = (pl.col("close") == pl.col("_prev_close")).fill_null(False) | (
            pl.col("close") == pl.col("_next_close")
        ).fill_null(False)
        queries.append(
            _runs(prev.drop("_same_series"), unchanged, keys=keys,
                  min_length=max(stale_bars, 2), check="stale_price",
                  detail_word="unchanged close", columns=["timestamp", "close"],
                  examples=examples,
                  new_run=(pl.col("close") != pl.col("_prev_close")).fill_null(True))
        )  # fmt: skip
        queries.append(
            _check_outliers(lf, keys, "close", outlier_z, examples, nonzero=False, rows=rows)
        )
        if trades is not None:
            queries.append(_check_trades_vs_bars(lf, trades.lazy(), examples, rel_tol))
    elif kind == "trades":
        queries.append(_check_trade_ids(lf, examples))
        queries.append(_check_trade_values(lf, examples))
        queries.append(
            _check_outliers(lf, keys, "price", outlier_z, examples, nonzero=True, rows=rows)
        )
        if bars is not None:
            queries.append(_check_trades_vs_bars(bars.lazy(), lf, examples, rel_tol))
    else:
        queries.append(_check_duplicate_times(lf, keys, examples))
        queries.append(_check_snapshot_gaps(lf, keys, max_snapshot_gap, examples))
        queries.append(_check_crossed(lf, keys, examples))
    frames = [] if order_finding is None else [order_finding]
    for query in queries:
        found = _collect(query, kind)
        if found.height:
            frames.append(found.with_columns(pl.col("examples").cast(pl.List(pl.String))))
    if not frames:
        return pl.DataFrame(schema=FINDINGS_SCHEMA)
    out = pl.concat(frames, how="diagonal_relaxed").with_columns(dataset=pl.lit(name))
    return (
        out.select(
            [
                pl.col(c).cast(t) if c in out.columns else pl.lit(None, t).alias(c)
                for c, t in FINDINGS_SCHEMA.items()
            ]
        )
        .with_columns(_rank=pl.col("severity").replace_strict(_SEVERITY_ORDER, default=3))
        .sort("_rank", "dataset", "check", "symbol")
        .drop("_rank")
    )


def quality_summary(report: pl.DataFrame, /, *, max_lines: int = 20) -> str:
    """A one-screen text summary of a quality report.

    Parameters
    ----------
    report
        The frame :func:`quality_report` returned (or several concatenated).
    max_lines
        At most this many finding lines; the rest are counted.

    Returns
    -------
    str
        A headline with counts by severity, then one line per dataset and check.

    Examples
    --------
    >>> print(quality_summary(pl.DataFrame(schema=FINDINGS_SCHEMA)))
    quality: no findings
    """
    if report.height == 0:
        return "quality: no findings"
    by_sev = report.group_by("severity").len()
    counts = dict(zip(by_sev["severity"].to_list(), by_sev["len"].to_list(), strict=True))
    head = ", ".join(f"{counts[s]} {s}" for s in _SEVERITY_ORDER if s in counts)
    lines = [f"quality: {report.height} finding(s): {head}"]
    grouped = (
        report.group_by("dataset", "check", "severity", maintain_order=True)
        .agg(
            pl.col("symbol").unique().sort().str.join(","),
            pl.col("count").sum(),
            pl.col("first_timestamp").min(),
            pl.col("last_timestamp").max(),
        )
        .with_columns(_rank=pl.col("severity").replace_strict(_SEVERITY_ORDER, default=3))
        .sort("_rank", "dataset", "check")
    )
    for row in grouped.head(max_lines).iter_rows(named=True):
        lines.append(
            f"  {row['severity'].upper():<7} {row['dataset']:<20} {row['check']:<22} "
            f"{row['count']:>9}  {row['symbol']}  "
            f"[{_fmt_ts(row['first_timestamp'])} .. {_fmt_ts(row['last_timestamp'])}]"
        )
    if grouped.height > max_lines:
        lines.append(f"  ... and {grouped.height - max_lines} more")
    return "\n".join(lines)


def quality_main(
    root: str | None,
    kind: str | None,
    symbols: list[str] | None,
    *,
    out: TextIO | None = None,
) -> int:
    """Entry point of ``omni-research quality``: check a data root and print the findings.

    Parameters
    ----------
    root
        A data root (None: the shipped ``data_test``).
    kind
        Check only datasets of this kind (default: every ohlcv, trades and orderbook one).
    symbols
        Check only these symbols.
    out
        Where to print (default standard output).

    Returns
    -------
    int
        0 when no finding is an error, 1 when some are, 2 when the check could not run.
    """
    from omni_research._catalog import open_catalog

    stream = out if out is not None else sys.stdout
    try:
        catalog = open_catalog(root)
        listing = catalog.datasets()
        wanted = listing.filter(pl.col("kind").is_in(QUALITY_KINDS))
        if kind is not None:
            if kind not in QUALITY_KINDS:
                raise UnknownKindError(
                    f"no quality checks for kind {kind!r}; expected one of {QUALITY_KINDS}"
                )
            wanted = wanted.filter(pl.col("kind") == kind)
        trades_name = listing.filter(pl.col("kind") == "trades")["name"].to_list()
        reports = []
        for name, ds_kind in wanted.select("name", "kind").iter_rows():
            lf = catalog.scan(name, symbols=symbols)
            extra: dict[str, Any] = {}
            if ds_kind == "ohlcv" and len(trades_name) == 1:
                extra["trades"] = catalog.scan(trades_name[0], symbols=symbols)
            reports.append(quality_report(lf, ds_kind, dataset=name, **extra))
    except OmniDataError as exc:
        print(f"omni-research quality: {exc}", file=stream)
        return 2
    report = pl.concat(reports, how="vertical") if reports else pl.DataFrame(schema=FINDINGS_SCHEMA)
    print(f"data root: {catalog.root}", file=stream)
    print(quality_summary(report), file=stream)
    if report.height:
        table = report.select(
            "dataset", "symbol", "check", "severity", "first_timestamp", "last_timestamp",
            "count", "detail",
        )  # fmt: skip
        with pl.Config(
            tbl_rows=50, tbl_cols=10, fmt_str_lengths=60, tbl_width_chars=160,
            tbl_hide_dataframe_shape=True,
        ):  # fmt: skip
            print(table, file=stream)
    return 1 if (report["severity"] == "error").any() else 0
