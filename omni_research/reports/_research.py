"""The research report: catalog -> indicators -> quality -> backtest -> sweep -> Report."""

from __future__ import annotations

from typing import Any

from omni_research.reports._builder import Report


def build_research_report(catalog: Any, **kwargs: Any) -> Report:  # placeholder, wired below
    raise NotImplementedError
