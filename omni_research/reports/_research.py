"""The research report: catalog -> bars -> indicators -> quality -> backtest -> sweep -> Report.

Every step uses the kit's own public pieces (``Catalog.scan``, ``bars.resample_ohlcv``,
``quality.quality_report``, ``backtest.run``/``sweep``, ``plotting``); this module only
chooses what to show and records where it came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from omni_research._time import TimeRange, parse_range
from omni_research.exceptions import ConfigurationError, DataFormatError
from omni_research.reports._builder import Report
from omni_research.reports._lineage import Lineage, collect_lineage, guard_paths
from omni_research.strategies import STRATEGIES, Strategy, get_strategy

if TYPE_CHECKING:
    from omni_research.backtest import BacktestResult

__all__ = [
    "BACKTEST_DEFAULTS",
    "STRATEGIES",
    "ResearchRun",
    "build_research_report",
    "run_research",
]

_SOURCE_TIMEFRAME = "1m"


BACKTEST_DEFAULTS: dict[str, Any] = {
    "cash": 10_000.0,
    "fee": 0.00055,  # a taker fee on Bybit linear perpetuals
    "slippage": 0.0001,
    "size": 1.0,
    "execution": "next_open",
}


@dataclass(frozen=True, kw_only=True)
class ResearchRun:
    """What the research report shows, computed and not yet drawn (see :func:`run_research`).

    ``bars`` are the study bars the backtest ran on (``minute`` resampled to ``timeframe``,
    partial bars dropped), ``result`` the backtest, ``sweep`` the sweep table, ``quality``
    the findings on the minute data, ``lineage`` the files read with their checksums.
    """

    strategy: Strategy
    params: dict[str, int]
    options: dict[str, Any]
    symbols: list[str]
    timeframe: str
    span: TimeRange
    root: Path | str
    tier: str
    dataset_name: str
    minute: pl.DataFrame
    bars: pl.DataFrame
    funding: pl.DataFrame | None
    result: BacktestResult
    sweep: pl.DataFrame
    quality: pl.DataFrame
    lineage: Lineage
    slug: str

    @property
    def first_bar(self) -> datetime:
        """The first minute bar read (UTC)."""
        ts = self.minute["timestamp"].min()
        assert isinstance(ts, datetime)
        return ts

    @property
    def last_bar(self) -> datetime:
        """The last minute bar read (UTC)."""
        ts = self.minute["timestamp"].max()
        assert isinstance(ts, datetime)
        return ts


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
        The kit's one time range (``omni_research._time.parse_range``): ``start`` is
        inclusive; an ``end`` with a time of day (``"2025-01-08T12:00Z"``, an aware
        datetime) is exclusive; a bare-date ``end`` (``"2025-01-08"``, a ``date``) includes
        that whole day. Text without an offset is UTC.
    timeframe
        Bar size of the study; 1-minute bars are resampled to it.
    strategy
        A name of :data:`omni_research.strategies.STRATEGIES` (``"sma_cross"``, the
        default, ``"ema_cross"``, ``"rsi_reversion"``, ``"breakout"``): the same rules
        ``BacktestPanel`` runs.
    params
        Strategy parameters (``fast``, ``slow`` for the crosses) and backtest options
        (``cash``, ``fee``, ``slippage``, ``size``, ``execution``) overriding the defaults;
        ``funding=False`` leaves perpetual funding payments out of the backtest.
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
    run = run_research(
        catalog,
        symbols=symbols,
        start=start,
        end=end,
        timeframe=timeframe,
        strategy=strategy,
        params=params,
        sweep_grid=sweep_grid,
    )
    return _render(run)


def run_research(
    catalog: Any = None,
    *,
    symbols: Sequence[str] | None = None,
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    timeframe: str = "1h",
    strategy: str = "sma_cross",
    params: Mapping[str, Any] | None = None,
    sweep_grid: Mapping[str, Sequence[Any]] | None = None,
) -> ResearchRun:
    """Load, backtest, sweep and check what the research report shows, without drawing it.

    :func:`build_research_report` draws this; the arguments are the same. Tests and notebooks
    read the frames behind the report's tables from it (``run.result.trades``).

    Returns
    -------
    ResearchRun
    """
    from omni_research import backtest
    from omni_research import bars as bars_mod
    from omni_research.quality import quality_report

    strat = get_strategy(strategy, where="research report")
    params = dict(params or {})
    use_funding = bool(params.pop("funding", True))
    unknown = sorted(set(params) - set(strat.defaults) - set(BACKTEST_DEFAULTS))
    if unknown:
        raise ConfigurationError(
            f"research report: unknown parameter(s) {unknown} for {strategy}; expected "
            f"{sorted(strat.defaults)} or backtest options {sorted(BACKTEST_DEFAULTS)}"
        )
    strat_params = strat.params({k: v for k, v in params.items() if k in strat.defaults})
    bt_options = {k: params.get(k, v) for k, v in BACKTEST_DEFAULTS.items()}
    span = _parse_span(start, end)
    t0, t1 = span.start, span.end

    cat = _open(catalog)
    # a root in a bucket stays a URI string (Path would fold its '//')
    root: Path | str = cat.root if cat.store is not None else Path(cat.root)
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
    signal = strat.signal(strat_params)
    result = backtest.run(study, signal, funding=funding, **bt_options)
    grid = dict(sweep_grid or strat.grid)
    lineage_params["sweep.grid"] = {k: list(v) for k, v in grid.items()}
    sweep = backtest.sweep(study, strat.builder(), grid, funding=funding, **bt_options)

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
        store=cat.store,
    )
    return ResearchRun(
        strategy=strat,
        params=strat_params,
        options=bt_options,
        symbols=symbols,
        timeframe=timeframe,
        span=span,
        root=root,
        tier=tier,
        dataset_name=dataset_name,
        minute=minute,
        bars=study,
        funding=funding,
        result=result,
        sweep=sweep,
        quality=quality_findings,
        lineage=lineage,
        slug=slug,
    )


def _parse_span(
    start: str | date | datetime | None, end: str | date | datetime | None
) -> TimeRange:
    # The kit's one reading of start/end (a bare end date includes its day).
    try:
        return parse_range(start, end)
    except ConfigurationError as exc:
        raise ConfigurationError(f"research report: cannot read start/end: {exc}") from None


def _render(run: ResearchRun) -> Report:
    from omni_research import plotting

    strat, strat_params, bt_options = run.strategy, run.params, run.options
    symbols, timeframe, tier, root = run.symbols, run.timeframe, run.tier, run.root
    dataset_name, funding, minute, study = run.dataset_name, run.funding, run.minute, run.bars
    result, sweep, quality_findings = run.result, run.sweep, run.quality
    stats = result.stats()
    first_ts, last_ts = run.first_bar, run.last_bar

    rep = Report(
        "Research report: " + ", ".join(symbols),
        subtitle=(
            f"{strat.name} on {timeframe} bars, {first_ts:%Y-%m-%d} to {last_ts:%Y-%m-%d} "
            f"({tier} data)"
        ),
        lineage=run.lineage,
        slug=run.slug,
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
    if x != y:
        rep.add_figure(
            plotting.plot_sweep_heatmap(
                sweep, x=x, y=y, metric=metric, title=f"{strat.name}: {metric} by {x} x {y}"
            ),
            caption=f"{metric} of every ({x}, {y}) combination, same costs and execution as "
            "the backtest above. A lone bright cell is more likely noise than an edge.",
        )
    # Every swept parameter, then the metrics (a one-parameter strategy has no heatmap).
    keep = list(
        dict.fromkeys(
            c
            for c in (*strat.defaults, "total_return", "sharpe", "max_drawdown", "n_trades")
            if c in sweep.columns
        )
    )
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
