"""Equity/drawdown, returns distribution, sweep heatmap and quality timeline charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import matplotlib.dates as mdates
import numpy as np
import polars as pl
import pytest
from matplotlib.collections import PolyCollection

from omni_research.exceptions import ConfigurationError, DataFormatError
from omni_research.plotting import (
    figure_to_png,
    plot_equity,
    plot_quality_timeline,
    plot_returns_distribution,
    plot_sweep_heatmap,
    sweep_grid,
)

T0 = datetime(2025, 1, 6, tzinfo=UTC)


def _equity(n: int, seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    eq = 10_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, n)))
    ts = pl.datetime_range(
        T0, T0 + timedelta(minutes=n - 1), "1m", eager=True, time_zone="UTC"
    ).dt.cast_time_unit("us")
    return pl.DataFrame({"timestamp": ts, "equity": eq})


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_plot_equity_drawdown_equals_hand_running_peak(lazy: bool) -> None:
    eq = _equity(500)
    fig = plot_equity(eq.lazy() if lazy else eq)
    ax_eq, ax_dd = fig.axes
    np.testing.assert_allclose(ax_eq.get_lines()[0].get_ydata(), eq["equity"].to_numpy())
    values = eq["equity"].to_numpy()
    hand = (values / np.maximum.accumulate(values) - 1.0) * 100.0
    np.testing.assert_allclose(ax_dd.get_lines()[0].get_ydata(), hand, atol=1e-12)
    assert ax_dd.get_xlabel() == "time (UTC)"
    x0 = ax_eq.get_lines()[0].get_xdata()[0]
    assert x0 == pytest.approx(mdates.date2num(T0))


def test_plot_equity_uses_given_drawdown_and_accepts_result_objects() -> None:
    eq = _equity(50).with_columns(drawdown=pl.lit(-0.25))

    class Result:  # the shape of omni_research.backtest.BacktestResult
        equity = eq

    fig = plot_equity(Result())
    assert set(fig.axes[1].get_lines()[0].get_ydata()) == {-25.0}


def test_plot_equity_decimation_keeps_the_worst_drawdown() -> None:
    eq = _equity(100_000)
    fig = plot_equity(eq, max_points=2000)
    line = fig.axes[1].get_lines()[0]
    assert len(line.get_ydata()) <= 2000
    values = eq["equity"].to_numpy()
    worst = ((values / np.maximum.accumulate(values)) - 1.0).min() * 100.0
    assert line.get_ydata().min() == pytest.approx(worst)
    assert fig.axes[0].get_lines()[0].get_ydata()[-1] == pytest.approx(values[-1])
    assert figure_to_png(fig)[:4] == b"\x89PNG"


def test_plot_equity_rejects_empty_and_naive() -> None:
    with pytest.raises(ConfigurationError, match="empty"):
        plot_equity(_equity(3).clear())
    naive = _equity(3).with_columns(pl.col("timestamp").dt.replace_time_zone(None))
    with pytest.raises(DataFormatError, match="naive"):
        plot_equity(naive)


def test_plot_returns_distribution_lines_match_numpy() -> None:
    eq = _equity(3000)
    fig = plot_returns_distribution(eq)
    values = eq["equity"].to_numpy()
    r = (values[1:] / values[:-1] - 1.0) * 100.0
    ax = fig.axes[0]
    by_gid = {ln.get_gid(): ln for ln in ax.get_lines()}
    assert by_gid["mean"].get_xdata()[0] == pytest.approx(r.mean())
    assert by_gid["var5"].get_xdata()[0] == pytest.approx(np.quantile(r, 0.05))
    # The fitted normal integrates to ~1 over the data's range, like the density histogram.
    fit = by_gid["normal-fit"]
    area = np.trapezoid(fit.get_ydata(), fit.get_xdata())
    assert 0.95 < area <= 1.0
    stats = next(t for t in ax.texts if t.get_gid() == "stats").get_text()
    assert f"n={r.size:,}" in stats
    with pytest.raises(ConfigurationError, match="no finite returns"):
        plot_returns_distribution(pl.Series([float("nan")]))


def _sweep() -> pl.DataFrame:
    rows = [
        {"fast": f, "slow": s, "fee": fee, "sharpe": f / s - fee * 10}
        for f in (5, 10, 15)
        for s in (20, 40)
        for fee in (0.0, 0.01)
        if not (f == 15 and s == 40)  # a missing combination
    ]
    return pl.DataFrame(rows)


def test_sweep_heatmap_grid_equals_hand_pivot_with_best_over_other_params() -> None:
    sweep = _sweep()
    fig = plot_sweep_heatmap(sweep, x="fast", y="slow", metric="sharpe")
    grid = np.ma.filled(fig.axes[0].images[0].get_array(), np.nan)
    # Best sharpe over the fee values is at fee 0: fast/slow.
    want = np.array([[5 / 20, 10 / 20, 15 / 20], [5 / 40, 10 / 40, np.nan]])
    np.testing.assert_allclose(grid, want, equal_nan=True)
    xs, ys, mean_grid = sweep_grid(sweep, x="fast", y="slow", metric="sharpe", agg="mean")
    assert (xs, ys) == ([5, 10, 15], [20, 40])
    assert mean_grid[0, 0] == pytest.approx(5 / 20 - 0.05)
    best = next(c for c in fig.axes[0].collections if c.get_gid() == "best")
    assert best.get_offsets().tolist() == [[2.0, 0.0]]
    assert "fast=15, slow=20" in fig.get_suptitle()
    with pytest.raises(DataFormatError, match="missing column"):
        plot_sweep_heatmap(sweep, x="fast", y="slow", metric="sortino")
    with pytest.raises(ConfigurationError, match="must differ"):
        plot_sweep_heatmap(sweep, x="fast", y="fast", metric="sharpe")


def test_quality_timeline_one_span_per_finding_coloured_by_severity() -> None:
    findings = pl.DataFrame(
        {
            "dataset": ["historical/ohlcv", "historical/ohlcv", "historical/trades"],
            "symbol": ["SOLUSDT", "BTCUSDT", "SOLUSDT"],
            "check": ["gaps", "duplicates", "gaps"],
            "severity": ["warning", "error", "info"],
            "first_timestamp": [T0, T0 + timedelta(days=1), T0],
            "last_timestamp": [T0 + timedelta(hours=2), T0 + timedelta(days=1), T0],
            "count": [3, 1, 5],
        }
    )
    fig = plot_quality_timeline(findings.lazy())
    ax = fig.axes[0]
    spans = next(c for c in ax.collections if c.get_gid() == "findings")
    assert isinstance(spans, PolyCollection)
    paths = spans.get_paths()
    assert len(paths) == 3
    assert paths[0].vertices[:, 0].min() == pytest.approx(mdates.date2num(T0))
    assert paths[0].vertices[:, 0].max() == pytest.approx(mdates.date2num(T0 + timedelta(hours=2)))
    assert paths[2].vertices[:, 0].max() > paths[2].vertices[:, 0].min()  # instants stay visible
    colors = [tuple(np.round(c[:3], 3)) for c in spans.get_facecolors()]
    assert colors[1] == (0.898, 0.224, 0.208)  # error red (#e53935)
    labels = sorted(t.get_text() for t in ax.get_yticklabels())
    assert labels == sorted(
        [
            "historical/ohlcv SOLUSDT gaps",
            "historical/ohlcv BTCUSDT duplicates",
            "historical/trades SOLUSDT gaps",
        ]
    )
    empty = plot_quality_timeline(findings.clear())
    assert "no findings" in empty.get_suptitle()
