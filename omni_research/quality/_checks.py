"""The quality checks, one function per check, registered per kind in one table.

A check takes the :class:`CheckInput` of one dataset (its rows in the canonical order,
the series keys, the options of :func:`~omni_research.quality.quality_report`) and
returns lazy queries, each ending in one finding per series (columns of
``FINDINGS_SCHEMA``). :data:`CHECKS` lists them per kind, in the order they run; a new
check is one function and one ``@check(...)`` line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from omni_research._time import duration_expr, timeframe_duration_us
from omni_research.bars import time_bars
from omni_research.exceptions import ConfigurationError
from omni_research.quality._findings import (
    FINDINGS_SCHEMA,
    QUALITY_KINDS,
    collect,
    findings,
    runs,
    with_previous,
)

_STATS_SAMPLE = 1_000_000


@dataclass(frozen=True, kw_only=True, eq=False)  # holds frames: no value equality
class CheckInput:
    """One dataset as the checks see it, and the options of ``quality_report``."""

    lf: pl.LazyFrame  # in the canonical order (sorted by keys, then time)
    keys: list[str]  # the series keys: symbol (and timeframe)
    rows: int
    examples: int
    trades: pl.LazyFrame | None
    bars: pl.LazyFrame | None
    stale_bars: int
    zero_volume_bars: int
    outlier_z: float
    max_snapshot_gap: str | None
    rel_tol: float


CheckFn = Callable[[CheckInput], list[pl.LazyFrame]]


@dataclass(frozen=True)
class Check:
    """A registered check: the name in the report's ``check`` column, and its function."""

    name: str
    run: CheckFn


CHECKS: dict[str, list[Check]] = {kind: [] for kind in QUALITY_KINDS}
"""Kind -> the checks ``quality_report`` runs on it, in order."""

REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "ohlcv": ("timestamp", "symbol", "timeframe", "open", "high", "low", "close", "volume"),
    "trades": ("timestamp", "symbol", "trade_id", "side", "price", "size"),
    "orderbook": ("timestamp", "symbol", "bid_px_1", "ask_px_1"),
}
"""Kind -> the columns its checks read."""


def check(name: str, *kinds: str) -> Callable[[CheckFn], CheckFn]:
    """Register the decorated function as check ``name`` of ``kinds``."""

    def register(fn: CheckFn) -> CheckFn:
        for kind in kinds:
            CHECKS[kind].append(Check(name, fn))
        return fn

    return register


# --------------------------------------------------------------------------- the checks


@check("duplicates", "ohlcv", "orderbook")
def duplicate_times(ctx: CheckInput) -> list[pl.LazyFrame]:
    """A timestamp repeated within a series."""
    keys, examples = ctx.keys, ctx.examples
    prev = with_previous(ctx.lf, keys, ["timestamp"])
    dup = prev.filter(pl.col("timestamp") == pl.col("_prev_timestamp"))
    found = findings(
        dup,
        keys=keys,
        check="duplicates",
        severity="error",
        columns=[*keys, "timestamp"],
        examples=examples,
        detail=pl.lit("repeated timestamp within a series; keep one row per timestamp"),
    )
    return [found]


@check("duplicates", "trades")
def duplicate_trade_ids(ctx: CheckInput) -> list[pl.LazyFrame]:
    """A trade id that occurs more than once for a symbol."""
    dup = (
        ctx.lf.group_by("symbol", "trade_id")
        .agg(pl.len().alias("_n"), pl.col("timestamp").min())
        .filter(pl.col("_n") > 1)
    )
    found = findings(
        dup,
        keys=["symbol"],
        check="duplicates",
        severity="error",
        columns=["trade_id", "_n"],
        examples=ctx.examples,
        count=pl.col("_n").sum() - pl.len(),
        detail=pl.lit("trade ids that occur more than once (count = surplus rows)"),
    )
    return [found]


@check("missing_bars", "ohlcv")
def missing_bars(ctx: CheckInput) -> list[pl.LazyFrame]:
    """Gaps in the 24/7 calendar inside a series, and series shorter than the dataset
    (``missing_bars_at_edges``)."""
    lf, keys, examples = ctx.lf, ctx.keys, ctx.examples
    step_us = duration_expr(None).dt.total_microseconds()
    prev = with_previous(lf, keys, ["timestamp"])
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


@check("ohlc_rules", "ohlcv")
def ohlc_rules(ctx: CheckInput) -> list[pl.LazyFrame]:
    """Bars whose prices or volume break the OHLC rules."""
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
    found = findings(
        ctx.lf.filter(bad),
        keys=ctx.keys,
        check="ohlc_rules",
        severity="error",
        columns=["timestamp", "open", "high", "low", "close", "volume"],
        examples=ctx.examples,
        detail=pl.lit(
            "expected high >= max(open, close), low <= min(open, close), positive finite "
            "prices, finite volume >= 0"
        ),
    )
    return [found]


@check("zero_volume_run", "ohlcv")
def zero_volume_run(ctx: CheckInput) -> list[pl.LazyFrame]:
    """At least ``zero_volume_bars`` consecutive bars without volume."""
    found = runs(
        ctx.lf,
        pl.col("volume") == 0,
        keys=ctx.keys,
        min_length=ctx.zero_volume_bars,
        check="zero_volume_run",
        detail_word="zero volume",
        columns=["timestamp", "volume"],
        examples=ctx.examples,
    )
    return [found]


