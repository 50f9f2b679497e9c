"""Parity of every `ta.momentum` output with `ta`, per symbol, and hand-computed cases."""

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

M = ta.momentum

CASES: list[tuple[str, Ours, Ref]] = [
    ("rsi", lambda: ind.rsi(), lambda p: M.rsi(p.close)),
    ("rsi_2", lambda: ind.rsi(window=2), lambda p: M.rsi(p.close, 2)),
    ("rsi_1", lambda: ind.rsi(window=1), lambda p: M.rsi(p.close, 1)),
    ("stochrsi", lambda: ind.stochrsi(), lambda p: M.stochrsi(p.close)),
    ("stochrsi_k", lambda: ind.stochrsi_k(), lambda p: M.stochrsi_k(p.close)),
    ("stochrsi_d", lambda: ind.stochrsi_d(), lambda p: M.stochrsi_d(p.close)),
    (
        "stochrsi_d_7_2_4",
        lambda: ind.stochrsi_d(window=7, smooth1=2, smooth2=4),
        lambda p: M.stochrsi_d(p.close, 7, 2, 4),
    ),
    ("tsi", lambda: ind.tsi(), lambda p: M.tsi(p.close)),
    ("tsi_10_4", lambda: ind.tsi(window_slow=10, window_fast=4), lambda p: M.tsi(p.close, 10, 4)),
    (
        "ultimate_oscillator",
        lambda: ind.ultimate_oscillator(),
        lambda p: M.ultimate_oscillator(p.high, p.low, p.close),
    ),
    (
        "ultimate_oscillator_custom",
        lambda: ind.ultimate_oscillator(
            window1=3, window2=5, window3=9, weight1=1.0, weight2=3.0, weight3=0.5
        ),
        lambda p: M.ultimate_oscillator(p.high, p.low, p.close, 3, 5, 9, 1.0, 3.0, 0.5),
    ),
    ("stoch", lambda: ind.stoch(), lambda p: M.stoch(p.high, p.low, p.close)),
    ("stoch_signal", lambda: ind.stoch_signal(), lambda p: M.stoch_signal(p.high, p.low, p.close)),
    (
        "stoch_signal_5_2",
        lambda: ind.stoch_signal(window=5, smooth_window=2),
        lambda p: M.stoch_signal(p.high, p.low, p.close, 5, 2),
    ),
    ("williams_r", lambda: ind.williams_r(), lambda p: M.williams_r(p.high, p.low, p.close)),
    (
        "williams_r_3",
        lambda: ind.williams_r(lbp=3),
        lambda p: M.williams_r(p.high, p.low, p.close, 3),
    ),
    (
        "awesome_oscillator",
        lambda: ind.awesome_oscillator(),
        lambda p: M.awesome_oscillator(p.high, p.low),
    ),
    (
        "awesome_oscillator_3_8",
        lambda: ind.awesome_oscillator(window1=3, window2=8),
        lambda p: M.awesome_oscillator(p.high, p.low, 3, 8),
    ),
    ("kama", lambda: ind.kama(), lambda p: M.kama(p.close)),
    (
        "kama_5_3_20",
        lambda: ind.kama(window=5, pow1=3, pow2=20),
        lambda p: M.kama(p.close, 5, 3, 20),
    ),
    ("kama_1", lambda: ind.kama(window=1), lambda p: M.kama(p.close, 1)),
    ("roc", lambda: ind.roc(), lambda p: M.roc(p.close)),
    ("roc_1", lambda: ind.roc(window=1), lambda p: M.roc(p.close, 1)),
    ("ppo", lambda: ind.ppo(), lambda p: M.ppo(p.close)),
    ("ppo_signal", lambda: ind.ppo_signal(), lambda p: M.ppo_signal(p.close)),
    ("ppo_hist", lambda: ind.ppo_hist(), lambda p: M.ppo_hist(p.close)),
    (
        "ppo_hist_10_5_3",
        lambda: ind.ppo_hist(window_slow=10, window_fast=5, window_sign=3),
        lambda p: M.ppo_hist(p.close, 10, 5, 3),
    ),
    ("pvo", lambda: ind.pvo(), lambda p: M.pvo(p.volume)),
    ("pvo_signal", lambda: ind.pvo_signal(), lambda p: M.pvo_signal(p.volume)),
    ("pvo_hist", lambda: ind.pvo_hist(), lambda p: M.pvo_hist(p.volume)),
    (
        "pvo_signal_10_5_3",
        lambda: ind.pvo_signal(window_slow=10, window_fast=5, window_sign=3),
        lambda p: M.pvo_signal(p.volume, 10, 5, 3),
    ),
]


