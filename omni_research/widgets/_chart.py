"""CandleChart: an exact, zoomable candlestick chart (anywidget + a bundled canvas renderer).

The browser owns the view (wheel zooms around the cursor, drag pans, keys +/-/arrows/Home)
and asks the kernel for the candles of the visible range; Python answers from a
:class:`omni_research._zoom.ZoomIndex` with one float64 buffer, so every drawn candle is the
exact aggregate of the bars it covers. The JavaScript (``_chart.js``) is a file of this
package loaded through anywidget's ``_esm``: nothing comes from a CDN.

Messages (custom widget messages):

- browser -> kernel: ``{"type": "zoom", "start": ms, "end": ms, "seq": n, "client": id}``;
  a new view first sends ``{"type": "hello", "seq": n, "client": id}`` (messages sent
  before it existed are lost, and the kernel's range is the one to show)
- kernel -> browser: ``{"type": "candles", "start", "end", "seq", "client", "adopt",
  "timeframe", "bucket_ms", "n", "columns", "n_trades"}`` (``adopt``: the page takes the
  range as its view; true for answers the page did not ask for and for a hello) with two
  buffers: the candles as float64
  column-major (``columns`` order: timestamp ms, open, high, low, close, volume, series...)
  and the trades in range as float64 triples (timestamp ms, price, +1 buy / -1 sell).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import pathlib
import secrets
from collections.abc import Mapping
from typing import Any

import anywidget
import numpy as np
import polars as pl
import traitlets as t

from omni_research._time import TimeLike, parse_time
from omni_research._zoom import ZoomIndex, ZoomLevel
from omni_research.exceptions import ConfigurationError, DataFormatError

__all__ = ["CandleChart"]

_HERE = pathlib.Path(__file__).parent
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MAX_TRADES = 5000


def _to_ms(value: dt.datetime) -> float:
    return ((value - _EPOCH) // dt.timedelta(microseconds=1)) / 1000.0


def _from_ms(ms: float) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=round(ms * 1000.0))


class CandleChart(anywidget.AnyWidget):  # type: ignore[misc]
    """An interactive candlestick chart of one symbol's bars, exact at every zoom.

    Pan (drag) and zoom (mouse wheel, around the cursor; keys ``+``/``-``, arrows,
    ``Home``) redraw candles re-aggregated from the bars for the visible range: the finest
    timeframe of the ladder (1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 12h, 1d, 3d, 1w, 4w, 13w,
    52w) with at most ``max_candles`` candles. A hover readout shows time (UTC), OHLCV and
    the series' values; volume and panel series share the time axis.

    Parameters
    ----------
    bars : DataFrame or LazyFrame
        ``timestamp`` (aware), ``open``, ``high``, ``low``, ``close``, ``volume`` of one
        symbol, any timeframe.
    indicators : mapping of str to str or Series, optional
        ``name -> column of bars`` or ``name -> Series`` aligned to the bars. A candle
        shows each series' value at its last bar.
    trades : DataFrame or LazyFrame, optional
        Markers: ``timestamp, side, price`` rows or backtest round trips
        (``entry_time, entry_price, exit_time, exit_price`` with ``side`` or ``size``).
    max_candles : int, default 1500
        Most candles drawn at once.
    height : int, default 420
        Pixels, all panels together.
    panels : mapping of str to str, optional
        ``name -> panel``: ``"price"`` draws a series over the candles, any other name a
        sub-panel of that name (series sharing a name share the panel). By default a series
        whose values lie on the price scale is drawn over the candles, others get their own
        panel.
    title : str, optional
        A line above the chart.

    Attributes
    ----------
    visible_range : tuple of datetime
        ``(start, end)`` of the view (UTC, end exclusive), updated as the user zooms/pans.
    candles : polars.DataFrame
        The candles currently drawn (timestamp, OHLCV, timeframe, one column per series).
    timeframe : str
        Their timeframe.
    markers : polars.DataFrame
        The trade markers (timestamp, price, side).
    highlight : list of float
        ``[start_ms, end_ms]`` of a shaded span (empty: none); set by :meth:`zoom`.

    Examples
    --------
    >>> from omni_research.widgets import CandleChart  # doctest: +SKIP
    >>> chart = CandleChart(bars, indicators={"sma": "sma_20"})  # doctest: +SKIP
    >>> chart.zoom("2025-01-08", "2025-01-09")  # doctest: +SKIP
    >>> chart.candles.height <= 1500  # doctest: +SKIP
    True
    """

    _esm = _HERE / "_chart.js"
    _css = _HERE / "_chart.css"

    view = t.List(t.Float(), default_value=[0.0, 1.0]).tag(sync=True)
    extent = t.List(t.Float(), default_value=[0.0, 1.0]).tag(sync=True)
    series = t.List(t.Dict(), default_value=[]).tag(sync=True)
    highlight = t.List(t.Float(), default_value=[]).tag(sync=True)
    timeframe = t.Unicode("").tag(sync=True)
    title = t.Unicode("").tag(sync=True)
    chart_height = t.Int(420).tag(sync=True)
    max_candles = t.Int(1500).tag(sync=True)
    min_span_ms = t.Float(60_000.0).tag(sync=True)

    def __init__(
        self,
        bars: pl.DataFrame | pl.LazyFrame,
        /,
        *,
        indicators: Mapping[str, str | pl.Series] | None = None,
        trades: pl.DataFrame | pl.LazyFrame | None = None,
        max_candles: int = 1500,
        height: int = 420,
        panels: Mapping[str, str] | None = None,
        title: str = "",
    ) -> None:
        super().__init__(chart_height=int(height), max_candles=int(max_candles), title=title)
        self.add_class("omni-candle-chart-widget")
        self._index: ZoomIndex
        self._series: dict[str, str] = {}  # series name -> its column in the index
        self._trades = np.empty((0, 3), dtype=np.float64)
        self._drawn: tuple[ZoomLevel, int, int] | None = None
        self.on_msg(self._on_message)
        self.set_data(bars, indicators=indicators, trades=trades, panels=panels)

    # -- data ------------------------------------------------------------------------------
    def set_data(
        self,
        bars: pl.DataFrame | pl.LazyFrame,
        /,
        *,
        indicators: Mapping[str, str | pl.Series] | None = None,
        trades: pl.DataFrame | pl.LazyFrame | None = None,
        panels: Mapping[str, str] | None = None,
        keep_view: bool = False,
    ) -> None:
        """Replace what the chart shows (same arguments as the constructor); the view goes
        to the whole data unless ``keep_view`` and it still overlaps the data."""
        df = bars.collect() if isinstance(bars, pl.LazyFrame) else bars
        markers = _trade_array(trades)
        extra: dict[str, pl.Series] = {}
        for name, spec in (indicators or {}).items():
            if isinstance(spec, str):
                if spec not in df.columns:
                    raise DataFormatError(
                        f"CandleChart: indicator {name!r} names column {spec!r}, which the "
                        f"bars lack; columns: {df.columns}"
                    )
                values = df.get_column(spec)
            else:
                values = spec
            if values.len() != df.height:
                raise DataFormatError(
                    f"CandleChart: indicator {name!r} has {values.len()} values for "
                    f"{df.height} bars; pass a Series aligned to the bars"
                )
            extra[f"__series{len(extra)}"] = values.cast(pl.Float64)
        names = list((indicators or {}).keys())
        df = df.with_columns(**extra)
        index = ZoomIndex(df, extra=list(extra), what="CandleChart")
        columns = dict(zip(names, extra, strict=True))
        price_lo = float(index.levels[-1].low.min())
        price_hi = float(index.levels[-1].high.max())
        placement = dict(panels or {})
        series = []
        for name in names:
            panel = placement.get(name) or _auto_panel(
                index.extra[columns[name]], price_lo, price_hi, name
            )
            series.append({"name": name, "panel": panel})
        self._index = index
        self._series = columns
        self._trades = markers
        start, end = index.start_us / 1000.0, index.end_us / 1000.0
        old = list(self.view)
        with self.hold_sync():
            self.series = series
            self.extent = [start, end]
            self.min_span_ms = index.levels[0].duration_us / 1000.0 * 10
            self.highlight = []
        if keep_view and old[0] < end and old[1] > start and old != [0.0, 1.0]:
            self._answer(old[0], old[1], seq=None, client=None)
        else:
            self._answer(start, end, seq=None, client=None)

    # -- python side of the view -----------------------------------------------------------
    @property
    def visible_range(self) -> tuple[dt.datetime, dt.datetime]:
        """``(start, end)``: the visible range as aware UTC datetimes (end exclusive)."""
        return _from_ms(self.view[0]), _from_ms(self.view[1])

    def zoom(
        self, start: TimeLike, end: TimeLike, *, highlight: tuple[Any, Any] | None = None
    ) -> None:
        """Show ``[start, end)`` (aware datetimes or ISO text); optionally shade a span."""
        s = parse_time(start, name="start", where="CandleChart.zoom")
        e = parse_time(end, name="end", where="CandleChart.zoom")
        if s is None or e is None or e <= s:
            raise ConfigurationError(
                f"CandleChart.zoom: need start < end, got {start!r} and {end!r}"
            )
        if highlight is not None:
            hs = parse_time(highlight[0], name="highlight start", where="CandleChart.zoom")
            he = parse_time(highlight[1], name="highlight end", where="CandleChart.zoom")
            self.highlight = [_to_ms(hs), _to_ms(he)] if hs and he else []
        self._answer(_to_ms(s), _to_ms(e), seq=None, client=None)

    @property
    def candles(self) -> pl.DataFrame:
        """The candles currently drawn, with one column per series."""
        if self._drawn is None:
            return pl.DataFrame()
        return self._index.frame(*self._drawn).rename(
            {col: name for name, col in self._series.items()}
        )

    @property
    def markers(self) -> pl.DataFrame:
        """Every trade marker: ``timestamp`` (UTC), ``price``, ``side`` (buy/sell)."""
        t = self._trades
        return pl.DataFrame(
            {
                "timestamp": pl.Series(np.round(t[:, 0] * 1000.0).astype(np.int64)).cast(
                    pl.Datetime("us", "UTC")
                ),
                "price": t[:, 1],
                "side": np.where(t[:, 2] > 0, "buy", "sell"),
            },
            schema={"timestamp": pl.Datetime("us", "UTC"), "price": pl.Float64, "side": pl.String},
        )

    @property
    def index(self) -> ZoomIndex:
        """The zoom pyramid of the bars."""
        return self._index

    # -- messages --------------------------------------------------------------------------
    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        if content.get("type") == "hello":
            start, end = self.view
            self._answer(start, end, seq=content.get("seq"), client=content.get("client"))
            return
        if content.get("type") != "zoom":
            return
        try:
            start, end = float(content["start"]), float(content["end"])
        except (KeyError, TypeError, ValueError):
            return  # a malformed request from the page is ignored, the view stays
        if not (np.isfinite(start) and np.isfinite(end)) or end <= start:
            return
        self._answer(start, end, seq=content.get("seq"), client=content.get("client"), adopt=False)

    def encode(self, start_ms: float, end_ms: float) -> tuple[dict[str, Any], list[bytes]]:
        """The candles message of ``[start_ms, end_ms)``: header and buffers (see module)."""
        level, lo, hi = self._index.choose(
            round(start_ms * 1000.0), round(end_ms * 1000.0), int(self.max_candles)
        )
        self._drawn = (level, lo, hi)
        n = hi - lo
        packed = self._pack(level, lo, hi)
        trades = self._trades
        if trades.shape[0]:
            first = level.ts[lo] / 1000.0 if n else start_ms
            a, b = np.searchsorted(trades[:, 0], [min(first, start_ms), end_ms])
            trades = trades[a : min(b, a + _MAX_TRADES)]
        header = {
            "type": "candles",
            "start": start_ms,
            "end": end_ms,
            "timeframe": level.label,
            "bucket_ms": level.duration_us / 1000.0,
            "n": n,
            "columns": ["timestamp", "open", "high", "low", "close", "volume", *self._series],
            "n_trades": int(trades.shape[0]),
        }
        return header, [packed.tobytes(), np.ascontiguousarray(trades).tobytes()]

    def _pack(self, level: ZoomLevel, lo: int, hi: int) -> np.ndarray[Any, Any]:
        """Rows ``lo:hi`` of a level as float64 columns: time (ms), OHLCV, series."""
        rows = level.last_rows(lo, hi)
        packed = np.empty((6 + len(self._series), hi - lo), dtype=np.float64)
        packed[0] = level.ts[lo:hi]
        packed[0] /= 1000.0
        packed[1] = level.open[lo:hi]
        packed[2] = level.high[lo:hi]
        packed[3] = level.low[lo:hi]
        packed[4] = level.close[lo:hi]
        packed[5] = level.volume[lo:hi]
        for i, col in enumerate(self._series.values()):
            packed[6 + i] = self._index.extra[col][rows]
        return packed

    # -- offline ---------------------------------------------------------------------------
    def static_payload(self, *, max_rows: int = 100_000) -> dict[str, Any]:
        """What :meth:`to_html` embeds: the chart's state and the pyramid's levels, coarsest
        first until ``max_rows`` candles in all (the finer levels beyond are left out, so a
        deep zoom shows the finest level kept), each as base64 float64 columns."""
        kept: list[ZoomLevel] = []
        total = 0
        for level in reversed(self._index.levels):
            if kept and total + level.size > max_rows:
                break
            kept.append(level)
            total += level.size
        kept.reverse()
        finest_ms = kept[0].duration_us / 1000.0
        return {
            "state": {
                "view": list(self.view),
                "extent": list(self.extent),
                "series": list(self.series),
                "highlight": list(self.highlight),
                "title": self.title,
                "chart_height": self.chart_height,
                "max_candles": self.max_candles,
                "min_span_ms": max(self.min_span_ms, finest_ms * 10),
            },
            "columns": ["timestamp", "open", "high", "low", "close", "volume", *self._series],
            "levels": [
                {
                    "label": lv.label,
                    "bucket_ms": lv.duration_us / 1000.0,
                    "n": lv.size,
                    "data": base64.b64encode(self._pack(lv, 0, lv.size).tobytes()).decode(),
                }
                for lv in kept
            ],
            "trades": base64.b64encode(np.ascontiguousarray(self._trades).tobytes()).decode(),
        }

    def to_html(self, *, max_rows: int = 100_000) -> str:
        """The chart as one self-contained HTML fragment for a report: the renderer and the
        zoom levels inlined, nothing loaded from the network. It pans, zooms and shows the
        readout like the notebook chart, with no kernel: each zoom picks its candles from
        the embedded levels by the same rule (exact, at most ``max_candles``).

        ``Report.add_html(chart.to_html())`` puts it in an HTML report (the page then holds
        one module script; a PDF prints what it shows).
        """
        uid = f"omni-chart-{secrets.token_hex(6)}"
        js = _script_json(_HERE.joinpath("_chart.js").read_text(encoding="utf-8"))
        css = _HERE.joinpath("_chart.css").read_text(encoding="utf-8")
        payload = _script_json(self.static_payload(max_rows=max_rows))
        return (
            f'<div class="omni-chart-static" id="{uid}"></div><style>{css}</style>'
            '<script type="module">'
            f"const src = {js};"
            'const url = URL.createObjectURL(new Blob([src], {type: "text/javascript"}));'
            "const mod = await import(url);"
            f'mod.renderStatic(document.getElementById("{uid}"), {payload});'
            "</script>"
        )

    def _answer(
        self, start_ms: float, end_ms: float, *, seq: Any, client: Any, adopt: bool = True
    ) -> None:
        header, buffers = self.encode(start_ms, end_ms)
        header["seq"] = seq
        header["client"] = client
        header["adopt"] = adopt
        with self.hold_sync():
            self.view = [start_ms, end_ms]
            self.timeframe = header["timeframe"]
        self.send(header, buffers)


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element (no ``</script>``, no ``<!--``)."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")


def _auto_panel(values: np.ndarray[Any, Any], lo: float, hi: float, name: str) -> str:
    """``"price"`` when the series' median lies on the price scale, else its own panel."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return "price"
    median = float(np.median(finite))
    spread = max(hi - lo, abs(hi) * 1e-6)
    return "price" if lo - 0.5 * spread <= median <= hi + 0.5 * spread else name


