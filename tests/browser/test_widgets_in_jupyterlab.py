"""The four widgets in a real JupyterLab, driven in headless Chromium.

The notebook is generated here, run with *Run All Cells*, and each widget is checked as a
person would see it: its controls are on the page, its chart image is there, and changing a
control changes the chart. Screenshots land in the test's tmp folder (``screenshots/``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest

SETUP = """\
import sys
print("kernel python:", sys.executable)
import omni_research as omr
from omni_research.widgets import BacktestPanel, IndicatorLab, MarketExplorer, QualityPanel
catalog = omr.open_catalog(ROOT)
"""
CELLS = [
    'ex = MarketExplorer(catalog, timeframe="1h", indicators=["sma"])\nex',
    'bars = catalog.load("ohlcv", symbols="BTCUSDT", end="2025-01-08")\n'
    'lab = IndicatorLab(bars, expression="sma(window=20)")\nlab',
    'bp = BacktestPanel(catalog, timeframe="1h")\nbp',
    "qp = QualityPanel(catalog)\nqp",
]
KERNEL_IDLE = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === "idle";
}"""
# Each widget and the image that shows it has drawn.
WIDGETS = (
    ".omni-market-explorer img.omni-chart",
    ".omni-indicator-lab img.omni-chart",
    ".omni-backtest-panel img.omni-chart",
    ".omni-quality-panel img.omni-timeline",
)


def _notebook(path: Path, data_root: Path, kernel: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": kernel,
        "display_name": "omni-research test kernel",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(SETUP.replace("ROOT", repr(str(data_root))))]
    nb.cells += [nbformat.v4.new_code_cell(src) for src in CELLS]
    nbformat.write(nb, path)


def _src(page: Any, selector: str) -> str:
    value = page.locator(selector).first.get_attribute("src")
    return value or ""


def _shown(container: Any, selector: str) -> bool:
    """Whether the image has loaded a picture (an empty Image widget still has a blob src)."""
    img = container.locator(selector).first
    return bool(img.evaluate("el => el.complete && el.naturalWidth > 0"))


def _idle(container: Any) -> bool:
    """Whether the widget's progress bar is hidden again (its work has finished)."""
    bar = container.locator(".omni-progress").first
    return bool(bar.evaluate("el => getComputedStyle(el).visibility === 'hidden'"))


def _text(locator: Any) -> str:
    """The element's text, rendered or not (JupyterLab hides cells scrolled out of view)."""
    return str(locator.text_content() or "")