@check("stale_price", "ohlcv")
def stale_price(ctx: CheckInput) -> list[pl.LazyFrame]:
    """A close unchanged for at least ``stale_bars`` consecutive bars."""
    keys = ctx.keys
    # a bar is stale when its close equals its neighbour's in the same series, so a
    # run of n equal closes flags all n bars
    same_next = pl.all_horizontal([pl.col(k) == pl.col(k).shift(-1) for k in keys])
    prev = with_previous(ctx.lf, keys, ["close"]).with_columns(
        _next_close=pl.when(same_next.fill_null(False)).then(pl.col("close").shift(-1))
    )
    unchanged = (pl.col("close") == pl.col("_prev_close")).fill_null(False) | (
        pl.col("close") == pl.col("_next_close")
    ).fill_null(False)
    found = runs(
        prev.drop("_same_series"),
        unchanged,
        keys=keys,
        min_length=max(ctx.stale_bars, 2),
        check="stale_price",
        detail_word="unchanged close",
        columns=["timestamp", "close"],
        examples=ctx.examples,
        new_run=(pl.col("close") != pl.col("_prev_close")).fill_null(True),
    )
    return [found]


@check("invalid_values", "trades")
def invalid_trade_values(ctx: CheckInput) -> list[pl.LazyFrame]:
    """Trades with a non-positive or non-finite price or size, or an unknown side."""
    bad = (
        ~pl.col("price").is_finite()
        | (pl.col("price") <= 0)
        | ~pl.col("size").is_finite()
        | (pl.col("size") <= 0)
        | ~pl.col("side").is_in(["buy", "sell"])
    ).fill_null(True)
    found = findings(
        ctx.lf.filter(bad),
        keys=["symbol"],
        check="invalid_values",
        severity="error",
        columns=["timestamp", "trade_id", "side", "price", "size"],
        examples=ctx.examples,
        detail=pl.lit("expected positive finite price and size, side buy or sell"),
    )
    return [found]


def _outliers(ctx: CheckInput, price: str, *, nonzero: bool) -> pl.LazyFrame:
    lf, keys, z, examples, rows = ctx.lf, ctx.keys, ctx.outlier_z, ctx.examples, ctx.rows
    # Trade-to-trade returns are mostly exactly zero (prints at the same price), which
    # makes the MAD zero and every tick an outlier: for trades, only price changes count.
    prev = with_previous(lf, keys, [price])
    returns = prev.with_columns(_ret=(pl.col(price) / pl.col(f"_prev_{price}")).log()).filter(
        pl.col("_ret").is_finite() & (pl.col("_ret") != 0 if nonzero else pl.lit(True))
    )
    # A median needs every value in memory, so the per-series median and MAD come from a
    # systematic sample of at most _STATS_SAMPLE returns, collected first (a small table);
    # the scoring pass then streams over all returns.
    every = max(1, rows // _STATS_SAMPLE)
    stats = collect(
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
    return findings(
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


def _trades_vs_bars(
    bars: pl.LazyFrame, trades: pl.LazyFrame, examples: int, rel_tol: float
) -> pl.LazyFrame:
    timeframes = collect(bars.select(pl.col("timeframe").unique()), "trades_vs_bars")
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
            findings(
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


@check("outlier_return", "ohlcv")
def outlier_close_returns(ctx: CheckInput) -> list[pl.LazyFrame]:
    """Bar-to-bar log returns of the close with a large robust z-score."""
    return [_outliers(ctx, "close", nonzero=False)]


@check("outlier_return", "trades")
def outlier_trade_returns(ctx: CheckInput) -> list[pl.LazyFrame]:
    """Trade-to-trade price changes with a large robust z-score."""
    return [_outliers(ctx, "price", nonzero=True)]


@check("trades_vs_bars", "ohlcv")
def bars_vs_trades(ctx: CheckInput) -> list[pl.LazyFrame]:
    """The bars against the aggregation of ``trades=`` (when given)."""
    if ctx.trades is None:
        return []
    return [_trades_vs_bars(ctx.lf, ctx.trades, ctx.examples, ctx.rel_tol)]


@check("trades_vs_bars", "trades")
def trades_vs_bars(ctx: CheckInput) -> list[pl.LazyFrame]:
    """The trades aggregated against ``bars=`` (when given)."""
    if ctx.bars is None:
        return []
    return [_trades_vs_bars(ctx.bars, ctx.lf, ctx.examples, ctx.rel_tol)]


@check("snapshot_gap", "orderbook")
def snapshot_gaps(ctx: CheckInput) -> list[pl.LazyFrame]:
    """Gaps between order-book snapshots longer than ``max_snapshot_gap`` (default 10x
    the median interval)."""
    keys, max_gap, examples = ctx.keys, ctx.max_snapshot_gap, ctx.examples
    prev = with_previous(ctx.lf, keys, ["timestamp"])
    gap = pl.col("timestamp") - pl.col("_prev_timestamp")
    if max_gap is None:
        typical = collect(prev.select(gap.dt.total_microseconds().median()), "snapshot_gap")
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
        return []
    flagged = prev.filter(gap.dt.total_microseconds() > limit_us).with_columns(
        _gap_s=gap.dt.total_microseconds() / 1e6
    )
    found = (
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
    return [found]


@check("crossed_book", "orderbook")
def crossed_book(ctx: CheckInput) -> list[pl.LazyFrame]:
    """Snapshots whose best bid is at or above the best ask."""
    found = findings(
        ctx.lf.filter(pl.col("bid_px_1") >= pl.col("ask_px_1")),
        keys=ctx.keys,
        check="crossed_book",
        severity="error",
        columns=["timestamp", "bid_px_1", "ask_px_1"],
        examples=ctx.examples,
        detail=pl.format(
            "best bid >= best ask ({} locked, the rest crossed)",
            (pl.col("bid_px_1") == pl.col("ask_px_1")).sum(),
        ),
    )
    return [found]
