"""`sweep`: a parameter grid backtested in one compiled, parallel pass."""

from __future__ import annotations

import contextlib
import inspect
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from omni_research._engine import check_engine, map_shards
from omni_research.backtest import _layout as L
from omni_research.backtest._engine import (
    _check_options,
    _eval_targets,
    _prepare,
    _target_matrix,
    annualisation_note,
    periods_per_year,
)
from omni_research.backtest._shared import SharedEvaluator
from omni_research.exceptions import ConfigurationError, OmniDataError

if TYPE_CHECKING:
    from omni_research.backtest._engine import _Options, _Prepared

_RUN_OPTIONS = (
    "cash",
    "fee",
    "slippage",
    "size",
    "units",
    "execution",
    "funding",
    "by",
    "sizing",
    "days_per_year",
)
_DEFAULTS: dict[str, Any] = {
    "cash": 10_000.0,
    "fee": 0.0,
    "slippage": 0.0,
    "size": 1.0,
    "units": "fractional",
    "execution": "next_open",
    "funding": None,
    "by": "symbol",
    "sizing": "equity",
    "days_per_year": 365.0,
}


def _combinations(
    grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]] | pl.DataFrame,
) -> list[dict[str, Any]]:
    if isinstance(grid, pl.DataFrame):
        return list(grid.iter_rows(named=True))
    if isinstance(grid, Mapping):
        names = list(grid)
        values = []
        for name in names:
            v = grid[name]
            if isinstance(v, str) or not isinstance(v, Sequence | np.ndarray | pl.Series | range):
                raise ConfigurationError(
                    f"sweep: grid[{name!r}] must be a sequence of values, got {type(v).__name__}"
                )
            values.append(list(v))
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]
    if isinstance(grid, Sequence):
        out = [dict(g) for g in grid]
        if not all(isinstance(g, Mapping) for g in grid):
            raise ConfigurationError("sweep: a grid given as a list must hold dicts of parameters")
        return out
    raise ConfigurationError(
        f"sweep: grid must be a dict of value lists, a list of dicts or a DataFrame, got "
        f"{type(grid).__name__}"
    )


