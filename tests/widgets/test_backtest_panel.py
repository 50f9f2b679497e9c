"""BacktestPanel: run and sweep through the controls; tables and charts match the results."""

from __future__ import annotations

import datetime as dt
import html
import math
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from omni_research.backtest import run
from omni_research.widgets import BacktestPanel, strategy_signal

START, END = dt.date(2025, 1, 6), dt.date(2025, 1, 8)


def _hand_hourly(btc_1m: pl.DataFrame) -> pl.DataFrame:
    return (
        btc_1m.filter(pl.col("timestamp") < dt.datetime(2025, 1, 9, tzinfo=dt.UTC))
        .group_by_dynamic("timestamp", every="1h")
        .agg(
            pl.col("symbol").first(),
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
        )
    )


def _hand_cross(close: np.ndarray, fast: int, slow: int) -> np.ndarray:
    def sma(w: int) -> np.ndarray:
        out = np.full(close.shape, np.nan)
        out[w - 1 :] = np.convolve(close, np.ones(w) / w, mode="valid")
        return out

    # the one sma_cross rule: long above, short below, flat on a tie (float rounding aside),
    # no signal until both averages exist
    f, s = sma(fast), sma(slow)
    tie = np.abs(f - s) <= 1e-9 * np.abs(s)
    target = np.where(tie, 0.0, np.where(f > s, 1.0, -1.0))
    target[np.isnan(s)] = np.nan
    return target


@pytest.fixture
def panel(catalog: Any) -> BacktestPanel:
    return BacktestPanel(catalog, timeframe="1h", start=START, end=END)


def test_backtest_panel_run_equals_engine_on_hand_signal(
    panel: BacktestPanel, btc_1m: pl.DataFrame, table_rows: Callable[[str], int]
) -> None:
    assert panel.last_error is None
    assert panel.value["params"] == {"fast": 10, "slow": 30}
    hourly = _hand_hourly(btc_1m)
    hand = _hand_cross(hourly["close"].to_numpy(), 10, 30)
    ours = hourly.select(strategy_signal("sma_cross", {"fast": 10, "slow": 30})).to_series()
    np.testing.assert_array_equal(ours.fill_null(np.nan).to_numpy(), hand)
    ref = run(
        hourly.with_columns(target=pl.Series(hand).fill_nan(None)),
        "target",
        fee=0.00055,
        cash=10_000.0,
    )
    stats = panel.result["stats"]
    assert stats["final_equity"] == pytest.approx(ref.stats()["final_equity"], rel=1e-12)
    assert stats["n_trades"] == ref.stats()["n_trades"] > 0
    # What the panel shows is what it holds.
    shown = html.unescape(panel.metrics.value)
    assert table_rows(panel.metrics.value) == math.ceil((len(stats) - 1) / 3)
    for name, value in stats.items():
        if name != "annualisation":
            assert f">{name}<" in shown
            assert isinstance(value, str) or f">{value:.6g}<" in shown
    assert str(stats["annualisation"]) in shown
    trades = panel.result["trades"]
    assert table_rows(panel.trades.value) == min(30, trades.height)
    line = panel.figure.axes[0].get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), panel.result["equity"]["equity"].to_numpy())
    # the price chart marks every entry on its side and every exit on the opposite one
    chart = panel.price_chart
    assert chart is not None
    long = trades["size"] > 0
    closed = trades.filter(pl.col("exit_time").is_not_null())
    want = pl.concat(
        [
            trades.select(
                timestamp="entry_time",
                price="entry_price",
                side=pl.when(long).then(pl.lit("buy")).otherwise(pl.lit("sell")),
            ),
            closed.select(
                timestamp="exit_time",
                price="exit_price",
                side=pl.when(pl.col("size") > 0).then(pl.lit("sell")).otherwise(pl.lit("buy")),
            ),
        ]
    ).sort("timestamp", "side")
    assert (want["side"] == "buy").sum() > 0
    assert_frame_equal(chart.markers.sort("timestamp", "side"), want, check_dtypes=False)
    assert chart.timeframe == "1h" and chart.candles.height == hourly.height == 72
    np.testing.assert_array_equal(chart.candles["close"], hourly["close"])


def test_backtest_panel_fee_and_short_controls_reach_the_engine(panel: BacktestPanel) -> None:
    panel.allow_short.value = False
    panel.fee.value = 0.0
    panel.run_button.click()
    panel.wait()
    trades = panel.result["trades"]
    assert trades.height > 0 and (trades["size"] > 0).all()
    assert panel.result["stats"]["fees"] == 0.0
    panel.fee.value = 0.001
    panel.run()
    trades = panel.result["trades"]
    assert panel.result["stats"]["fees"] == pytest.approx(trades["fees"].sum(), rel=1e-9)
    assert panel.result["stats"]["fees"] > 0
    assert panel.value["fee"] == 0.001 and panel.value["allow_short"] is False


