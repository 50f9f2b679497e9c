"""Every public name of the backtest and pnl modules imports and is documented."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("module", ["omni_research.backtest", "omni_research.pnl"])
def test_all_names_import_and_have_docstrings(module: str) -> None:
    mod = importlib.import_module(module)
    for name in mod.__all__:
        obj = getattr(mod, name)
        assert obj.__doc__ and len(obj.__doc__.strip()) > 20, name
    expected = {"run", "sweep", "lookahead_check", "BacktestResult"}
    if module.endswith("backtest"):
        assert expected <= set(mod.__all__)
