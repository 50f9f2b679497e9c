"""Writes into a root in a bucket (a real SeaweedFS on loopback): the Bybit importer and the
report export. Data objects first, the manifest last, by conditional PUT."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import omni_research as omr
from omni_research import _manifest, _root_writer
from omni_research._manifest import read_manifest, read_remote_manifest
from omni_research._store import ObjectStore
from omni_research.config import MANIFEST_NAME
from omni_research.exceptions import ConfigurationError, ProductionDataError, StorageError
from omni_research.io.bybit import (
    ImportSummary,
    import_bybit_klines,
    import_bybit_orderbook,
    import_bybit_trades,
)
from omni_research.reports import Report
from omni_research.testing import SeaweedServer
from omni_research.testing._fake_bybit import FakeBybit
from omni_research.testing._fake_bybit_dumps import make_trades, trade_dump

pytestmark = pytest.mark.xdist_group("objectstore")

RESEARCH = b'tier = "research"\nschema_version = "1.0"\n'


def _bucket_root(seaweed: SeaweedServer, uri: str, manifest: bytes = RESEARCH) -> ObjectStore:
    store = ObjectStore(uri, storage_options=seaweed.storage_options)
    store.put(MANIFEST_NAME, manifest)
    return store


def _dump(tmp_path: Path, symbol: str, day: str, *, seed: int = 7, n: int = 300) -> tuple[
    Path, pl.DataFrame
]:  # fmt: skip
    """A Bybit trade dump file and the rows it holds (the generator's own frame)."""
    frame, text = make_trades(symbol, day, n=n, seed=seed)
    path = tmp_path / f"{symbol}{day}-{seed}.csv.gz"
    path.write_bytes(trade_dump(symbol, text))
    return path, frame


def _sorted(df: pl.DataFrame) -> pl.DataFrame:
    return df.sort("symbol", "timestamp", "trade_id")


def _local_root(path: Path) -> Path:
    path.mkdir()
    (path / MANIFEST_NAME).write_bytes(RESEARCH)
    return path


def test_import_into_a_bucket_root_loads_the_rows_a_local_import_holds(
    seaweed: SeaweedServer, bucket_root: str, tmp_path: Path
) -> None:
    opts = seaweed.storage_options
    store = _bucket_root(seaweed, bucket_root)
    local = _local_root(tmp_path / "local")
    dumps = [
        _dump(tmp_path, "BTCUSDT", "2025-01-06"),
        _dump(tmp_path, "BTCUSDT", "2025-01-07"),
        _dump(tmp_path, "ETHUSDT", "2025-01-06"),
    ]
    for path, _ in dumps:
        remote = import_bybit_trades(path, bucket_root, storage_options=opts)
        here = import_bybit_trades(path, local)
        assert (remote.imported, remote.duplicates, remote.rejected) == (300, 0, 0)
        assert remote.files == ()
        assert [Path(u.removeprefix(bucket_root + "/")) for u in remote.objects] == [
            Path(f).relative_to(local) for f in here.files
        ]
    catalog = omr.open_catalog(bucket_root, storage_options=opts)
    remote_rows = _sorted(catalog.load("trades"))
    local_rows = _sorted(omr.open_catalog(local).load("trades"))
    reference = _sorted(pl.concat([frame for _, frame in dumps]))
    assert remote_rows.height == 900
    assert remote_rows.equals(local_rows)
    assert remote_rows.equals(reference.select(remote_rows.columns))
    assert catalog.verify().is_empty()
    # the manifest records what the local import records: the same bytes, row for row
    assert read_remote_manifest(store)[0].files == read_manifest(local).files

    # a second import of the same dump writes nothing: every row is a duplicate
    before = {o.key: o.e_tag for o in store.list()}
    again = import_bybit_trades(dumps[0][0], bucket_root, storage_options=opts)
    assert (again.imported, again.duplicates, again.objects) == (0, 300, ())
    assert {o.key: o.e_tag for o in store.list()} == before


DATA = Path(__file__).resolve().parents[1] / "data" / "bybit"


@pytest.mark.parametrize(
    ("importer", "source", "kind"),
    [
        (import_bybit_klines, "kline_BTCUSDT_1.json", "ohlcv"),
        (import_bybit_orderbook, "orderbook_BTCUSDT.jsonl", "orderbook"),
    ],
)
def test_kline_and_orderbook_imports_into_a_bucket_match_the_local_ones(
    seaweed: SeaweedServer,
    bucket_root: str,
    tmp_path: Path,
    importer: Callable[..., ImportSummary],
    source: str,
    kind: str,
) -> None:
    opts = seaweed.storage_options
    store = _bucket_root(seaweed, bucket_root)
    local = _local_root(tmp_path / "local")
    remote = importer(DATA / source, bucket_root, storage_options=opts)
    here = importer(DATA / source, local)
    assert remote.imported == here.imported > 0
    assert (remote.duplicates, remote.rejected) == (here.duplicates, here.rejected)
    assert read_remote_manifest(store)[0].files == read_manifest(local).files
    loaded = omr.open_catalog(bucket_root, storage_options=opts).load(kind)
    assert loaded.equals(omr.open_catalog(local).load(kind))


@pytest.mark.parametrize(
    ("manifest", "error", "match"),
    [
        (b'tier = "test"\nschema_version = "1.0"\n', ConfigurationError, "'test'-tier root"),
        (None, ConfigurationError, "is not a data root"),
    ],
)
def test_an_import_into_a_bucket_prefix_that_is_not_a_research_root_writes_nothing(
    seaweed: SeaweedServer,
    bucket_root: str,
    tmp_path: Path,
    manifest: bytes | None,
    error: type[Exception],
    match: str,
) -> None:
    store = ObjectStore(bucket_root, storage_options=seaweed.storage_options)
    if manifest is not None:
        store.put(MANIFEST_NAME, manifest)
    path, _ = _dump(tmp_path, "BTCUSDT", "2025-01-06")
    with pytest.raises(error, match=match) as caught:
        import_bybit_trades(path, bucket_root, storage_options=seaweed.storage_options)
    assert seaweed.secret_key not in str(caught.value)
    assert [o.key for o in store.list()] == ([MANIFEST_NAME] if manifest else [])


def test_two_concurrent_importers_lose_neither_files_nor_rows(
    seaweed: SeaweedServer, bucket_root: str, tmp_path: Path
) -> None:
    opts = seaweed.storage_options
    store = _bucket_root(seaweed, bucket_root)
    # two symbols (two files), and two dumps of one partition (one file, merged by both)
    jobs = [
        _dump(tmp_path, "BTCUSDT", "2025-01-06", seed=1),
        _dump(tmp_path, "ETHUSDT", "2025-01-06", seed=2),
        _dump(tmp_path, "SOLUSDT", "2025-01-06", seed=3),
        _dump(tmp_path, "SOLUSDT", "2025-01-06", seed=4),
    ]
    errors: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def run(path: Path) -> None:
        try:
            start.wait()
            import_bybit_trades(path, bucket_root, storage_options=opts)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(path,)) for path, _ in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    files = read_remote_manifest(store)[0].files
    assert sorted(files) == [
        f"historical/trades/symbol={s}/date=2025-01-06/part-0.parquet"
        for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT")
    ]
    sol = files["historical/trades/symbol=SOLUSDT/date=2025-01-06/part-0.parquet"]
    assert sol.rows == 600  # both writers' rows of the shared partition
    catalog = omr.open_catalog(bucket_root, storage_options=opts)
    assert catalog.verify().is_empty()
    loaded = _sorted(catalog.load("trades"))
    reference = _sorted(pl.concat([frame for _, frame in jobs]))
    assert loaded.equals(reference.select(loaded.columns))