def sweep(
    bars: pl.DataFrame | pl.LazyFrame,
    make_signal: Callable[..., pl.Expr | str],
    grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]] | pl.DataFrame,
    /,
    **options: Any,
) -> pl.DataFrame:
    """Backtest every parameter combination of a grid; one row of metrics per combination.

    Parameters
    ----------
    bars : DataFrame or LazyFrame
        The bars, as for `run`.
    make_signal : callable
        ``make_signal(**params) -> pl.Expr`` (or a column name): the signal for one
        combination. Signals are evaluated in batches in one Polars ``select`` (shared
        sub-expressions such as a moving average used by many combinations are computed once),
        then all combinations are simulated in parallel by the compiled loop of `run`.
    grid : dict, list of dicts or DataFrame
        ``{"fast": [5, 10], "slow": [20, 50]}`` (Cartesian product), explicit combinations,
        or a frame with one column per parameter.
    **options
        Any keyword option of `run` (cash, fee, slippage, size, units, execution, funding,
        by, sizing, days_per_year), plus ``batch`` (combinations per signal batch, default
        32; lower it to save memory on long data), ``engine`` (``"serial"``, the default,
        ``"process"`` or ``"ray"``: the grid is cut into shards of whole batches run by
        `omni_research._engine`'s engines, with the same numbers in the same order as
        ``"serial"``) and ``shards`` (how many, default 8). With ``"process"`` or ``"ray"``
        the prepared bars go to each worker once (Ray: once into its object store) and each
        shard simulates with one compiled thread; ``make_signal`` must be picklable (a
        module-level function for ``"process"``; Ray also takes a lambda). A LazyFrame (a
        catalog scan) is collected once on the caller first.

    Returns
    -------
    pl.DataFrame
        The parameter columns, then the numeric metrics of `BacktestResult.stats` (same
        definitions, same numbers as a `run` with the same options), then
        ``max_drawdown_duration_days`` and ``periods_per_year``.

    Examples
    --------
    >>> import polars as pl
    >>> from omni_research.backtest import sweep
    >>> def sma_cross(fast, slow):  # doctest: +SKIP
    ...     c = pl.col("close")
    ...     return pl.when(c.rolling_mean(fast) > c.rolling_mean(slow)).then(1.0).otherwise(-1.0)
    >>> sweep(bars, sma_cross, {"fast": [5, 10], "slow": [20, 50]}, fee=0.00055)  # doctest: +SKIP
    """
    batch = max(int(options.pop("batch", 32)), 1)
    engine = check_engine(options.pop("engine", "serial"), where="sweep")
    shards = int(options.pop("shards", 8))
    unknown = sorted(set(options) - set(_RUN_OPTIONS))
    if unknown:
        raise ConfigurationError(
            f"sweep: unknown option(s) {unknown}; expected options of run: {list(_RUN_OPTIONS)}"
        )
    if not callable(make_signal):
        raise ConfigurationError("sweep: make_signal must be a callable returning an expression")
    opt = _DEFAULTS | options
    opts = _check_options(
        cash=opt["cash"],
        fee=opt["fee"],
        slippage=opt["slippage"],
        size=opt["size"],
        units=opt["units"],
        execution=opt["execution"],
        sizing=opt["sizing"],
        days_per_year=opt["days_per_year"],
    )
    combos = _combinations(grid)
    if not combos:
        raise ConfigurationError("sweep: the grid is empty")
    prep = _prepare(bars, opt["funding"], opt["by"])
    ppy = periods_per_year(prep.bar_seconds, opts.days_per_year)
    if engine == "serial":
        stats = _stats(prep, make_signal, combos, batch, opts, ppy)
    else:
        # shards of whole batches: each batch is evaluated exactly as the serial loop does
        per = -(-len(combos) // max(shards, 1))
        per = -(-per // batch) * batch
        parts = [combos[k : k + per] for k in range(0, len(combos), per)]
        context = _SweepContext(prep=prep, make_signal=make_signal, opts=opts, ppy=ppy, batch=batch)
        blocks = map_shards(_sweep_shard, parts, context=context, engine=engine, label="sweep")
        stats = np.concatenate(blocks, axis=0)
    param_frame = pl.DataFrame(combos)
    metrics = pl.DataFrame({name: stats[:, i] for i, name in enumerate(L.STAT_NAMES)}).with_columns(
        pl.col("n_trades", "max_drawdown_duration_bars").cast(pl.Int64),
        max_drawdown_duration_days=pl.col("max_drawdown_duration_bars")
        * (prep.bar_seconds / 86_400.0),
        periods_per_year=pl.lit(ppy),
        annualisation=pl.lit(annualisation_note(prep.bar_seconds, opts.days_per_year)),
    )
    return pl.concat([param_frame, metrics], how="horizontal")


@dataclass(frozen=True, kw_only=True, eq=False)
class _SweepContext:
    """What every shard of a sweep shares (sent once per worker)."""

    prep: _Prepared
    make_signal: Callable[..., pl.Expr | str]
    opts: _Options
    ppy: float
    batch: int


def _sweep_shard(context: _SweepContext, combos: list[dict[str, Any]]) -> np.ndarray:
    """One shard of a sweep on a worker: its combinations' metrics, one compiled thread
    (the workers already use the machine's cores)."""
    import numba

    numba.set_num_threads(1)
    c = context
    return _stats(c.prep, c.make_signal, combos, c.batch, c.opts, c.ppy)


def _stats(
    prep: _Prepared,
    make_signal: Callable[..., pl.Expr | str],
    combos: list[dict[str, Any]],
    batch: int,
    opts: _Options,
    ppy: float,
) -> np.ndarray:
    """The metrics block (combinations x STAT_NAMES) of ``combos``, batch by batch."""
    rows: list[np.ndarray] = []
    n, m = prep.close.shape
    from omni_research.backtest import _kernels as K  # numba, imported on first use

    evaluator = SharedEvaluator(prep.frame, grouped=m > 1)
    for start in range(0, len(combos), batch):
        chunk = combos[start : start + batch]
        exprs: list[pl.Expr] = []
        for params in chunk:
            try:
                sig = make_signal(**params)
            except TypeError as exc:
                sig_text = str(inspect.signature(make_signal))
                raise ConfigurationError(
                    f"sweep: make_signal{sig_text} does not accept parameters {params}: {exc}"
                ) from exc
            exprs.append(pl.col(sig) if isinstance(sig, str) else sig)
        shared = evaluator.frame_for(exprs)
        values = None
        if shared is not None:
            with contextlib.suppress(ConfigurationError):
                values = _eval_targets(prep, shared[1], shared[0])
        if values is None:
            values = _eval_targets(prep, exprs)
        if m == 1:
            # One series: the whole batch in one conversion, combinations first.
            block = values.to_numpy(order="fortran").T  # C-contiguous (combinations, bars)
            if np.isinf(block).any():
                raise ConfigurationError(
                    "sweep: a signal has infinite values; expected exposures such as -1..1"
                )
            targets = np.ascontiguousarray(block, dtype=np.float64).reshape(len(chunk), n, 1)
        else:
            targets = np.empty((len(chunk), n, m))
            for i, col in enumerate(values.iter_columns()):
                targets[i] = _target_matrix(prep, col.to_numpy())
        try:
            rows.append(
                K.sweep_kernel(
                    prep.open,
                    prep.close,
                    prep.avail,
                    targets,
                    prep.fund,
                    opts.next_open,
                    opts.cash,
                    opts.fee,
                    opts.slippage,
                    opts.size,
                    opts.sizing == "notional",
                    opts.whole,
                    ppy,
                )
            )
        except Exception as exc:  # numba raises plain errors; never let them escape bare
            raise OmniDataError(f"sweep: the simulation failed ({exc})") from exc
    return np.concatenate(rows, axis=0)
