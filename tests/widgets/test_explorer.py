"""MarketExplorer driven through its controls, checked against hand computations."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import numpy as np
import polars as pl
import pytest

from omni_research.widgets import CandleChart, MarketExplorer


def _hand_resample(bars: pl.DataFrame, every: str) -> pl.DataFrame:
    return (
        bars.sort("timestamp")
        .group_by_dynamic("timestamp", every=every)
        .agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
        )
    )


def _chart(ex: MarketExplorer) -> CandleChart:
    assert ex.price_chart is not None
    return ex.price_chart


def test_market_explorer_defaults_draw_the_whole_range_as_15m_candles(
    catalog: Any, btc_1m: pl.DataFrame
) -> None:
    ex = MarketExplorer(catalog)
    assert ex.last_error is None
    v = ex.value
    assert (v["symbol"], v["timeframe"]) == ("BTCUSDT", "15m")
    assert v["start"] == dt.datetime(2025, 1, 6, tzinfo=dt.UTC)
    assert v["end"] == dt.datetime(2025, 1, 13, tzinfo=dt.UTC)
    hand = _hand_resample(btc_1m, "15m")
    assert ex.result is not None and ex.result.height == hand.height == 7 * 96
    np.testing.assert_allclose(ex.result["close"].to_numpy(), hand["close"].to_numpy())
    # the chart shows the whole range, every 15m candle (672 <= 1500), exactly the hand's
    chart = _chart(ex)
    assert chart.visible_range == (v["start"], v["end"])
    assert chart.timeframe == "15m" and chart.candles.height == hand.height
    for c in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(chart.candles[c].to_numpy(), hand[c].to_numpy(), c)


def test_market_explorer_indicator_slider_redraws_hand_sma(
    catalog: Any, btc_1m: pl.DataFrame
) -> None:
    ex = MarketExplorer(catalog, timeframe="1h")
    assert _chart(ex).series == []
    ex.indicators.value = ("sma",)
    assert set(ex.param_controls) == {"sma"}
    ex.param_controls["sma"]["window"].value = 24
    assert ex.value["indicators"] == {"sma": {"window": 24}}
    close = _hand_resample(btc_1m, "1h")["close"].to_numpy()
    hand = np.full(close.shape, np.nan)
    hand[23:] = np.convolve(close, np.ones(24) / 24, mode="valid")
    chart = _chart(ex)
    assert chart.series == [{"name": "sma(24)", "panel": "price"}]  # drawn over the candles
    np.testing.assert_allclose(chart.candles["sma(24)"], hand, rtol=1e-10, equal_nan=True)
    np.testing.assert_allclose(ex.result["sma"].to_numpy(), hand, rtol=1e-10, equal_nan=True)
    # A panel indicator gets its own panel under price and volume; the zoom is kept.
    chart.zoom("2025-01-08", "2025-01-09")
    ex.indicators.value = ("sma", "macd")
    assert ex.price_chart is chart
    assert {s["panel"] for s in chart.series} == {"price", "macd"}
    assert [s["name"] for s in chart.series if s["panel"] == "macd"] == [
        "macd(26, 12, 9) macd",
        "macd(26, 12, 9) signal",
        "macd(26, 12, 9) diff",
    ]
    assert chart.visible_range == (
        dt.datetime(2025, 1, 8, tzinfo=dt.UTC),
        dt.datetime(2025, 1, 9, tzinfo=dt.UTC),
    )
    assert chart.candles.height == 24
    assert ex.value["indicators"]["sma"] == {"window": 24}  # kept across reselection


def test_market_explorer_symbol_and_dates_change_the_data(catalog: Any) -> None:
    ex = MarketExplorer(catalog, timeframe="5m")
    ex.picker.symbol.value = "SOLUSDT"
    ex.picker.start.value = dt.date(2025, 1, 8)
    ex.picker.end.value = dt.date(2025, 1, 8)
    assert ex.last_error is None
    sol = catalog.load("ohlcv", symbols="SOLUSDT", start="2025-01-08", end="2025-01-09T00:00Z")
    hand = _hand_resample(sol, "5m")
    assert ex.result is not None
    assert ex.result["symbol"].unique().to_list() == ["SOLUSDT"]
    # The outage (7 missing minutes from 13:00) leaves one 5m bucket empty: 287, not 288.
    assert ex.result.height == hand.height == 287
    assert _chart(ex).candles.height == 287 and _chart(ex).timeframe == "5m"
    assert _chart(ex).candles["timestamp"].to_list() == hand["timestamp"].to_list()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"symbol": "XRPUSDT"}, "unknown symbol 'XRPUSDT'"),
        ({"indicators": ["nosuch"]}, "unknown indicator 'nosuch'"),
        ({"timeframe": "7m"}, "timeframe '7m' is not offered"),
    ],
)
def test_market_explorer_bad_initial_choice_is_a_message(
    catalog: Any, kwargs: dict[str, Any], message: str
) -> None:
    ex = MarketExplorer(catalog, **kwargs)
    assert message in html.unescape(ex.message.value)
    assert ex.result is not None  # it still shows a chart of a valid fallback
    assert ex.value["symbol"] == "BTCUSDT"


def test_market_explorer_empty_range_shows_message_not_traceback(catalog: Any) -> None:
    ex = MarketExplorer(catalog)
    ex.picker.start.value = dt.date(2025, 1, 10)
    ex.picker.end.value = dt.date(2025, 1, 8)
    assert "empty date range" in html.unescape(ex.message.value)
    ex.picker.start.value = dt.date(2025, 2, 1)
    ex.picker.end.value = dt.date(2025, 2, 3)
    assert "no ohlcv bars for BTCUSDT" in html.unescape(ex.message.value)
    assert "the data covers 2025-01-06 00:00" in html.unescape(ex.message.value)
    # Back to a valid range clears the message.
    ex.picker.start.value = dt.date(2025, 1, 7)
    ex.picker.end.value = dt.date(2025, 1, 7)
    assert ex.message.value == ""
    assert ex.result is not None and ex.result.height == 96


def test_widget_end_date_includes_its_day_and_a_timestamp_end_excludes_itself(
    catalog: Any, btc_1m: pl.DataFrame
) -> None:
    from omni_research.widgets import BacktestPanel

    day = dt.datetime(2025, 1, 8, tzinfo=dt.UTC)
    next_day = day + dt.timedelta(days=1)
    whole = btc_1m.filter((pl.col("timestamp") >= day) & (pl.col("timestamp") < next_day))
    assert whole.height == 1440
    for end in (dt.date(2025, 1, 8), "2025-01-08", "2025-01-09T00:00Z", next_day):
        ex = MarketExplorer(catalog, timeframe="1m", start=dt.date(2025, 1, 8), end=end)
        assert ex.last_error is None, end
        assert ex.picker.end.value == dt.date(2025, 1, 8)  # "to (incl.)" shows the 8th
        assert (ex.value["start"], ex.value["end"]) == (day, next_day)
        assert ex.result is not None
        assert ex.result["timestamp"].to_list() == whole["timestamp"].to_list(), end
    # An end with a time of day excludes its own bar, on every widget built on the picker.
    noon = day + dt.timedelta(hours=12)
    ex = MarketExplorer(catalog, timeframe="1m", start="2025-01-08", end="2025-01-08T12:00Z")
    assert ex.last_error is None and ex.result is not None
    assert ex.value["end"] == noon and ex.picker.end.value == dt.date(2025, 1, 8)
    assert ex.result["timestamp"].to_list() == whole["timestamp"].to_list()[:720]
    assert ex.result["timestamp"].max() == noon - dt.timedelta(minutes=1)
    panel = BacktestPanel(catalog, timeframe="1h", start=day, end=noon, autorun=False)
    hours = panel.picker.load()["timestamp"]
    assert hours.to_list() == [day + dt.timedelta(hours=h) for h in range(12)]
    # Touching a date picker goes back to whole days.
    ex.picker.end.value = dt.date(2025, 1, 9)
    assert ex.value["end"] == next_day + dt.timedelta(days=1)
    assert ex.result["timestamp"].max() == next_day + dt.timedelta(hours=23, minutes=59)
    # A value the kit's parser refuses is a message, not a traceback.
    bad = MarketExplorer(catalog, end=dt.datetime(2025, 1, 8))  # noqa: DTZ001 (naive: refused)
    assert "naive" in html.unescape(bad.message.value)
    assert bad.value["end"] == dt.datetime(2025, 1, 13, tzinfo=dt.UTC)
