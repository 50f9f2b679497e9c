"""Benchmark: the interactive candlestick chart on 10,000,000 one-minute bars (~19 years).

Prints

1. the build time of the zoom pyramid (:class:`omni_research._zoom.ZoomIndex`) and of a
   :class:`omni_research.widgets.CandleChart` over the bars (with one indicator series);
2. for every ladder level, the kernel's time from a zoom request to the message sent
   (``ZoomIndex`` window + encoding into one float64 buffer; median, p95 and max of
   ``--zooms`` random zooms whose range falls on that level), against two peers on the same
   ranges:

   - *exact, no pyramid*: Polars ``filter`` + ``group_by_dynamic`` of the raw bars of the
     range, what an exact chart does without an index;
   - *matplotlib static redraw*: the kit's own static chart of the range
     (``plot_candles``, which aggregates the range to at most 1,500 candles, rendered to a
     PNG), as a report or an ipympl figure would redraw on each zoom;

3. with ``--browser`` (Debian's Chromium through Playwright, headless): the JavaScript
   redraw time of ``_chart.js`` for the same messages (decode the buffer, draw the candles,
   volume and series on the canvas, and read a pixel back so the canvas has really drawn),
   median per level, and the sum kernel + redraw. The
   transport between kernel and page is not in this sum; the real-browser test in
   ``tests/browser/`` reads the chart's own ``data-redraw-ms`` (input event to redrawn, in
   JupyterLab) for that.

Goal: zoom to redrawn chart <= 150 ms at every level.

Usage: ``python benchmarks/bench_chart.py [--bars 10_000_000] [--zooms 200] [--browser]``
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from omni_research._time import timeframe_duration_us
from omni_research._zoom import ZoomIndex
from omni_research.widgets import CandleChart

START = dt.datetime(2007, 1, 1, tzinfo=dt.UTC)
CHROMIUM = "/usr/bin/chromium"
JS = Path(__file__).resolve().parents[1] / "omni_research" / "widgets" / "_chart.js"


def make_bars(n: int, *, seed: int = 0) -> pl.DataFrame:
    """n one-minute bars of a random walk from 2007-01-01, with 1% of the minutes missing."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 5e-4, n)))
    open_ = np.r_[100.0, close[:-1]]
    spread = rng.exponential(2e-4, n) * close
    minutes = np.arange(n, dtype=np.int64)
    keep = rng.random(n) > 0.01
    start_us = (START - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
    return pl.DataFrame(
        {
            "timestamp": pl.Series(start_us + minutes[keep] * 60_000_000).cast(
                pl.Datetime("us", "UTC")
            ),
            "open": open_[keep],
            "high": np.maximum(open_, close)[keep] + spread[keep],
            "low": np.minimum(open_, close)[keep] - spread[keep],
            "close": close[keep],
            "volume": rng.exponential(5.0, n)[keep],
        }
    )


def _ranges(index: ZoomIndex, k: int, zooms: int, max_candles: int, seed: int) -> list[Any]:
    """Random (start_ms, end_ms) whose candles fall on level k."""
    rng = np.random.default_rng(seed)
    level = index.levels[k]
    finer = index.levels[k - 1].duration_us if k else 0
    whole = index.end_us - index.start_us
    lo_span = min(finer * max_candles * 1.05 if k else level.duration_us * 20, whole * 0.9)
    hi_span = min(level.duration_us * max_candles * 0.95, whole)
    out = []
    for _ in range(zooms * 20):
        span = rng.uniform(lo_span, max(hi_span, lo_span * 1.01))
        start = rng.uniform(index.start_us, max(index.end_us - span, index.start_us + 1))
        s, e = int(start), int(start + span)
        if index.choose(s, e, max_candles)[0] is level:
            out.append((s / 1000.0, e / 1000.0))
        if len(out) == zooms:
            break
    return out


def _stats(xs: list[float]) -> tuple[float, float, float]:
    xs = sorted(xs)
    return statistics.median(xs), xs[int(0.95 * (len(xs) - 1))], xs[-1]


def peer_polars(bars: pl.DataFrame, label: str, s_ms: float, e_ms: float) -> pl.DataFrame:
    s = dt.datetime.fromtimestamp(s_ms / 1000.0, tz=dt.UTC)
    e = dt.datetime.fromtimestamp(e_ms / 1000.0, tz=dt.UTC)
    dur = dt.timedelta(microseconds=timeframe_duration_us(label))
    return (
        bars.filter((pl.col("timestamp") > s - dur) & (pl.col("timestamp") < e))
        .group_by_dynamic("timestamp", every=label)
        .agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col("volume").sum(),
        )
    )


def peer_matplotlib(bars: pl.DataFrame, s_ms: float, e_ms: float) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from omni_research.plotting import figure_to_png, plot_candles

    s = dt.datetime.fromtimestamp(s_ms / 1000.0, tz=dt.UTC)
    e = dt.datetime.fromtimestamp(e_ms / 1000.0, tz=dt.UTC)
    fig = plot_candles(bars.filter(pl.col("timestamp").is_between(s, e, closed="left")))
    png = figure_to_png(fig, dpi=80)
    plt.close(fig)
    return png


PAGE = """<!doctype html><html><body style="margin:0;width:1200px"><div id="host"></div>
<script type="module">
const mod = await import(URL.createObjectURL(new Blob([%s], {type: "text/javascript"})));
const state = %s;
const handlers = [];
const model = {
  get: (k) => state[k], set: (k, v) => { state[k] = v; }, save_changes: () => {},
  on: (ev, cb) => { if (ev === "msg:custom") handlers.push(cb); },
  off: () => {}, send: () => {},
};
function view(b64) {
  const bin = atob(b64); const u = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
  return new DataView(u.buffer);
}
window.__deliver = (header, b0, b1) => {
  const bufs = [view(b0), view(b1)];
  const t = performance.now();
  for (const cb of handlers) cb(header, bufs);
  // reading a pixel back makes the canvas execute its queued drawing now
  document.querySelector("canvas").getContext("2d").getImageData(0, 0, 1, 1);
  return performance.now() - t;
};
mod.default.render({ model, el: document.getElementById("host") });
window.__ready = true;
</script></body></html>"""


