"""CandleChart, Python side: zoom -> candles and visible range, the message protocol, series
and trade markers aligned with the bars (the browser side is tests/browser/)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from omni_research.exceptions import ConfigurationError, DataFormatError
from omni_research.widgets import CandleChart

UTC = dt.UTC
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


def _ms(t: dt.datetime) -> float:
    return (t - EPOCH) / dt.timedelta(milliseconds=1)


def _reference(bars: pl.DataFrame, every: str, *extra: str) -> pl.DataFrame:
    return bars.group_by_dynamic("timestamp", every=every).agg(
        pl.col("open").first(),
        pl.col("high").max(),
        pl.col("low").min(),
        pl.col("close").last(),
        pl.col("volume").sum(),
        *[pl.col(c).last() for c in extra],
    )


def _assert_candles(got: pl.DataFrame, ref: pl.DataFrame, *extra: str) -> None:
    assert got["timestamp"].to_list() == ref["timestamp"].to_list()
    for c in ("open", "high", "low", "close", *extra):
        np.testing.assert_array_equal(got[c].to_numpy(), ref[c].to_numpy(), err_msg=c)
    np.testing.assert_allclose(got["volume"].to_numpy(), ref["volume"].to_numpy(), rtol=1e-12)


class Recorder:
    """Stands in for the browser: keeps what the chart sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[dict[str, Any], list[bytes]]] = []

    def __call__(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        self.sent.append((content, list(buffers or [])))

    def decode(self) -> tuple[dict[str, Any], pl.DataFrame, np.ndarray[Any, Any]]:
        """The last message as the JavaScript reads it: column-major float64, trade triples."""
        header, buffers = self.sent[-1]
        packed = np.frombuffer(buffers[0], dtype=np.float64).reshape(len(header["columns"]), -1)
        frame = pl.DataFrame(dict(zip(header["columns"], packed, strict=True)))
        frame = frame.with_columns(
            (pl.col("timestamp") * 1000).cast(pl.Int64).cast(pl.Datetime("us", "UTC"))
        )
        trades = np.frombuffer(buffers[1], dtype=np.float64).reshape(-1, 3)
        return header, frame, trades


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    """Seven days of 1-minute bars from Monday 2025-01-06 (a random walk), two series."""
    rng = np.random.default_rng(11)
    n = 7 * 1440
    t0 = dt.datetime(2025, 1, 6, tzinfo=UTC)
    close = 95_000 + np.cumsum(rng.normal(0, 20, n))
    open_ = np.r_[95_000, close[:-1]]
    df = pl.DataFrame(
        {
            "timestamp": pl.datetime_range(
                t0, t0 + dt.timedelta(minutes=n - 1), "1m", time_zone="UTC", eager=True
            ),
            "symbol": "BTCUSDT",
            "open": open_,
            "high": np.maximum(open_, close) + rng.exponential(5, n),
            "low": np.minimum(open_, close) - rng.exponential(5, n),
            "close": close,
            "volume": rng.exponential(3, n),
        }
    )
    return df.with_columns(
        sma=pl.col("close").rolling_mean(20),
        rsi_like=(pl.col("close").diff() > 0).cast(pl.Float64).rolling_mean(14) * 100,
    )


@pytest.fixture
def chart(bars: pl.DataFrame) -> tuple[CandleChart, Recorder]:
    ch = CandleChart(bars, indicators={"sma": "sma", "osc": bars["rsi_like"]})
    rec = Recorder()
    ch.send = rec  # type: ignore[method-assign]
    return ch, rec


def test_whole_data_at_first_as_exact_15m_candles(
    chart: tuple[CandleChart, Recorder], bars: pl.DataFrame
) -> None:
    ch, _ = chart
    first, last = bars["timestamp"].min(), bars["timestamp"].max()
    assert isinstance(first, dt.datetime) and isinstance(last, dt.datetime)
    assert ch.visible_range == (first, last + dt.timedelta(minutes=1))
    # 7 days of minutes: 5m would draw 2016 candles > 1500, so 15m (672)
    assert ch.timeframe == "15m" and ch.candles.height == 7 * 96
    _assert_candles(
        ch.candles,
        _reference(bars, "15m", "sma", "rsi_like").rename({"rsi_like": "osc"}),
        "sma",
        "osc",
    )


@pytest.mark.parametrize(
    ("start", "end", "timeframe", "n"),
    [
        ("2025-01-08T10:00Z", "2025-01-08T11:00Z", "1m", 60),
        ("2025-01-08T10:30:30Z", "2025-01-09T10:30Z", "1m", 1440),  # from the 10:30 bucket
        ("2025-01-07", "2025-01-10", "3m", 3 * 480),
        ("2025-01-07", "2025-01-12", "5m", 5 * 288),
        ("2024-12-01", "2025-03-01", "15m", 7 * 96),  # wider than the data
    ],
)
def test_zoom_from_python_sets_range_and_sends_exact_candles(
    chart: tuple[CandleChart, Recorder],
    bars: pl.DataFrame,
    start: str,
    end: str,
    timeframe: str,
    n: int,
) -> None:
    ch, rec = chart
    ch.zoom(start, end)
    s, e = (dt.datetime.fromisoformat(v.replace("Z", "+00:00")) for v in (start, end))
    s, e = (v if v.tzinfo else v.replace(tzinfo=UTC) for v in (s, e))
    assert ch.visible_range == (s, e)
    got = ch.candles
    assert got["timeframe"].unique().to_list() == [timeframe]
    ref = _reference(bars, timeframe, "sma").filter(
        (pl.col("timestamp") < e)
        & (pl.col("timestamp") + pl.duration(minutes=int(timeframe[:-1])) > s)
    )
    assert got.height == ref.height == n
    _assert_candles(got, ref, "sma")
    # what the browser receives is the same frame, bit for bit
    header, sent, _ = rec.decode()
    assert header["type"] == "candles" and header["seq"] is None and header["adopt"] is True
    assert (header["start"], header["end"]) == (_ms(s), _ms(e))
    assert header["timeframe"] == timeframe and header["n"] == got.height
    assert header["bucket_ms"] == int(timeframe[:-1]) * 60_000
    assert header["columns"] == [
        "timestamp",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "sma",
        "osc",
    ]
    assert sent.equals(got.drop("timeframe"))


def test_browser_zoom_message_is_answered_with_its_seq_and_updates_the_range(
    chart: tuple[CandleChart, Recorder], bars: pl.DataFrame
) -> None:
    ch, rec = chart
    s = dt.datetime(2025, 1, 9, 6, tzinfo=UTC)
    e = s + dt.timedelta(hours=30)
    ch._handle_custom_msg(
        {"type": "zoom", "start": _ms(s), "end": _ms(e), "seq": 7, "client": "abc"}, []
    )
    assert ch.visible_range == (s, e)
    assert list(ch.view) == [_ms(s), _ms(e)]
    header, sent, _ = rec.decode()
    assert (header["seq"], header["client"], header["adopt"]) == (7, "abc", False)
    assert ch.timeframe == header["timeframe"] == "3m"  # 1800 minutes > 1500 >= 600
    assert sent.height == 600 <= ch.max_candles
    _assert_candles(
        sent, _reference(bars, "3m").filter(pl.col("timestamp").is_between(s, e, closed="left"))
    )
    # malformed or foreign messages are ignored: the view stays
    for bad in (
        {"type": "zoom", "start": "x", "end": 1},
        {"type": "zoom", "start": _ms(e), "end": _ms(s)},
        {"type": "zoom", "start": float("nan"), "end": 1.0},
        {"type": "hover"},
        ["zoom"],
    ):
        ch._handle_custom_msg(bad, [])
    assert ch.visible_range == (s, e) and len(rec.sent) == 1
    # a view that appears later says hello and is told the kernel's range (and adopts it)
    ch._handle_custom_msg({"type": "hello", "seq": 1, "client": "new", "start": 0, "end": 1}, [])
    header, hello, _ = rec.decode()
    assert (header["seq"], header["client"], header["adopt"]) == (1, "new", True)
    assert (header["start"], header["end"]) == (_ms(s), _ms(e)) and hello.equals(sent)


def test_max_candles_bounds_every_answer(bars: pl.DataFrame) -> None:
    ch = CandleChart(bars, max_candles=100)
    rec = Recorder()
    ch.send = rec  # type: ignore[method-assign]
    rng = np.random.default_rng(3)
    lo, hi = ch.extent
    for _ in range(40):
        a, b = np.sort(rng.uniform(lo, hi, 2))
        ch._handle_custom_msg({"type": "zoom", "start": a, "end": b + 60_000, "seq": 1}, [])
        header, sent, _ = rec.decode()
        assert 0 < header["n"] <= 100 and sent.height == header["n"]
        # whole buckets cover the requested range
        assert _ms(sent["timestamp"][0]) <= max(a, lo)
        assert _ms(sent["timestamp"][-1]) + header["bucket_ms"] >= min(b + 60_000, hi)


def test_series_placement_and_bad_series(bars: pl.DataFrame) -> None:
    ch = CandleChart(bars, indicators={"sma": "sma", "osc": "rsi_like"})
    assert ch.series == [{"name": "sma", "panel": "price"}, {"name": "osc", "panel": "osc"}]
    ch = CandleChart(bars, indicators={"sma": "sma"}, panels={"sma": "trend"})
    assert ch.series == [{"name": "sma", "panel": "trend"}]
    with pytest.raises(DataFormatError, match="'nosuch'"):
        CandleChart(bars, indicators={"x": "nosuch"})
    with pytest.raises(DataFormatError, match="has 3 values for 10080 bars"):
        CandleChart(bars, indicators={"x": pl.Series([1.0, 2.0, 3.0])})
    with pytest.raises(ConfigurationError, match="need start < end"):
        ch.zoom("2025-01-09", "2025-01-08")


def test_trade_markers_in_range_with_their_side(
    chart: tuple[CandleChart, Recorder], bars: pl.DataFrame
) -> None:
    t = bars["timestamp"]
    round_trips = pl.DataFrame(
        {
            "entry_time": [t[100], t[5000]],
            "entry_price": [1.0, 2.0],
            "exit_time": [t[200], None],
            "exit_price": [1.5, None],
            "size": [1.0, -2.0],
        }
    )
    ch = CandleChart(bars, trades=round_trips)
    rec = Recorder()
    ch.send = rec  # type: ignore[method-assign]
    ch.zoom(t[50], t[300])
    *_, trades = rec.decode()
    # the long trade: a buy at entry, a sell at exit; the short one is out of range
    assert trades.tolist() == [[_ms(t[100]), 1.0, 1.0], [_ms(t[200]), 1.5, -1.0]]
    ch.zoom(t[4000], t[6000])
    *_, trades = rec.decode()
    assert trades.tolist() == [[_ms(t[5000]), 2.0, -1.0]]  # short entry: a sell marker


def test_set_data_keeps_or_resets_the_view(
    chart: tuple[CandleChart, Recorder], bars: pl.DataFrame
) -> None:
    ch, _ = chart
    ch.zoom("2025-01-08", "2025-01-09")
    day = ch.visible_range
    ch.set_data(
        bars.filter(pl.col("timestamp") >= dt.datetime(2025, 1, 7, tzinfo=UTC)), keep_view=True
    )
    assert ch.visible_range == day and ch.series == []
    ch.set_data(bars.head(100))
    assert ch.visible_range == (bars["timestamp"][0], bars["timestamp"][100])
    assert ch.candles.height == 100 and ch.timeframe == "1m"


def test_the_view_is_one_bundled_module_that_loads_nothing_from_the_network() -> None:
    """Offline by construction: _esm/_css are the package's files, and the module imports
    nothing and fetches nothing (no CDN at run time)."""
    import omni_research.widgets as widgets

    here = Path(widgets.__file__).parent
    js = (here / "_chart.js").read_text()
    css = (here / "_chart.css").read_text()
    assert str(CandleChart._esm) == js and str(CandleChart._css) == css
    assert re.findall(r"^\s*import\b|\bimport\(|\bfetch\(|XMLHttpRequest|https?://", js, re.M) == []
    assert "url(" not in css and "@import" not in css
    # the DOM contract the browser tests read is in the module
    for name in ("omni-candle-chart", "omni-chart-readout", "redrawMs", "dataset.timeframe"):
        assert name in js


def test_static_payload_embeds_exact_levels_coarsest_first(bars: pl.DataFrame) -> None:
    import base64

    ch = CandleChart(bars, indicators={"sma": "sma"}, title="a </script><!-- title")
    levels = ch.index.levels
    sizes = [lv.size for lv in levels]
    payload = ch.static_payload(max_rows=sum(sizes[2:]))  # room for all but 1m and 3m
    assert [lv["label"] for lv in payload["levels"]] == [lv.label for lv in levels[2:]]
    assert payload["state"]["min_span_ms"] == 10 * 5 * 60_000  # ten of the finest kept
    for lv, emb in zip(levels[2:], payload["levels"], strict=True):
        cols = np.frombuffer(base64.b64decode(emb["data"]), dtype=np.float64).reshape(7, -1)
        ref = ch.index.frame(lv, 0, lv.size)
        assert emb["n"] == lv.size and emb["bucket_ms"] == lv.duration_us / 1000
        np.testing.assert_array_equal(cols[0] * 1000, ref["timestamp"].dt.epoch("us"))
        for k, c in enumerate(("open", "high", "low", "close", "volume", "__series0"), 1):
            np.testing.assert_array_equal(cols[k], ref[c].to_numpy(), err_msg=c)
    assert len(ch.static_payload(max_rows=1)["levels"]) == 1  # the coarsest always
    html_text = ch.to_html()
    assert html_text.count("<script") == 1 and html_text.count("</script>") == 1
    assert "<!--" not in html_text and re.search(r"https?://", html_text) is None


@pytest.mark.xdist_group("chart-browser")
def test_static_html_chart_zooms_exactly_without_a_kernel(
    bars: pl.DataFrame, tmp_path: Path
) -> None:
    """The report's offline chart in headless Chromium: after wheel zooms the page draws the
    same level and candles Python's ZoomIndex gives for the range it shows."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (make browser)")
    sync_api = pytest.importorskip("playwright.sync_api")
    ch = CandleChart(bars, indicators={"sma": "sma"})
    page_file = tmp_path / "chart.html"
    page_file.write_text(f"<!doctype html><body style='width:1100px'>{ch.to_html()}</body>")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 700})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.as_uri())
            root = page.locator(".omni-candle-chart")
            page.wait_for_function(
                "() => document.querySelector('.omni-candle-chart')?.dataset.candles"
            )
            box = root.locator("canvas").bounding_box()
            assert box is not None
            page.mouse.move(box["x"] + 400, box["y"] + 120)
            for steps in (3, 4):
                before = root.get_attribute("data-start")
                for _ in range(steps):
                    page.mouse.wheel(0, -300)
                    page.wait_for_timeout(30)
                page.wait_for_function(
                    "(b) => document.querySelector('.omni-candle-chart').dataset.start !== b",
                    arg=before,
                )
                page.wait_for_timeout(200)
                d = root.evaluate("e => ({...e.dataset})")
                s, e = (
                    dt.datetime.fromisoformat(d[k].replace("Z", "+00:00")) for k in ("start", "end")
                )
                want = ch.index.window(s, e)
                assert (d["timeframe"], int(d["candles"])) == (want["timeframe"][0], want.height)
            # the hover readout is the candle under the cursor, to 10 digits
            page.mouse.move(box["x"] + 400, box["y"] + 150)
            text = root.locator(".omni-chart-readout").text_content() or ""
            m = re.match(r"(\S+ \S+) UTC O (\S+) H (\S+) L (\S+) C (\S+) V (\S+) sma=(\S+)", text)
            assert m is not None, text
            at = dt.datetime.fromisoformat(m[1]).replace(tzinfo=UTC)
            (row,) = (
                want.with_columns(sma=want["__series0"])
                .filter(pl.col("timestamp") == at)
                .iter_rows(named=True)
            )
            for k, c in enumerate(("open", "high", "low", "close", "volume", "sma"), 2):
                assert float(m[k]) == pytest.approx(row[c], rel=1e-9), c
            assert all(u.startswith(("file:", "blob:")) for u in requests), requests
        finally:
            browser.close()
