"""BacktestPanel: strategy, parameters and fees, run button, equity, metrics, trades, sweep."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping
from typing import Any

import polars as pl

from omni_research._time import TimeLike
from omni_research.exceptions import ConfigurationError
from omni_research.strategies import STRATEGIES
from omni_research.widgets._base import WidgetBase, control_values, html_table, param_control

METRICS = (
    "sharpe",
    "total_return",
    "sortino",
    "calmar",
    "max_drawdown",
    "win_rate",
    "profit_factor",
    "n_trades",
)


class BacktestPanel(WidgetBase):
    """Pick a market, a strategy and its parameters, fees and slippage; run it to see the
    equity/drawdown chart, the metrics table and the trade list; sweep two parameters into a
    heatmap.

    Parameters
    ----------
    catalog : Catalog
        From ``omni_research.open_catalog``; its ``ohlcv`` dataset is backtested.
    strategy : str, default "sma_cross"
        One of :data:`omni_research.strategies.STRATEGIES` (the report's table too).
    symbol, timeframe, start, end
        Initial market choice, as in :class:`MarketExplorer` (``end``: a bare date includes
        its day, a timestamp excludes itself).
    autorun : bool, default True
        Run once when built.
    background : bool, default True
        The Run and Sweep buttons work in a thread, so the kernel stays responsive and the
        progress bar moves; ``run()`` and ``run_sweep()`` called from code always block.

    Attributes
    ----------
    value : dict
        The configuration (market, strategy, params, allow_short, fee, slippage, cash,
        and the sweep's axes and metric).
    result : dict
        ``stats`` (dict of metrics), ``trades`` and ``equity`` (DataFrames), ``sweep``
        (DataFrame or None).
    price_chart : CandleChart
        The bars with the trades' entries and exits as markers (pan and zoom, exact candles).
    """

    def __init__(
        self,
        catalog: Any,
        *,
        strategy: str = "sma_cross",
        symbol: str | None = None,
        timeframe: str | None = None,
        start: TimeLike = None,
        end: TimeLike = None,
        autorun: bool = True,
        background: bool = True,
    ) -> None:
        import ipywidgets as w

        from omni_research.widgets._picker import MarketPicker

        super().__init__()
        style = {"description_width": "initial"}
        self.picker = MarketPicker(
            catalog, symbol=symbol, timeframe=timeframe, start=start, end=end
        )
        notes = list(self.picker.notes)
        if strategy not in STRATEGIES:
            notes.append(f"unknown strategy {strategy!r}; expected one of {list(STRATEGIES)}")
            strategy = "sma_cross"
        self.strategy = w.Dropdown(
            options=list(STRATEGIES), value=strategy, description="strategy", style=style
        )
        self.allow_short = w.Checkbox(value=True, description="allow short", style=style)
        self.fee = w.BoundedFloatText(
            value=0.00055, min=0.0, max=0.05, step=0.0001, description="fee (fraction)", style=style
        )
        self.slippage = w.BoundedFloatText(
            value=0.0, min=0.0, max=0.05, step=0.0001, description="slippage", style=style
        )
        self.cash = w.BoundedFloatText(
            value=10_000.0, min=1.0, max=1e12, description="cash", style=style
        )
        self.run_button = w.Button(description="Run backtest", button_style="primary", icon="play")
        self.background = background
        self.run_button.on_click(lambda _b: self._click(self.run))
        self.params_box = w.VBox([])
        self.param_controls: dict[str, Any] = {}
        self.metrics = w.HTML()
        self.metrics.add_class("omni-metrics")
        self.trades = w.HTML()
        self.trades.add_class("omni-trades")
        # sweep view
        self.sweep_x = w.Dropdown(description="x", style=style)
        self.sweep_y = w.Dropdown(description="y", style=style)
        self.sweep_x_range = w.IntRangeSlider(
            description="x range", style=style, continuous_update=False
        )
        self.sweep_y_range = w.IntRangeSlider(
            description="y range", style=style, continuous_update=False
        )
        self.sweep_x_step = w.BoundedIntText(
            value=5, min=1, max=1000, description="x step", style=style
        )
        self.sweep_y_step = w.BoundedIntText(
            value=10, min=1, max=1000, description="y step", style=style
        )
        self.sweep_metric = w.Dropdown(
            options=list(METRICS), value="sharpe", description="metric", style=style
        )
        self.sweep_button = w.Button(description="Run sweep", button_style="warning", icon="th")
        self.sweep_button.on_click(lambda _b: self._click(self.run_sweep))
        self.heatmap = w.Image(format="png", layout=w.Layout(max_width="100%"))
        self.heatmap.add_class("omni-heatmap")
        self.heatmap_figure: Any = None
        self.sweep_table = w.HTML()
        self.result: dict[str, Any] = {"stats": {}, "trades": None, "equity": None, "sweep": None}
        run_view = w.VBox([self.metrics, self.chart, self.chart_box, self.trades])
        sweep_view = w.VBox(
            [
                w.HBox([self.sweep_x, self.sweep_x_range, self.sweep_x_step]),
                w.HBox([self.sweep_y, self.sweep_y_range, self.sweep_y_step]),
                w.HBox([self.sweep_metric, self.sweep_button]),
                self.heatmap,
                self.sweep_table,
            ]
        )
        self.tabs = w.Tab(children=[run_view, sweep_view])
        self.tabs.set_title(0, "run")
        self.tabs.set_title(1, "sweep")
        self.widget = w.VBox(
            [
                self.picker.box,
                w.HBox(
                    [
                        w.VBox(
                            [self.strategy, self.allow_short, self.fee, self.slippage, self.cash]
                        ),
                        self.params_box,
                    ]
                ),
                self.run_button,
                self.message,
                self.progress,
                self.tabs,
            ]
        )
        self.widget.add_class("omni-backtest-panel")
        self.strategy.observe(lambda _c: self._build_params(), names="value")
        self._build_params()
        if autorun:
            self.run()
        if notes and self.last_error is None:
            self.show_message("; ".join(notes))

    def _click(self, job: Callable[[], None]) -> None:
        if self.background:
            self.in_background(job)
        else:
            job()

    # -- state -----------------------------------------------------------------------------
    @property
    def value(self) -> dict[str, Any]:
        """The configuration as plain Python values."""
        return {
            **self.picker.selection(),
            "strategy": self.strategy.value,
            "params": control_values(self.param_controls),
            "allow_short": bool(self.allow_short.value),
            "fee": float(self.fee.value),
            "slippage": float(self.slippage.value),
            "cash": float(self.cash.value),
            "sweep": {
                "x": self.sweep_x.value,
                "x_values": self._axis_values(self.sweep_x_range, self.sweep_x_step),
                "y": self.sweep_y.value,
                "y_values": self._axis_values(self.sweep_y_range, self.sweep_y_step),
                "metric": self.sweep_metric.value,
            },
        }

    @staticmethod
    def _axis_values(rng: Any, step: Any) -> list[int]:
        lo, hi = rng.value
        return list(range(int(lo), int(hi) + 1, max(int(step.value), 1)))

    def _build_params(self) -> None:
        import ipywidgets as w

        strat = STRATEGIES[self.strategy.value]
        ctrls: dict[str, Any] = {}
        for p, default in strat.defaults.items():
            ctrl = param_control(p, default)
            ctrl.min, ctrl.max = strat.bounds[p]
            ctrls[p] = ctrl
        self.param_controls = ctrls
        self.params_box.children = [w.HTML(f"<i>{strat.description}</i>"), *ctrls.values()]
        names = list(strat.defaults)
        with self.holding():
            self.sweep_x.options = names
            self.sweep_x.value = names[0]
            self.sweep_y.options = names
            self.sweep_y.value = names[1] if len(names) > 1 else names[0]
            for axis, rng in (
                (self.sweep_x.value, self.sweep_x_range),
                (self.sweep_y.value, self.sweep_y_range),
            ):
                lo, hi = strat.bounds[axis]
                rng.min, rng.max = lo, hi
                d = strat.defaults[axis]
                rng.value = (max(lo, d // 2), min(hi, d * 2))

    def _signal_factory(self) -> Callable[..., pl.Expr]:
        return STRATEGIES[self.strategy.value].builder(allow_short=bool(self.allow_short.value))

    def _options(self) -> dict[str, Any]:
        return {
            "cash": float(self.cash.value),
            "fee": float(self.fee.value),
            "slippage": float(self.slippage.value),
        }

    # -- running ---------------------------------------------------------------------------
    def run(self) -> None:
        """Load the bars and backtest the chosen strategy; update charts and tables."""
        from omni_research.backtest import run
        from omni_research.plotting import plot_equity

        self.clear_message()
        self.start_progress(4, "loading")
        with self.reporting():
            bars = self.picker.load()
            self.step_progress()
            self.progress.description = "backtesting"
            params = control_values(self.param_controls)
            res = run(bars, self._signal_factory()(**params), **self._options())
            stats = res.stats()
            self.step_progress()
            self.progress.description = "drawing"
            strat = self.strategy.value
            sym = self.picker.symbol.value
            self.show_figure(plot_equity(res, title=f"{sym} {strat} {params}: equity"))
            self.show_candles(
                bars,
                trades=res.trades,
                title=f"{sym} {strat}: {res.trades.height} trades",
                key=self.picker.selection(),
            )
            self.step_progress()
            self.metrics.value = metrics_table(stats)
            self.trades.value = "<b>trades</b>" + html_table(res.trades, max_rows=30, index=True)
            self.result = {
                "stats": dict(stats),
                "trades": res.trades,
                "equity": res.equity,
                "sweep": self.result.get("sweep"),
            }
        self.end_progress()

    def run_sweep(self, *, chunks: int = 10) -> None:
        """Backtest every (x, y) combination of the sweep view; draw the heatmap."""
        from omni_research.backtest import sweep
        from omni_research.plotting import figure_to_png, plot_sweep_heatmap

        self.clear_message()
        with self.reporting():
            cfg = self.value["sweep"]
            if cfg["x"] == cfg["y"]:
                raise ConfigurationError("choose two different parameters for x and y")
            if not cfg["x_values"] or not cfg["y_values"]:
                raise ConfigurationError("the sweep ranges are empty; widen x or y range")
            fixed = control_values(self.param_controls)
            combos = [
                {**fixed, cfg["x"]: xv, cfg["y"]: yv}
                for xv in cfg["x_values"]
                for yv in cfg["y_values"]
            ]
            self.start_progress(len(combos) + 1, "loading")
            bars = self.picker.load()
            self.step_progress()
            self.progress.description = f"sweep 0/{len(combos)}"
            make = self._signal_factory()
            parts = []
            size = max(1, math.ceil(len(combos) / chunks))
            for i in range(0, len(combos), size):
                part = combos[i : i + size]
                parts.append(sweep(bars, make, part, **self._options()))
                self.step_progress(len(part))
                self.progress.description = f"sweep {i + len(part)}/{len(combos)}"
            table = pl.concat(parts, how="diagonal_relaxed")
            fig = plot_sweep_heatmap(table, x=cfg["x"], y=cfg["y"], metric=cfg["metric"])
            self.heatmap_figure = fig
            self.heatmap.value = figure_to_png(fig, dpi=80)
            best = table.sort(cfg["metric"], descending=True, nulls_last=True).head(5)
            # The full table is in .result; the summary keeps the columns a reader compares.
            keep = dict.fromkeys(
                [
                    *fixed,
                    cfg["metric"],
                    "total_return",
                    "sharpe",
                    "max_drawdown",
                    "win_rate",
                    "n_trades",
                ]
            )
            best = best.select([c for c in keep if c in best.columns])
            self.sweep_table.value = "<b>best 5</b>" + html_table(best)
            self.result = {**self.result, "sweep": table}
            self.tabs.selected_index = 1
        self.end_progress()


def metrics_table(stats: Mapping[str, Any], *, columns: int = 3) -> str:
    """The metrics as a compact HTML grid: ``columns`` (metric, value) pairs per row; the
    annualisation sentence, being prose, goes under the grid."""
    items = [(k, _metric_text(v)) for k, v in stats.items() if k != "annualisation"]
    rows = math.ceil(len(items) / columns)
    data: dict[str, list[str]] = {}
    for c in range(columns):
        part = items[c * rows : (c + 1) * rows]
        part += [("", "")] * (rows - len(part))
        data[f"metric{c or ''}"] = [k for k, _ in part]
        data[f"value{c or ''}"] = [v for _, v in part]
    table = html_table(pl.DataFrame(data), max_rows=rows)
    # Header names must be unique in the frame; show plain "metric"/"value" to the reader.
    for c in range(1, columns):
        table = table.replace(f">metric{c}<", ">metric<").replace(f">value{c}<", ">value<")
    note = stats.get("annualisation")
    return table + (
        f"<div style='font-size:11px;color:#555'>{html.escape(str(note))}</div>" if note else ""
    )


def _metric_text(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)
