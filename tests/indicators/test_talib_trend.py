"""Where our (`ta`'s) definitions coincide with TA-Lib's, and where and why they differ.

Each difference asserted here is listed in docs/indicators.md ("TA-Lib").
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl
import pytest

from omni_research import indicators as ind

from .conftest import load_dataset

talib = pytest.importorskip("talib")

TIE_FREE = ["rw0", "rw1", "rw2"]  # continuous random walks: no equal highs or lows


def _arrays(dataset: str) -> tuple[pl.DataFrame, dict[str, np.ndarray]]:
    df = load_dataset(dataset)
    return df, {c: df[c].to_numpy() for c in df.columns}


def _valid_both(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ~(np.isnan(a) | np.isnan(b))


def _rel_err(a: np.ndarray, b: np.ndarray, start: int = 0) -> float:
    a, b = a[start:], b[start:]
    m = _valid_both(a, b)
    return float(np.max(np.abs(a[m] - b[m])) / np.max(np.abs(b[m])))


# (ours, talib) pairs that are the same definition: equal to 1e-9 wherever both have values
SAME: list[tuple[str, Callable[[], pl.Expr], Callable[[dict[str, np.ndarray]], np.ndarray]]] = [
    ("SMA", lambda: ind.sma_indicator(window=20), lambda a: talib.SMA(a["close"], 20)),
    ("WMA", lambda: ind.wma_indicator(window=9), lambda a: talib.WMA(a["close"], 9)),
    ("CCI", lambda: ind.cci(), lambda a: talib.CCI(a["high"], a["low"], a["close"], 20)),
    (
        "BBANDS upper",
        lambda: ind.bollinger_hband(),
        lambda a: talib.BBANDS(a["close"], 20, 2, 2)[0],
    ),
    (
        "BBANDS lower",
        lambda: ind.bollinger_lband(),
        lambda a: talib.BBANDS(a["close"], 20, 2, 2)[2],
    ),
    ("WILLR", lambda: ind.williams_r(), lambda a: talib.WILLR(a["high"], a["low"], a["close"], 14)),
    ("ROC", lambda: ind.roc(), lambda a: talib.ROC(a["close"], 12)),
    ("KAMA", lambda: ind.kama(), lambda a: talib.KAMA(a["close"], 10)),
    (
        "ULTOSC",
        lambda: ind.ultimate_oscillator(),
        lambda a: talib.ULTOSC(a["high"], a["low"], a["close"]),
    ),
    (
        "MFI",
        lambda: ind.money_flow_index(),
        lambda a: talib.MFI(a["high"], a["low"], a["close"], a["volume"], 14),
    ),
    (
        "AD",
        lambda: ind.acc_dist_index(),
        lambda a: talib.AD(a["high"], a["low"], a["close"], a["volume"]),
    ),
    ("TRIX (after burn-in)", lambda: ind.trix(), lambda a: talib.TRIX(a["close"], 15)),
]


@pytest.mark.parametrize("dataset", ["rw0", "ticks", "GOOG"])
@pytest.mark.parametrize(("label", "ours", "theirs"), SAME, ids=[s[0] for s in SAME])
def test_same_definition_as_talib(
    label: str,
    ours: Callable[[], pl.Expr],
    theirs: Callable[[dict[str, np.ndarray]], np.ndarray],
    dataset: str,
) -> None:
    df, arrays = _arrays(dataset)
    a = df.select(ours()).to_series().cast(pl.Float64).fill_null(np.nan).to_numpy()
    b = theirs(arrays)
    # TRIX's triple EMA is seeded differently (see below); 300 rows wash that out
    start = 300 if label.startswith("TRIX") else 0
    assert _rel_err(a, b, start) <= 1e-9, label
    # and the values start at most one row apart (KAMA/MFI: TA-Lib starts one row later)
    first_a, first_b = np.flatnonzero(~np.isnan(a))[0], np.flatnonzero(~np.isnan(b))[0]
    assert abs(int(first_a) - int(first_b)) <= 1 or start, (label, first_a, first_b)


# Seeded differently: ta's EMA starts at the first value, TA-Lib's at the SMA of the first n;
# ta's Wilder sums (RSI, ATR, ADX) start at other rows. The difference decays geometrically,
# so the two agree after a burn-in, and differ clearly before it.
SEEDED: list[
    tuple[str, Callable[[], pl.Expr], Callable[[dict[str, np.ndarray]], np.ndarray], int]
] = [
    ("EMA", lambda: ind.ema_indicator(window=20), lambda a: talib.EMA(a["close"], 20), 300),
    ("MACD", lambda: ind.macd(), lambda a: talib.MACD(a["close"])[0], 600),
    ("MACD signal", lambda: ind.macd_signal(), lambda a: talib.MACD(a["close"])[1], 600),
    ("MACD hist", lambda: ind.macd_diff(), lambda a: talib.MACD(a["close"])[2], 600),
    ("RSI", lambda: ind.rsi(), lambda a: talib.RSI(a["close"], 14), 400),
    (
        "ATR",
        lambda: ind.average_true_range(),
        lambda a: talib.ATR(a["high"], a["low"], a["close"], 14),
        400,
    ),
    ("ADX", lambda: ind.adx(), lambda a: talib.ADX(a["high"], a["low"], a["close"], 14), 450),
    (
        "PLUS_DI",
        lambda: ind.adx_pos(),
        lambda a: talib.PLUS_DI(a["high"], a["low"], a["close"], 14),
        450,
    ),
    (
        "MINUS_DI",
        lambda: ind.adx_neg(),
        lambda a: talib.MINUS_DI(a["high"], a["low"], a["close"], 14),
        450,
    ),
]


@pytest.mark.parametrize("dataset", ["rw0", "ticks", "GOOG"])
@pytest.mark.parametrize(("label", "ours", "theirs", "burn_in"), SEEDED, ids=[s[0] for s in SEEDED])
def test_seeded_differently_from_talib_converges_after_burn_in(
    label: str,
    ours: Callable[[], pl.Expr],
    theirs: Callable[[dict[str, np.ndarray]], np.ndarray],
    burn_in: int,
    dataset: str,
) -> None:
    df, arrays = _arrays(dataset)
    a = df.select(ours()).to_series().fill_null(np.nan).to_numpy()
    b = theirs(arrays)
    assert _rel_err(a, b, burn_in) <= 1e-9, label
    assert _rel_err(a, b, 0) > 1e-6, f"{label}: expected a visible seeding difference early on"


def test_aroon_equals_talib_without_ties_and_differs_on_ties() -> None:
    for dataset in TIE_FREE:
        df, a = _arrays(dataset)
        out = df.select(ind.aroon_up(), ind.aroon_down())
        down, up = talib.AROON(a["high"], a["low"], 25)
        assert _rel_err(out["aroon_up"].fill_null(np.nan).to_numpy(), up) <= 1e-12
        assert _rel_err(out["aroon_down"].fill_null(np.nan).to_numpy(), down) <= 1e-12
    # on tick-rounded (and real) prices equal highs are common: ta (np.argmax) takes the
    # oldest, TA-Lib the newest
    df, a = _arrays("ticks")
    ours = df.select(ind.aroon_up()).to_series().fill_null(np.nan).to_numpy()
    down, up = talib.AROON(a["high"], a["low"], 25)
    m = _valid_both(ours, up)
    assert np.all(ours[m] <= up[m] + 1e-12) and np.any(ours[m] < up[m])


def test_obv_equals_talib_without_equal_closes_and_differs_on_them() -> None:
    df, a = _arrays("rw0")
    assert np.all(np.diff(a["close"]) != 0)
    ours = df.select(ind.on_balance_volume()).to_series().to_numpy()
    assert np.array_equal(ours, talib.OBV(a["close"], a["volume"]))
    # ta adds the volume on an unchanged close; TA-Lib leaves the total as it is
    df, a = _arrays("ticks")
    ours = df.select(ind.on_balance_volume()).to_series().to_numpy()
    diff = np.diff(ours) - np.diff(talib.OBV(a["close"], a["volume"]))
    flat = np.diff(a["close"]) == 0
    assert flat.any()
    assert np.array_equal(diff[flat], a["volume"][1:][flat]) and np.all(diff[~flat] == 0)


def test_psar_differs_from_talib_by_construction() -> None:
    # ta starts in an up trend from the close and never clamps the SAR at a reversal; TA-Lib
    # picks the first trend from the first bars' directional movement and clamps. The two
    # paths need not meet again, so only the documented difference is asserted.
    df, a = _arrays("GOOG")
    ours = df.select(ind.psar()).to_series().to_numpy()
    theirs = talib.SAR(a["high"], a["low"], 0.02, 0.2)
    assert np.isnan(theirs[0]) and not np.isnan(ours[0])
    assert _rel_err(ours, theirs, 1) > 1e-3
