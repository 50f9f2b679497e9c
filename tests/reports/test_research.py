"""The research report on the shipped data_test: sections, numbers, lineage, guard, CLI."""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

import omni_research as omr
from omni_research import backtest
from omni_research.bars import resample_ohlcv
from omni_research.cli import report_main
from omni_research.exceptions import ConfigurationError, DataFormatError, ProductionDataError
from omni_research.reports import Report, build_research_report
from omni_research.reports._research import STRATEGIES, ResearchRun, run_research

from .conftest import REMOTE_REF, needs_chromium, needs_pdftoppm
from .render import open_in_chromium, pdf_pages_png, pixel_std

SYMBOLS = ["BTCUSDT", "SOLUSDT"]


@pytest.fixture(scope="module")
def catalog() -> omr.Catalog:
    return omr.open_catalog()


@pytest.fixture(scope="module")
def report(catalog: omr.Catalog) -> Report:
    return build_research_report(catalog, symbols=SYMBOLS, timeframe="1h")


@pytest.fixture(scope="module")
def report_html(report: Report) -> str:
    return report.to_html()


def _lineage_json(text: str) -> dict[str, object]:
    m = re.search(r'<pre id="omni-lineage-json">(.*?)</pre>', text, re.DOTALL)
    assert m is not None
    data: dict[str, object] = json.loads(html.unescape(m.group(1)))
    return data


def test_research_report_has_every_section_figure_and_table(
    report: Report, report_html: str
) -> None:
    h2 = re.findall(r"<h2 id=\"[^\"]+\">([^<]+)</h2>", report_html)
    assert h2 == ["Summary", "Data", "Data quality", "Backtest", "Parameter sweep", "Lineage"]
    # candles per symbol + quality timeline + equity + sweep heatmap
    assert report.n_figures == len(SYMBOLS) + 3
    assert len(re.findall(r'<img src="data:image/png;base64,', report_html)) == report.n_figures
    # overview, quality summary + findings, metrics, trades per symbol, trades, sweep top 10
    assert report.n_tables == 7
    assert "<script" not in report_html.lower()
    assert not REMOTE_REF.findall(report_html)


def test_research_report_overview_counts_the_bars_it_read(
    catalog: omr.Catalog, report_html: str
) -> None:
    minute = catalog.load("ohlcv", symbols=SYMBOLS, timeframe="1m")
    counts = dict(minute.group_by("symbol").len().iter_rows())
    assert counts["SOLUSDT"] < counts["BTCUSDT"]  # SOLUSDT's shipped outage
    overview = report_html.split("Table 1.")[0].rsplit("<table", 1)[1]
    for sym in SYMBOLS:
        row = overview.split(f"<td>{sym}</td>")[1].split("</tr>")[0]
        assert f">{counts[sym]:,}<" in row


def test_research_report_backtest_matches_an_independent_run(
    catalog: omr.Catalog, report_html: str
) -> None:
    minute = catalog.load("ohlcv", symbols=SYMBOLS, timeframe="1m")
    hourly = resample_ohlcv(minute, timeframe="1h").filter(~pl.col("is_partial"))
    close = pl.col("close")
    f, s = close.rolling_mean(10), close.rolling_mean(30)
    signal = pl.when(f > s).then(1.0).when(f < s).then(-1.0).otherwise(0.0)
    funding = catalog.load("funding", symbols=SYMBOLS)
    res = backtest.run(hourly, signal, fee=0.00055, slippage=0.0001, funding=funding)
    stats = res.stats()
    assert f"<td>total_return</td><td>{stats['total_return']:.6g}</td>" in report_html
    assert f"<td>n_trades</td><td>{stats['n_trades']}</td>" in report_html
    assert f"Trade list ({res.trades.height} trades" in report_html
    per_symbol = report_html.split("Trades per symbol")[0].rsplit("<table", 1)[1]
    for sym in SYMBOLS:
        mine = res.trades.filter(pl.col("symbol") == sym)
        row = per_symbol.split(f"<td>{sym}</td>")[1].split("</tr>")[0]
        assert f">{mine.height}<" in row
        assert f">{mine['pnl'].sum():.6g}<" in row


def test_research_report_quality_finds_the_solusdt_outage(report_html: str) -> None:
    quality = report_html.split('id="s3-data-quality"')[1].split('id="s4-backtest"')[0]
    assert "SOLUSDT" in quality and "missing_bars" in quality


