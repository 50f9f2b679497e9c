"""Pieces every widget shares: message area, progress bar, charts (the interactive candle
chart and static images), parameter controls."""

from __future__ import annotations

import datetime as dt
import html
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import polars as pl

from omni_research.exceptions import OmniDataError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from omni_research.plotting._indicators import ResolvedIndicator
    from omni_research.widgets._chart import CandleChart

_MESSAGE_STYLE = {
    "error": "color:#b71c1c;background:#ffebee;border:1px solid #ef9a9a;",
    "info": "color:#0d47a1;background:#e3f2fd;border:1px solid #90caf9;",
}


class WidgetBase:
    """A composed ipywidgets box with a message line, a progress bar, a price chart
    (:class:`CandleChart`, in ``chart_box``, created on first use) and a chart image.

    Subclasses build ``self.widget`` (the box shown in the notebook). Displaying the object
    displays that box, so ``MarketExplorer(catalog)`` on the last line of a cell shows it.
    """

    def __init__(self) -> None:
        import ipywidgets as w

        self.message = w.HTML(value="", layout=w.Layout(min_height="0px"))
        self.message.add_class("omni-message")
        self.progress = w.IntProgress(
            value=0, min=0, max=1, description="", layout=w.Layout(visibility="hidden")
        )
        self.progress.add_class("omni-progress")
        self.chart = w.Image(format="png", layout=w.Layout(max_width="100%"))
        self.chart.add_class("omni-chart")
        self.figure: Figure | None = None
        self.chart_box = w.VBox([], layout=w.Layout(width="100%"))
        self.chart_box.add_class("omni-price-chart")
        self.price_chart: CandleChart | None = None
        self._chart_key: Any = None
        self.widget: Any = None
        self._hold = 0
        self.last_error: str | None = None
        self._worker: threading.Thread | None = None

    # -- display ---------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # -- messages --------------------------------------------------------------------------
    def show_message(self, text: str, *, level: str = "error") -> None:
        """Show ``text`` inside the widget (errors in red, notes in blue)."""
        style = _MESSAGE_STYLE.get(level, _MESSAGE_STYLE["info"])
        self.message.value = (
            f'<div class="omni-{level}" style="{style}padding:4px 8px;border-radius:4px;">'
            f"{html.escape(text)}</div>"
        )
        if level == "error":
            self.last_error = text

    def clear_message(self) -> None:
        self.message.value = ""
        self.last_error = None

    @contextmanager
    def reporting(self) -> Iterator[None]:
        """Run a step; a failure becomes a message in the widget instead of a traceback.

        Callbacks of ipywidgets print tracebacks to the browser's log, where nobody looks, so
        every user-triggered step goes through here.
        """
        try:
            yield
        except OmniDataError as exc:
            self.show_message(str(exc))
        except Exception as exc:  # anything else still must not vanish into the log
            self.show_message(f"{type(exc).__name__}: {exc}")

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Change several controls without a redraw per change."""
        self._hold += 1
        try:
            yield
        finally:
            self._hold -= 1

    # -- background work -------------------------------------------------------------------
    def in_background(self, job: Callable[[], None]) -> bool:
        """Run ``job`` in a worker thread so the kernel keeps answering while it works.

        Widget updates (progress, charts, messages) are sent from the thread as they happen.
        One job at a time: a second request while one runs is refused with a message.
        """
        if self._worker is not None and self._worker.is_alive():
            self.show_message(
                "still working on the previous request; try again when it ends", level="info"
            )
            return False
        self._worker = threading.Thread(target=job, name=f"{type(self).__name__}-job", daemon=True)
        self._worker.start()
        return True

    def wait(self, timeout: float | None = None) -> None:
        """Block until the background job (if any) has finished."""
        if self._worker is not None:
            self._worker.join(timeout)

    # -- progress --------------------------------------------------------------------------
    def start_progress(self, steps: int, label: str) -> None:
        self.progress.max = max(steps, 1)
        self.progress.value = 0
        self.progress.description = label
        self.progress.layout.visibility = "visible"

    def step_progress(self, n: int = 1) -> None:
        self.progress.value = min(self.progress.value + n, self.progress.max)

    def end_progress(self) -> None:
        self.progress.value = self.progress.max
        self.progress.layout.visibility = "hidden"

    # -- charts ----------------------------------------------------------------------------
    def show_figure(self, fig: Figure) -> None:
        from omni_research.plotting import figure_to_png

        self.figure = fig
        self.chart.value = figure_to_png(fig, dpi=80)

    def show_candles(
        self,
        bars: pl.DataFrame,
        *,
        indicators: Mapping[str, pl.Series] | None = None,
        panels: Mapping[str, str] | None = None,
        trades: pl.DataFrame | None = None,
        title: str = "",
        key: Any = None,
    ) -> CandleChart:
        """Show ``bars`` in the price chart (built on first use, then given the new data).

        ``key`` names the data shown (the market selection): the same key again (new
        indicators, another run) keeps the user's zoom, a new one shows the whole data.
        """
        from omni_research.widgets._chart import CandleChart

        keep_view = key is not None and key == self._chart_key
        self._chart_key = key
        if self.price_chart is None:
            self.price_chart = CandleChart(
                bars, indicators=indicators, panels=panels, trades=trades, title=title
            )
            self.chart_box.children = [self.price_chart]
        else:
            self.price_chart.title = title
            self.price_chart.set_data(
                bars, indicators=indicators, panels=panels, trades=trades, keep_view=keep_view
            )
        return self.price_chart


def chart_series(
    resolved: list[ResolvedIndicator],
) -> tuple[dict[str, pl.Series], dict[str, str]]:
    """Computed indicators as a chart's series (``label`` or ``label output`` -> values)
    and their panels (``"price"`` for overlays, the indicator's name for panel ones)."""
    series: dict[str, pl.Series] = {}
    panels: dict[str, str] = {}
    for r in resolved:
        for out_name, values in r.outputs.items():
            name = r.label if len(r.outputs) == 1 else f"{r.label} {out_name}"
            series[name] = values
            panels[name] = "price" if r.placement == "overlay" else r.indicator.name
    return series, panels


_FLOAT_HINTS = ("dev", "mult", "step", "alpha", "factor", "const", "fillna_value", "pct")


UNTUNED = frozenset({"fillna", "dropnans"})
"""`ta`'s output switches (fill the warm-up, drop NaN inputs): not parameters of the
indicator a chart tunes; the widgets keep them at the registry default (off)."""


def param_control(name: str, default: Any) -> Any:
    """A slider / checkbox for one indicator or strategy parameter, or None if not tunable."""
    import ipywidgets as w

    if name in UNTUNED:
        return None

    style = {"description_width": "initial"}
    if isinstance(default, bool):
        return w.Checkbox(value=default, description=name, style=style)
    if isinstance(default, int) and any(h in name for h in _FLOAT_HINTS):
        # Registries write some real-valued constants as ints (Bollinger's window_dev=2).
        default = float(default)
    if isinstance(default, int):
        hi = max(4 * default, 50)
        return w.IntSlider(
            value=default,
            min=1 if default >= 1 else 0,
            max=hi,
            step=1,
            description=name,
            continuous_update=False,
            style=style,
        )
    if isinstance(default, float):
        fhi = max(4.0 * default, 1.0) if default >= 0 else 0.0
        flo = 0.0 if default >= 0 else 4.0 * default
        step = round(max((fhi - flo) / 200.0, 1e-4), 6)
        return w.FloatSlider(
            value=default,
            min=flo,
            max=fhi,
            step=step,
            description=name,
            continuous_update=False,
            style=style,
            readout_format=".4g",
        )
    return None


def control_values(controls: Mapping[str, Any]) -> dict[str, Any]:
    return {name: c.value for name, c in controls.items()}


def html_table(df: pl.DataFrame, *, max_rows: int = 50, index: bool = False) -> str:
    """A small HTML table of a frame (first ``max_rows`` rows), numbers rounded for reading."""
    head = df.head(max_rows)
    cols = (["#"] if index else []) + head.columns
    out = ['<table class="omni-table" style="border-collapse:collapse;font-size:12px;">']
    out.append(
        "<thead><tr>"
        + "".join(
            f'<th style="border-bottom:1px solid #999;padding:2px 6px;">{html.escape(c)}</th>'
            for c in cols
        )
        + "</tr></thead><tbody>"
    )
    for i, row in enumerate(head.iter_rows()):
        cells = ([str(i)] if index else []) + [_fmt(v) for v in row]
        out.append(
            "<tr>"
            + "".join(f'<td style="padding:2px 6px;">{html.escape(c)}</td>' for c in cells)
            + "</tr>"
        )
    out.append("</tbody></table>")
    if df.height > max_rows:
        out.append(f"<div>… {df.height - max_rows:,} more rows (see <code>.result</code>)</div>")
    return "".join(out)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S UTC") if v.tzinfo else v.isoformat()
    return "" if v is None else str(v)


def observe_all(controls: Mapping[str, Any] | list[Any], handler: Callable[[Any], None]) -> None:
    items = controls.values() if isinstance(controls, Mapping) else controls
    for c in items:
        c.observe(handler, names="value")
