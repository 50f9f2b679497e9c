"""Monte Carlo view of a backtest: bootstrap of its trade returns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
import polars as pl

from omni_research.exceptions import ConfigurationError


class TradeRun(Protocol):
    """What the bootstrap reads of a run: a `BacktestResult` is one. Declared here, not
    imported from the engine, so the engine can offer ``result.monte_carlo()`` without an
    import cycle."""

    @property
    def trades(self) -> pl.DataFrame: ...

    @property
    def equity(self) -> pl.DataFrame: ...

    @property
    def options(self) -> Mapping[str, Any]: ...


def monte_carlo(
    result: TradeRun,
    /,
    *,
    n: int = 1000,
    seed: int = 0,
    percentiles: tuple[float, ...] = (5, 25, 50, 75, 95),
) -> pl.DataFrame:
    """Percentiles of total return and max drawdown over bootstrapped trade sequences.

    Each closed trade's contribution is its pnl over the account equity before its entry
    (so a trade on a third of a three-symbol portfolio counts for a third). Each of the ``n``
    samples draws as many contributions as the run has closed trades, with replacement, and
    compounds them in the drawn order: the spread shows how much of the result is the luck
    of the order and the mix of trades. Overlapping trades are treated as sequential, the
    usual simplification.

    Parameters
    ----------
    result : BacktestResult
        A run with at least one closed trade.
    n : int
        Number of bootstrap samples.
    seed : int
        Seed of the random generator (results are reproducible).
    percentiles : tuple of float
        Percentiles to report, 0..100.

    Returns
    -------
    pl.DataFrame
        percentile, total_return, max_drawdown (<= 0); one row per percentile. The return
        percentile and the drawdown percentile are computed separately (a row is not one path).

    Examples
    --------
    >>> from omni_research.backtest import monte_carlo  # doctest: +SKIP
    >>> monte_carlo(result, n=2000)  # doctest: +SKIP
    """
    if n < 1:
        raise ConfigurationError(f"monte_carlo: n must be >= 1, got {n}")
    if any(not 0 <= p <= 100 for p in percentiles):
        raise ConfigurationError(f"monte_carlo: percentiles must be in 0..100, got {percentiles}")
    cash = float(result.options["cash"])
    before = result.equity.select(
        pl.col("timestamp").alias("entry_time"),
        pl.col("equity").shift(1, fill_value=cash).alias("__before"),
    )
    rets = (
        result.trades.filter(~pl.col("is_open"))
        .join(before, on="entry_time", how="left")
        .select(pl.col("pnl") / pl.col("__before"))
        .to_series()
        .to_numpy()
    )
    if rets.size == 0:
        raise ConfigurationError(
            "monte_carlo: the run has no closed trade to bootstrap; run a longer period or a "
            "strategy that trades"
        )
    rng = np.random.default_rng(seed)
    draws = rets[rng.integers(0, rets.size, size=(n, rets.size))]
    paths = np.cumprod(1.0 + draws, axis=1)
    start = np.ones((n, 1))
    paths = np.concatenate([start, paths], axis=1)
    total = paths[:, -1] - 1.0
    mdd = (paths / np.maximum.accumulate(paths, axis=1) - 1.0).min(axis=1)
    q = np.asarray(percentiles, dtype=np.float64)
    return pl.DataFrame(
        {
            "percentile": q,
            "total_return": np.percentile(total, q),
            "max_drawdown": np.percentile(mdd, q),
        }
    )
