"""``quality_report`` runs the registered checks of a kind; ``quality_summary`` prints them."""

from __future__ import annotations

import polars as pl

from omni_research.exceptions import DataFormatError, UnknownKindError
from omni_research.quality._checks import CHECKS, REQUIRED_COLUMNS, CheckInput
from omni_research.quality._findings import (
    FINDINGS_SCHEMA,
    QUALITY_KINDS,
    SEVERITY_ORDER,
    collect,
    ensure_order,
    fmt_ts,
    series_keys,
)

__all__ = ["quality_report", "quality_summary"]


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
    needed = REQUIRED_COLUMNS[kind]
    missing = [c for c in needed if c not in schema]
    if missing:
        raise DataFormatError(
            f"quality_report({name}): kind {kind} needs columns {missing}, which are missing; "
            f"got {schema.names()}"
        )
    keys = series_keys(schema)
    lf, order_finding, rows = ensure_order(lf, keys, name)
    ctx = CheckInput(
        lf=lf,
        keys=keys,
        rows=rows,
        examples=examples,
        trades=None if trades is None else trades.lazy(),
        bars=None if bars is None else bars.lazy(),
        stale_bars=stale_bars,
        zero_volume_bars=zero_volume_bars,
        outlier_z=outlier_z,
        max_snapshot_gap=max_snapshot_gap,
        rel_tol=rel_tol,
    )
    queries = [query for entry in CHECKS[kind] for query in entry.run(ctx)]
    frames = [] if order_finding is None else [order_finding]
    for query in queries:
        found = collect(query, kind)
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
        .with_columns(_rank=pl.col("severity").replace_strict(SEVERITY_ORDER, default=3))
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
    head = ", ".join(f"{counts[s]} {s}" for s in SEVERITY_ORDER if s in counts)
    lines = [f"quality: {report.height} finding(s): {head}"]
    grouped = (
        report.group_by("dataset", "check", "severity", maintain_order=True)
        .agg(
            pl.col("symbol").unique().sort().str.join(","),
            pl.col("count").sum(),
            pl.col("first_timestamp").min(),
            pl.col("last_timestamp").max(),
        )
        .with_columns(_rank=pl.col("severity").replace_strict(SEVERITY_ORDER, default=3))
        .sort("_rank", "dataset", "check")
    )
    for row in grouped.head(max_lines).iter_rows(named=True):
        lines.append(
            f"  {row['severity'].upper():<7} {row['dataset']:<20} {row['check']:<22} "
            f"{row['count']:>9}  {row['symbol']}  "
            f"[{fmt_ts(row['first_timestamp'])} .. {fmt_ts(row['last_timestamp'])}]"
        )
    if grouped.height > max_lines:
        lines.append(f"  ... and {grouped.height - max_lines} more")
    return "\n".join(lines)
