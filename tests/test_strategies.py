"""omni_research.strategies: one table of rules, checked against independent references."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pytest
import ta

import omni_research.strategies as st
from omni_research.backtest import run, sweep
from omni_research.exceptions import ConfigurationError
from omni_research.strategies import STRATEGIES, Strategy, get_strategy, strategy_signal


def _bars(close: np.ndarray, *, spread: float = 0.5) -> pl.DataFrame:
    n = close.size
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    return pl.DataFrame(
        {
            "timestamp": [start + dt.timedelta(hours=i) for i in range(n)],
            "symbol": "BTCUSDT",
            "open": np.r_[close[0], close[:-1]],
            "high": close + spread,
            "low": close - spread,
            "close": close,
            "volume": np.ones(n),
        }
    )


def _walk(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))


def _sma(close: np.ndarray, w: int) -> np.ndarray:
    out = np.full(close.shape, np.nan)
    out[w - 1 :] = np.convolve(close, np.ones(w) / w, mode="valid")
    return out


def _ema(close: np.ndarray, w: int) -> np.ndarray:
    # ta's EMAIndicator: pandas ewm(span=w, adjust=False, min_periods=w).
    return pd.Series(close).ewm(span=w, adjust=False, min_periods=w).mean().to_numpy()


def _cross_ref(f: np.ndarray, s: np.ndarray, short: float) -> np.ndarray:
    out = np.where(f > s, 1.0, np.where(f < s, short, 0.0))
    out[np.isnan(f) | np.isnan(s)] = np.nan  # warm-up: no target (the backtest starts flat)
    return out


def _signal(bars: pl.DataFrame, expr: pl.Expr) -> np.ndarray:
    return bars.select(expr.alias("s")).to_series().fill_null(np.nan).to_numpy()


def test_one_table_everywhere() -> None:
    import omni_research.widgets as widgets
    from omni_research.reports import _research

    assert widgets.STRATEGIES is STRATEGIES is _research.STRATEGIES
    assert widgets.Strategy is Strategy and widgets.strategy_signal is strategy_signal
    assert sorted(STRATEGIES) == ["breakout", "ema_cross", "rsi_reversion", "sma_cross"]
    for name, strat in STRATEGIES.items():
        assert strat.name == name and strat.description
        assert set(strat.bounds) == set(strat.defaults) == set(strat.grid)
        assert set(strat.sweep_axes) <= set(strat.defaults)
        for p, (lo, hi) in strat.bounds.items():
            assert lo <= strat.defaults[p] <= hi
            assert all(lo <= v <= hi for v in strat.grid[p]), (name, p)
        for a, b in strat.ordered:
            assert strat.defaults[a] < strat.defaults[b]
            assert max(strat.grid[a]) < min(strat.grid[b])


@pytest.mark.parametrize("allow_short", [True, False])
def test_sma_cross_matches_hand_rule_flat_on_ties_and_in_warm_up(allow_short: bool) -> None:
    # A flat stretch makes both averages equal (a tie) after a trend had them apart.
    close = np.r_[_walk(80, 1), np.full(40, 100.0), _walk(80, 2)]
    bars = _bars(close)
    ours = _signal(
        bars, strategy_signal("sma_cross", {"fast": 5, "slow": 20}, allow_short=allow_short)
    )
    short = -1.0 if allow_short else 0.0
    hand = _cross_ref(_sma(close, 5), _sma(close, 20), short)
    # Rolling sums round differently: compare exactly away from the tie tolerance.
    f, s = _sma(close, 5), _sma(close, 20)
    rel = np.abs(f - s) / np.abs(s)
    clear = (rel > 100 * st.TIE_TOLERANCE) | np.isnan(s)
    np.testing.assert_array_equal(ours[clear], hand[clear])
    tie = rel < 1e-12  # equal in exact arithmetic: the flat stretch
    assert tie.sum() >= 15
    assert (ours[tie] == 0.0).all()  # ties are flat, never short
    assert clear.sum() + tie.sum() == close.size
    assert np.isnan(ours[:19]).all() and not np.isnan(ours[19:]).any()


def test_ema_cross_matches_ta_ema() -> None:
    close = _walk(300, 3)
    bars = _bars(close)
    ours = _signal(bars, STRATEGIES["ema_cross"].signal({"fast": 8, "slow": 21}))
    hand = _cross_ref(_ema(close, 8), _ema(close, 21), -1.0)
    np.testing.assert_array_equal(ours, hand)


def test_rsi_reversion_matches_ta_rsi_thresholds() -> None:
    close = _walk(400, 4)
    bars = _bars(close)
    ours = _signal(bars, STRATEGIES["rsi_reversion"].signal({"window": 10, "lower": 35}))
    rsi = ta.momentum.RSIIndicator(pd.Series(close), window=10).rsi().to_numpy()
    hand = np.where(rsi < 35, 1.0, np.where(rsi > 70, -1.0, np.nan))
    hand[np.isnan(rsi)] = np.nan
    clear = ~(np.isclose(rsi, 35, atol=1e-9) | np.isclose(rsi, 70, atol=1e-9))
    np.testing.assert_array_equal(ours[clear], hand[clear])
    assert (ours == 1.0).any() and (ours == -1.0).any()


def test_breakout_reads_the_prior_window_only() -> None:
    close = _walk(300, 5)
    bars = _bars(close)
    w = 15
    ours = _signal(bars, STRATEGIES["breakout"].signal({"window": w}, allow_short=False))
    high, low = close + 0.5, close - 0.5
    hand = np.full(close.size, np.nan)
    for t in range(w, close.size):
        if close[t] > high[t - w : t].max():
            hand[t] = 1.0
        elif close[t] < low[t - w : t].min():
            hand[t] = 0.0
    np.testing.assert_array_equal(ours, hand)


def test_warm_up_holds_no_position_and_ties_close_the_trade() -> None:
    close = np.r_[np.linspace(100.0, 130.0, 60), np.full(40, 130.0)]
    bars = _bars(close)
    res = run(bars, strategy_signal("sma_cross", {"fast": 3, "slow": 10}))
    pos = res.positions["size"].to_numpy()
    # The first target exists at bar 9 (the slow average's first value); filled at the next
    # open: no position before bar 10.
    assert (pos[:10] == 0.0).all() and pos[10] > 0
    # On the flat stretch the averages meet (a tie): flat, not short.
    assert pos[-1] == 0.0
    assert res.trades.height == 1 and (res.trades["size"] > 0).all()


def test_builder_is_what_sweep_runs() -> None:
    bars = _bars(_walk(300, 6))
    strat = STRATEGIES["sma_cross"]
    table = sweep(bars, strat.builder(allow_short=False), {"fast": [3, 5], "slow": [20, 30]})
    for row in table.iter_rows(named=True):
        one = run(bars, strat.signal({"fast": row["fast"], "slow": row["slow"]}, allow_short=False))
        assert row["total_return"] == pytest.approx(one.stats()["total_return"], rel=1e-12)


def test_params_are_checked() -> None:
    strat = get_strategy("sma_cross")
    assert strat.params() == {"fast": 10, "slow": 30}
    assert strat.params({"slow": np.int64(40)}) == {"fast": 10, "slow": 40}
    with pytest.raises(ConfigurationError, match=r"unknown parameter\(s\) \['window'\]"):
        strat.params({"window": 3})
    assert strat.params({"fast": 12.0, "slow": np.float64(40.0)}) == {"fast": 12, "slow": 40}
    with pytest.raises(ConfigurationError, match="must be an integer"):
        strat.params({"fast": 2.5})
    with pytest.raises(ConfigurationError, match="must be an integer"):
        strat.params({"fast": "5"})
    with pytest.raises(ConfigurationError, match="must be an integer"):
        strat.params({"fast": True})
    with pytest.raises(ConfigurationError, match="must be >= 1"):
        strat.params({"fast": 0})
    with pytest.raises(ConfigurationError, match="unknown strategy 'nope'"):
        strategy_signal("nope", {})
    assert strat.indicators({"fast": 4}) == [("sma", {"window": 4}), ("sma", {"window": 30})]
    assert st.__all__ == [
        "STRATEGIES",
        "TIE_TOLERANCE",
        "Strategy",
        "get_strategy",
        "strategy_signal",
    ]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_is_look_ahead_free(name: str) -> None:
    from omni_research.backtest import lookahead_check

    bars = _bars(_walk(400, 7))
    strat = STRATEGIES[name]
    small = {k: lo for k, (lo, _hi) in strat.bounds.items()}
    for params in (strat.defaults, {**small, **{b: strat.defaults[b] for _a, b in strat.ordered}}):
        report = lookahead_check(strat.signal(params), bars, cuts=15)
        assert report.ok, report.findings
