"""Candlestick chart: candle geometry, display aggregation, indicator placement, UTC axis."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import matplotlib.dates as mdates
import numpy as np
import polars as pl
import pytest
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure

from omni_research.exceptions import ConfigurationError, DataFormatError
from omni_research.indicators._registry import Indicator
from omni_research.plotting import aggregate_for_display, figure_to_png, plot_candles, plot_trades

BarsFactory = Callable[..., pl.DataFrame]


def _collection(fig: Figure, gid: str, ax_index: int = 0) -> PolyCollection | LineCollection:
    found = [c for c in fig.axes[ax_index].collections if c.get_gid() == gid]
    assert len(found) == 1, f"expected one {gid!r} collection"
    coll = found[0]
    assert isinstance(coll, PolyCollection | LineCollection)
    return coll


def _local_sma(placement: str = "overlay") -> Indicator:
    # A registry-shaped indicator built here, so the test does not depend on family modules.
    return Indicator(
        name="local_sma",
        family="trend",
        inputs=("close",),
        params={"window": 20},
        outputs={"local_sma": lambda c, window: pl.col(c).rolling_mean(window)},
        warmup=lambda window: window - 1,
        ta_reference="test",
        placement=placement,  # type: ignore[arg-type]
    )


def _hand_sma(close: np.ndarray, window: int) -> np.ndarray:
    out = np.full(close.shape, np.nan)
    csum = np.cumsum(np.r_[0.0, close])
    out[window - 1 :] = (csum[window:] - csum[:-window]) / window
    return out


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_plot_candles_small_frame_draws_one_candle_per_bar(
    make_bars: BarsFactory, lazy: bool
) -> None:
    bars = make_bars(120)
    fig = plot_candles(bars.lazy() if lazy else bars)
    bodies = _collection(fig, "candles")
    paths = bodies.get_paths()
    assert len(paths) == 120
    # Body of bar 7 spans open..close; its wick spans low..high.
    row = bars.row(7, named=True)
    ys = paths[7].vertices[:4, 1]
    assert ys.min() == pytest.approx(min(row["open"], row["close"]))
    assert ys.max() == pytest.approx(max(row["open"], row["close"]))
    wick = _collection(fig, "wicks").get_segments()[7]
    assert sorted(wick[:, 1]) == pytest.approx([row["low"], row["high"]])
    # Candles sit in their interval: centre = open time + half a minute, in UTC date numbers.
    centre = float(np.mean(paths[7].vertices[:4, 0]))
    expected = mdates.date2num(row["timestamp"]) + 0.5 / 1440
    assert centre == pytest.approx(expected, abs=1e-9)
    assert [ax.get_ylabel() for ax in fig.axes] == ["price", "volume"]
    vol = _collection(fig, "volume", 1).get_paths()[7].vertices[:4, 1]
    assert vol.max() == pytest.approx(row["volume"])


def test_plot_candles_overlay_line_equals_hand_rolling_mean(make_bars: BarsFactory) -> None:
    bars = make_bars(300)
    fig = plot_candles(bars, indicators=[(_local_sma(), {"window": 30})])
    (line,) = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == "local_sma(30)"]
    expected = _hand_sma(bars.get_column("close").to_numpy(), 30)
    np.testing.assert_allclose(line.get_ydata(), expected, rtol=1e-10, equal_nan=True)
    assert len(fig.axes) == 2  # an overlay adds no panel


def test_plot_candles_registry_sma_by_name_matches_hand_mean(
    make_bars: BarsFactory, registry_loaded: None
) -> None:
    from omni_research.indicators import registry

    assert registry()["sma"].placement == "overlay"
    bars = make_bars(200)
    fig = plot_candles(bars, indicators={"sma": {"window": 15}})
    (line,) = fig.axes[0].get_lines()
    expected = _hand_sma(bars.get_column("close").to_numpy(), 15)
    np.testing.assert_allclose(line.get_ydata(), expected, rtol=1e-10, equal_nan=True)


def test_plot_candles_places_panel_indicators_in_their_own_axes(
    make_bars: BarsFactory, registry_loaded: None
) -> None:
    from omni_research.indicators import registry

    reg = registry()
    assert reg["macd"].placement == "panel"
    assert reg["bollinger"].placement == "overlay"
    bars = make_bars(400)
    fig = plot_candles(bars, indicators=["bollinger", "macd"])
    assert [ax.get_ylabel() for ax in fig.axes] == ["price", "volume", "macd"]
    price_labels = sorted(ln.get_label() for ln in fig.axes[0].get_lines())
    # Bands go on price; width, %B and the 0/1 flags are not price-scale lines.
    assert price_labels == [f"bollinger(20, 2) {o}" for o in ("hband", "lband", "mavg")]
    macd_lines = {ln.get_label().split()[-1]: ln for ln in fig.axes[2].get_lines()}
    assert set(macd_lines) == set(reg["macd"].outputs)
    assert len(macd_lines) == 3
    close = bars.get_column("close").to_pandas()
    ema12 = close.ewm(span=12, adjust=False).mean()
    ema26 = close.ewm(span=26, adjust=False).mean()
    got = macd_lines[next(iter(reg["macd"].outputs))].get_ydata()
    want = (ema12 - ema26).to_numpy()
    ok = np.isfinite(got)
    assert ok.sum() > 300
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-9, atol=1e-12)


def test_plot_candles_100k_bars_aggregates_to_bounded_buckets(make_bars: BarsFactory) -> None:
    bars = make_bars(100_000)
    t0 = time.perf_counter()
    fig = plot_candles(bars, indicators=[_local_sma(), _local_sma("panel")], max_candles=1500)
    png = figure_to_png(fig)
    elapsed = time.perf_counter() - t0
    assert png[:4] == b"\x89PNG"
    assert elapsed < 20.0
    # 1h would give 1,668 buckets (> 1500), so the chart picks 2h buckets.
    expected = bars.select(pl.col("timestamp").dt.truncate("2h").n_unique()).item()
    assert len(_collection(fig, "candles").get_paths()) == expected <= 1500
    assert "2h candles from 100,000 bars" in fig.get_suptitle()
    # The artist count does not grow with the number of bars.
    small = plot_candles(make_bars(1000), indicators=[_local_sma(), _local_sma("panel")])
    assert len(fig.findobj()) <= len(small.findobj()) + 40
    assert len(fig.findobj()) < 400
    # Each bucket's candle is the bucket's OHLC; its overlay point is the value at its close.
    hand = (
        bars.with_columns(sma=pl.col("close").rolling_mean(20))
        .group_by(pl.col("timestamp").dt.truncate("2h"), maintain_order=True)
        .agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col("sma").last(),
        )
        .sort("timestamp")
    )
    wicks = _collection(fig, "wicks").get_segments()
    np.testing.assert_allclose([w[:, 1].min() for w in wicks], hand["low"].to_numpy())
    np.testing.assert_allclose([w[:, 1].max() for w in wicks], hand["high"].to_numpy())
    (line,) = fig.axes[0].get_lines()
    np.testing.assert_allclose(line.get_ydata(), hand["sma"].to_numpy(), equal_nan=True)


def test_aggregate_for_display_keeps_small_frames_and_picks_nice_bucket(
    make_bars: BarsFactory,
) -> None:
    bars = make_bars(6000)
    same, width, name = aggregate_for_display(bars, max_candles=6000)
    assert same.height == 6000 and width == timedelta(minutes=1) and name == "1m"
    out, width, name = aggregate_for_display(bars, max_candles=500)
    assert (name, width) == ("15m", timedelta(minutes=15))
    assert out.height == 400
    assert out["volume"].sum() == pytest.approx(bars["volume"].sum())


def test_plot_candles_time_axis_is_utc_whatever_the_matplotlib_timezone(
    make_bars: BarsFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import matplotlib

    monkeypatch.setitem(matplotlib.rcParams, "timezone", "Asia/Tokyo")
    fig = plot_candles(make_bars(300))
    ax = fig.axes[-1]
    assert ax.get_xlabel() == "time (UTC)"
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    # Bars run 00:00-04:59 UTC on 2025-01-06; in Tokyo time the ticks would read 09:00...
    assert "01:00" in labels and "09:00" not in labels


def test_plot_trades_marks_fills_and_round_trips_at_their_time_and_price(
    make_bars: BarsFactory,
) -> None:
    bars = make_bars(240)
    picks = bars.gather([10, 50, 200])
    fills = picks.select(
        "timestamp", pl.Series("side", ["buy", "sell", "buy"]), pl.col("close").alias("price")
    )
    fig = plot_trades(bars, fills)
    buys = next(c for c in fig.axes[0].collections if c.get_gid() == "trades-buy")
    sells = next(c for c in fig.axes[0].collections if c.get_gid() == "trades-sell")
    want_x = mdates.date2num(picks["timestamp"].gather([0, 2]).to_list())
    np.testing.assert_allclose(buys.get_offsets()[:, 0], want_x)
    np.testing.assert_allclose(buys.get_offsets()[:, 1], picks["close"].gather([0, 2]))
    assert sells.get_offsets().shape == (1, 2)

    round_trips = pl.DataFrame(
        {
            "entry_time": picks["timestamp"].gather([0]),
            "entry_price": [1.0],
            "exit_time": picks["timestamp"].gather([1]),
            "exit_price": [2.0],
            "size": [-3.0],  # a short: sold at entry, bought back at exit
        }
    )
    fig = plot_trades(bars, round_trips)
    buys = next(c for c in fig.axes[0].collections if c.get_gid() == "trades-buy")
    sells = next(c for c in fig.axes[0].collections if c.get_gid() == "trades-sell")
    assert buys.get_offsets()[:, 1].tolist() == [2.0]
    assert sells.get_offsets()[:, 1].tolist() == [1.0]


def test_plot_candles_bad_inputs_raise_kit_errors(make_bars: BarsFactory) -> None:
    two = pl.concat([make_bars(50), make_bars(50, symbol="ETHUSDT", seed=1)])
    with pytest.raises(ConfigurationError, match="2 symbols"):
        plot_candles(two)
    with pytest.raises(ConfigurationError, match="unknown symbol 'XRPUSDT'"):
        plot_candles(two, symbol="XRPUSDT")
    assert len(_collection(plot_candles(two, symbol="ETHUSDT"), "candles").get_paths()) == 50
    with pytest.raises(ConfigurationError, match="no bars to draw"):
        plot_candles(make_bars(10).clear())
    naive = make_bars(10).with_columns(pl.col("timestamp").dt.replace_time_zone(None))
    with pytest.raises(DataFormatError, match="naive"):
        plot_candles(naive)
    with pytest.raises(DataFormatError, match="missing column"):
        plot_candles(make_bars(10).drop("high"))
    with pytest.raises(ConfigurationError, match="unknown parameter"):
        plot_candles(make_bars(10), indicators=[(_local_sma(), {"windw": 3})])
