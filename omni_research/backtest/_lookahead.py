"""`lookahead_check`: re-run a strategy on truncated data and report what the future changed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from omni_research.backtest._engine import run
from omni_research.exceptions import ConfigurationError

Strategy = str | pl.Expr | Callable[[pl.DataFrame], "pl.Expr | str | pl.DataFrame"]

_DT = pl.Datetime("us", "UTC")
_FINDINGS_SCHEMA = pl.Schema(
    [
        ("cut", _DT),
        ("kind", pl.String()),
        ("symbol", pl.String()),
        ("timestamp", _DT),
        ("full", pl.Float64()),
        ("truncated", pl.Float64()),
        ("detail", pl.String()),
    ]
)


@dataclass(frozen=True, kw_only=True, eq=False)  # holds a frame: no value equality
class LookaheadReport:
    """What `lookahead_check` found.

    Attributes
    ----------
    ok : bool
        True when no signal and no trade changed at any cut.
    cuts : int
        Number of truncation points tried.
    findings : pl.DataFrame
        One row per changed value: cut (last timestamp kept), kind (``signal`` or ``trade``),
        symbol, timestamp (bar of the signal, or trade entry), full (value with all the data),
        truncated (value with the data cut at ``cut``), detail.
    """

    ok: bool
    cuts: int
    findings: pl.DataFrame

    def __bool__(self) -> bool:
        return self.ok


def _signal_frame(strategy: Strategy, data: pl.DataFrame, by: str | None) -> pl.DataFrame:
    """timestamp, symbol, signal (float) of the strategy on ``data``."""
    produced: Any = strategy(data) if callable(strategy) else strategy
    if isinstance(produced, pl.DataFrame):
        if "signal" not in produced.columns or "timestamp" not in produced.columns:
            raise ConfigurationError(
                "lookahead_check: a strategy returning a frame must give 'timestamp' and "
                f"'signal' columns (and the symbol column), got {produced.columns}"
            )
        frame = produced
        expr: pl.Expr = pl.col("signal")
    elif isinstance(produced, str | pl.Expr):
        frame = data
        expr = pl.col(produced) if isinstance(produced, str) else produced
    else:
        raise ConfigurationError(
            "lookahead_check: strategy must be a column name, an expression, or a callable "
            f"returning one (or a frame with a 'signal' column); got {type(produced).__name__}"
        )
    grouped = by is not None and by in frame.columns
    sym = pl.col(by).cast(pl.String) if grouped and by else pl.lit("")
    expr = expr.cast(pl.Float64)
    return (
        frame.sort([c for c in (by,) if grouped and c] + ["timestamp"])
        .select(
            pl.col("timestamp"),
            sym.alias("symbol"),
            (expr.over(by) if grouped and by else expr).alias("signal"),
        )
        .with_columns(pl.col("signal").fill_nan(None))
    )


def lookahead_check(
    strategy: Strategy,
    data: pl.DataFrame | pl.LazyFrame,
    /,
    *,
    cuts: int = 20,
    min_bars: int = 50,
    by: str | None = "symbol",
    tolerance: float = 1e-9,
    **options: Any,
) -> LookaheadReport:
    """Find look-ahead: re-run on data truncated at many points and compare with the full run.

    A sound strategy gives, on data that stops at time T, exactly the signals and closed
    trades the full run shows up to T. Anything that changes when the future is cut away
    (a centred window, a full-sample normalisation, a ``shift(-1)``, a label leak) is
    reported.

    Parameters
    ----------
    strategy : str, pl.Expr or callable
        The signal: a column, an expression, or ``strategy(bars) -> expr | column | frame``
        (a frame with timestamp, symbol and ``signal`` columns) for strategies that compute
        in Python.
    data : DataFrame or LazyFrame
        The bars.
    cuts : int
        Number of truncation points, evenly spread after ``min_bars``.
    min_bars : int
        Bars kept at the first cut (warm-up).
    by : str or None
        Symbol column.
    tolerance : float
        Absolute difference below which two values are equal.
    **options
        Keyword options of `run` used to compare trades (fee, size, units, execution, ...).

    Returns
    -------
    LookaheadReport
        ``report.ok`` is true when nothing changed; ``report.findings`` lists what did.

    Examples
    --------
    >>> import polars as pl
    >>> from omni_research.backtest import lookahead_check
    >>> from omni_research.testing import make_ohlcv  # doctest: +SKIP
    >>> leak = pl.col("close").shift(-1) > pl.col("close")  # doctest: +SKIP
    >>> lookahead_check(leak, make_ohlcv(n=500)).ok  # doctest: +SKIP
    False
    """
    frame = data.collect() if isinstance(data, pl.LazyFrame) else data
    if "timestamp" not in frame.columns:
        raise ConfigurationError(
            f"lookahead_check: data needs a 'timestamp' column, got {frame.columns}"
        )
    if cuts < 1:
        raise ConfigurationError(f"lookahead_check: cuts must be >= 1, got {cuts}")
    times = frame.get_column("timestamp").unique().sort()
    if times.len() <= min_bars + 1:
        raise ConfigurationError(
            f"lookahead_check: {times.len()} distinct timestamps, need more than "
            f"min_bars + 1 = {min_bars + 1}; lower min_bars or pass more data"
        )
    positions = np.unique(np.linspace(min_bars, times.len() - 2, cuts).round().astype(np.int64))
    full_sig = _signal_frame(strategy, frame, by)
    full_trades = _run_on(frame, full_sig, by, options)
    findings: list[pl.DataFrame] = []
    for p in positions:
        cut = times[int(p)]
        part = frame.filter(pl.col("timestamp") <= cut)
        sig = _signal_frame(strategy, part, by)
        joined = sig.join(
            full_sig, on=["timestamp", "symbol"], how="left", suffix="_full", nulls_equal=True
        )
        diff = joined.filter(
            (pl.col("signal").is_null() != pl.col("signal_full").is_null())
            | ((pl.col("signal") - pl.col("signal_full")).abs() > tolerance)
        )
        if diff.height:
            findings.append(
                diff.select(
                    pl.lit(cut).alias("cut"),
                    pl.lit("signal").alias("kind"),
                    "symbol",
                    "timestamp",
                    pl.col("signal_full").alias("full"),
                    pl.col("signal").alias("truncated"),
                    pl.lit("signal value changed when the future was cut").alias("detail"),
                )
            )
        part_trades = _run_on(part, sig, by, options)
        ref = full_trades.filter(pl.col("exit_time") <= cut)
        findings.extend(_trade_diffs(ref, part_trades, cut, tolerance))
    out = (
        pl.concat([f.cast(_FINDINGS_SCHEMA) for f in findings])  # type: ignore[arg-type]
        if findings
        else pl.DataFrame(schema=_FINDINGS_SCHEMA)
    )
    return LookaheadReport(ok=out.height == 0, cuts=len(positions), findings=out)


def _run_on(
    data: pl.DataFrame, sig: pl.DataFrame, by: str | None, options: dict[str, Any]
) -> pl.DataFrame:
    """Closed trades of `run` on ``data`` with the strategy's signal frame joined on."""
    key = pl.col(by).cast(pl.String) if by and by in data.columns else pl.lit("")
    bars = data.with_columns(key.alias("__key")).join(
        sig.select("timestamp", pl.col("symbol").alias("__key"), pl.col("signal").alias("__sig")),
        on=["timestamp", "__key"],
        how="left",
    )
    trades = run(bars, "__sig", by=by, **options).trades.filter(~pl.col("is_open"))
    sym_col = by if by and by in trades.columns else "symbol"
    if sym_col != "symbol":
        trades = trades.rename({sym_col: "symbol"})
    return trades


