"""What every quality check shares: the findings table, the row-to-previous-row view,
runs of flagged rows, and the canonical-order check that all of them rely on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import polars as pl

from omni_research._typing import Severity
from omni_research.exceptions import DataFormatError

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

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def collect(lf: pl.LazyFrame, where: str) -> pl.DataFrame:
    try:
        return lf.collect(engine="streaming")
    except pl.exceptions.PolarsError as exc:
        raise DataFormatError(f"quality check {where}: polars could not run it: {exc}") from exc


def fmt_ts(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def row_text(columns: Sequence[str]) -> pl.Expr:
    """One flagged row rendered as ``col=value, ...`` text, for the examples column."""
    parts: list[pl.Expr] = []
    for i, col in enumerate(columns):
        prefix = ("" if i == 0 else ", ") + f"{col}="
        parts.append(pl.lit(prefix) + pl.col(col).cast(pl.String).fill_null("null"))
    return pl.concat_str(parts)


def findings(
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
            row_text(columns).head(examples).alias("examples"),
            *([detail.alias("detail")] if detail is not None else []),
        )
        .with_columns(
            check=pl.lit(check),
            severity=pl.lit(severity),
            **({} if detail is not None else {"detail": pl.lit(None, pl.String)}),
        )
    )


def series_keys(schema: pl.Schema) -> list[str]:
    return ["symbol", "timeframe"] if "timeframe" in schema else ["symbol"]


def with_previous(lf: pl.LazyFrame, keys: list[str], columns: list[str]) -> pl.LazyFrame:
    """Add ``_prev_<col>`` for the previous row of the same series (null at a series start).

    A plain shift over the whole frame, masked where the series changes, streams; a
    window ``.over()`` would not.
    """
    same = pl.all_horizontal([pl.col(k) == pl.col(k).shift(1) for k in keys]).fill_null(False)
    return lf.with_columns(
        _same_series=same,
        **{f"_prev_{c}": pl.when(same).then(pl.col(c).shift(1)) for c in columns},
    )


def runs(
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
    marked = with_previous(
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
            row_text(columns).first().alias("_example"),
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


def ensure_order(
    lf: pl.LazyFrame, keys: list[str], name: str
) -> tuple[pl.LazyFrame, pl.DataFrame | None, int]:
    """Check the canonical order in one streaming pass; sort only when it does not hold.

    The row-to-previous-row checks need each series contiguous and in time order. Data
    from the catalog is; anything else is sorted here (in memory) and reported.
    """
    prev = with_previous(lf, keys, ["timestamp"])
    state = collect(
        prev.select(
            (~pl.col("_same_series")).sum().alias("starts"),
            (pl.col("timestamp") < pl.col("_prev_timestamp")).sum().alias("backwards"),
            pl.col("timestamp").min().alias("lo"),
            pl.col("timestamp").max().alias("hi"),
            pl.len().alias("rows"),
        ),
        "order",
    ).row(0, named=True)
    series = collect(lf.select(keys).unique().select(pl.len()), "order").item()
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
