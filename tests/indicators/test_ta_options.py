"""`ta`'s own options on every `ta` function: ``fillna`` (both values) and VPT's ``dropnans``
and ``smoothing_factor``, against `ta` itself, eager and per symbol with ``by=``."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
import ta

from omni_research import indicators as ind
from omni_research.exceptions import ConfigurationError

from .conftest import frame_to_pandas, load_dataset

FAMILIES = ("volume", "volatility", "trend", "momentum", "others")

TA_FUNCTIONS: list[tuple[str, str]] = [
    (family, name)
    for family in FAMILIES
    for name, func in inspect.getmembers(getattr(ta, family), inspect.isfunction)
    if func.__module__ == f"ta.{family}" and not name.startswith("_")
]

DATASETS = ("rw0", "rw1", "GOOG")  # "ticks" has band ties, covered by the band tests


def _inputs(func: Callable[..., pl.Expr]) -> list[str]:
    params = inspect.signature(func).parameters.values()
    return [p.name for p in params if p.kind is inspect.Parameter.POSITIONAL_ONLY]


def _ta_fill(series: pd.Series, value: Any) -> pd.Series:
    """`ta`'s ``_check_fillna`` with ``fillna=True`` (for the documented KAMA difference)."""
    out = series.replace([np.inf, -np.inf], np.nan).ffill()
    return out.fillna(value)


def _reference(family: str, name: str, pdf: pd.DataFrame, **options: Any) -> pd.Series:
    func = getattr(getattr(ta, family), name)
    args = {c: pdf[c] for c in _inputs(getattr(ind, name))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # ta's own 0/0 on flat windows
        if name == "kama" and options.get("fillna"):
            # documented difference (docs/indicators.md): with fillna=True `ta` starts KAMA at
            # row 0 from np.roll's wrapped (future) closes; here the warm-up takes `ta`'s
            # fill (the close) and the recursion starts where it does without fillna
            return _ta_fill(func(**args, fillna=False), pdf["close"])
        return func(**args, **options)  # type: ignore[no-any-return]


def _ours(name: str, **options: Any) -> pl.Expr:
    func = getattr(ind, name)
    if "ta_compat" in inspect.signature(func).parameters:
        options["ta_compat"] = True  # `ta`'s look-ahead (whole-series means) reproduced
    return func(**options)  # type: ignore[no-any-return]


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("fillna", [False, True])
@pytest.mark.parametrize(("family", "name"), TA_FUNCTIONS, ids=[n for _, n in TA_FUNCTIONS])
def test_every_ta_function_matches_ta_with_fillna(
    family: str, name: str, fillna: bool, dataset: str, assert_parity: Callable[..., None]
) -> None:
    df = load_dataset(dataset)
    want = _reference(family, name, frame_to_pandas(df), fillna=fillna)
    got = df.select(_ours(name, fillna=fillna)).to_series()
    assert_parity(got, want, name=f"{dataset}/{name}/fillna={fillna}")


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("fillna", [False, True])
@pytest.mark.parametrize("dropnans", [False, True])
@pytest.mark.parametrize("smoothing_factor", [None, 0, 5])
def test_volume_price_trend_matches_ta_with_every_option(
    smoothing_factor: int | None,
    dropnans: bool,
    fillna: bool,
    dataset: str,
    assert_parity: Callable[..., None],
) -> None:
    df = load_dataset(dataset)
    options = {"smoothing_factor": smoothing_factor, "dropnans": dropnans, "fillna": fillna}
    want = _reference("volume", "volume_price_trend", frame_to_pandas(df), **options)
    got = df.select(ind.volume_price_trend(**options)).to_series()
    assert_parity(got, want.to_numpy(), name=f"{dataset}/vpt/{options}")


def test_fillna_with_by_fills_each_symbol_from_its_own_rows() -> None:
    names = ("rw0", "rw1", "GOOG")
    panel = pl.concat([load_dataset(n).with_columns(symbol=pl.lit(n)) for n in names])
    by_functions = [
        name for _, name in TA_FUNCTIONS if "by" in inspect.signature(getattr(ind, name)).parameters
    ]
    assert len(by_functions) >= 10
    for name in by_functions:
        func = getattr(ind, name)
        got = panel.select(func(fillna=True, by="symbol")).to_series()
        want = panel.select(func(fillna=True).over("symbol")).to_series()
        assert got.equals(want, check_names=False), name
        # the first rows of each symbol are filled from that symbol, not the previous one
        first = panel.with_row_index().group_by("symbol").agg(pl.col("index").min())["index"]
        alone = [load_dataset(n).select(func(fillna=True)).to_series()[0] for n in names]
        assert sorted(got.gather(first).to_list()) == sorted(alone), name


@pytest.mark.parametrize("value", [1, "yes", None])
def test_fillna_must_be_a_bool(value: object) -> None:
    with pytest.raises(ConfigurationError, match=r"rsi: parameter 'fillna' must be a bool"):
        ind.rsi(fillna=value)


def test_dropnans_must_be_a_bool() -> None:
    with pytest.raises(ConfigurationError, match=r"parameter 'dropnans' must be a bool"):
        ind.volume_price_trend(dropnans=1)


def test_every_function_takes_fillna_after_its_parameters() -> None:
    for _, name in TA_FUNCTIONS:
        params = list(inspect.signature(getattr(ind, name)).parameters)
        assert "fillna" in params, name
        own = [p for p in params if p not in ("by", "ta_compat")]
        assert own[-1] == "fillna", (name, params)