def test_research_report_lineage_files_match_fresh_checksums(
    catalog: omr.Catalog, report: Report, report_html: str
) -> None:
    lin = report.lineage
    assert lin is not None and lin.tier == "test"
    assert Path(lin.catalog_root) == Path(catalog.root).resolve()
    bars = catalog.files("ohlcv", symbols=SYMBOLS, timeframe="1m")
    funding = catalog.files("funding", symbols=SYMBOLS)
    expected = bars + funding
    assert [r.path for r in lin.files] == [f.relpath for f in expected]
    assert len(bars) == 14  # 2 symbols x 7 days
    assert {r.dataset for r in lin.files} == {"historical/ohlcv", "historical/funding"}
    for rec, f in zip(lin.files, expected, strict=True):
        assert rec.sha256 == hashlib.sha256(f.path.read_bytes()).hexdigest()
        assert rec.rows == pl.read_parquet(f.path).height
        assert rec.sha256 in report_html
    data = _lineage_json(report_html)
    params = data["parameters"]
    assert isinstance(params, dict)
    assert params["strategy"] == "sma_cross" and params["strategy.fast"] == 10
    assert params["symbols"] == SYMBOLS and params["timeframe"] == "1h"
    assert data["schema_versions"]
    assert data["git_commit"]
    assert set(data["packages"]) >= {"polars", "python", "omni-research"}  # type: ignore[arg-type]


@pytest.mark.slow
def test_research_report_date_range_prunes_lineage(catalog: omr.Catalog) -> None:
    rep = build_research_report(
        catalog,
        symbols=["ETHUSDT"],
        start="2025-01-08",
        end="2025-01-10",
        timeframe="15m",
        params={"fast": 5, "slow": 20},
    )
    assert rep.lineage is not None
    days = sorted(
        re.search(r"date=([\d-]+)", r.path).group(1)  # type: ignore[union-attr]
        for r in rep.lineage.files
        if r.dataset == "historical/ohlcv"
    )
    assert days == ["2025-01-08", "2025-01-09", "2025-01-10"]
    assert rep.slug == "research-report_ETHUSDT_15m_20250108-20250110"
    assert rep.lineage.parameters["strategy.slow"] == 20
    assert rep.lineage.parameters["backtest.funding"] == "funding dataset"
    no_funding = build_research_report(
        catalog,
        symbols=["ETHUSDT"],
        start="2025-01-08",
        end="2025-01-08",
        params={"funding": False},
    )
    assert no_funding.lineage is not None
    assert {r.dataset for r in no_funding.lineage.files} == {"historical/ohlcv"}
    assert no_funding.lineage.parameters["backtest.funding"] == "none"


def test_research_report_rejects_bad_options(catalog: omr.Catalog) -> None:
    with pytest.raises(ConfigurationError, match="unknown strategy 'nope'"):
        build_research_report(catalog, strategy="nope")
    with pytest.raises(ConfigurationError, match=r"unknown parameter\(s\) \['window'\]"):
        build_research_report(catalog, params={"window": 3})
    with pytest.raises(ConfigurationError, match="cannot read start"):
        build_research_report(catalog, start="yesterday")
    with pytest.raises(DataFormatError, match=r"no ohlcv bars for \['DOGEUSDT'\]"):
        build_research_report(catalog, symbols=["BTCUSDT", "DOGEUSDT"])
    with pytest.raises(DataFormatError, match="widen the dates"):
        build_research_report(catalog, symbols=["BTCUSDT"], start="2030-01-01")


def test_research_report_from_production_root_is_impossible(tmp_path: Path) -> None:
    src = Path(omr.open_catalog().root)
    root = tmp_path / "prod"
    shutil.copytree(src / "historical" / "ohlcv", root / "historical" / "ohlcv")
    manifest = (src / "omni-data.toml").read_text("utf-8")
    (root / "omni-data.toml").write_text(
        manifest.replace('tier = "test"', 'tier = "production"'), "utf-8"
    )
    with pytest.raises(ProductionDataError):
        build_research_report(root, symbols=["BTCUSDT"])
    assert not (root / "exports").exists()


def test_strategies_have_grids_on_their_sweep_axes() -> None:
    for strat in STRATEGIES.values():
        assert set(strat.sweep_axes) <= set(strat.grid) == set(strat.defaults)
        for lo, hi in strat.ordered:
            assert max(strat.grid[lo]) < min(strat.grid[hi])
    # The crossovers (the report's only strategies before the one table): fast < slow.
    for strat in (STRATEGIES["sma_cross"], STRATEGIES["ema_cross"]):
        assert max(strat.grid["fast"]) < min(strat.grid["slow"])


