"""QualityPanel: the data-quality report as a filterable table, with a jump (a zoom) to the
finding on the interactive chart."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from omni_research.exceptions import ConfigurationError
from omni_research.widgets._base import WidgetBase, html_table

ALL = "(all)"
_TABLE_COLUMNS = (
    "dataset",
    "symbol",
    "check",
    "severity",
    "first_timestamp",
    "last_timestamp",
    "count",
    "detail",
)


class QualityPanel(WidgetBase):
    """Run the quality checks over a catalog's market datasets and browse the findings.

    Filters (dataset, symbol, severity, check) narrow the table and the timeline; choosing a
    finding and pressing *Show on chart* zooms the interactive chart (:class:`CandleChart`) of
    that symbol's bars to it, the finding's span shaded; from there the user pans and zooms
    over the whole data.

    Parameters
    ----------
    catalog : Catalog
        From ``omni_research.open_catalog``.
    datasets : list of str, optional
        Dataset names to check; by default every dataset of a kind the checks know.

    Attributes
    ----------
    findings : polars.DataFrame
        Every finding (``omni_research.quality.quality_report`` rows of all datasets).
    value : dict
        ``dataset``, ``symbol``, ``severity``, ``check`` (None = all) and ``finding`` (the
        chosen row's index in ``result``, or None).
    result : polars.DataFrame
        The findings that pass the filters, in table order.
    price_chart : CandleChart or None
        The chart of the last finding's symbol (``visible_range``, ``highlight``,
        ``candles``).
    """

    def __init__(self, catalog: Any, *, datasets: list[str] | None = None) -> None:
        import ipywidgets as w

        super().__init__()
        self.catalog = catalog
        style = {"description_width": "initial"}
        self.dataset = w.Dropdown(options=[ALL], description="dataset", style=style)
        self.symbol = w.Dropdown(options=[ALL], description="symbol", style=style)
        self.severity = w.Dropdown(
            options=[ALL, "error", "warning", "info"], description="severity", style=style
        )
        self.check = w.Dropdown(options=[ALL], description="check", style=style)
        self.finding = w.Dropdown(
            options=[], description="finding", style=style, layout=w.Layout(width="520px")
        )
        self.jump_button = w.Button(description="Show on chart", icon="search", button_style="info")
        self.jump_button.on_click(lambda _b: self.show_finding())
        self.table = w.HTML()
        self.table.add_class("omni-findings")
        self.timeline = w.Image(format="png", layout=w.Layout(max_width="100%"))
        self.timeline.add_class("omni-timeline")
        self.timeline_figure: Any = None
        self.findings = pl.DataFrame()
        self.result = pl.DataFrame()
        self.widget = w.VBox(
            [
                w.HBox([self.dataset, self.symbol, self.severity, self.check]),
                self.message,
                self.progress,
                self.table,
                self.timeline,
                w.HBox([self.finding, self.jump_button]),
                self.chart_box,
            ]
        )
        self.widget.add_class("omni-quality-panel")
        self.run(datasets)
        for c in (self.dataset, self.symbol, self.severity, self.check):
            c.observe(lambda _c: self.refresh(), names="value")

    # -- state -----------------------------------------------------------------------------
    @property
    def value(self) -> dict[str, Any]:
        """The filters and the chosen finding, as plain Python values."""

        def opt(v: str) -> str | None:
            return None if v == ALL else v

        return {
            "dataset": opt(self.dataset.value),
            "symbol": opt(self.symbol.value),
            "severity": opt(self.severity.value),
            "check": opt(self.check.value),
            "finding": self.finding.value,
        }

    # -- running ---------------------------------------------------------------------------
    def run(self, datasets: list[str] | None = None) -> None:
        """Run the quality report over the datasets (progress bar per dataset)."""
        from omni_research.quality import QUALITY_KINDS, quality_report

        self.clear_message()
        with self.reporting():
            listing = self.catalog.datasets()
            rows = [r for r in listing.iter_rows(named=True) if r["kind"] in QUALITY_KINDS]
            if datasets is not None:
                known = {r["name"] for r in rows}
                unknown = sorted(set(datasets) - known)
                if unknown:
                    raise ConfigurationError(
                        f"unknown or unchecked dataset(s) {unknown}; expected some of "
                        f"{sorted(known)}"
                    )
                rows = [r for r in rows if r["name"] in datasets]
            self.start_progress(len(rows), "checking")
            frames = []
            for r in rows:
                self.progress.description = r["name"]
                frames.append(
                    quality_report(self.catalog.scan(r["kind"]), r["kind"], dataset=r["name"])
                )
                self.step_progress()
            self.findings = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
            with self.holding():
                self.dataset.options = [ALL, *sorted(r["name"] for r in rows)]
                self.symbol.options = [ALL, *self._distinct("symbol")]
                self.check.options = [ALL, *self._distinct("check")]
        self.end_progress()
        self.refresh()

    def _distinct(self, column: str) -> list[str]:
        if column not in self.findings.columns:
            return []
        return [v for v in self.findings[column].drop_nulls().unique().sort().to_list()]

    def refresh(self) -> None:
        """Apply the filters to the table, the finding list and the timeline."""
        from omni_research.plotting import figure_to_png, plot_quality_timeline

        if self._hold:
            return
        with self.reporting():
            df = self.findings
            if df.height:
                for col, ctrl in (
                    ("dataset", self.dataset),
                    ("symbol", self.symbol),
                    ("severity", self.severity),
                    ("check", self.check),
                ):
                    if ctrl.value != ALL:
                        df = df.filter(pl.col(col) == ctrl.value)
            self.result = df
            shown = df.select([c for c in _TABLE_COLUMNS if c in df.columns]) if df.height else df
            if df.height == 0:
                self.table.value = "<i>no findings match the filters</i>"
            else:
                self.table.value = html_table(shown, max_rows=100, index=True)
            self.finding.options = [
                (f"#{i} {r['dataset']} {r['symbol']} {r['check']} ({r['severity']})", i)
                for i, r in enumerate(df.iter_rows(named=True))
            ]
            self.finding.value = 0 if df.height else None
            self.timeline_figure = plot_quality_timeline(df if df.height else _empty())
            self.timeline.value = figure_to_png(self.timeline_figure, dpi=80)

    def show_finding(self, index: int | None = None) -> None:
        """Zoom the chart of the finding's symbol to it (an hour either side at least), its
        span shaded; the symbol's bars are loaded once, then every jump is a zoom."""
        self.clear_message()
        with self.reporting():
            i = self.finding.value if index is None else index
            if i is None or not 0 <= i < self.result.height:
                raise ConfigurationError("choose a finding first (no finding matches)")
            if index is not None:
                self.finding.value = index
            row = self.result.row(i, named=True)
            first, last = row["first_timestamp"], row["last_timestamp"] or row["first_timestamp"]
            symbol = row.get("symbol")
            if symbol is None or first is None:
                raise ConfigurationError(f"finding #{i} has no symbol or time to show")
            pad = max(dt.timedelta(hours=1), (last - first) / 10)
            self.start_progress(2, "loading")
            if self._chart_key != symbol:
                bars = self.catalog.load("ohlcv", symbols=symbol)
                if bars.height == 0:
                    raise ConfigurationError(f"no ohlcv bars for {symbol} to show finding #{i}")
                self.show_candles(bars.sort("timestamp"), title=str(symbol), key=symbol)
            self.step_progress()
            chart = self.price_chart
            if chart is None:  # unreachable: built above or for this symbol before
                raise ConfigurationError(f"no chart for {symbol}; press Show on chart again")
            minute = dt.timedelta(minutes=1)
            chart.title = (
                f"#{i} {row['check']} ({row['severity']}) · {symbol} · "
                f"{first:%Y-%m-%d %H:%M} → {last:%Y-%m-%d %H:%M} UTC"
            )
            chart.zoom(first - pad, last + pad + minute, highlight=(first, last + minute))
        self.end_progress()


def _empty() -> pl.DataFrame:
    utc = pl.Datetime("us", "UTC")
    return pl.DataFrame(
        schema={
            "dataset": pl.String,
            "symbol": pl.String,
            "check": pl.String,
            "severity": pl.String,
            "first_timestamp": utc,
            "last_timestamp": utc,
        }
    )