def test_backtest_panel_sweep_heatmap_matches_its_table_and_the_run(
    panel: BacktestPanel, table_rows: Callable[[str], int]
) -> None:
    panel.sweep_x_range.value = (5, 15)
    panel.sweep_x_step.value = 5
    panel.sweep_y_range.value = (20, 40)
    panel.sweep_y_step.value = 10
    assert panel.value["sweep"]["x_values"] == [5, 10, 15]
    assert panel.value["sweep"]["y_values"] == [20, 30, 40]
    panel.sweep_button.click()
    panel.wait()
    assert panel.last_error is None
    table = panel.result["sweep"]
    assert table.height == 9
    grid = np.ma.filled(panel.heatmap_figure.axes[0].images[0].get_array(), np.nan)
    for i, slow in enumerate([20, 30, 40]):
        for j, fast in enumerate([5, 10, 15]):
            row = table.filter((pl.col("fast") == fast) & (pl.col("slow") == slow))
            assert grid[i, j] == pytest.approx(row["sharpe"].item(), nan_ok=True)
    # The (10, 30) cell is the single run's result.
    row = table.filter((pl.col("fast") == 10) & (pl.col("slow") == 30))
    assert row["total_return"].item() == pytest.approx(
        panel.result["stats"]["total_return"], rel=1e-9
    )
    assert panel.tabs.selected_index == 1
    assert table_rows(panel.sweep_table.value) == 5
    best = table["sharpe"].drop_nans().max()
    assert isinstance(best, float)
    assert f'<td style="padding:2px 6px;">{best:.6g}</td>' in panel.sweep_table.value


def test_backtest_panel_bad_choices_are_messages(catalog: Any, panel: BacktestPanel) -> None:
    panel.sweep_y.value = panel.sweep_x.value
    panel.run_sweep()
    assert "two different parameters" in html.unescape(panel.message.value)
    panel.picker.start.value = dt.date(2025, 1, 9)
    panel.picker.end.value = dt.date(2025, 1, 7)
    panel.run()
    assert "empty date range" in html.unescape(panel.message.value)
    other = BacktestPanel(catalog, strategy="martingale", symbol="DOGEUSDT", autorun=False)
    text = html.unescape(other.message.value)
    assert "unknown symbol 'DOGEUSDT'" in text and "unknown strategy 'martingale'" in text
    assert other.value["strategy"] == "sma_cross"


def test_backtest_panel_buttons_work_in_the_background(
    panel: BacktestPanel, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    calls: list[str] = []

    def slow_run() -> None:
        calls.append("run")
        release.wait(10)

    monkeypatch.setattr(panel, "run", slow_run)
    panel.run_button.click()  # returns at once: the kernel could serve other messages
    assert panel._worker is not None and panel._worker.is_alive()
    panel.run_button.click()
    assert "still working" in panel.message.value
    release.set()
    panel.wait(10)
    assert calls == ["run"] and not panel._worker.is_alive()


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("sma_cross", {"fast": 8, "slow": 21}),
        ("ema_cross", {"fast": 5, "slow": 20}),
        ("rsi_reversion", {"window": 10, "lower": 35, "upper": 65}),
        ("breakout", {"window": 12}),
    ],
)
def test_backtest_panel_and_research_report_trade_the_same_rule(
    catalog: Any, name: str, params: dict[str, int]
) -> None:
    from omni_research.reports._research import BACKTEST_DEFAULTS, run_research

    panel = BacktestPanel(
        catalog,
        strategy=name,
        symbol="BTCUSDT",
        timeframe="1h",
        start=START,
        end=END,
        autorun=False,
    )
    panel.slippage.value = BACKTEST_DEFAULTS["slippage"]
    assert panel.value["fee"] == BACKTEST_DEFAULTS["fee"]
    assert panel.value["cash"] == BACKTEST_DEFAULTS["cash"]
    for key, value in params.items():
        panel.param_controls[key].value = value
    panel.run()
    assert panel.last_error is None and panel.value["params"] == params
    research = run_research(
        catalog,
        symbols=["BTCUSDT"],
        start=START,
        end=END,
        timeframe="1h",
        strategy=name,
        params={**params, "funding": False},
        sweep_grid={k: [v] for k, v in params.items()},
    )
    ours = panel.result["trades"]
    assert ours.height > 0
    assert_frame_equal(ours, research.result.trades)
    assert panel.result["stats"] == research.result.stats()
