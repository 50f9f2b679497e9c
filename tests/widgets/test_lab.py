"""IndicatorLab: expression parsing, sliders, and signal statistics against numpy."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import polars as pl
import pytest

from omni_research.exceptions import ConfigurationError
from omni_research.widgets import IndicatorLab, parse_expression


def _hand_stats(close: np.ndarray, ind: np.ndarray, on: np.ndarray, h: int) -> dict[str, float]:
    fwd = np.full(close.shape, np.nan)
    fwd[:-h] = close[h:] / close[:-h] - 1.0
    valid = np.isfinite(fwd) & np.isfinite(ind)
    sig = on & valid
    return {
        "n_bars": int(valid.sum()),
        "n_signal": int(sig.sum()),
        "hit_rate": float((fwd[sig] > 0).mean()),
        "mean_forward_return": float(fwd[sig].mean()),
        "mean_forward_return_off": float(fwd[valid & ~on].mean()),
        "baseline_forward_return": float(fwd[valid].mean()),
    }


def _sma(close: np.ndarray, w: int) -> np.ndarray:
    out = np.full(close.shape, np.nan)
    out[w - 1 :] = np.convolve(close, np.ones(w) / w, mode="valid")
    return out


def _assert_stats(got: dict[str, Any], want: dict[str, float]) -> None:
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-9), key


@pytest.fixture
def btc(btc_1m: pl.DataFrame) -> pl.DataFrame:
    return btc_1m.head(3000)


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_indicator_lab_sma_price_above_stats_match_numpy(btc: pl.DataFrame, lazy: bool) -> None:
    lab = IndicatorLab(btc.lazy() if lazy else btc, expression="sma(window=30)")
    assert lab.last_error is None
    assert lab.value["rule"] == "price above"  # an overlay compares with price by default
    close = btc["close"].to_numpy()
    ind = _sma(close, 30)
    _assert_stats(lab.result, _hand_stats(close, ind, close > np.nan_to_num(ind, nan=np.inf), 10))
    chart = lab.price_chart
    assert chart is not None and chart.series == [{"name": "sma(30)", "panel": "price"}]
    # 3000 one-minute bars: 3m candles (1000), each showing the sma at its last minute
    assert chart.timeframe == "3m" and chart.candles.height == 1000
    np.testing.assert_allclose(chart.candles["sma(30)"], ind[2::3], rtol=1e-10, equal_nan=True)


def test_indicator_lab_slider_updates_expression_and_stats(btc: pl.DataFrame) -> None:
    lab = IndicatorLab(btc, expression="sma(window=30)")
    chart = lab.price_chart
    assert chart is not None
    chart.zoom(btc["timestamp"][0], btc["timestamp"][500])
    lab.param_controls["window"].value = 45
    assert lab.expression.value == "sma(window=45)"
    lab.horizon.value = 5
    close = btc["close"].to_numpy()
    ind = _sma(close, 45)
    _assert_stats(lab.result, _hand_stats(close, ind, close > np.nan_to_num(ind, nan=np.inf), 5))
    # the chart follows the slider, keeps the user's zoom, and marks the signal's onsets
    assert lab.price_chart is chart and chart.series == [{"name": "sma(45)", "panel": "price"}]
    assert chart.visible_range == (btc["timestamp"][0], btc["timestamp"][500])
    assert chart.candles.height == 500 and chart.timeframe == "1m"
    np.testing.assert_allclose(chart.candles["sma(45)"], ind[:500], rtol=1e-10, equal_nan=True)
    above = close > np.nan_to_num(ind, nan=np.inf)
    onsets = btc["timestamp"].to_numpy()[above & ~np.r_[False, above[:-1]]]
    assert chart.markers["timestamp"].to_numpy().tolist() == onsets.tolist()
    assert set(chart.markers["side"]) == {"buy"}
    assert lab.value["params"] == {"window": 45}
    # The stats table shows the same numbers.
    assert f"{lab.result['hit_rate']:.6g}" in lab.stats.value


def test_indicator_lab_typed_expression_threshold_rule_matches_numpy(
    btc: pl.DataFrame,
) -> None:
    lab = IndicatorLab(btc)
    lab.expression.value = "bollinger(window=40, window_dev=1.5)"
    assert lab.last_error is None
    assert lab.param_controls["window"].value == 40
    assert lab.param_controls["window_dev"].value == 1.5
    lab.output.value = "pband"
    lab.rule.value = "above threshold"
    lab.threshold.value = 0.8
    c = btc["close"].to_numpy()
    mid = _sma(c, 40)
    sd = np.array(
        [c[i - 39 : i + 1].std() if i >= 39 else np.nan for i in range(len(c))]
    )  # population standard deviation, as ta's Bollinger
    pband = (c - (mid - 1.5 * sd)) / (3.0 * sd)
    on = np.nan_to_num(pband, nan=-np.inf) > 0.8
    _assert_stats(lab.result, _hand_stats(c, pband, on, 10))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nosuch", "unknown indicator 'nosuch'"),
        ("sma(windw=3)", "unknown parameter(s) ['windw']"),
        ("sma(", "cannot read 'sma('"),
        ("sma(window=x)", "must be a number"),
    ],
)
def test_indicator_lab_bad_expression_is_a_message_and_keeps_state(
    btc: pl.DataFrame, text: str, message: str
) -> None:
    lab = IndicatorLab(btc, expression="sma(window=30)")
    before = dict(lab.result)
    lab.expression.value = text
    assert message in html.unescape(lab.message.value)
    assert lab.result == before
    assert lab.value["indicator"] == "sma"


def test_parse_expression_reads_literals_without_evaluating() -> None:
    assert parse_expression(" rsi ") == ("rsi", {})
    assert parse_expression("macd(window_fast=8, window_slow=21)") == (
        "macd",
        {"window_fast": 8, "window_slow": 21},
    )
    with pytest.raises(ConfigurationError, match="expected name"):
        parse_expression("__import__('os').system('true')")
    with pytest.raises(ConfigurationError, match="type an indicator"):
        parse_expression("  ")


def test_indicator_lab_several_symbols_shows_a_picker(catalog: Any) -> None:
    bars = catalog.load("ohlcv", start="2025-01-06", end="2025-01-07T00:00Z")
    lab = IndicatorLab(bars, expression="sma")
    assert lab.symbol.options == ("BTCUSDT", "ETHUSDT", "SOLUSDT")
    lab.symbol.value = "SOLUSDT"
    sol = bars.filter(pl.col("symbol") == "SOLUSDT")
    assert lab.result["n_bars"] == sol.height - 11 - 10  # warm-up of sma(12), horizon 10
    assert lab.value["symbol"] == "SOLUSDT"


def test_widgets_leave_ta_output_switches_alone(btc: pl.DataFrame, catalog: Any) -> None:
    from omni_research.widgets import MarketExplorer

    lab = IndicatorLab(btc, expression="sma(window=20)")
    assert set(lab.param_controls) == {"window"}
    before = dict(lab.result)
    lab.expression.value = "sma(window=20, fillna=True)"
    assert "fillna" in html.unescape(lab.message.value)
    assert lab.result == before and lab.value["params"] == {"window": 20}
    ex = MarketExplorer(catalog, timeframe="1h", indicators=["sma", "volume_price_trend"])
    assert ex.value["indicators"] == {"sma": {"window": 12}, "volume_price_trend": {}}
