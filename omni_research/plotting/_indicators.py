"""Indicator specs for charts: resolve names through the registry, compute their outputs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import polars as pl

from omni_research.exceptions import ConfigurationError, DataFormatError

if TYPE_CHECKING:
    from omni_research.indicators._registry import Indicator

IndicatorSpec: TypeAlias = "str | Indicator | tuple[str | Indicator, Mapping[str, Any]]"
"""A registry name, an Indicator, or either with parameter overrides."""


@dataclass(frozen=True, kw_only=True)
class ResolvedIndicator:
    """An indicator with its parameters and its computed outputs (output name -> values)."""

    indicator: Indicator
    params: dict[str, Any]
    label: str
    outputs: dict[str, pl.Series]

    @property
    def placement(self) -> str:
        return self.indicator.placement


def lookup(name: str) -> Indicator:
    """The registered indicator ``name`` (the package ``__init__`` fills the registry)."""
    try:
        from omni_research.indicators import get_indicator
    except ImportError:  # registry modules not importable yet: fall back to the bare registry
        from omni_research.indicators._registry import get_indicator
    return get_indicator(name)


def registered() -> dict[str, Indicator]:
    """Every registered indicator by name."""
    try:
        from omni_research.indicators import registry
    except ImportError:
        from omni_research.indicators._registry import registry
    return registry()


def _label(ind: Indicator, params: Mapping[str, Any]) -> str:
    changed = {k: v for k, v in params.items() if ind.params.get(k) != v}
    shown = {k: v for k, v in params.items() if isinstance(v, int | float) and k in ind.params}
    chosen = changed or shown
    if not chosen:
        return ind.name
    inner = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in chosen.values())
    return f"{ind.name}({inner})"


def normalise_specs(
    specs: Iterable[IndicatorSpec] | Mapping[str, Mapping[str, Any]] | None,
) -> list[tuple[Indicator, dict[str, Any]]]:
    """(indicator, params) pairs from names, Indicators, (spec, params) pairs or a mapping."""
    from omni_research.indicators._registry import Indicator

    if specs is None:
        return []
    items: Iterable[Any] = specs.items() if isinstance(specs, Mapping) else specs
    if isinstance(specs, str):
        items = [specs]
    out: list[tuple[Indicator, dict[str, Any]]] = []
    for item in items:
        spec, params = item if isinstance(item, tuple) else (item, {})
        ind = lookup(spec) if isinstance(spec, str) else spec
        if not isinstance(ind, Indicator):
            raise ConfigurationError(
                f"indicator spec {item!r}: expected a registry name, an Indicator or "
                "(name, params); see omni_research.indicators.registry() for the names"
            )
        unknown = sorted(set(params) - set(ind.params))
        if unknown:
            raise ConfigurationError(
                f"indicator {ind.name!r}: unknown parameter(s) {unknown}; "
                f"expected some of {sorted(ind.params)}"
            )
        out.append((ind, {**ind.params, **params}))
    return out


def _drawable(name: str, values: pl.Series, placement: str, bars: pl.DataFrame) -> bool:
    """Whether an output belongs on the chart: 0/1 flags never do, and an overlay's outputs
    must be on the price scale (Bollinger's width and %B are not)."""
    finite = values.drop_nulls().drop_nans()
    finite = finite.filter(finite.is_finite())
    if finite.len() == 0:
        return True
    if name.endswith("_indicator") and finite.is_in([0.0, 1.0]).all():
        return False
    if placement != "overlay":
        return True
    if name.endswith(("wband", "pband")):
        return False
    low = bars.get_column("low").min() if "low" in bars.columns else None
    high = bars.get_column("high").max() if "high" in bars.columns else None
    median = finite.median()
    if not isinstance(low, float) or not isinstance(high, float):
        return True
    if not isinstance(median, float):
        return True
    spread = max(high - low, abs(high) * 1e-6)
    return low - 2 * spread <= median <= high + 2 * spread


def compute(
    bars: pl.DataFrame, pairs: list[tuple[Indicator, dict[str, Any]]]
) -> list[ResolvedIndicator]:
    """Each indicator's outputs computed on ``bars`` (one symbol, sorted by time)."""
    resolved = []
    for ind, params in pairs:
        missing = [c for c in ind.inputs if c not in bars.columns]
        if missing:
            raise DataFormatError(
                f"indicator {ind.name!r} reads {list(ind.inputs)} but the bars lack {missing}"
            )
        try:
            values = bars.select(ind.exprs(*ind.inputs, **params))
        except (pl.exceptions.PolarsError, TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"indicator {ind.name!r} with parameters {params} failed on the bars: {exc}"
            ) from exc
        outputs = {
            out_name: values.to_series(i).cast(pl.Float64) for i, out_name in enumerate(ind.outputs)
        }
        # Keep what belongs on the chart; an indicator whose every output is filtered keeps all.
        outputs = {
            k: v for k, v in outputs.items() if _drawable(k, v, ind.placement, bars)
        } or outputs
        resolved.append(
            ResolvedIndicator(
                indicator=ind, params=params, label=_label(ind, params), outputs=outputs
            )
        )
    return resolved
