"""The indicator registry: one entry per `ta` indicator, read by widgets, plots and reports.

Entries are generated from the indicators' declarations (`_spec.IndicatorSpec.indicator`);
`register` stays public for indicators a user adds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import polars as pl

Family: TypeAlias = Literal["volume", "volatility", "trend", "momentum", "others"]
Placement: TypeAlias = Literal["overlay", "panel"]


@dataclass(frozen=True, kw_only=True)
class Indicator:
    """One indicator: how to call it and what it gives.

    Attributes
    ----------
    name : str
        Short name, e.g. ``"macd"``.
    family : str
        The `ta` module it mirrors: volume, volatility, trend, momentum or others.
    inputs : tuple of str
        Price columns it reads, in order (``"high"``, ``"low"``, ``"close"``, ``"volume"``...).
    params : dict
        Parameter names and their `ta` defaults (windows, constants, ``ta_compat``...).
    outputs : dict
        Output name -> function returning that output's ``pl.Expr``. Every function takes
        the input column names positionally and ``params`` as keyword arguments (each
        output uses the ones its `ta` function takes), plus `ta`'s ``fillna``.
    warmup : Callable
        ``warmup(**params)`` -> number of leading rows that are null (or `ta`'s 0.0).
    ta_reference : str
        The `ta` class it mirrors, e.g. ``"ta.trend.MACD"``.
    placement : str
        ``"overlay"`` when drawn on the price axis, ``"panel"`` for a sub-panel.
    """

    name: str
    family: Family
    inputs: tuple[str, ...]
    params: dict[str, Any]
    outputs: dict[str, Callable[..., pl.Expr]]
    warmup: Callable[..., int]
    ta_reference: str
    placement: Placement
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def exprs(self, *columns: str, **params: Any) -> list[pl.Expr]:
        """All outputs as expressions, named ``<name>_<output>`` (or ``name`` if single, or
        for the output that shares the indicator's name, e.g. ``macd`` of ``macd``)."""
        cols = columns or self.inputs
        merged = {**self.params, **params}
        out = []
        for output, func in self.outputs.items():
            single = len(self.outputs) == 1 or output == self.name
            alias = self.name if single else f"{self.name}_{output}"
            out.append(func(*cols, **merged).alias(alias))
        return out


_REGISTRY: dict[str, Indicator] = {}


def register(indicator: Indicator) -> Indicator:
    """Add an indicator to the registry (names are unique)."""
    if indicator.name in _REGISTRY:
        raise ValueError(f"indicator {indicator.name!r} is registered twice")
    _REGISTRY[indicator.name] = indicator
    return indicator


def registry() -> dict[str, Indicator]:
    """Every registered indicator by name, in registration order."""
    return dict(_REGISTRY)


def get_indicator(name: str) -> Indicator:
    """The registered indicator called ``name``; raises UnknownKindError otherwise."""
    from omni_research.exceptions import UnknownKindError

    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise UnknownKindError(f"unknown indicator {name!r}; expected one of: {known}") from None
