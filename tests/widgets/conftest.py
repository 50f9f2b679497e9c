"""Fixtures for the widget tests: a private copy of the shipped test catalog, helpers."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

import matplotlib
import polars as pl
import pytest

from omni_research.exceptions import OmniDataError

matplotlib.use("Agg")


def private_data_root(target: Path) -> Path:
    """A private copy of the shipped data_test/ (other work may rewrite the shared one while
    the tests run); regenerated with the kit's generator if no consistent copy can be made."""
    import omni_research as omr
    from omni_research._catalog import DATA_TEST
    from omni_research.testing import make_test_data

    for _attempt in range(3):
        shutil.rmtree(target, ignore_errors=True)
        try:
            shutil.copytree(DATA_TEST, target, ignore=shutil.ignore_patterns("real_time"))
            omr.open_catalog(target).load("ohlcv", symbols="SOLUSDT", start="2025-01-12")
            return target
        except (OSError, OmniDataError):
            time.sleep(2.0)
    shutil.rmtree(target, ignore_errors=True)
    make_test_data(target)
    return target


@pytest.fixture(scope="session")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Any:
    import omni_research as omr

    return omr.open_catalog(private_data_root(tmp_path_factory.mktemp("data") / "data_test"))


@pytest.fixture(scope="session")
def btc_1m(catalog: Any) -> pl.DataFrame:
    return catalog.load("ohlcv", symbols="BTCUSDT").sort("timestamp")


def _table_rows(html: str) -> int:
    body = html.split("<tbody>", 1)[1] if "<tbody>" in html else ""
    return len(re.findall(r"<tr>", body))


@pytest.fixture
def table_rows() -> Any:
    """``table_rows(html) -> int``: body rows of an HTML table written by the widgets."""
    return _table_rows
