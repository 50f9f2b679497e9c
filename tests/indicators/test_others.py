"""Parity of every `ta.others` output with `ta`, per symbol and by hand."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl
import pytest
import ta

from omni_research import indicators as ind

from ._edge_frames import edge_frame, missing_frame
from .conftest import (
    DATASETS,
    Ours,
    Ref,
    check_frame_parity,
    check_over_symbol_parity,
    load_dataset,
    ta_reference,
)

CASES: list[tuple[str, Ours, Ref]] = [
    ("daily_return", lambda: ind.daily_return(), lambda p: ta.others.daily_return(p.close)),
    (
        "daily_log_return",
        lambda: ind.daily_log_return(),
        lambda p: ta.others.daily_log_return(p.close),
    ),
    (
        "cumulative_return",
        lambda: ind.cumulative_return(),
        lambda p: ta.others.cumulative_return(p.close),
    ),
]


@pytest.mark.parametrize("kind", ["eager", "lazy"])
@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize(("case_id", "ours", "ref"), CASES, ids=[c[0] for c in CASES])
def test_others_output_matches_ta(
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
def test_others_over_symbol_equals_ta_per_symbol(
    case_id: str,
    ours: Ours,
    ref: Ref,
    kind: str,
    assert_parity: Callable[..., None],
    run_select: Callable[..., pl.DataFrame],
) -> None:
    names = ("rw1", "GOOG")
    check_over_symbol_parity(names, case_id, ours, ref, kind, assert_parity, run_select)


def test_returns_hand_computed() -> None:
    df = pl.DataFrame({"close": [100.0, 110.0, 99.0, 100.0]})
    out = df.select(ind.daily_return(), ind.daily_log_return(), ind.cumulative_return())
    np.testing.assert_allclose(
        out["daily_return"].to_numpy()[1:], [10.0, -10.0, 100 / 99 * 100 - 100]
    )
    np.testing.assert_allclose(
        out["daily_log_return"].to_numpy()[1:], 100 * np.log([1.1, 0.9, 100 / 99])
    )
    np.testing.assert_allclose(out["cumulative_return"].to_numpy(), [0.0, 10.0, -1.0, 0.0])
    assert out["daily_return"][0] is None and out["daily_log_return"][0] is None


def test_cumulative_return_over_symbol_starts_at_each_symbols_first_close() -> None:
    df = pl.DataFrame({"symbol": ["a", "b", "a", "b"], "close": [10.0, 4.0, 12.0, 5.0]})
    out = df.select(ind.cumulative_return().over("symbol"))
    assert out.to_series().to_list() == pytest.approx([0.0, 0.0, 20.0, 25.0])


def test_others_registered_with_ta_references() -> None:
    refs = {i.ta_reference for i in ind.registry().values() if i.family == "others"}
    assert refs == {
        "ta.others.DailyReturnIndicator",
        "ta.others.DailyLogReturnIndicator",
        "ta.others.CumulativeReturnIndicator",
    }


RTOL_EDGE: dict[str, float] = {}


@pytest.mark.parametrize(("case_id", "ours", "ref"), CASES, ids=[c[0] for c in CASES])
def test_others_matches_ta_on_flat_and_zero_volume_stretches(
    case_id: str, ours: Ours, ref: Ref, assert_parity: Callable[..., None]
) -> None:
    check_frame_parity(
        edge_frame(), "edge", case_id, ours, ref, assert_parity, rtol=RTOL_EDGE.get(case_id, 1e-9)
    )


@pytest.mark.parametrize(("case_id", "ours", "ref"), CASES, ids=[c[0] for c in CASES])
def test_others_matches_ta_with_nan_prices_and_volume(
    case_id: str, ours: Ours, ref: Ref, assert_parity: Callable[..., None]
) -> None:
    check_frame_parity(missing_frame(), "nan", case_id, ours, ref, assert_parity)
