"""MarketExplorer: candles of a catalog's OHLCV with registry indicators, redrawn on change."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import polars as pl

from omni_research._time import TimeLike
from omni_research.widgets._base import WidgetBase, chart_series, control_values, param_control


class MarketExplorer(WidgetBase):
    """Symbol, timeframe and date pickers, an indicator multi-select with parameter sliders
    generated from the registry, and an interactive candlestick chart (:class:`CandleChart`:
    pan and zoom, exact at every zoom) that is given the new data on every change.

    Parameters
    ----------
    catalog : Catalog
        From ``omni_research.open_catalog``; its ``ohlcv`` dataset is explored.
    symbol, timeframe : str, optional
        Initial choices (an unknown one shows a message and falls back to the first).
    start, end : str, datetime.date or aware datetime, optional
        Initial range, read as everywhere in the kit: ``start`` inclusive; a bare-date
        ``end`` (``"2025-01-08"``, a ``date``) includes that whole day, an ``end`` with a
        time of day (``"2025-01-09T00:00Z"``) excludes itself. The date pickers show the
        days the range touches; a time of day is kept until a picker is changed. The whole
        data by default.
    indicators : iterable of str, optional
        Registry names selected at start.

    Attributes
    ----------
    value : dict
        ``symbol``, ``timeframe``, ``start``, ``end`` (UTC datetimes, end exclusive) and
        ``indicators`` (``{name: {param: value}}``).
    result : polars.DataFrame or None
        The bars drawn, with one column per indicator output (``<name>_<output>``).
    price_chart : CandleChart
        The chart: its ``visible_range``, ``candles`` (with one column per indicator
        output, named by its label) and ``zoom(start, end)``. Overlays are drawn on the
        candles, panel indicators in a panel named after the indicator.

    Examples
    --------
    >>> import omni_research as omr
    >>> from omni_research.widgets import MarketExplorer
    >>> ex = MarketExplorer(omr.open_catalog(), indicators=["sma"])  # doctest: +SKIP
    >>> ex  # shows the widget in a notebook  # doctest: +SKIP
    """

    def __init__(
        self,
        catalog: Any,
        *,
        symbol: str | None = None,
        timeframe: str | None = None,
        start: TimeLike = None,
        end: TimeLike = None,
        indicators: Iterable[str] = (),
    ) -> None:
        import ipywidgets as w

        from omni_research.plotting._indicators import registered
        from omni_research.widgets._picker import MarketPicker

        super().__init__()
        self.result: pl.DataFrame | None = None
        self.picker = MarketPicker(
            catalog, symbol=symbol, timeframe=timeframe, start=start, end=end
        )
        self._registry = registered()
        names = sorted(self._registry)
        chosen = [n for n in indicators if n in self._registry]
        unknown = [n for n in indicators if n not in self._registry]
        self.indicators = w.SelectMultiple(
            options=[(f"{n} ({self._registry[n].placement})", n) for n in names],
            value=chosen,
            description="indicators",
            rows=8,
            style={"description_width": "initial"},
        )
        self.params_box = w.VBox([])
        self.param_controls: dict[str, dict[str, Any]] = {}
        self.widget = w.VBox(
            [
                self.picker.box,
                w.HBox([self.indicators, self.params_box]),
                self.message,
                self.progress,
                self.chart_box,
            ]
        )
        self.widget.add_class("omni-market-explorer")
        for c in self.picker.controls:
            c.observe(self._on_change, names="value")
        self.indicators.observe(self._on_indicators, names="value")
        self._build_param_controls()
        self.redraw()
        notes = self.picker.notes + [
            f"unknown indicator {n!r}; pick one of the registry's {len(names)}" for n in unknown
        ]
        if notes and self.last_error is None:
            self.show_message("; ".join(notes))

    # -- state -----------------------------------------------------------------------------
    @property
    def value(self) -> dict[str, Any]:
        """The current selection as plain Python values."""
        return {
            **self.picker.selection(),
            "indicators": {
                name: control_values(ctrls) for name, ctrls in self.param_controls.items()
            },
        }

    # -- controls --------------------------------------------------------------------------
    def _build_param_controls(self) -> None:
        import ipywidgets as w

        rows = []
        kept: dict[str, dict[str, Any]] = {}
        for name in self.indicators.value:
            if name in self.param_controls:
                ctrls = self.param_controls[name]
            else:
                ctrls = {}
                for p, default in self._registry[name].params.items():
                    ctrl = param_control(p, default)
                    if ctrl is not None:
                        ctrl.observe(self._on_change, names="value")
                        ctrls[p] = ctrl
            kept[name] = ctrls
            rows.append(w.HTML(f"<b>{name}</b>"))
            rows.extend(ctrls.values())
        self.param_controls = kept
        self.params_box.children = rows

    def _on_indicators(self, _change: Any) -> None:
        self._build_param_controls()
        self._on_change(_change)

    def _on_change(self, _change: Any) -> None:
        if not self._hold:
            self.redraw()

    # -- drawing ---------------------------------------------------------------------------
    def redraw(self) -> None:
        """Load the chosen bars, compute the indicators and give them to the chart."""
        from omni_research.plotting._indicators import compute, normalise_specs

        self.clear_message()
        self.start_progress(3, "loading")
        with self.reporting():
            bars = self.picker.load()
            self.step_progress()
            self.progress.description = "indicators"
            specs = [(name, control_values(c)) for name, c in self.param_controls.items()]
            exprs = [
                e
                for ind, params in normalise_specs(specs)
                for e in ind.exprs(*ind.inputs, **params)
            ]
            out = bars.with_columns(exprs)
            self.step_progress()
            self.progress.description = "drawing"
            series, panels = chart_series(compute(bars, normalise_specs(specs)))
            sel = self.picker.selection()
            self.show_candles(
                bars,
                indicators=series,
                panels=panels,
                title=f"{sel['symbol']} {sel['timeframe']}",
                key=sel,
            )
            self.result = out
        self.end_progress()
