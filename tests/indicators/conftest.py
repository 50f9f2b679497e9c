"""Shared fixtures for the indicator tests: OHLCV data and the `ta` parity check.

Fixtures
--------
``ohlcv`` (parametrised over every dataset below), ``ohlcv_frames`` (all of them as a dict),
``make_ohlcv`` (``make_ohlcv(seed, n, *, tick=None)``), ``to_pandas`` (Polars -> pandas frame
with a RangeIndex, the shape `ta` expects) and ``assert_parity`` (the check itself).

Datasets: geometric random walks from several seeds, one rounded to a 0.5 tick so that
ties (equal closes, flat highs, zero ranges) occur often, and real market data shipped
inside the `backtesting` package (AGPL: read-only use of its CSVs as a dev dependency).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest

RTOL = 1e-9
"""Parity tolerance, relative to the reference column's scale (its largest finite |value|)."""

RANDOM_SEEDS = (0, 1, 2)
DATASETS = ("rw0", "rw1", "rw2", "ticks", "GOOG", "BTCUSD", "EURUSD")


def random_walk_ohlcv(seed: int, n: int = 800, *, tick: float | None = None) -> pl.DataFrame:
    """A geometric random walk with consistent OHLC (low <= open, close <= high) and volume."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.empty(n)
    open_[0] = close[0]
    open_[1:] = close[:-1] * np.exp(rng.normal(0.0, 0.002, n - 1))
    span = np.abs(rng.normal(0.0, 0.008, n)) * close
    high = np.maximum(open_, close) + span * rng.random(n)
    low = np.minimum(open_, close) - span * rng.random(n)
    volume = np.round(rng.lognormal(10.0, 1.0, n))
    if tick is not None:
        open_, high, low, close = (np.round(a / tick) * tick for a in (open_, high, low, close))
        high = np.maximum.reduce([high, open_, close])
        low = np.minimum.reduce([low, open_, close])
    return pl.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume})


def _backtesting_data(name: str) -> pl.DataFrame:
    import backtesting.test as bt_data

    frame = getattr(bt_data, name)
    out = frame.reset_index(drop=True).rename(columns=str.lower)
    data: pl.DataFrame = pl.from_pandas(out[["open", "high", "low", "close", "volume"]])
    return data.cast(pl.Float64)


_CACHE: dict[str, pl.DataFrame] = {}


def load_dataset(name: str) -> pl.DataFrame:
    """One of ``DATASETS`` as a Polars frame with float columns open, high, low, close, volume."""
    if name not in _CACHE:
        if name.startswith("rw"):
            _CACHE[name] = random_walk_ohlcv(int(name[2:]))
        elif name == "ticks":
            _CACHE[name] = random_walk_ohlcv(7, tick=0.5)
        else:
            _CACHE[name] = _backtesting_data(name)
    return _CACHE[name]


def frame_to_pandas(df: pl.DataFrame) -> pd.DataFrame:
    """The frame as pandas with a RangeIndex (`ta`'s PSAR indexes by label)."""
    return df.to_pandas().reset_index(drop=True)


def check_parity(
    ours: Any, theirs: Any, *, rtol: float = RTOL, name: str = "", scale: float | None = None
) -> None:
    """Assert ``ours`` equals the reference ``theirs`` to ``rtol`` of the column's scale.

    ``ours`` may be a Polars Series (null or NaN counts as missing), ``theirs`` a pandas
    Series or array (NaN is missing). Missing values must sit in the same rows, infinities
    must match exactly, and every finite value must be within ``rtol * scale`` where
    ``scale`` is the largest finite ``|theirs|`` (1.0 if the column is all zero).
    """
    if isinstance(ours, pl.Series):
        a = ours.cast(pl.Float64).fill_null(np.nan).to_numpy().astype(np.float64)
    else:
        a = np.asarray(ours, dtype=np.float64)
    b = np.asarray(theirs, dtype=np.float64)
    label = f"{name}: " if name else ""
    assert a.shape == b.shape, f"{label}length {a.shape} != reference {b.shape}"
    miss_a, miss_b = np.isnan(a), np.isnan(b)
    if not np.array_equal(miss_a, miss_b):
        rows = np.flatnonzero(miss_a != miss_b)
        r = rows[0]
        raise AssertionError(
            f"{label}missing values differ in {rows.size} rows; first at row {r}: "
            f"ours={a[r]!r}, ta={b[r]!r}"
        )
    inf_a, inf_b = np.isinf(a), np.isinf(b)
    assert np.array_equal(a[inf_a | inf_b], b[inf_a | inf_b]), f"{label}infinities differ"
    fin = ~(miss_b | inf_b)
    if not fin.any():
        return
    ref_scale = float(np.max(np.abs(b[fin]))) if scale is None else scale
    ref_scale = ref_scale if ref_scale > 0 else 1.0
    err = np.abs(a[fin] - b[fin])
    worst = int(np.argmax(err))
    if err[worst] > rtol * ref_scale:
        r = np.flatnonzero(fin)[worst]
        raise AssertionError(
            f"{label}row {r}: ours={a[r]!r}, ta={b[r]!r}, |diff|={err[worst]:.3e} > "
            f"{rtol:g} * scale {ref_scale:.3e}"
        )


def exact_rolling_std(
    x: np.ndarray[Any, Any], window: int, *, ddof: int = 0
) -> np.ndarray[Any, Any]:
    """Rolling std computed window by window (two-pass, no running sums): a drift-free
    reference for long series, where pandas' running-sum rolling std drifts."""
    x = np.asarray(x, dtype=np.float64)
    out = np.full(x.shape[0], np.nan)
    if x.shape[0] >= window:
        view = np.lib.stride_tricks.sliding_window_view(x, window)
        out[window - 1 :] = view.std(axis=1, ddof=ddof)
    return out


@pytest.fixture(params=DATASETS)
def ohlcv(request: pytest.FixtureRequest) -> pl.DataFrame:
    """Each dataset in turn (random walks, a tick-rounded walk, GOOG, BTCUSD, EURUSD)."""
    return load_dataset(request.param)


@pytest.fixture(scope="session")
def ohlcv_frames() -> dict[str, pl.DataFrame]:
    """Every dataset by name."""
    return {name: load_dataset(name) for name in DATASETS}


@pytest.fixture(scope="session")
def make_ohlcv() -> Callable[..., pl.DataFrame]:
    """``make_ohlcv(seed, n=800, *, tick=None)``: a random-walk OHLCV frame."""
    return random_walk_ohlcv


@pytest.fixture(scope="session")
def to_pandas() -> Callable[[pl.DataFrame], pd.DataFrame]:
    """Polars frame -> pandas frame with a RangeIndex, ready for `ta`."""
    return frame_to_pandas


@pytest.fixture(scope="session")
def assert_parity() -> Callable[..., None]:
    """``assert_parity(ours, theirs, *, rtol=1e-9, name="", scale=None)``; see check_parity."""
    return check_parity


@pytest.fixture(params=["eager", "lazy"])
def frame_kind(request: pytest.FixtureRequest) -> str:
    """Parametrise a test over DataFrame and LazyFrame: use with ``run_select``."""
    return str(request.param)


@pytest.fixture(scope="session")
def run_select() -> Callable[..., pl.DataFrame]:
    """``run_select(df, exprs, kind)``: ``df.select(exprs)`` eagerly or through a LazyFrame."""

    def run(df: pl.DataFrame, exprs: Any, kind: str = "eager") -> pl.DataFrame:
        if kind == "lazy":
            return df.lazy().select(exprs).collect()
        return df.select(exprs)

    return run


Ours = Callable[[], pl.Expr]
"""A parity case's expression builder (each family's ``CASES`` rows: id, ours, ref)."""
Ref = Callable[[pd.DataFrame], pd.Series]
"""A parity case's `ta` call on a pandas frame (``frame_to_pandas``)."""

_REF_CACHE: dict[tuple[str, Ref], pd.Series] = {}


def ta_reference(dataset: str, ref: Ref) -> pd.Series:
    """`ta`'s output for one case on one dataset, computed once per session."""
    import warnings

    key = (dataset, ref)
    if key not in _REF_CACHE:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # ta's own 0/0 on flat windows
            _REF_CACHE[key] = ref(frame_to_pandas(load_dataset(dataset)))
    return _REF_CACHE[key]


def check_over_symbol_parity(
    names: tuple[str, ...],
    case_id: str,
    ours: Ours,
    ref: Ref,
    kind: str,
    assert_parity: Callable[..., None],
    run_select: Callable[..., pl.DataFrame],
) -> None:
    """A panel of ``names`` stacked with a ``symbol`` column: ``ours().over("symbol")`` equals
    `ta` run on each dataset alone (the shared body of every family's per-symbol test)."""
    panel = pl.concat([load_dataset(n).with_columns(symbol=pl.lit(n)) for n in names])
    got = run_select(panel, [pl.col("symbol"), ours().over("symbol").alias("x")], kind)
    for n in names:
        part = got.filter(pl.col("symbol") == n)["x"]
        assert_parity(part, ta_reference(n, ref), name=f"{n}/{case_id}")


def check_frame_parity(
    df: pl.DataFrame,
    label: str,
    case_id: str,
    ours: Ours,
    ref: Ref,
    assert_parity: Callable[..., None],
    *,
    rtol: float = RTOL,
) -> None:
    """``ours()`` on ``df`` equals `ta` on the same rows (the shared body of the edge-case
    and missing-value tests of every family); `ta`'s own 0/0 warnings are silenced."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # ta's own 0/0 and x/0
        want = ref(frame_to_pandas(df))
    got = df.select(ours()).to_series()
    assert_parity(got, want, rtol=rtol, name=f"{label}/{case_id}")