def js_redraw(chart: CandleChart, messages: dict[str, list[Any]]) -> dict[str, float]:
    """Median JS time per level: decode + draw of each message, in headless Chromium."""
    from playwright.sync_api import sync_playwright

    state = {
        k: getattr(chart, k)
        for k in ("view", "extent", "series", "highlight", "title", "chart_height")
    }
    state.update(max_candles=chart.max_candles, min_span_ms=chart.min_span_ms)
    page_html = PAGE % (json.dumps(JS.read_text()), json.dumps(state))
    out = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 700})
            page.set_content(page_html)
            page.wait_for_function("window.__ready === true")
            for label, msgs in messages.items():
                times = []
                for header, buffers in msgs:
                    b0, b1 = (base64.b64encode(b).decode() for b in buffers)
                    times.append(
                        page.evaluate("([h, a, b]) => window.__deliver(h, a, b)", [header, b0, b1])
                    )
                out[label] = statistics.median(times[1:] or times)
        finally:
            browser.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bars", type=lambda s: int(s.replace("_", "")), default=10_000_000)
    ap.add_argument("--zooms", type=int, default=200)
    ap.add_argument("--peer-zooms", type=int, default=10)
    ap.add_argument("--browser", action="store_true", help="also time the JS redraw")
    args = ap.parse_args()

    t = time.perf_counter()
    bars = make_bars(args.bars)
    span = bars["timestamp"][-1] - bars["timestamp"][0]
    print(
        f"{bars.height:,} one-minute bars over {span.days / 365.25:.1f} years "
        f"(made in {time.perf_counter() - t:.1f} s)"
    )
    t = time.perf_counter()
    index = ZoomIndex(bars)
    print(f"ZoomIndex build: {time.perf_counter() - t:.2f} s, {len(index.levels)} levels")
    sma = bars["close"].rolling_mean(200)
    t = time.perf_counter()
    chart = CandleChart(bars, indicators={"sma200": sma})
    print(f"CandleChart(bars, indicators={{'sma200': ...}}): {time.perf_counter() - t:.2f} s")
    sent: list[Any] = []

    def capture(content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        json.dumps(content)  # what the kernel's comm does with the header
        sent.append((content, buffers))

    chart.send = capture  # type: ignore[method-assign]
    mc = chart.max_candles
    print(
        f"\nzoom -> message sent (kernel side), {args.zooms} random zooms per level, "
        f"max_candles={mc}; peers on {args.peer_zooms} of the same ranges"
    )
    head = (
        f"{'level':>5} {'candles':>7} {'median ms':>9} {'p95 ms':>7} {'max ms':>7} "
        f"{'polars ms':>9} {'x':>6} {'mpl ms':>8} {'x':>6}"
    )
    print(head)
    worst = 0.0
    messages: dict[str, list[Any]] = {}
    kernel_median: dict[str, float] = {}
    for k, level in enumerate(index.levels):
        ranges = _ranges(index, k, args.zooms, mc, seed=k)
        if not ranges:
            continue
        times = []
        counts = []
        for s, e in ranges:
            t = time.perf_counter()
            chart._on_message(chart, {"type": "zoom", "start": s, "end": e, "seq": 1}, [])
            times.append((time.perf_counter() - t) * 1e3)
            counts.append(sent[-1][0]["n"])
        assert {m[0]["timeframe"] for m in sent[-len(ranges) :]} == {level.label}
        messages[level.label] = sent[-min(20, len(ranges)) :]
        sent.clear()
        med, p95, mx = _stats(times)
        worst = max(worst, p95)
        kernel_median[level.label] = med
        peer = []
        for s, e in ranges[: args.peer_zooms]:
            t = time.perf_counter()
            peer_polars(bars, level.label, s, e)
            peer.append((time.perf_counter() - t) * 1e3)
        pmed = statistics.median(peer)
        mpl = []
        for s, e in ranges[: max(1, args.peer_zooms // 5)]:
            t = time.perf_counter()
            peer_matplotlib(bars, s, e)
            mpl.append((time.perf_counter() - t) * 1e3)
        mmed = statistics.median(mpl)
        print(
            f"{level.label:>5} {int(statistics.median(counts)):>7} {med:>9.2f} {p95:>7.2f} "
            f"{mx:>7.2f} {pmed:>9.1f} {pmed / med:>6.0f} {mmed:>8.0f} {mmed / med:>6.0f}"
        )
    print(f"worst p95 kernel time: {worst:.2f} ms (goal for zoom -> redrawn: 150 ms)")

    if args.browser and not Path(CHROMIUM).exists():
        print(f"\nJS redraw not timed: {CHROMIUM} is not installed (make browser)")
    elif args.browser:
        print("\nJS redraw in headless Chromium (decode + draw), median of 20 per level")
        js = js_redraw(chart, messages)
        print(f"{'level':>5} {'JS ms':>7} {'kernel+JS ms':>12}")
        for label, ms in js.items():
            print(f"{label:>5} {ms:>7.2f} {ms + kernel_median[label]:>12.2f}")
        print(f"worst kernel+JS median: {max(js[x] + kernel_median[x] for x in js):.2f} ms")


if __name__ == "__main__":
    main()
