"""Public names of omni_research.plotting and omni_research.widgets; lazy heavy imports."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["omni_research.plotting", "omni_research.widgets"])
def test_every_name_in_all_imports(module: str) -> None:
    mod = importlib.import_module(module)
    assert mod.__all__ == sorted(mod.__all__, key=lambda n: (not n.isupper(), n))
    for name in mod.__all__:
        assert getattr(mod, name) is not None, name


def test_importing_plotting_and_widgets_loads_neither_matplotlib_nor_ipywidgets() -> None:
    code = (
        "import sys, omni_research.plotting, omni_research.widgets\n"
        "print(sorted(m for m in ('matplotlib', 'ipywidgets') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_figures_display_as_png_in_ipython_without_pyplot() -> None:
    code = (
        "import datetime as dt, sys, polars as pl\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "from omni_research.plotting import plot_equity\n"
        "t = dt.datetime(2025, 1, 6, tzinfo=dt.UTC)\n"
        "fig = plot_equity(pl.DataFrame({'timestamp': [t], 'equity': [1.0]}))\n"
        "data, _ = shell.display_formatter.format(fig)\n"
        "print(data['image/png'][:4] == b'\\x89PNG', 'matplotlib.pyplot' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "True False"