def test_a_failure_between_the_objects_and_the_manifest_converges_on_a_rerun(
    seaweed: SeaweedServer, bucket_root: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opts = seaweed.storage_options
    store = _bucket_root(seaweed, bucket_root)
    path, frame = _dump(tmp_path, "BTCUSDT", "2025-01-06")
    name = "historical/trades/symbol=BTCUSDT/date=2025-01-06/part-0.parquet"

    def cut(*args: object, **kwargs: object) -> None:
        raise StorageError(f"{bucket_root}/{MANIFEST_NAME}: connection dropped (injected)")

    # the manifest's one conditional write (every bucket manifest update goes through it)
    monkeypatch.setattr(_manifest, "write_remote_manifest", cut)
    with pytest.raises(StorageError, match="injected"):
        import_bybit_trades(path, bucket_root, storage_options=opts)
    monkeypatch.undo()
    # the object is up, the manifest does not know it yet
    assert name in {o.key for o in store.list()}
    assert read_remote_manifest(store)[0].files == {}

    rerun = import_bybit_trades(path, bucket_root, storage_options=opts)
    assert (rerun.imported, rerun.duplicates, rerun.repaired) == (0, 300, (name,))
    catalog = omr.open_catalog(bucket_root, storage_options=opts)
    assert catalog.verify().is_empty()
    loaded = _sorted(catalog.load("trades"))
    assert loaded.equals(_sorted(frame).select(loaded.columns))  # nothing duplicated
    third = import_bybit_trades(path, bucket_root, storage_options=opts)
    assert (third.imported, third.repaired) == (0, ())


def test_a_production_bucket_is_refused_before_any_put(
    seaweed: SeaweedServer, bucket_root: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opts = seaweed.storage_options
    # the root itself is research, but the prefix above it declares production
    parent = ObjectStore(bucket_root, storage_options=opts)
    parent.put(MANIFEST_NAME, b'tier = "production"\nschema_version = "1.0"\n')
    root = f"{bucket_root}/research"
    _bucket_root(seaweed, root)
    before = {o.key: o.e_tag for o in parent.list()}
    puts: list[str] = []
    for method in ("put", "put_if"):
        real = getattr(ObjectStore, method)

        def counted(self: ObjectStore, relpath: str, *a: Any, _real: Any = real, **k: Any) -> Any:
            puts.append(relpath)
            return _real(self, relpath, *a, **k)

        monkeypatch.setattr(ObjectStore, method, counted)
    path, _ = _dump(tmp_path, "BTCUSDT", "2025-01-06")
    with pytest.raises(ProductionDataError, match="declares tier production"):
        import_bybit_trades(path, root, storage_options=opts)
    assert puts == []
    assert {o.key: o.e_tag for o in parent.list()} == before


def test_the_import_cli_writes_into_a_bucket_root_with_credentials_from_the_environment(
    seaweed: SeaweedServer, bucket_root: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from omni_research.cli._main import main

    store = _bucket_root(seaweed, bucket_root)
    for key, value in seaweed.env.items():
        monkeypatch.setenv(key, value)
    path, frame = _dump(tmp_path, "BTCUSDT", "2025-01-06")
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    assert main(["import-bybit", str(path), "--root", bucket_root]) == 0
    assert "imported 300" in out.getvalue() and "1 file(s) written" in out.getvalue()
    assert seaweed.secret_key not in out.getvalue()
    name = "historical/trades/symbol=BTCUSDT/date=2025-01-06/part-0.parquet"
    assert read_remote_manifest(store)[0].files[name].rows == frame.height


@pytest.fixture
def bucket_report(seaweed: SeaweedServer, bucket_root: str, small_root: Path) -> tuple[str, Report]:
    """A 2-day test root published to the bucket, and a report built from the bucket."""
    from omni_research._sync import sync
    from omni_research.reports import build_research_report

    sync(small_root, bucket_root, storage_options=seaweed.storage_options)
    catalog = omr.open_catalog(bucket_root, storage_options=seaweed.storage_options)
    return bucket_root, build_research_report(catalog, symbols=["BTCUSDT"], timeframe="1h")


def test_a_report_exports_into_the_bucket_with_a_lineage_naming_the_bucket_root(
    seaweed: SeaweedServer, bucket_report: tuple[str, Report], small_root: Path
) -> None:
    root, report = bucket_report
    opts = seaweed.storage_options
    store = ObjectStore(root, storage_options=opts)
    stem = report.file_stem()
    # by default under <root>/exports/reports, as a local root
    written = report.export(formats=["html"], storage_options=opts)
    assert written == {
        "html": f"{root}/exports/reports/{stem}.html",
        "lineage": f"{root}/exports/reports/{stem}.lineage.json",
    }
    assert store.get(f"exports/reports/{stem}.html") == report.to_html().encode("utf-8")
    lineage = json.loads(store.get(f"exports/reports/{stem}.lineage.json"))
    assert lineage["catalog_root"] == root
    published = read_manifest(small_root).files  # what the local root records, by sha256
    assert lineage["files"] and all(
        published[f["path"]].sha256 == f["sha256"] and published[f["path"]].rows == f["rows"]
        for f in lineage["files"]
    )
    # an explicit out= folder in the bucket
    custom = f"{root}/exports/custom"
    again = report.export(out=custom, name="r1", formats=["html"], storage_options=opts)
    assert again == {"html": f"{custom}/r1.html", "lineage": f"{custom}/r1.lineage.json"}
    keys = {o.key for o in store.list()}
    assert {"exports/custom/r1.html", "exports/custom/r1.lineage.json"} <= keys


def test_a_report_export_under_a_production_prefix_is_refused_before_any_put(
    seaweed: SeaweedServer, bucket_report: tuple[str, Report]
) -> None:
    root, report = bucket_report
    opts = seaweed.storage_options
    prod = ObjectStore(f"{root}/prod", storage_options=opts)
    prod.put(MANIFEST_NAME, b'tier = "production"\nschema_version = "1.0"\n')
    with pytest.raises(ProductionDataError, match="declares tier production"):
        report.export(out=f"{root}/prod/exports", formats=["html"], storage_options=opts)
    assert [o.key for o in prod.list()] == [MANIFEST_NAME]


def test_the_report_cli_writes_to_an_out_uri(
    seaweed: SeaweedServer,
    bucket_report: tuple[str, Report],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from omni_research.cli._report import report_main

    root, _ = bucket_report
    for key, value in seaweed.env.items():
        monkeypatch.setenv(key, value)
    out = f"{root}/exports/cli"
    code = report_main(
        root=root, out=out, symbols=["BTCUSDT"], start=None, end=None, timeframe="1h",
        strategy="sma_cross", fmt=["html"],
    )  # fmt: skip
    printed = capsys.readouterr()
    assert code == 0, printed.err
    lines = printed.out.splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == ["html", "lineage"]
    store = ObjectStore(root, storage_options=seaweed.storage_options)
    for line in lines:
        uri = line.split(": ", 1)[1]
        assert uri.startswith(out + "/")
        assert store.get(uri.removeprefix(root + "/"))  # the object exists and is not empty


@pytest.fixture
def fake_bybit(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBybit]:
    """A fake Bybit v5 API on 127.0.0.1 (one symbol, two days); always stopped."""
    fake = FakeBybit(symbols=("BTCUSDT",), start="2025-01-06", days=2)
    fake.start_server()
    try:
        monkeypatch.setenv("OMNI_BYBIT_API_URL", fake.url)
        yield fake
    finally:
        fake.stop()


DOWNLOAD = [
    "bybit", "--symbols", "BTCUSDT", "--start", "2025-01-06", "--end", "2025-01-07",
    "--kinds", "ohlcv,funding", "--no-quality",
]  # fmt: skip


def test_the_download_cli_fills_a_bucket_root_as_it_fills_a_local_one(
    seaweed: SeaweedServer,
    bucket_root: str,
    fake_bybit: FakeBybit,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from omni_research.cli._main import main
    from omni_research.sources import init_root

    store = _bucket_root(seaweed, bucket_root)
    for key, value in seaweed.env.items():
        monkeypatch.setenv(key, value)
    local = init_root(tmp_path / "local")
    assert main(["download", *DOWNLOAD[:1], "--root", str(local), *DOWNLOAD[1:]]) == 0
    assert main(["download", *DOWNLOAD[:1], "--root", bucket_root, *DOWNLOAD[1:]]) == 0
    out = capsys.readouterr().out
    assert f"-> {bucket_root}: copied" in out
    expected = read_manifest(local).files
    assert len(expected) == 8  # funding and last/mark/index klines, two days each
    assert read_remote_manifest(store)[0].files == expected
    catalog = omr.open_catalog(bucket_root, storage_options=seaweed.storage_options)
    assert catalog.verify().is_empty()
    assert catalog.load("ohlcv").equals(omr.open_catalog(local).load("ohlcv"))
    # a second run re-fetches (the limit) but uploads nothing: every object is equal
    before = {o.key: o.e_tag for o in store.list()}
    assert main(["download", *DOWNLOAD[:1], "--root", bucket_root, *DOWNLOAD[1:]]) == 0
    assert "copied 0 file(s)" in capsys.readouterr().out
    assert {o.key: o.e_tag for o in store.list()} == before


def test_a_download_into_a_production_bucket_sends_no_request(
    seaweed: SeaweedServer,
    bucket_root: str,
    fake_bybit: FakeBybit,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from omni_research.cli._main import main

    store = _bucket_root(seaweed, bucket_root, b'tier = "production"\nschema_version = "1.0"\n')
    for key, value in seaweed.env.items():
        monkeypatch.setenv(key, value)
    assert main(["download", *DOWNLOAD[:1], "--root", bucket_root, *DOWNLOAD[1:]]) == 2
    err = capsys.readouterr().err
    assert "ProductionDataError" in err and "declares tier production" in err
    assert seaweed.secret_key not in err
    assert fake_bybit.count() == 0
    assert [o.key for o in store.list()] == [MANIFEST_NAME]


def test_a_staged_root_publishes_what_was_committed_before_its_block_failed(
    seaweed: SeaweedServer, bucket_root: str
) -> None:
    from omni_research._manifest import record_files

    store = _bucket_root(seaweed, bucket_root)
    frame, _ = make_trades("BTCUSDT", "2025-01-06", n=50)
    name = "historical/trades/symbol=BTCUSDT/date=2025-01-06/part-0.parquet"
    with (
        pytest.raises(RuntimeError, match="stopped"),
        _root_writer.staged_root(bucket_root, storage_options=seaweed.storage_options) as staged,
    ):
        target = staged.path / name
        target.parent.mkdir(parents=True)
        frame.write_parquet(target)
        record_files(staged.path, [target])
        raise RuntimeError("stopped half-way")
    assert staged.published is not None and staged.published.copied == (name,)
    assert not staged.path.exists()  # the staging folder is removed
    assert read_remote_manifest(store)[0].files[name].rows == 50
    catalog = omr.open_catalog(bucket_root, storage_options=seaweed.storage_options)
    assert catalog.verify().is_empty()
