"""IndicatorLab: type or pick an indicator, tune it, see it charted with its signal statistics.

The widget binds controls only: the statistics are ``backtest.signal_stats``.
"""

from __future__ import annotations

import ast
from typing import Any

import polars as pl

from omni_research.backtest import SIGNAL_RULES as RULES
from omni_research.backtest import signal_onsets, signal_stats
from omni_research.exceptions import ConfigurationError, UnknownKindError
from omni_research.widgets._base import (
    UNTUNED,
    WidgetBase,
    chart_series,
    control_values,
    html_table,
    param_control,
)


def parse_expression(text: str) -> tuple[str, dict[str, Any]]:
    """``"rsi"`` or ``"rsi(window=21)"`` -> ``("rsi", {"window": 21})``.

    Only a registry name with literal keyword arguments is accepted: the text is parsed,
    never evaluated.
    """
    source = text.strip()
    if not source:
        raise ConfigurationError("type an indicator, e.g. sma(window=20), or pick one")
    try:
        node = ast.parse(source, mode="eval").body
    except SyntaxError as exc:
        raise ConfigurationError(
            f"cannot read {source!r}: {exc.msg}; expected name or name(param=value, ...)"
        ) from None
    if isinstance(node, ast.Name):
        return node.id, {}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.args:
        params: dict[str, Any] = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise ConfigurationError(f"{source!r}: ** arguments are not supported")
            try:
                params[kw.arg] = ast.literal_eval(kw.value)
            except ValueError:
                raise ConfigurationError(
                    f"{source!r}: the value of {kw.arg} must be a number, text or True/False"
                ) from None
        return node.func.id, params
    raise ConfigurationError(
        f"cannot read {source!r}; expected name or name(param=value, ...), e.g. rsi(window=14)"
    )


