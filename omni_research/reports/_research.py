"""The research report: catalog -> bars -> indicators -> quality -> backtest -> sweep -> Report.

Every step uses the kit's own public pieces (``Catalog.scan``, ``bars.resample_ohlcv``,
``quality.quality_report``, ``backtest.run``/``sweep``, ``plotting``); this module only
chooses what to show and records where it came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from omni_research.exceptions import ConfigurationError, DataFormatError
from omni_research.reports._builder import Report
from omni_research.reports._lineage import collect_lineage, guard_paths

_SOURCE_TIMEFRAME = "1m"


@dataclass(frozen=True, kw_only=True)
class Strategy:
    """A named signal recipe with its default parameters and sweep grid."""

    name: str
    description: str
    make_signal: Callable[..., pl.Expr]
    defaults: Mapping[str, Any]
    grid: Mapping[str, Sequence[Any]]
    indicators: Callable[[Mapping[str, Any]], list[tuple[str, dict[str, Any]]]]
    sweep_axes: tuple[str, str]
    extra: Mapping[str, Any] = field(default_factory=dict)


def _cross(fast: pl.Expr, slow: pl.Expr) -> pl.Expr:
    # Long while the fast average is above the slow one, short while below; flat in warm-up.
    return pl.when(fast > slow).then(1.0).when(fast < slow).then(-1.0).otherwise(0.0)


def _sma_cross(fast: int, slow: int) -> pl.Expr:
    from omni_research.indicators import sma_indicator

    return _cross(sma_indicator(window=int(fast)), sma_indicator(window=int(slow)))


def _ema_cross(fast: int, slow: int) -> pl.Expr:
    from omni_research.indicators import ema_indicator

    return _cross(ema_indicator(window=int(fast)), ema_indicator(window=int(slow)))


STRATEGIES: dict[str, Strategy] = {
    "sma_cross": Strategy(
        name="sma_cross",
        description=(
            "Simple moving-average crossover: long while SMA(fast) > SMA(slow), short while "
            "below, flat during warm-up; decided at each bar's close, filled at the next open."
        ),
        make_signal=_sma_cross,
        defaults={"fast": 10, "slow": 30},
        grid={"fast": [3, 5, 8, 10, 15], "slow": [20, 30, 45, 60, 90]},
        indicators=lambda p: [
            ("sma", {"window": int(p["fast"])}),
            ("sma", {"window": int(p["slow"])}),
        ],
        sweep_axes=("fast", "slow"),
    ),
    "ema_cross": Strategy(
        name="ema_cross",
        description=(
            "Exponential moving-average crossover: long while EMA(fast) > EMA(slow), short "
            "while below; decided at each bar's close, filled at the next open."
        ),
        make_signal=_ema_cross,
        defaults={"fast": 12, "slow": 26},
        grid={"fast": [3, 5, 8, 12, 15], "slow": [20, 26, 40, 60, 90]},
        indicators=lambda p: [
            ("ema", {"window": int(p["fast"])}),
            ("ema", {"window": int(p["slow"])}),
        ],
        sweep_axes=("fast", "slow"),
    ),
}

BACKTEST_DEFAULTS: dict[str, Any] = {
    "cash": 10_000.0,
    "fee": 0.00055,  # a taker fee on Bybit linear perpetuals
    "slippage": 0.0001,
    "size": 1.0,
    "execution": "next_open",
}


def _parse_when(value: str | date | datetime | None, *, end: bool) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ConfigurationError(
                f"research report: {'end' if end else 'start'} {value} is naive; "
                "pass a timezone-aware UTC datetime"
            )
        return value.astimezone(UTC)
    if isinstance(value, date):
        d = datetime.combine(value, time(0), tzinfo=UTC)
        return d + timedelta(days=1) if end else d
    text = value.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            d = datetime.fromisoformat(text).replace(tzinfo=UTC)
            # A bare end date means "through that day".
            return d + timedelta(days=1) if end else d
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigurationError(
            f"research report: cannot read {'end' if end else 'start'} {value!r}; expected "
            "YYYY-MM-DD or an ISO 8601 timestamp such as 2025-01-06T00:00Z"
        ) from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _open(catalog: Any) -> Any:
    if catalog is None or isinstance(catalog, str | Path):
        from omni_research import open_catalog

        return open_catalog(catalog)
    return catalog


def _dataset_row(catalog: Any, kind: str) -> dict[str, Any] | None:
    ds = catalog.datasets()
    rows = ds.filter(pl.col("kind") == kind)
    if rows.height == 0:
        return None
    row: dict[str, Any] = rows.row(0, named=True)
    return row


def _schema_versions(catalog: Any, kinds: Sequence[str]) -> dict[str, str]:
    manifest = getattr(catalog, "manifest", None)
    version = str(getattr(manifest, "schema_version", "unknown"))
    out = {"manifest (omni-data.toml)": version}
    for kind in kinds:
        # Every kind's pandera model is versioned with the manifest's schema_version.
        out[f"{kind} schema"] = version
    return out


def build_research_report(
    catalog: Any = None,
    *,
    symbols: Sequence[str] | None = None,
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    timeframe: str = "1h",
    strategy: str = "sma_cross",
    params: Mapping[str, Any] | None = None,
    sweep_grid: Mapping[str, Sequence[Any]] | None = None,
) -> Report:
    """Build the kit's research report from a catalog.

    Sections: dataset overview, candlestick charts with the strategy's indicators (one per
    symbol), data quality, the backtest (metrics, equity and drawdown, trade list), a
    parameter-sweep heatmap, and the lineage (files with rows and SHA-256, parameters,
    package versions, git commit).

    Parameters
    ----------
    catalog
        A ``Catalog``, a data root path, or None for the shipped ``data_test/``.
    symbols
        Symbols to include; default every symbol with OHLCV data.
    start, end
        Date range (``YYYY-MM-DD``: ``end`` includes that day) or UTC datetimes.
    timeframe
        Bar size of the study; 1-minute bars are resampled to it.
    strategy
        ``"sma_cross"`` (default) or ``"ema_cross"``.
    params
        Strategy parameters (``fast``, ``slow``) and backtest options (``cash``, ``fee``,
        ``slippage``, ``size``, ``execution``) overriding the defaults; ``funding=False``
        leaves perpetual funding payments out of the backtest.
    sweep_grid
        Parameter grid of the sweep heatmap; default the strategy's.

    Returns
    -------
    Report

    Raises
    ------
    ProductionDataError
        When the catalog is not test or research tier.
    ConfigurationError
        For an unknown strategy, bad dates or parameters.
    DataFormatError
        When the selection holds no bars.

    Examples
    --------
    >>> from omni_research.reports import build_research_report
    >>> rep = build_research_report(None, symbols=["BTCUSDT"])  # doctest: +SKIP
    >>> rep.export(formats=["html"])  # doctest: +SKIP
    """
    from omni_research import backtest, plotting
    from omni_research import bars as bars_mod
    from omni_research.quality import quality_report

    if strategy not in STRATEGIES:
        raise ConfigurationError(
            f"research report: unknown strategy {strategy!r}; expected one of {sorted(STRATEGIES)}"
        )
    strat = STRATEGIES[strategy]
    params = dict(params or {})
    use_funding = bool(params.pop("funding", True))
    unknown = sorted(set(params) - set(strat.defaults) - set(BACKTEST_DEFAULTS))
    if unknown:
        raise ConfigurationError(
            f"research report: unknown parameter(s) {unknown} for {strategy}; expected "
            f"{sorted(strat.defaults)} or backtest options {sorted(BACKTEST_DEFAULTS)}"
        )
    strat_params = {k: params.get(k, v) for k, v in strat.defaults.items()}
    bt_options = {k: params.get(k, v) for k, v in BACKTEST_DEFAULTS.items()}
    t0 = _parse_when(start, end=False)
    t1 = _parse_when(end, end=True)

    cat = _open(catalog)
    root = Path(cat.root)
    tier = str(cat.tier)
    guard_paths(root, tier)

    ds = _dataset_row(cat, "ohlcv")
    if ds is None:
        raise DataFormatError(
            f"research report: the catalog at {root} has no ohlcv dataset; expected "
            "historical/ohlcv (run `omni-research catalog` to see what it holds)"
        )
    dataset_name = str(ds.get("name", "historical/ohlcv"))
    if symbols is None:
        symbols = (
            cat.scan("ohlcv").select("symbol").unique().sort("symbol").collect()["symbol"].to_list()
        )
    symbols = list(dict.fromkeys(symbols))
    if not symbols:
        raise ConfigurationError("research report: no symbols selected")

    minute = cat.load("ohlcv", symbols=symbols, start=t0, end=t1, timeframe=_SOURCE_TIMEFRAME)
    if minute.height == 0:
        raise DataFormatError(
            f"research report: no {_SOURCE_TIMEFRAME} ohlcv bars in {root} for {symbols} "
            f"between {t0 or 'the start'} and {t1 or 'the end'}; widen the dates or check symbols"
        )
    missing = sorted(set(symbols) - set(minute["symbol"].unique().to_list()))
    if missing:
        raise DataFormatError(
            f"research report: no ohlcv bars for {missing} in {root} in the chosen dates; "
            "drop them or widen the range"
        )
    minute = minute.sort("symbol", "timestamp")
    study = (
        minute
        if timeframe == _SOURCE_TIMEFRAME
        else bars_mod.resample_ohlcv(minute, timeframe=timeframe)
    )
    if "is_partial" in study.columns:
        study = study.filter(~pl.col("is_partial"))
    first_ts = minute["timestamp"].min()
    last_ts = minute["timestamp"].max()
    assert isinstance(first_ts, datetime) and isinstance(last_ts, datetime)

    # Perpetual funding payments, when the root has them, are part of the backtest's P&L.
    funding: pl.DataFrame | None = None
    if use_funding and _dataset_row(cat, "funding") is not None:
        funding = cat.load("funding", symbols=symbols, start=t0, end=t1)
        if funding.height == 0:
            funding = None

    # The catalog's own partition pruning says which files the loads opened.
    files = [
        (f.path, dataset_name)
        for f in cat.files("ohlcv", symbols=symbols, start=t0, end=t1, timeframe=_SOURCE_TIMEFRAME)
    ]
    if funding is not None:
        funding_ds = cat.dataset("funding")
        files += [
            (f.path, funding_ds.name)
            for f in cat.files("funding", symbols=symbols, start=t0, end=t1)
        ]

    sym_part = "-".join(symbols) if len(symbols) <= 4 else f"{len(symbols)}symbols"
    slug = f"research-report_{sym_part}_{timeframe}_{first_ts:%Y%m%d}-{last_ts:%Y%m%d}"
    lineage_params: dict[str, Any] = {
        "symbols": symbols,
        "start": (t0 or first_ts).isoformat(),
        "end": (t1 or last_ts).isoformat(),
        "source_timeframe": _SOURCE_TIMEFRAME,
        "timeframe": timeframe,
        "strategy": strategy,
        **{f"strategy.{k}": v for k, v in strat_params.items()},
        **{f"backtest.{k}": v for k, v in bt_options.items()},
        "backtest.funding": "funding dataset" if funding is not None else "none",
        "indicators": [
            f"{n}({', '.join(f'{k}={v}' for k, v in p.items())})"
            for n, p in strat.indicators(strat_params)
        ],
    }

    # -- backtest and sweep ---------------------------------------------------------------
    signal = strat.make_signal(**strat_params)
    result = backtest.run(study, signal, funding=funding, **bt_options)
    stats = result.stats()
    grid = dict(sweep_grid or strat.grid)
    lineage_params["sweep.grid"] = {k: list(v) for k, v in grid.items()}
    sweep = backtest.sweep(study, strat.make_signal, grid, funding=funding, **bt_options)

    # -- quality ---------------------------------------------------------------------------
    scan = cat.scan("ohlcv", symbols=symbols, start=t0, end=t1, timeframe=_SOURCE_TIMEFRAME)
    quality_findings = quality_report(scan, "ohlcv", dataset=dataset_name)

    lineage = collect_lineage(
        root,
        tier=tier,
        files=files,
        parameters=lineage_params,
        schema_versions=_schema_versions(
            cat, ["ohlcv", "funding"] if funding is not None else ["ohlcv"]
        ),
    )
    rep = Report(
        "Research report: " + ", ".join(symbols),
        subtitle=(
            f"{strat.name} on {timeframe} bars, {first_ts:%Y-%m-%d} to {last_ts:%Y-%m-%d} "
            f"({tier} data)"
        ),
        lineage=lineage,
        slug=slug,
    )

    # -- summary ---------------------------------------------------------------------------
    rep.add_section("Summary")
    rep.add_markdown(
        f"**Question.** How does the *{strat.name}* strategy "
        f"({', '.join(f'{k}={v}' for k, v in strat_params.items())}) behave on "
        f"{', '.join(symbols)} at {timeframe} bars from {first_ts:%Y-%m-%d %H:%M} to "
        f"{last_ts:%Y-%m-%d %H:%M} UTC?\n\n"
        f"**Result.** Total return {_pct(stats.get('total_return'))}, max drawdown "
        f"{_pct(stats.get('max_drawdown'))}, Sharpe {_num(stats.get('sharpe'))} over "
        f"{stats.get('n_trades', 0)} trades (fee {bt_options['fee']:.4%} and slippage "
        f"{bt_options['slippage']:.4%} of notional per fill, "
        f"{str(bt_options['execution']).replace('_', ' ')} execution"
        + (", funding payments included" if funding is not None else "")
        + ").\n\n"
        f"Data: `{dataset_name}` from the **{tier}**-tier root `{root}`. "
        + (
            "This is synthetic test data: the numbers show the method, not a market view."
            if tier == "test"
            else ""
        )
    )

    # -- data -------------------------------------------------------------------------------
    rep.add_section("Data")
    rep.add_table(_overview(minute, study, timeframe), caption="Dataset overview per symbol.")
    for sym in symbols:
        sym_trades = result.trades.filter(pl.col("symbol") == sym)
        fig = plotting.plot_candles(
            study,
            symbol=sym,
            indicators=strat.indicators(strat_params),
            trades=sym_trades if sym_trades.height else None,
            title=f"{sym} · {timeframe} candles with {strat.name} indicators and trades (UTC)",
            figsize=(11.0, 6.0),
        )
        rep.add_figure(
            fig,
            caption=f"{sym}: {timeframe} candlesticks, volume, "
            + ", ".join(
                f"{n}({', '.join(str(v) for v in p.values())})"
                for n, p in strat.indicators(strat_params)
            )
            + "; triangles mark the backtest's entries and exits.",
        )

    # -- quality ----------------------------------------------------------------------------
    rep.add_section("Data quality")
    rep.add_quality(_quality_summary(quality_findings), _quality_table(quality_findings))
    if quality_findings.height:
        rep.add_figure(
            plotting.plot_quality_timeline(quality_findings),
            caption="Quality findings over time, by symbol and check.",
        )

    # -- backtest ---------------------------------------------------------------------------
    rep.add_section("Backtest")
    rep.add_markdown(strat.description)
    headline = {
        "total return": _pct(stats.get("total_return")),
        "CAGR": _pct(stats.get("cagr")),
        "Sharpe": _num(stats.get("sharpe")),
        "Sortino": _num(stats.get("sortino")),
        "max drawdown": _pct(stats.get("max_drawdown")),
        "win rate": _pct(stats.get("win_rate")),
        "trades": stats.get("n_trades", 0),
        "final equity": _num(stats.get("final_equity")),
    }
    rep.add_metrics(headline)
    rep.add_table(
        pl.DataFrame(
            {
                "metric": [k for k in stats if k != "annualisation"],
                "value": [_metric_text(v) for k, v in stats.items() if k != "annualisation"],
            }
        ),
        caption="All backtest metrics. " + str(stats.get("annualisation", "")),
        max_rows=None,
    )
    rep.add_figure(
        plotting.plot_equity(result, title=f"Equity and drawdown · {strat.name}"),
        caption="Portfolio equity (cash plus positions at each close) and drawdown below the "
        "running peak.",
    )
    if result.trades.height:
        rep.add_table(
            _per_symbol(result.trades),
            caption="Trades per symbol: P&L after fees and funding (quote currency).",
            max_rows=None,
        )
    rep.add_table(
        _trade_table(result.trades),
        caption=f"Trade list ({result.trades.height} trades; positions still open at the end "
        "are marked at the final close, is_open = yes).",
        max_rows=40,
    )

    # -- sweep ------------------------------------------------------------------------------
    rep.add_section("Parameter sweep")
    x, y = strat.sweep_axes
    metric = "sharpe" if "sharpe" in sweep.columns else "total_return"
    rep.add_figure(
        plotting.plot_sweep_heatmap(
            sweep, x=x, y=y, metric=metric, title=f"{strat.name}: {metric} by {x} x {y}"
        ),
        caption=f"{metric} of every ({x}, {y}) combination, same costs and execution as the "
        "backtest above. A lone bright cell is more likely noise than an edge.",
    )
    keep = [
        c
        for c in (x, y, "total_return", "sharpe", "max_drawdown", "n_trades")
        if c in sweep.columns
    ]
    rep.add_table(
        sweep.sort(metric, descending=True, nulls_last=True).select(keep).head(10),
        caption=f"Ten best combinations by {metric} of {sweep.height}.",
        max_rows=None,
    )
    return rep


def _pct(v: Any) -> str:
    return "n/a" if v is None or not isinstance(v, int | float) or v != v else f"{v:.2%}"


def _num(v: Any) -> str:
    return "n/a" if v is None or not isinstance(v, int | float) or v != v else f"{v:,.2f}"


def _metric_text(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _overview(minute: pl.DataFrame, study: pl.DataFrame, timeframe: str) -> pl.DataFrame:
    src = minute.group_by("symbol", maintain_order=True).agg(
        pl.col("timestamp").min().alias("first bar (UTC)"),
        pl.col("timestamp").max().alias("last bar (UTC)"),
        pl.len().alias(f"{_SOURCE_TIMEFRAME} bars"),
        pl.col("open").first().alias("first open"),
        pl.col("close").last().alias("last close"),
        ((pl.col("close").last() / pl.col("open").first() - 1.0) * 100.0).alias("return %"),
        pl.col("high").max().alias("high"),
        pl.col("low").min().alias("low"),
        pl.col("volume").sum().alias("volume"),
    )
    res = study.group_by("symbol", maintain_order=True).agg(pl.len().alias(f"{timeframe} bars"))
    return src.join(res, on="symbol", how="left")


def _quality_summary(findings: pl.DataFrame) -> pl.DataFrame:
    if findings.height == 0 or "check" not in findings.columns:
        return pl.DataFrame({"findings": [findings.height]})
    keys = [c for c in ("check", "severity") if c in findings.columns]
    count = pl.col("count").sum() if "count" in findings.columns else pl.len()
    return (
        findings.group_by(keys)
        .agg(
            count.alias("count"),
            pl.col("symbol").unique().sort().str.join(", ").alias("symbols")
            if "symbol" in findings.columns
            else pl.len().alias("rows"),
        )
        .sort(keys)
    )


def _quality_table(findings: pl.DataFrame) -> pl.DataFrame:
    # Example rows are nested frames/structs: the report shows the finding, not the rows.
    simple = [
        c for c, t in findings.schema.items() if not isinstance(t, pl.List | pl.Struct | pl.Array)
    ]
    return findings.select(simple)


def _per_symbol(trades: pl.DataFrame) -> pl.DataFrame:
    return (
        trades.group_by("symbol", maintain_order=True)
        .agg(
            pl.len().alias("trades"),
            (pl.col("pnl") > 0).mean().alias("win rate"),
            pl.col("pnl").sum().alias("pnl"),
            pl.col("fees").sum().alias("fees"),
            pl.col("return").mean().alias("mean return"),
            pl.col("bars_held").mean().alias("mean bars held"),
        )
        .sort("symbol")
    )


def _trade_table(trades: pl.DataFrame) -> pl.DataFrame:
    cols = [
        c
        for c in (
            "symbol",
            "entry_time",
            "exit_time",
            "size",
            "entry_price",
            "exit_price",
            "fees",
            "pnl",
            "return",
            "bars_held",
            "is_open",
        )
        if c in trades.columns
    ]
    return trades.select(cols).sort("entry_time") if "entry_time" in cols else trades.select(cols)
