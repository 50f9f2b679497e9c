"""QualityPanel: findings equal the quality report's; filters, table rows and the jump."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
import pytest

from omni_research.quality import quality_report
from omni_research.widgets import QualityPanel


@pytest.fixture(scope="module")
def panel(catalog: Any) -> QualityPanel:
    return QualityPanel(catalog)


def test_quality_panel_findings_are_the_reports_of_each_dataset(
    catalog: Any, panel: QualityPanel, table_rows: Callable[[str], int]
) -> None:
    assert panel.last_error is None
    expected = pl.concat(
        [
            quality_report(catalog.scan(kind), kind, dataset=name)
            for name, kind in catalog.datasets().select("name", "kind").iter_rows()
            if kind in ("ohlcv", "trades", "orderbook")
        ],
        how="diagonal_relaxed",
    )
    assert panel.findings.height == expected.height > 0
    assert panel.findings.drop("examples").equals(expected.drop("examples"))
    assert table_rows(panel.table.value) == panel.result.height == expected.height
    spans = next(c for c in panel.timeline_figure.axes[0].collections if c.get_gid() == "findings")
    assert len(spans.get_paths()) == expected.height


def test_quality_panel_finds_the_shipped_sol_outage_and_jumps_to_it(
    catalog: Any, panel: QualityPanel, table_rows: Callable[[str], int]
) -> None:
    # The outage by hand: minutes of the week with no SOLUSDT bar.
    sol = catalog.load("ohlcv", symbols="SOLUSDT")
    minutes = pl.datetime_range(
        sol["timestamp"].min(), sol["timestamp"].max(), "1m", eager=True, time_zone="UTC"
    ).dt.cast_time_unit("us")
    missing = minutes.filter(~minutes.is_in(sol["timestamp"].implode()))
    assert missing.len() == 7

    panel.symbol.value = "SOLUSDT"
    panel.check.value = "missing_bars"
    assert panel.value["symbol"] == "SOLUSDT" and panel.value["check"] == "missing_bars"
    (row,) = panel.result.iter_rows(named=True)
    assert row["count"] == 7
    assert row["first_timestamp"] == missing.min() and row["last_timestamp"] == missing.max()
    assert table_rows(panel.table.value) == 1
    panel.jump_button.click()
    assert panel.last_error is None
    chart = panel.price_chart
    assert chart is not None
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    span = [(t - epoch) / dt.timedelta(milliseconds=1) for t in (missing.min(), missing.max())]
    assert chart.highlight == [span[0], span[1] + 60_000]  # the finding's minutes, shaded
    # The zoom: an hour either side, and no candles inside the outage.
    lo = missing.min() - dt.timedelta(hours=1)
    hi = missing.max() + dt.timedelta(hours=1, minutes=1)
    assert chart.visible_range == (lo, hi)
    in_window = sol.filter(pl.col("timestamp").is_between(lo, hi, closed="left"))
    assert chart.timeframe == "1m"
    assert chart.candles["timestamp"].to_list() == in_window["timestamp"].to_list()
    assert chart.candles.height == in_window.height == 127 - 7
    np.testing.assert_array_equal(chart.candles["low"], in_window["low"])
    # The chart holds the whole symbol: a second jump is a zoom, not a reload.
    index = chart.index
    assert index.bars == sol.height
    chart.zoom("2025-01-06", "2025-01-13")
    assert chart.timeframe == "15m"
    panel.show_finding(0)
    assert panel.price_chart is chart and chart.index is index
    assert chart.visible_range == (lo, hi) and chart.candles.height == 120
    panel.check.value = "(all)"
    panel.symbol.value = "(all)"


def test_quality_panel_empty_filter_and_no_choice_are_messages(panel: QualityPanel) -> None:
    panel.severity.value = "error"
    assert panel.result.height == 0
    assert "no findings match" in panel.table.value
    assert panel.finding.value is None
    panel.show_finding()
    assert "choose a finding first" in html.unescape(panel.message.value)
    panel.severity.value = "(all)"
    assert panel.result.height == panel.findings.height


def test_quality_panel_unknown_dataset_is_a_message(catalog: Any) -> None:
    qp = QualityPanel(catalog, datasets=["historical/candles"])
    assert "unknown or unchecked dataset(s) ['historical/candles']" in html.unescape(
        qp.message.value
    )
    assert qp.result.height == 0