def _trade_array(trades: pl.DataFrame | pl.LazyFrame | None) -> np.ndarray[Any, Any]:
    """(timestamp ms, price, +1 buy / -1 sell) rows sorted by time."""
    if trades is None:
        return np.empty((0, 3), dtype=np.float64)
    from omni_research.plotting._candles import trade_points

    df = trades.collect() if isinstance(trades, pl.LazyFrame) else trades
    parts = []
    points = trade_points(df, symbol=None)
    for side, sign in (("buy", 1.0), ("sell", -1.0)):
        pts = points[side]
        ts = pts.get_column("timestamp")
        if not isinstance(ts.dtype, pl.Datetime) or ts.dtype.time_zone is None:
            raise DataFormatError(
                f"CandleChart: trade column 'timestamp' has type {ts.dtype}; expected an aware "
                "Datetime"
            )
        ms = ts.dt.convert_time_zone("UTC").dt.epoch("us").cast(pl.Float64) / 1000.0
        price = pts.get_column("price").cast(pl.Float64)
        parts.append(np.column_stack([ms.to_numpy(), price.to_numpy(), np.full(pts.height, sign)]))
    out = np.concatenate(parts) if parts else np.empty((0, 3))
    out = out[np.isfinite(out[:, 0]) & np.isfinite(out[:, 1])]
    return np.ascontiguousarray(out[np.argsort(out[:, 0], kind="stable")], dtype=np.float64)