@pytest.mark.parametrize("kind", ["eager", "lazy"])
@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize(("case_id", "ours", "ref"), CASES, ids=[c[0] for c in CASES])
def test_momentum_output_matches_ta(
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
def test_momentum_over_symbol_equals_ta_per_symbol(
    case_id: str,
    ours: Ours,
    ref: Ref,
    kind: str,
    assert_parity: Callable[..., None],
    run_select: Callable[..., pl.DataFrame],
) -> None:
    names = ("rw1", "ticks", "BTCUSD")
    check_over_symbol_parity(names, case_id, ours, ref, kind, assert_parity, run_select)


def test_rsi_hand_computed() -> None:
    df = pl.DataFrame({"close": [1.0, 2.0, 1.0, 3.0]})
    # window 2, alpha 1/2, started at row 0 with 0 gain/loss:
    # gains 0, 1, 0, 2 -> avg 0, .5, .25, 1.125; losses 0, 0, 1, 0 -> 0, 0, .5, .25
    got = df.select(ind.rsi(window=2)).to_series().to_list()
    assert got[0] is None
    assert got[1:] == pytest.approx([100.0, 100 - 100 / 1.5, 100 - 100 / (1 + 4.5)], rel=1e-14)


def test_stoch_flat_window_is_nan_as_ta(assert_parity: Callable[..., None]) -> None:
    close = np.r_[np.linspace(10.0, 11.0, 20), np.full(20, 11.0), np.linspace(11.0, 9.0, 20)]
    frame = pl.DataFrame({"high": close, "low": close, "close": close})
    got = frame.select(ind.stoch(), ind.stoch_signal(), ind.williams_r())
    p = frame_to_pandas(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want_k = M.stoch(p.high, p.low, p.close)
        want_d = M.stoch_signal(p.high, p.low, p.close)
        want_wr = M.williams_r(p.high, p.low, p.close)
    assert np.isnan(want_k.iloc[35])  # 0/0 in the flat stretch
    assert got["stoch"][35] != got["stoch"][35]  # NaN (not null), as ta's 0/0
    assert_parity(got["stoch"], want_k)
    assert_parity(got["stoch_signal"], want_d)
    assert_parity(got["williams_r"], want_wr)


def test_kama_flat_stretch_and_no_wraparound_look_ahead(
    assert_parity: Callable[..., None],
) -> None:
    close = np.r_[np.linspace(10.0, 12.0, 30), np.full(25, 12.0), np.linspace(12.0, 8.0, 30)]
    frame = pl.DataFrame({"close": close})
    got = frame.select(ind.kama()).to_series()
    assert_parity(got, M.kama(pd.Series(close)))
    # ta's np.roll wraps the last values to the front; changing them must not move row 9+
    changed = close.copy()
    changed[-3:] = [1e6, 0.5, 3.0]
    got2 = pl.DataFrame({"close": changed}).select(ind.kama()).to_series()
    assert got2[:-3].equals(got[:-3])
    assert_parity(got2, M.kama(pd.Series(changed)))


def test_integer_columns_are_accepted(assert_parity: Callable[..., None]) -> None:
    df = pl.DataFrame({"close": [10, 11, 13, 12, 15, 14, 16, 18, 17, 19] * 3, "volume": 7})
    p = frame_to_pandas(df)
    got = df.select(ind.rsi(window=3), ind.pvo(window_slow=5, window_fast=2, window_sign=2))
    assert_parity(got["rsi"], M.rsi(p.close, 3))
    assert_parity(got["pvo"], M.pvo(p.volume, 5, 2, 2))


@pytest.mark.parametrize("window", [0, -2, 3.0, None])
def test_bad_window_raises_configuration_error(window: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"rsi: parameter 'window' must be an integer"):
        ind.rsi(window=window)
    with pytest.raises(ConfigurationError, match=r"kama: parameter 'window'"):
        ind.kama(window=window)
    with pytest.raises(ConfigurationError, match=r"ppo: parameter 'window_sign'"):
        ind.ppo_signal(window_sign=window)


def _momentum_entries() -> list[Any]:
    return [i for i in ind.registry().values() if i.family == "momentum"]


@pytest.mark.parametrize("entry", _momentum_entries(), ids=lambda e: e.name)
def test_momentum_registry_entry_params_and_warmup(entry: Any) -> None:
    cls = getattr(M, entry.ta_reference.removeprefix("ta.momentum."))
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
def test_momentum_matches_ta_on_flat_and_zero_volume_stretches(
    case_id: str, ours: Ours, ref: Ref, assert_parity: Callable[..., None]
) -> None:
    check_frame_parity(
        edge_frame(), "edge", case_id, ours, ref, assert_parity, rtol=RTOL_EDGE.get(case_id, 1e-9)
    )


@pytest.mark.parametrize(("case_id", "ours", "ref"), CASES, ids=[c[0] for c in CASES])
def test_momentum_matches_ta_with_nan_prices_and_volume(
    case_id: str, ours: Ours, ref: Ref, assert_parity: Callable[..., None]
) -> None:
    check_frame_parity(missing_frame(), "nan", case_id, ours, ref, assert_parity)