def _trade_diffs(
    ref: pl.DataFrame, got: pl.DataFrame, cut: Any, tolerance: float
) -> list[pl.DataFrame]:
    cols = ["symbol", "entry_time", "exit_time", "size", "entry_price", "exit_price"]
    a = ref.select(cols).sort("symbol", "exit_time", "entry_time")
    b = got.select(cols).sort("symbol", "exit_time", "entry_time")
    rows = []
    for i in range(max(a.height, b.height)):
        ra = a.row(i, named=True) if i < a.height else None
        rb = b.row(i, named=True) if i < b.height else None
        same = (
            ra is not None
            and rb is not None
            and all(ra[c] == rb[c] for c in ("symbol", "entry_time", "exit_time"))
            and all(abs(ra[c] - rb[c]) <= tolerance for c in ("size", "entry_price", "exit_price"))
        )
        if same:
            continue
        anchor = ra or rb
        assert anchor is not None
        rows.append(
            {
                "cut": cut,
                "kind": "trade",
                "symbol": anchor["symbol"],
                "timestamp": anchor["entry_time"],
                "full": ra["size"] if ra else None,
                "truncated": rb["size"] if rb else None,
                "detail": f"closed trade differs: full={ra}, truncated={rb}",
            }
        )
        break  # the first differing trade shifts every later one; one row per cut says it
    return [pl.DataFrame(rows, schema=_FINDINGS_SCHEMA)] if rows else []
