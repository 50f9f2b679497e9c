"""Built-in trading strategies: one named rule, its parameters and what to draw, in one table.

Every place that runs a strategy by name reads :data:`STRATEGIES`: the research report
(``reports.build_research_report``), the CLI's ``omni-research report --strategy`` (through
the report) and the notebook ``BacktestPanel``. So one name always backtests one rule, and
the panel and the report give the same trades for the same parameters.

A strategy's signal is a target exposure decided at each bar's close, for
:func:`omni_research.backtest.run` (which fills it at the next bar's open by default):
``1.0`` long, ``-1.0`` short (``0.0`` when shorting is not allowed), ``0.0`` flat, and null
"keep the previous target". The rules are look-ahead free and conservative:

* **warm-up is flat**: while an indicator the rule reads has no value yet, the signal is
  null, and the backtest starts flat, so there is no position before the indicators exist;
* **ties are flat**: two averages equal (within :data:`TIE_TOLERANCE`, relative: float
  rounding) give ``0.0``, never a side.

Examples
--------
>>> from omni_research.strategies import STRATEGIES, strategy_signal
>>> sorted(STRATEGIES)
['breakout', 'ema_cross', 'rsi_reversion', 'sma_cross']
>>> STRATEGIES["sma_cross"].params({"fast": 5})
{'fast': 5, 'slow': 30}
>>> expr = strategy_signal("sma_cross", {"fast": 5, "slow": 20}, allow_short=False)
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from omni_research.exceptions import ConfigurationError

__all__ = ["STRATEGIES", "TIE_TOLERANCE", "Strategy", "get_strategy", "strategy_signal"]

IndicatorSpec = tuple[str, dict[str, Any]]
"""A registry indicator and its parameters, as ``plotting.plot_candles(indicators=...)`` reads."""


@dataclass(frozen=True, kw_only=True)
class Strategy:
    """A named trading rule with integer parameters, their ranges and a sweep grid.

    Parameters
    ----------
    name
        The key in :data:`STRATEGIES` (``"sma_cross"``).
    description
        One sentence a report or a widget shows.
    rule
        ``rule(short=..., **params) -> pl.Expr``: the target exposure (see the module
        docstring); ``short`` is the exposure when the rule is short, -1.0 or 0.0.
    defaults
        Every parameter and its default value.
    bounds
        ``(low, high)`` per parameter: the range a widget's control offers.
    grid
        The default parameter-sweep grid, one value list per parameter.
    sweep_axes
        The two parameters a sweep heatmap shows (x, y).
    ordered
        Pairs ``(a, b)`` of parameters that make sense only with ``a < b`` (fast < slow);
        the grid respects them.
    draws
        ``draws(params)``: the registry indicators to draw with the candles.

    Examples
    --------
    >>> from omni_research.strategies import STRATEGIES
    >>> s = STRATEGIES["ema_cross"]
    >>> s.defaults, s.sweep_axes
    ({'fast': 12, 'slow': 26}, ('fast', 'slow'))
    >>> s.indicators({"fast": 5, "slow": 20})
    [('ema', {'window': 5}), ('ema', {'window': 20})]
    """

    name: str
    description: str
    rule: Callable[..., pl.Expr]
    defaults: Mapping[str, int]
    bounds: Mapping[str, tuple[int, int]]
    grid: Mapping[str, Sequence[int]]
    sweep_axes: tuple[str, str]
    ordered: tuple[tuple[str, str], ...] = ()
    draws: Callable[[Mapping[str, int]], list[IndicatorSpec]]

    def params(self, overrides: Mapping[str, Any] | None = None) -> dict[str, int]:
        """The defaults with ``overrides`` applied, every value checked as an integer >= 1
        (an integral float such as ``10.0`` is read as ``10``).

        Raises
        ------
        ConfigurationError
            For a parameter the strategy does not take, or a value that is not a positive
            integer.
        """
        given = dict(overrides or {})
        unknown = sorted(set(given) - set(self.defaults))
        if unknown:
            raise ConfigurationError(
                f"strategy {self.name}: unknown parameter(s) {unknown}; it takes "
                f"{sorted(self.defaults)}"
            )
        out: dict[str, int] = {}
        for key, default in self.defaults.items():
            value = given.get(key, default)
            try:
                if isinstance(value, bool):
                    raise TypeError
                # 10.0 (a float from a config or a grid) is 10; 10.5 is refused, not truncated
                integral = isinstance(value, float | np.floating) and float(value).is_integer()
                number = int(value) if integral else operator.index(value)
            except TypeError:
                raise ConfigurationError(
                    f"strategy {self.name}: {key}={value!r} must be an integer"
                ) from None
            if number < 1:
                raise ConfigurationError(f"strategy {self.name}: {key}={number} must be >= 1")
            out[key] = number
        return out

    def signal(
        self, params: Mapping[str, Any] | None = None, *, allow_short: bool = True
    ) -> pl.Expr:
        """The target-exposure expression for ``params`` (defaults for the rest).

        Parameters
        ----------
        params
            Parameter overrides, e.g. ``{"fast": 5}``.
        allow_short
            False turns every short target into flat (long-only).

        Returns
        -------
        pl.Expr
            For ``backtest.run(bars, expr)``; evaluated per symbol by the backtest.
        """
        return self.rule(**self.params(params), short=-1.0 if allow_short else 0.0)

    def builder(self, *, allow_short: bool = True) -> Callable[..., pl.Expr]:
        """``make(**params) -> pl.Expr``, the form ``backtest.sweep`` takes.

        Examples
        --------
        >>> from omni_research.strategies import STRATEGIES
        >>> make = STRATEGIES["sma_cross"].builder(allow_short=False)
        >>> expr = make(fast=5, slow=20)
        """

        def make_signal(**params: Any) -> pl.Expr:
            return self.signal(params, allow_short=allow_short)

        return make_signal

    def indicators(self, params: Mapping[str, Any] | None = None) -> list[IndicatorSpec]:
        """The registry indicators the rule reads, to draw with the candles."""
        return self.draws(self.params(params))


# --------------------------------------------------------------------------- rules


TIE_TOLERANCE = 1e-9
"""Two averages closer than this, relative to the slow one, are a tie (flat): on a flat price
stretch they are equal in exact arithmetic, and the last digits of their running sums must
not pick a side."""


def _cross(fast: pl.Expr, slow: pl.Expr, short: float) -> pl.Expr:
    # Long above, short below, flat on a tie; null while either average warms up (the
    # backtest starts flat, so warm-up holds no position).
    gap = (fast - slow).fill_nan(None)
    tol = TIE_TOLERANCE * slow.abs()
    return (
        pl.when(gap > tol)
        .then(1.0)
        .when(gap < -tol)
        .then(short)
        .when(gap.is_not_null())
        .then(0.0)
        .otherwise(None)
    )


def _sma_cross(*, fast: int, slow: int, short: float) -> pl.Expr:
    from omni_research.indicators import sma_indicator

    return _cross(sma_indicator(window=fast), sma_indicator(window=slow), short)


def _ema_cross(*, fast: int, slow: int, short: float) -> pl.Expr:
    from omni_research.indicators import ema_indicator

    return _cross(ema_indicator(window=fast), ema_indicator(window=slow), short)


def _rsi_reversion(*, window: int, lower: int, upper: int, short: float) -> pl.Expr:
    from omni_research.indicators import rsi

    value = rsi(window=window)
    return pl.when(value < lower).then(1.0).when(value > upper).then(short).otherwise(None)


def _breakout(*, window: int, short: float) -> pl.Expr:
    # The channel of the *prior* window: today's bar never sets the level it breaks.
    hi = pl.col("high").rolling_max(window).shift(1)
    lo = pl.col("low").rolling_min(window).shift(1)
    c = pl.col("close")
    return pl.when(c > hi).then(1.0).when(c < lo).then(short).otherwise(None)


def _averages(name: str) -> Callable[[Mapping[str, int]], list[IndicatorSpec]]:
    def draws(p: Mapping[str, int]) -> list[IndicatorSpec]:
        return [(name, {"window": p["fast"]}), (name, {"window": p["slow"]})]

    return draws


STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy(
            name="sma_cross",
            description=(
                "Simple moving-average crossover: long while SMA(fast) > SMA(slow), short (or "
                "flat) while below, flat on a tie and during warm-up; decided at each bar's "
                "close, filled at the next open."
            ),
            rule=_sma_cross,
            defaults={"fast": 10, "slow": 30},
            bounds={"fast": (2, 100), "slow": (5, 300)},
            grid={"fast": [3, 5, 8, 10, 15], "slow": [20, 30, 45, 60, 90]},
            sweep_axes=("fast", "slow"),
            ordered=(("fast", "slow"),),
            draws=_averages("sma"),
        ),
        Strategy(
            name="ema_cross",
            description=(
                "Exponential moving-average crossover: long while EMA(fast) > EMA(slow), short "
                "(or flat) while below, flat on a tie and during warm-up; decided at each "
                "bar's close, filled at the next open."
            ),
            rule=_ema_cross,
            defaults={"fast": 12, "slow": 26},
            bounds={"fast": (2, 100), "slow": (5, 300)},
            grid={"fast": [3, 5, 8, 12, 15], "slow": [20, 26, 40, 60, 90]},
            sweep_axes=("fast", "slow"),
            ordered=(("fast", "slow"),),
            draws=_averages("ema"),
        ),
        Strategy(
            name="rsi_reversion",
            description=(
                "RSI mean reversion: long when RSI(window) falls below lower, short (or flat) "
                "when it rises above upper, hold in between; flat during warm-up."
            ),
            rule=_rsi_reversion,
            defaults={"window": 14, "lower": 30, "upper": 70},
            bounds={"window": (2, 100), "lower": (1, 50), "upper": (50, 99)},
            grid={
                "window": [7, 14, 21, 28],
                "lower": [20, 25, 30, 35, 40],
                "upper": [60, 65, 70, 75, 80],
            },
            sweep_axes=("lower", "upper"),
            ordered=(("lower", "upper"),),
            draws=lambda p: [("rsi", {"window": p["window"]})],
        ),
        Strategy(
            name="breakout",
            description=(
                "Channel breakout: long on a close above the prior window's high, short (or "
                "flat) on a close below its low, hold in between; flat during warm-up."
            ),
            rule=_breakout,
            defaults={"window": 20},
            bounds={"window": (2, 300)},
            grid={"window": [5, 10, 20, 40, 60, 90, 120]},
            sweep_axes=("window", "window"),
            draws=lambda p: [("donchian_channel", {"window": p["window"]})],
        ),
    )
}
"""The built-in strategies by name: ``sma_cross``, ``ema_cross``, ``rsi_reversion``,
``breakout``."""


def get_strategy(name: str, *, where: str = "") -> Strategy:
    """The strategy called ``name``; a ConfigurationError naming the choices otherwise."""
    if name not in STRATEGIES:
        prefix = f"{where}: " if where else ""
        raise ConfigurationError(
            f"{prefix}unknown strategy {name!r}; expected one of {sorted(STRATEGIES)}"
        )
    return STRATEGIES[name]


def strategy_signal(name: str, params: Mapping[str, Any], *, allow_short: bool = True) -> pl.Expr:
    """The signal expression of a built-in strategy (what BacktestPanel and the report run).

    Parameters
    ----------
    name
        A key of :data:`STRATEGIES`.
    params
        Parameter overrides; the strategy's defaults fill the rest.
    allow_short
        False makes the strategy long-only (short targets become flat).

    Raises
    ------
    ConfigurationError
        For an unknown strategy or parameter, or a value that is not a positive integer.
    """
    return get_strategy(name).signal(params, allow_short=allow_short)