class IndicatorLab(WidgetBase):
    """Type or pick an indicator expression, tune its parameters with sliders, and see it on
    the chart with its signal statistics (hit rate, forward returns), updated live.

    Parameters
    ----------
    df : DataFrame or LazyFrame
        OHLCV bars (several symbols: a symbol picker appears).
    expression : str, default "sma(window=20)"
        ``name`` or ``name(param=value, ...)`` of a registered indicator.
    rule : str, default depends on placement
        One of ``price above``, ``price below``, ``above threshold``, ``below threshold``,
        ``rising``, ``falling``: when the signal is on (long).
    threshold : float, default 0.0
        For the threshold rules.
    horizon : int, default 10
        Forward-return horizon in bars.

    Attributes
    ----------
    value : dict
        expression, indicator, output, params, rule, threshold, horizon, symbol.
    result : dict
        :func:`omni_research.backtest.signal_stats` of the current choice (plain floats and ints).
    price_chart : CandleChart
        The bars with the indicator (its outputs, by label) and the signal's onsets as buy
        markers; pan and zoom are exact at every level.
    """

    def __init__(
        self,
        df: pl.DataFrame | pl.LazyFrame,
        /,
        *,
        expression: str = "sma(window=20)",
        rule: str | None = None,
        threshold: float = 0.0,
        horizon: int = 10,
    ) -> None:
        import ipywidgets as w

        from omni_research.plotting._common import collect
        from omni_research.plotting._indicators import registered

        super().__init__()
        self.bars = collect(df, what="IndicatorLab").sort("timestamp")
        self._registry = registered()
        self.result: dict[str, float | int] = {}
        self._indicator: str | None = None
        style = {"description_width": "initial"}
        symbols = (
            self.bars["symbol"].unique().sort().to_list() if "symbol" in self.bars.columns else []
        )
        self.symbol = w.Dropdown(
            options=symbols or ["-"],
            description="symbol",
            style=style,
            layout=w.Layout(display="flex" if len(symbols) > 1 else "none"),
        )
        self.expression = w.Combobox(
            value=expression,
            options=sorted(self._registry),
            ensure_option=False,
            continuous_update=False,
            placeholder="sma(window=20)",
            description="indicator",
            style=style,
        )
        self.output = w.Dropdown(options=[], description="output", style=style)
        self.rule = w.Dropdown(options=list(RULES), description="signal on when", style=style)
        self.threshold = w.FloatText(value=threshold, description="threshold", style=style)
        self.horizon = w.IntSlider(
            value=horizon,
            min=1,
            max=240,
            description="horizon (bars)",
            continuous_update=False,
            style=style,
        )
        self.params_box = w.VBox([])
        self.param_controls: dict[str, Any] = {}
        self.stats = w.HTML()
        self.stats.add_class("omni-stats")
        self.widget = w.VBox(
            [
                w.HBox([self.symbol, self.expression, self.output]),
                w.HBox([self.params_box, w.VBox([self.rule, self.threshold, self.horizon])]),
                self.message,
                self.progress,
                self.stats,
                self.chart_box,
            ]
        )
        self.widget.add_class("omni-indicator-lab")
        self.expression.observe(self._on_expression, names="value")
        for c in (self.symbol, self.output, self.rule, self.threshold, self.horizon):
            c.observe(self._on_change, names="value")
        note = None
        with self.holding():
            ok = self._apply_expression(expression)
            if rule is not None and rule in RULES:
                self.rule.value = rule
            elif rule is not None:
                note = f"unknown rule {rule!r}; expected one of {list(RULES)}"
        if ok:
            self.recompute()
        if note and self.last_error is None:
            self.show_message(note)

    # -- state -----------------------------------------------------------------------------
    @property
    def value(self) -> dict[str, Any]:
        """The current choice as plain Python values."""
        return {
            "expression": self.expression.value,
            "indicator": self._indicator,
            "output": self.output.value,
            "params": control_values(self.param_controls),
            "rule": self.rule.value,
            "threshold": float(self.threshold.value),
            "horizon": int(self.horizon.value),
            "symbol": self.symbol.value if self.symbol.value != "-" else None,
        }

    # -- controls --------------------------------------------------------------------------
    def _apply_expression(self, text: str) -> bool:
        """Parse the text and set the controls from it; False (and a message) if it is bad."""
        import ipywidgets as w

        with self.reporting():
            name, params = parse_expression(text)
            if name not in self._registry:
                close = sorted(n for n in self._registry if name.lower() in n.lower())[:8]
                raise UnknownKindError(
                    f"unknown indicator {name!r}"
                    + (f"; did you mean {', '.join(close)}?" if close else "")
                    + " Pick one from the list."
                )
            ind = self._registry[name]
            unknown = sorted(set(params) - set(ind.params))
            if unknown:
                raise ConfigurationError(
                    f"{name}: unknown parameter(s) {unknown}; it takes {sorted(ind.params)}"
                )
            fixed = sorted(p for p in params if p in UNTUNED and params[p] != ind.params[p])
            if fixed:
                raise ConfigurationError(
                    f"{name}: {fixed} stay at {[ind.params[p] for p in fixed]} in the lab (ta's "
                    "output switches, not parameters of the indicator)"
                )
            with self.holding():
                if name != self._indicator:
                    ctrls = {}
                    for p, default in ind.params.items():
                        ctrl = param_control(p, default)
                        if ctrl is not None:
                            ctrl.observe(self._on_param, names="value")
                            ctrls[p] = ctrl
                    self.param_controls = ctrls
                    self.params_box.children = [
                        w.HTML(f"<b>{name}</b> parameters"),
                        *ctrls.values(),
                    ]
                    self.output.options = list(ind.outputs)
                    self.output.value = next(iter(ind.outputs))
                    self.rule.value = "price above" if ind.placement == "overlay" else "rising"
                    self._indicator = name
                for p, v in params.items():
                    if p in self.param_controls:
                        ctrl = self.param_controls[p]
                        if isinstance(v, float) and not isinstance(ctrl.value, float):
                            ctrl = param_control(p, float(ctrl.value))
                            ctrl.observe(self._on_param, names="value")
                            self.param_controls[p] = ctrl
                            self.params_box.children = [
                                self.params_box.children[0],
                                *self.param_controls.values(),
                            ]
                        if hasattr(ctrl, "max") and isinstance(v, int | float):
                            ctrl.max = max(ctrl.max, v)
                            ctrl.min = min(ctrl.min, v)
                        ctrl.value = v
            return True
        return False

    def _canonical_expression(self) -> str:
        if self._indicator is None:
            return str(self.expression.value)
        ind = self._registry[self._indicator]
        changed = {
            k: v for k, v in control_values(self.param_controls).items() if ind.params.get(k) != v
        }
        inner = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        return f"{self._indicator}({inner})" if inner else self._indicator

    def _on_expression(self, change: Any) -> None:
        if self._hold:
            return
        self.clear_message()
        if self._apply_expression(str(change["new"])):
            self.recompute()

    def _on_param(self, _change: Any) -> None:
        if self._hold:
            return
        with self.holding():
            self.expression.value = self._canonical_expression()
        self.recompute()

    def _on_change(self, _change: Any) -> None:
        if not self._hold:
            self.recompute()

    # -- computing -------------------------------------------------------------------------
    def recompute(self) -> None:
        """Compute the indicator, the statistics and the chart for the current controls."""
        from omni_research.plotting._indicators import compute

        if self._indicator is None:
            return
        self.clear_message()
        self.start_progress(2, "computing")
        with self.reporting():
            bars = self.bars
            if self.symbol.value != "-":
                bars = bars.filter(pl.col("symbol") == self.symbol.value)
            ind = self._registry[self._indicator]
            params = {**ind.params, **control_values(self.param_controls)}
            values = bars.select(
                ind.outputs[self.output.value](*ind.inputs, **params).alias("_ind")
            ).to_series()
            stats = signal_stats(
                bars,
                values,
                rule=self.rule.value,
                threshold=float(self.threshold.value),
                horizon=int(self.horizon.value),
            )
            self.step_progress()
            onsets = signal_onsets(
                bars, values, rule=self.rule.value, threshold=float(self.threshold.value)
            )
            series, panels = chart_series(compute(bars, [(ind, params)]))
            self.result = stats
            self.stats.value = html_table(pl.DataFrame([stats]))
            self.show_candles(
                bars,
                indicators=series,
                panels=panels,
                trades=onsets,
                title=f"{self._canonical_expression()} · signal: {self.rule.value} "
                f"· {onsets.height} onsets",
                key=self.symbol.value,
            )
        self.end_progress()
