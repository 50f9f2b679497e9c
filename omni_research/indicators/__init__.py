"""Technical indicators as Polars expressions, with exact parity to `ta` 0.11."""

from __future__ import annotations

from omni_research.indicators._registry import Indicator, get_indicator, register, registry

__all__ = ["Indicator", "get_indicator", "register", "registry"]