@pytest.mark.slow
@pytest.mark.browser
@needs_chromium
@needs_pdftoppm
def test_report_cli_writes_html_and_pdf_that_render_offline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(omr.open_catalog().root)
    code = report_main(
        root=root,
        out=str(tmp_path),
        symbols=["ETHUSDT"],
        start="2025-01-06",
        end="2025-01-09",
        timeframe="1h",
        strategy="ema_cross",
        fmt=["html", "pdf"],
    )
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    written = {line.split(": ", 1)[0]: Path(line.split(": ", 1)[1]) for line in lines}
    assert set(written) == {"html", "pdf", "lineage"}
    pattern = r"research-report_ETHUSDT_1h_20250106-20250109_\d{8}T\d{4}Z"
    assert re.fullmatch(pattern + r"\.html", written["html"].name)
    assert re.fullmatch(pattern + r"\.pdf", written["pdf"].name)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written.values())

    info = open_in_chromium(written["html"], screenshot=tmp_path / "shot.png")
    assert [u for u in info["requests"] if not u.startswith(("file://", "data:"))] == []
    images = info["images"]
    assert len(images) == 4  # one candle chart, quality timeline, equity, heatmap
    assert all(i["w"] > 0 and i["shownW"] > 0 for i in images)
    assert all(t["rows"] >= 2 and t["h"] > 0 for t in info["tables"])
    assert pixel_std(tmp_path / "shot.png") > 10

    pages = pdf_pages_png(written["pdf"], tmp_path / "page", first=1, last=3)
    assert len(pages) == 3
    assert all(pixel_std(p) > 5 for p in pages)


def test_report_cli_reports_kit_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code = report_main(
        root=None,
        out=None,
        symbols=None,
        start=None,
        end=None,
        timeframe="1h",
        strategy="nope",
        fmt=["html"],
    )
    assert code == 1
    assert "unknown strategy 'nope'" in capsys.readouterr().err


def test_report_into_root_exports_does_not_disturb_the_catalog(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "data_test"
    shutil.copytree(omr.open_catalog().root, root)
    before = omr.open_catalog(root)
    problems, datasets = before.verify(), before.datasets()
    code = report_main(
        root=str(root),
        out=None,
        symbols=["BTCUSDT"],
        start="2025-01-06",
        end="2025-01-07",
        timeframe="1h",
        strategy="sma_cross",
        fmt=["html"],
    )
    assert code == 0
    written = Path(capsys.readouterr().out.split("html: ", 1)[1].splitlines()[0].strip())
    assert written.parent == root / "exports" / "reports" and written.is_file()
    after = omr.open_catalog(root)
    assert after.verify().equals(problems) and problems.height == 0
    assert after.datasets().equals(datasets)


def test_research_report_bare_end_date_includes_its_day_timestamp_end_excludes_itself(
    catalog: omr.Catalog,
) -> None:
    day = datetime(2025, 1, 8, tzinfo=UTC)
    next_day = day + timedelta(days=1)
    btc = catalog.load("ohlcv", symbols=["BTCUSDT"], timeframe="1m").sort("timestamp")
    whole = btc.filter((pl.col("timestamp") >= day) & (pl.col("timestamp") < next_day))
    assert whole.height == 1440

    def run(end: str | date | datetime) -> ResearchRun:
        return run_research(
            catalog,
            symbols=["BTCUSDT"],
            start="2025-01-08",
            end=end,
            timeframe="1h",
            params={"funding": False},
            sweep_grid={"fast": [10], "slow": [30]},
        )

    for end in ("2025-01-08", date(2025, 1, 8), "2025-01-09T00:00Z", next_day):
        res = run(end)
        assert res.minute["timestamp"].to_list() == whole["timestamp"].to_list(), end
        assert res.lineage.parameters["end"] == next_day.isoformat()
        assert [Path(r.path).parent.name for r in res.lineage.files] == ["date=2025-01-08"]
    noon = day + timedelta(hours=12)
    res = run("2025-01-08T12:00Z")
    assert res.minute["timestamp"].to_list() == whole["timestamp"].to_list()[:720]
    assert res.bars["timestamp"].max() == noon - timedelta(hours=1)
    with pytest.raises(ConfigurationError, match="before start"):
        run("2025-01-07T12:00Z")
