"""`run`: signals in, trades, equity, positions and metrics out."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

import numpy as np
import polars as pl

from omni_research._typing import Execution, Units
from omni_research.backtest import _layout as L
from omni_research.backtest._montecarlo import monte_carlo
from omni_research.exceptions import ConfigurationError, DataFormatError, OmniDataError

Sizing = Literal["equity", "notional"]
Liquidity = Literal["taker", "maker"]

_TS = "timestamp"
_DTYPE_TS = pl.Datetime("us", "UTC")


@dataclass(frozen=True, kw_only=True)
class Fees:
    """Maker and taker fee rates (fractions of traded notional).

    Bar backtests fill at one price per bar, so one of the two rates applies to every fill:
    ``liquidity`` says which (``"taker"`` for market orders at the open or close, the usual
    case; ``"maker"`` for a resting-order strategy that assumes it is filled at that price).
    """

    maker: float = 0.0002
    taker: float = 0.00055
    liquidity: Liquidity = "taker"

    @property
    def rate(self) -> float:
        return self.maker if self.liquidity == "maker" else self.taker


@dataclass(frozen=True, kw_only=True, eq=False)  # holds arrays: no value equality
class _Prepared:
    timestamps: pl.Series
    symbols: list[str]
    open: np.ndarray
    close: np.ndarray
    avail: np.ndarray
    fund: np.ndarray
    frame: pl.DataFrame  # the sorted bars, one row per (symbol, timestamp)
    bar_seconds: float


@dataclass(frozen=True, kw_only=True)
class _Options:
    cash: float
    fee: float
    slippage: float
    size: float
    sizing: Sizing
    whole: bool
    next_open: bool
    days_per_year: float


@dataclass(frozen=True, kw_only=True, eq=False)  # holds frames: no value equality
class BacktestResult:
    """What `run` returns.

    Attributes
    ----------
    trades : pl.DataFrame
        One row per closed trade (or closed part of a trade): symbol, entry_time, exit_time,
        entry_price, exit_price, size (signed: > 0 long), fees, funding, pnl (after fees and
        funding), return (pnl over entry notional), bars_held, is_open. A position still open
        at the end is listed last with ``is_open`` true, marked at the last close.
    equity : pl.DataFrame
        timestamp, equity (cash plus positions at the bar's close), drawdown (fraction below
        the running peak, <= 0).
    positions : pl.DataFrame
        timestamp, symbol, size (units held at the bar's close), price (close), value.
    options : dict
        The options the run used.
    """

    trades: pl.DataFrame
    equity: pl.DataFrame
    positions: pl.DataFrame
    options: Mapping[str, Any]
    _acc: np.ndarray = field(repr=False)
    _trade_matrix: np.ndarray = field(repr=False)
    _bar_seconds: float = field(repr=False)

    def stats(self, *, days_per_year: float | None = None) -> dict[str, float | int | str]:
        """Metrics of the run.

        Parameters
        ----------
        days_per_year : float, optional
            Days in a year for annualisation; default the run's (365 for 24/7 crypto; 252 for
            an exchange open on weekdays with daily bars).

        Returns
        -------
        dict
            total_return, cagr, volatility, sharpe, sortino, calmar, max_drawdown,
            max_drawdown_duration_bars, max_drawdown_duration_days, win_rate, profit_factor,
            expectancy (mean pnl per closed trade, quote currency), avg_trade_return,
            exposure, turnover, n_trades, final_equity, fees, funding, periods_per_year,
            and ``annualisation``, a sentence stating the convention.
        """
        dpy = float(self.options["days_per_year"] if days_per_year is None else days_per_year)
        return _stats_dict(
            self.equity["equity"].to_numpy(),
            float(self.options["cash"]),
            self._trade_matrix,
            self._acc,
            dpy,
            self._bar_seconds,
        )

    def monte_carlo(
        self, *, n: int = 1000, seed: int = 0, percentiles: tuple[float, ...] = (5, 25, 50, 75, 95)
    ) -> pl.DataFrame:
        """Bootstrap of the trade returns; see `omni_research.backtest.monte_carlo`."""
        return monte_carlo(self, n=n, seed=seed, percentiles=percentiles)


def periods_per_year(bar_seconds: float, days_per_year: float) -> float:
    return days_per_year * 86_400.0 / bar_seconds


def _stats_dict(
    equity: np.ndarray,
    cash: float,
    trades: np.ndarray,
    acc: np.ndarray,
    days_per_year: float,
    bar_seconds: float,
) -> dict[str, float | int | str]:
    ppy = periods_per_year(bar_seconds, days_per_year)
    from omni_research.backtest import _kernels as K  # numba, imported on first use

    values = K.metrics(equity, cash, trades, trades.shape[0], acc, ppy, True)
    out: dict[str, float | int | str] = {}
    for name, value in zip(L.STAT_NAMES, values, strict=True):
        out[name] = (
            int(value) if name in ("n_trades", "max_drawdown_duration_bars") else float(value)
        )
    out["max_drawdown_duration_days"] = float(values[7]) * bar_seconds / 86_400.0
    out["periods_per_year"] = ppy
    out["annualisation"] = annualisation_note(bar_seconds, days_per_year)
    return out


def annualisation_note(bar_seconds: float, days_per_year: float) -> str:
    ppy = periods_per_year(bar_seconds, days_per_year)
    return (
        f"{days_per_year:g} days/year, bar = {timedelta(seconds=bar_seconds)}, "
        f"{ppy:g} bars/year; volatility = std(bar returns, ddof=1) x sqrt(bars/year), "
        f"Sharpe = mean/std x sqrt(bars/year) (risk-free 0), CAGR over n_bars / bars/year years"
    )


def _check_options(
    *,
    cash: float,
    fee: float | Fees,
    slippage: float,
    size: float,
    units: str,
    execution: str,
    sizing: str,
    days_per_year: float,
) -> _Options:
    rate = fee.rate if isinstance(fee, Fees) else fee
    problems = []
    if not (isinstance(cash, int | float) and cash > 0 and math.isfinite(cash)):
        problems.append(f"cash must be a positive number, got {cash!r}")
    if not (isinstance(rate, int | float) and 0 <= rate < 0.1):
        problems.append(f"fee must be a fraction of notional in [0, 0.1), got {rate!r}")
    if not (isinstance(slippage, int | float) and 0 <= slippage < 0.1):
        problems.append(f"slippage must be a fraction of price in [0, 0.1), got {slippage!r}")
    if not (isinstance(size, int | float) and size > 0 and math.isfinite(size)):
        problems.append(f"size must be a positive number, got {size!r}")
    if units not in ("fractional", "whole"):
        problems.append(f"units must be 'fractional' or 'whole', got {units!r}")
    if execution not in ("next_open", "close"):
        problems.append(f"execution must be 'next_open' or 'close', got {execution!r}")
    if sizing not in ("equity", "notional"):
        problems.append(f"sizing must be 'equity' or 'notional', got {sizing!r}")
    if not (isinstance(days_per_year, int | float) and days_per_year > 0):
        problems.append(f"days_per_year must be positive, got {days_per_year!r}")
    if problems:
        raise ConfigurationError("backtest options: " + "; ".join(problems))
    return _Options(
        cash=float(cash),
        fee=float(rate),
        slippage=float(slippage),
        size=float(size),
        sizing=sizing,  # type: ignore[arg-type]
        whole=units == "whole",
        next_open=execution == "next_open",
        days_per_year=float(days_per_year),
    )


def _prepare(
    bars: pl.DataFrame | pl.LazyFrame,
    funding: pl.DataFrame | pl.LazyFrame | None,
    by: str | None,
) -> _Prepared:
    """Sort the bars, build the (bars x symbols) matrices and the funding owed per unit."""
    frame = bars.collect() if isinstance(bars, pl.LazyFrame) else bars
    if not isinstance(frame, pl.DataFrame):
        raise ConfigurationError(
            f"backtest: bars must be a polars DataFrame or LazyFrame, got {type(bars).__name__}"
        )
    missing = [c for c in (_TS, "open", "close") if c not in frame.columns]
    if missing:
        raise DataFormatError(
            f"backtest bars: missing column(s) {missing}; expected ohlcv columns "
            f"(timestamp, open, close, ...), got {frame.columns}"
        )
    if frame.height == 0:
        raise DataFormatError("backtest bars: the frame is empty; pass at least one bar")
    key = by if by is not None and by in frame.columns else None
    if by is not None and key is None and by != "symbol":
        raise ConfigurationError(
            f"backtest: by={by!r} is not a column of the bars (columns: {frame.columns})"
        )
    sym_expr = pl.col(key).cast(pl.String) if key else pl.lit("", dtype=pl.String)
    try:
        frame = frame.with_columns(
            pl.col(_TS).cast(_DTYPE_TS) if frame.schema[_TS] != _DTYPE_TS else pl.col(_TS),
            sym_expr.alias("__sym"),
            pl.col("open").cast(pl.Float64),
            pl.col("close").cast(pl.Float64),
        )
    except pl.exceptions.PolarsError as exc:
        raise DataFormatError(
            f"backtest bars: cannot read timestamp/open/close as UTC datetimes and floats "
            f"({exc}); expected the ohlcv kind of docs/data_model.md"
        ) from exc
    first_sym = frame.get_column("__sym")[0]
    single = bool(frame.select((pl.col("__sym") == first_sym).all()).item())
    # Sorting and the symbol/timeline bookkeeping dominate the cost on a million bars: skip
    # them when one already-sorted series comes in (the usual notebook case).
    if not (single and frame.get_column(_TS).is_sorted()):
        frame = frame.sort("__sym", _TS)
    checks = frame.select(
        dup=(
            (pl.col(_TS).diff() == pl.duration(microseconds=0))
            & (pl.col("__sym") == pl.col("__sym").shift())
        ).any(),
        null_ts=pl.col(_TS).is_null().any(),
        bad=(
            ~(pl.col("open").is_finite() & pl.col("close").is_finite())
            | (pl.col("open") <= 0)
            | (pl.col("close") <= 0)
        )
        .fill_null(True)
        .sum(),
    ).row(0, named=True)
    if checks["dup"]:
        raise DataFormatError(
            "backtest bars: duplicate timestamps within a symbol; expected one bar per "
            "(symbol, timestamp). Deduplicate or resample the bars first."
        )
    if checks["null_ts"]:
        raise DataFormatError("backtest bars: null timestamps; expected every bar stamped")
    if checks["bad"]:
        bad = frame.filter(
            ~(pl.col("open").is_finite() & pl.col("close").is_finite()).fill_null(False)
            | (pl.col("open") <= 0)
            | (pl.col("close") <= 0)
        )
        first = bad.row(0, named=True)
        raise DataFormatError(
            f"backtest bars: {checks['bad']} bar(s) with a null, non-positive or non-finite "
            f"open/close (first at {first[_TS]} {first['__sym']}); expected positive finite "
            "prices"
        )
    if single:
        timeline = frame.get_column(_TS)
        symbols = [first_sym]
        t_idx = np.arange(frame.height, dtype=np.int64)
        s_idx = np.zeros(frame.height, dtype=np.int64)
    else:
        timeline = frame.get_column(_TS).unique().sort()
        symbols = frame.get_column("__sym").unique().sort().to_list()
        t_idx = timeline.search_sorted(frame.get_column(_TS)).to_numpy()
        s_idx = (frame.get_column("__sym").rank("dense").cast(pl.Int64) - 1).to_numpy()
    n, m = timeline.len(), len(symbols)
    frame = frame.with_columns(
        pl.Series("__t", t_idx, dtype=pl.Int64), pl.Series("__s", s_idx, dtype=pl.Int64)
    )
    open_ = np.full((n, m), np.nan)
    close = np.full((n, m), np.nan)
    avail = np.zeros((n, m), dtype=np.bool_)
    open_[t_idx, s_idx] = frame.get_column("open").to_numpy()
    close[t_idx, s_idx] = frame.get_column("close").to_numpy()
    avail[t_idx, s_idx] = True
    if n > 1:
        diffs = timeline.diff().drop_nulls().dt.total_microseconds()
        bar_seconds = float(diffs.median() or 0) / 1e6  # type: ignore[arg-type]
    else:
        bar_seconds = 86_400.0
    if bar_seconds <= 0:
        bar_seconds = 86_400.0
    fund = np.zeros((n, m))
    if funding is not None:
        fund = _funding_matrix(funding, timeline, symbols, frame, bar_seconds, by)
    return _Prepared(
        timestamps=timeline,
        symbols=symbols,
        open=open_,
        close=close,
        avail=avail,
        fund=fund,
        frame=frame,
        bar_seconds=bar_seconds,
    )


def _funding_matrix(
    funding: pl.DataFrame | pl.LazyFrame,
    timeline: pl.Series,
    symbols: list[str],
    frame: pl.DataFrame,
    bar_seconds: float,
    by: str | None,
) -> np.ndarray:
    f = funding.collect() if isinstance(funding, pl.LazyFrame) else funding
    need = [_TS, "funding_rate"]
    missing = [c for c in need if c not in f.columns]
    if missing:
        raise DataFormatError(
            f"backtest funding: missing column(s) {missing}; expected the funding kind "
            f"(timestamp, symbol, funding_rate, mark_price), got {f.columns}"
        )
    n, m = timeline.len(), len(symbols)
    sym_col = by if by and by in f.columns else ("symbol" if "symbol" in f.columns else None)
    if sym_col is None and m > 1:
        raise DataFormatError(
            "backtest funding: no symbol column but the bars hold several symbols; add "
            "a 'symbol' column to the funding frame"
        )
    sym = pl.col(sym_col).cast(pl.String) if sym_col else pl.lit(symbols[0])
    mark = pl.col("mark_price").cast(pl.Float64) if "mark_price" in f.columns else pl.lit(None)
    f = f.select(
        pl.col(_TS).cast(_DTYPE_TS), sym.alias("__sym"), pl.col("funding_rate"), mark.alias("mk")
    ).filter(pl.col("__sym").is_in(symbols) & pl.col("funding_rate").is_not_null())
    out = np.zeros((n, m))
    if f.height == 0:
        return out
    # An event at T is owed by the position held during the bar that contains T (the last
    # bar opening at or before T); events outside the data's span are ignored.
    t = timeline.search_sorted(f.get_column(_TS), side="right").to_numpy() - 1
    end = timeline[-1] + timedelta(seconds=bar_seconds)
    keep = (t >= 0) & (f.get_column(_TS) < end).to_numpy()
    s = (
        f.get_column("__sym")
        .replace_strict(symbols, list(range(m)), return_dtype=pl.Int64)
        .to_numpy()
    )
    t, s = t[keep], s[keep]
    rate = f.get_column("funding_rate").cast(pl.Float64).to_numpy()[keep]
    mk = f.get_column("mk").cast(pl.Float64).fill_null(np.nan).to_numpy()[keep]
    # Without a mark price, the bar's open stands in for it.
    opens = np.full((n, m), np.nan)
    opens[frame.get_column("__t").to_numpy(), frame.get_column("__s").to_numpy()] = (
        frame.get_column("open").to_numpy()
    )
    mk = np.where(np.isnan(mk), opens[t, s], mk)
    mk = np.where(np.isnan(mk), 0.0, mk)
    np.add.at(out, (t, s), rate * mk)
    return out


def _target_expr(signal: str | pl.Expr, grouped: bool) -> pl.Expr:
    expr = pl.col(signal) if isinstance(signal, str) else signal
    if not isinstance(expr, pl.Expr):
        raise ConfigurationError(
            f"backtest: signal must be a column name or a polars expression, got "
            f"{type(signal).__name__}"
        )
    # Null (NaN once in numpy) keeps the previous target: the compiled loop holds it, so
    # event signals such as crossovers need no forward fill here.
    expr = expr.cast(pl.Float64)
    return expr.over("__sym") if grouped else expr


def _target_matrix(prep: _Prepared, values: np.ndarray) -> np.ndarray:
    n, m = prep.close.shape
    if np.isinf(values).any():
        raise ConfigurationError(
            "backtest: the signal has infinite values; expected exposures such as -1..1"
        )
    if m == 1:
        # One symbol: the sorted frame is the timeline itself.
        return np.ascontiguousarray(values.reshape(n, 1), dtype=np.float64)
    target = np.full((n, m), np.nan)
    target[prep.frame.get_column("__t").to_numpy(), prep.frame.get_column("__s").to_numpy()] = (
        values
    )
    return target


def _eval_targets(
    prep: _Prepared, exprs: list[pl.Expr], frame: pl.DataFrame | None = None
) -> pl.DataFrame:
    grouped = len(prep.symbols) > 1
    on = prep.frame if frame is None else frame
    try:
        # Selecting the row index alongside broadcasts scalar signals (pl.lit(1.0)).
        return on.select(
            "__t", *[_target_expr(e, grouped).alias(f"__c{i}") for i, e in enumerate(exprs)]
        ).drop("__t")
    except pl.exceptions.PolarsError as exc:
        raise ConfigurationError(
            f"backtest: could not evaluate the signal on the bars ({exc.__class__.__name__}: "
            f"{exc}); the signal must be a column of the bars or an expression over them"
        ) from exc


def run(
    bars: pl.DataFrame | pl.LazyFrame,
    signal: str | pl.Expr,
    /,
    *,
    cash: float = 10_000.0,
    fee: float | Fees = 0.0,
    slippage: float = 0.0,
    size: float = 1.0,
    units: Units = "fractional",
    execution: Execution = "next_open",
    funding: pl.DataFrame | pl.LazyFrame | None = None,
    by: str | None = "symbol",
    sizing: Sizing = "equity",
    days_per_year: float = 365.0,
) -> BacktestResult:
    """Backtest target exposures on bars of one or several symbols sharing one cash balance.

    Parameters
    ----------
    bars : DataFrame or LazyFrame
        OHLCV bars (timestamp, symbol, open, close at least), any bar size.
    signal : str or pl.Expr
        Column or expression giving the target exposure decided at each bar's close: -1
        short, 0 flat, 1 long, fractions between. Evaluated per symbol (``.over(by)``).
        Null keeps the previous target, so event signals (crossovers) need no forward fill
        and entry/exit signals read ``pl.when(entry).then(1.0).when(exit).then(0.0)``.
    cash : float
        Starting cash (quote currency).
    fee : float or Fees
        Fee rate, a fraction of traded notional per fill; `Fees` gives maker/taker rates.
    slippage : float
        Fraction of the price lost per fill (buys pay price x (1 + slippage)).
    size : float
        With ``sizing="equity"``: the fraction of equity committed at exposure 1, split
        evenly between the symbols. With ``sizing="notional"``: quote notional per symbol at
        exposure 1.
    units : {"fractional", "whole"}
        Fractional units (crypto) or whole units, the count floored after fees.
    execution : {"next_open", "close"}
        Fill at the next bar's open (default: no look-ahead by construction) or at the
        close of the signal's bar.
    funding : DataFrame or LazyFrame, optional
        The ``funding`` kind (timestamp, symbol, funding_rate, mark_price): positions held
        during the bar containing a funding time pay ``size x mark_price x rate``.
    by : str or None
        Symbol column; None for a single series.
    sizing : {"equity", "notional"}
        How ``size`` is read (see above).
    days_per_year : float
        Annualisation of the metrics (365 for 24/7 crypto).

    Returns
    -------
    BacktestResult

    Notes
    -----
    A position changes only when its target changes: the unit count is held between
    changes. A change of direction (or to flat) closes the position first; the new one is
    sized on the equity left after that close (cash plus other positions marked at the
    execution price).

    Examples
    --------
    >>> import polars as pl
    >>> from omni_research.backtest import run
    >>> bars = pl.DataFrame({
    ...     "timestamp": pl.datetime_range(
    ...         pl.datetime(2025, 1, 1, time_zone="UTC"), pl.datetime(2025, 1, 4, time_zone="UTC"),
    ...         "1d", eager=True),
    ...     "symbol": "BTCUSDT", "open": [100.0, 101, 110, 120], "close": [101.0, 110, 120, 121]})
    >>> res = run(bars, pl.lit(1.0))
    >>> res.equity["equity"].round(2).to_list()
    [10000.0, 10891.09, 11881.19, 11980.2]
    """
    opts = _check_options(
        cash=cash,
        fee=fee,
        slippage=slippage,
        size=size,
        units=units,
        execution=execution,
        sizing=sizing,
        days_per_year=days_per_year,
    )
    prep = _prepare(bars, funding, by)
    values = _eval_targets(prep, [pl.col(signal) if isinstance(signal, str) else signal])
    target = _target_matrix(prep, values.to_series(0).to_numpy())
    return _simulate(prep, target, opts, by)


def _simulate(
    prep: _Prepared, target: np.ndarray, opts: _Options, by: str | None
) -> BacktestResult:
    n, m = prep.close.shape
    equity = np.empty(n)
    pos = np.zeros((n, m))
    from omni_research.backtest import _kernels as K  # numba, imported on first use

    trades = np.empty((K.trade_capacity(target), L.N_TRADE_FIELDS))
    acc = np.zeros(4)
    try:
        k = K.simulate(
            prep.open,
            prep.close,
            prep.avail,
            target,
            prep.fund,
            opts.next_open,
            opts.cash,
            opts.fee,
            opts.slippage,
            opts.size,
            opts.sizing == "notional",
            opts.whole,
            equity,
            pos,
            True,
            trades,
            acc,
        )
    except Exception as exc:  # numba raises plain errors; never let them escape bare
        raise OmniDataError(f"backtest: the simulation failed ({exc})") from exc
    trades = trades[:k]
    ts = prep.timestamps
    sym_name = by if by else "symbol"
    sym_values = pl.Series(prep.symbols, dtype=pl.String)
    ti = trades[:, L.T_ENTRY].astype(np.int64)
    to = trades[:, L.T_EXIT].astype(np.int64)
    si = trades[:, L.T_SYM].astype(np.int64)
    trade_frame = pl.DataFrame(
        {
            sym_name: sym_values.gather(si),
            "entry_time": ts.gather(ti),
            "exit_time": ts.gather(to),
            "entry_price": trades[:, L.T_EPX],
            "exit_price": trades[:, L.T_XPX],
            "size": trades[:, L.T_SIZE],
            "fees": trades[:, L.T_FEES],
            "funding": trades[:, L.T_FUND],
            "pnl": trades[:, L.T_PNL],
            "return": trades[:, L.T_RET],
            "bars_held": to - ti,
            "is_open": trades[:, L.T_OPEN] > 0,
        }
    ).sort("exit_time", "entry_time", maintain_order=True)
    eq = pl.DataFrame({"timestamp": ts, "equity": equity}).with_columns(
        drawdown=pl.col("equity") / pl.max_horizontal(pl.col("equity").cum_max(), opts.cash) - 1.0
    )
    if m == 1:
        # One series: no gathers (a million-row string gather costs more than the loop).
        positions = pl.DataFrame(
            {"timestamp": ts, "size": pos[:, 0], "price": prep.close[:, 0]}
        ).select(
            "timestamp",
            pl.lit(prep.symbols[0], dtype=pl.String).alias(sym_name),
            "size",
            "price",
            value=pl.col("size") * pl.col("price"),
        )
    else:
        closes = pl.DataFrame(prep.close).select(pl.all().forward_fill()).to_numpy()
        positions = pl.DataFrame(
            {
                "timestamp": ts.gather(np.repeat(np.arange(n), m)),
                sym_name: sym_values.gather(np.tile(np.arange(m), n)),
                "size": pos.reshape(-1),
                "price": closes.reshape(-1),
            }
        ).with_columns(value=(pl.col("size") * pl.col("price")).fill_nan(0.0))
    options = dataclasses.asdict(opts) | {"by": by, "bar_seconds": prep.bar_seconds}
    # The trade matrix is kept in trade-frame order for the metrics.
    return BacktestResult(
        trades=trade_frame,
        equity=eq,
        positions=positions,
        options=options,
        _acc=acc,
        _trade_matrix=np.ascontiguousarray(trades),
        _bar_seconds=prep.bar_seconds,
    )
