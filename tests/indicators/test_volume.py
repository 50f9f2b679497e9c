"""Parity of every `ta.volume` output with `ta`, per symbol, and hand-computed cases."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
import pytest
import ta

from omni_research import indicators as ind
from omni_research.exceptions import ConfigurationError

from ._edge_frames import edge_frame, missing_frame
from .conftest import (
    DATASETS,
    Ours,
    Ref,
    check_frame_parity,
    check_over_symbol_parity,
    frame_to_pandas,
    load_dataset,
    ta_reference,
)

CASES: list[tuple[str, Ours, Ref]] = [
    (
        "acc_dist_index",
        lambda: ind.acc_dist_index(),
        lambda p: ta.volume.acc_dist_index(p.high, p.low, p.close, p.volume),
    ),
    (
        "on_balance_volume",
        lambda: ind.on_balance_volume(),
        lambda p: ta.volume.on_balance_volume(p.close, p.volume),
    ),
    (
        "chaikin_money_flow",
        lambda: ind.chaikin_money_flow(),
        lambda p: ta.volume.chaikin_money_flow(p.high, p.low, p.close, p.volume),
    ),
    (
        "chaikin_money_flow_7",
        lambda: ind.chaikin_money_flow(window=7),
        lambda p: ta.volume.chaikin_money_flow(p.high, p.low, p.close, p.volume, 7),
    ),
    (
        "force_index",
        lambda: ind.force_index(),
        lambda p: ta.volume.force_index(p.close, p.volume),
    ),
    (
        "force_index_2",
        lambda: ind.force_index(window=2),
        lambda p: ta.volume.force_index(p.close, p.volume, 2),
    ),
    (
        "ease_of_movement",
        lambda: ind.ease_of_movement(),
        lambda p: ta.volume.ease_of_movement(p.high, p.low, p.volume),
    ),
    (
        "sma_ease_of_movement",
        lambda: ind.sma_ease_of_movement(),
        lambda p: ta.volume.sma_ease_of_movement(p.high, p.low, p.volume),
    ),
    (
        "sma_ease_of_movement_5",
        lambda: ind.sma_ease_of_movement(window=5),
        lambda p: ta.volume.sma_ease_of_movement(p.high, p.low, p.volume, 5),
    ),
    (
        "volume_price_trend",
        lambda: ind.volume_price_trend(),
        lambda p: ta.volume.volume_price_trend(p.close, p.volume),
    ),
    (
        "volume_price_trend_smoothed",
        lambda: ind.volume_price_trend(smoothing_factor=5),
        lambda p: ta.volume.volume_price_trend(p.close, p.volume, smoothing_factor=5),
    ),
    (
        "negative_volume_index",
        lambda: ind.negative_volume_index(),
        lambda p: ta.volume.negative_volume_index(p.close, p.volume),
    ),
    (
        "money_flow_index",
        lambda: ind.money_flow_index(),
        lambda p: ta.volume.money_flow_index(p.high, p.low, p.close, p.volume),
    ),
    (
        "money_flow_index_3",
        lambda: ind.money_flow_index(window=3),
        lambda p: ta.volume.money_flow_index(p.high, p.low, p.close, p.volume, 3),
    ),
    (
        "volume_weighted_average_price",
        lambda: ind.volume_weighted_average_price(),
        lambda p: ta.volume.volume_weighted_average_price(p.high, p.low, p.close, p.volume),
    ),
    (
        "volume_weighted_average_price_3",
        lambda: ind.volume_weighted_average_price(window=3),
        lambda p: ta.volume.volume_weighted_average_price(p.high, p.low, p.close, p.volume, 3),
    ),
]


@pytest.mark.parametrize("kind", ["eager", "lazy"])
@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize(("case_id", "ours", "ref"), CASES, ids=[c[0] for c in CASES])
def test_volume_output_matches_ta(
    case_id: str,
    ours: Ours,
    ref: Ref,
    dataset: str,
    kind: str,
    assert_parity: Callable[..., None],
    run_select: Callable[..., pl.DataFrame],
) -> None:
    got = run_select(load_dataset(dataset), ours(), kind).to_series()
    assert_parity(got, ta_reference(dataset, ref), name=f"{dataset}/{case_id}")


@pytest.mark.parametrize("kind", ["eager", "lazy"])
@pytest.mark.parametrize(("case_id", "ours", "ref"), CASES, ids=[c[0] for c in CASES])
def test_volume_over_symbol_equals_ta_per_symbol(
    case_id: str,
    ours: Ours,
    ref: Ref,
    kind: str,
    assert_parity: Callable[..., None],
    run_select: Callable[..., pl.DataFrame],
) -> None:
    names = ("rw1", "ticks", "BTCUSD")
    check_over_symbol_parity(names, case_id, ours, ref, kind, assert_parity, run_select)


def test_on_balance_volume_adds_volume_on_unchanged_close_as_ta() -> None:
    df = pl.DataFrame({"close": [10.0, 11.0, 11.0, 9.0], "volume": [1, 2, 4, 8]})
    # row 0 and the tie (row 2) add their volume; only the fall (row 3) subtracts
    assert df.select(ind.on_balance_volume()).to_series().to_list() == [1.0, 3.0, 7.0, -1.0]


def test_acc_dist_index_flat_bar_counts_zero() -> None:
    df = pl.DataFrame(
        {"high": [2.0, 5.0], "low": [1.0, 5.0], "close": [2.0, 5.0], "volume": [3.0, 7.0]}
    )
    # bar 0: close at the high -> +volume; bar 1: high == low (0/0) -> 0, as ta fills it
    assert df.select(ind.acc_dist_index()).to_series().to_list() == [3.0, 3.0]


def test_negative_volume_index_hand_computed() -> None:
    df = pl.DataFrame({"close": [10.0, 11.0, 12.1, 6.05], "volume": [5.0, 4.0, 6.0, 1.0]})
    got = df.select(ind.negative_volume_index()).to_series().to_numpy()
    # volume fell on rows 1 and 3 only: 1000 * 1.1, unchanged, then * 0.5
    np.testing.assert_allclose(got, [1000.0, 1100.0, 1100.0, 550.0])


def test_money_flow_index_flat_typical_price_is_nan_as_ta(
    assert_parity: Callable[..., None],
) -> None:
    close = np.r_[np.linspace(10, 12, 20), np.full(20, 12.0), np.linspace(12, 9, 20)]
    frame = pl.DataFrame({"high": close, "low": close, "close": close, "volume": 100.0})
    got = frame.select(ind.money_flow_index()).to_series()
    p = frame_to_pandas(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = ta.volume.money_flow_index(p.high, p.low, p.close, p.volume)
    assert np.isnan(want.iloc[40])  # a window with no flow at all is 0/0 in ta
    assert_parity(got, want)


def test_integer_volume_is_accepted(assert_parity: Callable[..., None]) -> None:
    df = load_dataset("rw2").with_columns(pl.col("volume").cast(pl.Int64))
    p = frame_to_pandas(df)
    got = df.select(ind.on_balance_volume(), ind.force_index())
    assert_parity(got["on_balance_volume"], ta.volume.on_balance_volume(p.close, p.volume))
    assert_parity(got["force_index"], ta.volume.force_index(p.close, p.volume))


@pytest.mark.parametrize("window", [0, -3, 2.5, True])
def test_bad_window_raises_configuration_error(window: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"money_flow_index: parameter 'window'"):
        ind.money_flow_index(window=window)
    with pytest.raises(ConfigurationError, match=r"chaikin_money_flow: parameter 'window'"):
        ind.chaikin_money_flow(window=window)


def _volume_entries() -> list[Any]:
    return [i for i in ind.registry().values() if i.family == "volume"]


@pytest.mark.parametrize("entry", _volume_entries(), ids=lambda e: e.name)
def test_volume_registry_entry_params_and_warmup(entry: Any) -> None:
    cls = getattr(ta.volume, entry.ta_reference.removeprefix("ta.volume."))
    sig = inspect.signature(cls)
    for param, default in entry.params.items():
        assert param in sig.parameters, (entry.name, param)
        assert default == sig.parameters[param].default, (entry.name, param)
    df = load_dataset("rw0")
    out = df.select(entry.exprs())
    assert out.width == len(entry.outputs)
    warm = entry.warmup(**entry.params)
    valid = out.select(pl.all().is_not_null() & pl.all().is_not_nan())
    assert valid.slice(warm, 100).to_numpy().all(), (entry.name, warm)
    if warm > 0:
        assert not all(valid.row(warm - 1)), (entry.name, warm)


RTOL_EDGE: dict[str, float] = {}


@pytest.mark.parametrize(("case_id", "ours", "ref"), CASES, ids=[c[0] for c in CASES])
def test_volume_matches_ta_on_flat_and_zero_volume_stretches(
    case_id: str, ours: Ours, ref: Ref, assert_parity: Callable[..., None]
) -> None:
    check_frame_parity(
        edge_frame(), "edge", case_id, ours, ref, assert_parity, rtol=RTOL_EDGE.get(case_id, 1e-9)
    )


@pytest.mark.parametrize(("case_id", "ours", "ref"), CASES, ids=[c[0] for c in CASES])
def test_volume_matches_ta_with_nan_prices_and_volume(
    case_id: str, ours: Ours, ref: Ref, assert_parity: Callable[..., None]
) -> None:
    check_frame_parity(missing_frame(), "nan", case_id, ours, ref, assert_parity)