def _dropdown(container: Any, label: str) -> Any:
    """The <select> of the ipywidgets Dropdown whose description is ``label``."""
    return container.locator(f".widget-dropdown:has(label:text-is('{label}')) select").first


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.mark.browser
@pytest.mark.slow
def test_widgets_render_and_react_in_jupyterlab(
    jupyter_lab: Any, browser_page: Any, data_root: Path, tmp_path: Path
) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    _notebook(jupyter_lab.root / "widgets.ipynb", data_root, jupyter_lab.kernel)
    page = browser_page
    t0 = time.monotonic()

    def step(what: str) -> None:  # progress in the -s output and the failure report
        print(f"[{time.monotonic() - t0:5.1f}s] {what}", flush=True)

    step("opening the notebook")
    page.goto(f"{jupyter_lab.url}/lab/tree/widgets.ipynb?reset&token={jupyter_lab.token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_function(
        "() => window.jupyterapp && document.querySelector('.jp-Notebook')", timeout=60_000
    )
    step("notebook open; waiting for the kernel")
    # Wait for the kernel, then run every cell.
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)
    step("kernel idle; running all cells")
    # The command's promise settles when every cell has run.
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    step("all cells ran")
    for image in WIDGETS:
        page.wait_for_function(
            "s => { const i = document.querySelector(s); return i && i.src && i.naturalWidth > 0 }",
            arg=image,
            timeout=90_000,
        )
        step(f"rendered: {image}")
    page.screenshot(path=str(shots / "notebook.png"), full_page=True)
    # The kernel is this test's interpreter (the venv with omni_research), not another one.
    assert f"kernel python: {sys.executable}" in _text(page.locator(".jp-OutputArea").first)

    step("explorer")
    # -- MarketExplorer: controls, chart, and a redraw on a dropdown change ----------------
    ex = page.locator(".omni-market-explorer").first
    assert ex.locator("select").count() >= 3  # symbol, timeframe, indicators
    assert ex.locator("input[type='date']").count() == 2
    assert ex.locator(".widget-slider").count() >= 1  # sma window, from the registry
    before = _src(ex, "img.omni-chart")
    assert before.startswith(("blob:", "data:"))
    _dropdown(ex, "symbol").select_option("ETHUSDT")
    _wait_for(
        lambda: _src(ex, "img.omni-chart") not in ("", before) and _shown(ex, "img.omni-chart"),
        "explorer redraw",
    )
    _wait_for(lambda: _idle(ex), "explorer finished")
    ex.scroll_into_view_if_needed()
    ex.screenshot(path=str(shots / "market_explorer.png"))

    step("lab")
    # -- IndicatorLab: move the window slider with the keyboard ----------------------------
    lab = page.locator(".omni-indicator-lab").first
    readout = lab.locator(".widget-slider .widget-readout").first
    assert _text(readout).strip() == "20"
    before = _src(lab, "img.omni-chart")
    lab.locator(".widget-slider .noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")
    _wait_for(lambda: _text(readout).strip() == "21", "slider readout 21")
    _wait_for(
        lambda: _src(lab, "img.omni-chart") not in ("", before) and _shown(lab, "img.omni-chart"),
        "lab redraw",
    )
    _wait_for(lambda: _idle(lab), "lab finished")
    _wait_for(
        lambda: lab.locator("input").first.input_value() == "sma(window=21)",
        "expression text follows the slider",
    )
    assert "hit_rate" in _text(lab.locator(".omni-stats"))
    lab.scroll_into_view_if_needed()
    lab.screenshot(path=str(shots / "indicator_lab.png"))

    step("backtest")
    # -- BacktestPanel: sweep two parameters, then change the strategy and run ------------
    bp = page.locator(".omni-backtest-panel").first
    assert "final_equity" in _text(bp.locator(".omni-metrics"))
    assert bp.locator(".omni-trades tbody tr").count() > 0
    bp.locator(".lm-TabBar-tab", has_text="sweep").first.click()
    assert not _shown(bp, "img.omni-heatmap")
    bp.get_by_role("button", name="Run sweep").click()
    _wait_for(lambda: _shown(bp, "img.omni-heatmap") and _idle(bp), "sweep heatmap", timeout=60)
    assert "best 5" in _text(bp)
    bp.scroll_into_view_if_needed()
    bp.screenshot(path=str(shots / "backtest_sweep.png"))
    bp.locator(".lm-TabBar-tab", has_text="run").first.click()
    before = _src(bp, "img.omni-chart")
    _dropdown(bp, "strategy").select_option("breakout")
    bp.get_by_role("button", name="Run backtest").click()
    _wait_for(
        lambda: _src(bp, "img.omni-chart") not in ("", before) and _shown(bp, "img.omni-chart"),
        "backtest rerun",
    )
    _wait_for(lambda: _idle(bp), "backtest finished")
    bp.screenshot(path=str(shots / "backtest_panel.png"))
    step("quality")
    # -- QualityPanel: filter to SOLUSDT, jump to the outage --------------------------------
    qp = page.locator(".omni-quality-panel").first
    rows_all = qp.locator(".omni-findings tbody tr").count()
    assert rows_all > 1
    _dropdown(qp, "symbol").select_option("SOLUSDT")
    _wait_for(lambda: qp.locator(".omni-findings tbody tr").count() < rows_all, "filter")
    assert "missing_bars" in _text(qp.locator(".omni-findings"))
    assert not _shown(qp, "img.omni-chart")
    qp.get_by_role("button", name="Show on chart").click()
    _wait_for(lambda: _shown(qp, "img.omni-chart") and _idle(qp), "finding chart")
    qp.scroll_into_view_if_needed()
    qp.screenshot(path=str(shots / "quality_panel.png"))

    # Nothing in the page is a Python traceback.
    assert "Traceback" not in _text(page.locator(".jp-Notebook"))
    assert sorted(p.name for p in shots.iterdir()) == [
        "backtest_panel.png",
        "backtest_sweep.png",
        "indicator_lab.png",
        "market_explorer.png",
        "notebook.png",
        "quality_panel.png",
    ]
