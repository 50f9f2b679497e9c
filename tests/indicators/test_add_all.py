"""`add_all_ta_features` against `ta.add_all_ta_features(..., fillna=False)`: all 86 columns."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import polars as pl
import pytest
import ta

from omni_research.exceptions import ConfigurationError, DataFormatError
from omni_research.indicators import TA_FEATURE_COLUMNS, add_all_ta_features

from .conftest import DATASETS, frame_to_pandas, load_dataset, random_walk_ohlcv

# columns where ta looks ahead, and the rows it does so in (ta's defaults):
# KST uses close.shift(roc, fill_value=close.mean()) -> rows < 44 for the line, < 52 for the
# signal (a 9-row mean of the line); the visual Ichimoku spans are shifted 26 rows with the
# same fill.
LOOK_AHEAD_ROWS = {
    "trend_kst": 44,
    "trend_kst_sig": 52,
    "trend_kst_diff": 52,
    "trend_visual_ichimoku_a": 26,
    "trend_visual_ichimoku_b": 26,
}
# 0/1 flags comparing the close with a band: where close equals the band to rounding, the
# flag is decided by the last bit of a rolling std, which pandas and Polars round
# differently. Such rows are accepted when the band is within 1e-9 of the close.
FLAG_BANDS = {
    "volatility_bbhi": "volatility_bbh",
    "volatility_bbli": "volatility_bbl",
    "volatility_kchi": "volatility_kch",
    "volatility_kcli": "volatility_kcl",
}

_TA_CACHE: dict[str, pd.DataFrame] = {}


def ta_features(dataset: str) -> pd.DataFrame:
    if dataset not in _TA_CACHE:
        pdf = frame_to_pandas(load_dataset(dataset))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            _TA_CACHE[dataset] = ta.add_all_ta_features(
                pdf, "open", "high", "low", "close", "volume", fillna=False
            )
    return _TA_CACHE[dataset]


def _compare(
    ours: pl.DataFrame,
    theirs: pd.DataFrame,
    assert_parity: Callable[..., None],
    *,
    skip_rows: dict[str, int],
) -> None:
    close = theirs["close"].to_numpy()
    for col in TA_FEATURE_COLUMNS:
        start = skip_rows.get(col, 0)
        got = ours[col].slice(start)
        ref = theirs[col].iloc[start:].to_numpy(dtype=float)
        if col in FLAG_BANDS:
            band = theirs[FLAG_BANDS[col]].iloc[start:].to_numpy(dtype=float)
            tie = np.abs(band - close[start:]) <= 1e-9 * np.nanmax(np.abs(close))
            ref = np.where(tie, got.to_numpy(), ref)
        assert_parity(got, ref, name=col)


@pytest.mark.parametrize("dataset", DATASETS)
def test_add_all_ta_compat_equals_ta_on_every_column(
    dataset: str, assert_parity: Callable[..., None]
) -> None:
    ours = add_all_ta_features(load_dataset(dataset), ta_compat=True)
    theirs = ta_features(dataset)
    assert ours.columns == list(theirs.columns)
    assert len(TA_FEATURE_COLUMNS) == 86
    _compare(ours, theirs, assert_parity, skip_rows={})


@pytest.mark.parametrize("dataset", ["rw0", "ticks", "GOOG", "EURUSD"])
def test_add_all_default_equals_ta_outside_look_ahead_rows(
    dataset: str, assert_parity: Callable[..., None]
) -> None:
    ours = add_all_ta_features(load_dataset(dataset).lazy()).collect()
    theirs = ta_features(dataset)
    _compare(ours, theirs, assert_parity, skip_rows=LOOK_AHEAD_ROWS)
    for col in LOOK_AHEAD_ROWS:
        n_null = 44 if col.startswith("trend_kst") else 26
        assert ours[col].head(n_null).null_count() == n_null, col
        assert theirs[col].iloc[:n_null].notna().any(), col


def test_add_all_lazy_in_lazy_out_and_same_values() -> None:
    df = load_dataset("rw1")
    lazy = add_all_ta_features(df.lazy())
    assert isinstance(lazy, pl.LazyFrame)
    eager = add_all_ta_features(df)
    assert isinstance(eager, pl.DataFrame)
    assert lazy.collect().equals(eager)


def test_add_all_keeps_other_columns_and_custom_names(assert_parity: Callable[..., None]) -> None:
    df = load_dataset("BTCUSD")
    renamed = df.rename({"open": "O", "high": "H", "low": "L", "close": "C", "volume": "V"})
    renamed = renamed.with_columns(
        pl.datetime_range(
            pl.datetime(2020, 1, 1, time_zone="UTC"),
            pl.datetime(2020, 1, 1, time_zone="UTC") + pl.duration(days=df.height - 1),
            "1d",
            time_unit="us",
        ).alias("timestamp")
    )
    out = add_all_ta_features(
        renamed, open="O", high="H", low="L", close="C", volume="V", ta_compat=True
    )
    assert out.columns[:6] == ["O", "H", "L", "C", "V", "timestamp"]
    assert out["timestamp"].equals(renamed["timestamp"])
    for col in ("trend_adx", "trend_psar_up", "momentum_rsi", "volume_obv"):
        assert_parity(out[col], ta_features("BTCUSD")[col], name=col)


def test_engine_ta_is_ta_itself(assert_parity: Callable[..., None]) -> None:
    df = load_dataset("BTCUSD")
    out = add_all_ta_features(df, engine="ta")
    theirs = ta_features("BTCUSD")
    for col in TA_FEATURE_COLUMNS:
        assert_parity(out[col], theirs[col], name=col, rtol=0.0)


def test_by_symbol_equals_each_symbol_alone_for_both_engines(
    assert_parity: Callable[..., None],
) -> None:
    parts = {
        "AAA": random_walk_ohlcv(11, 300),
        "BBB": random_walk_ohlcv(12, 250),
        "CCC": random_walk_ohlcv(13, 40),  # shorter than most warm-ups
    }
    panel = pl.concat(
        [
            p.with_columns(pl.lit(s).alias("symbol"), pl.int_range(pl.len()).alias("t"))
            for s, p in parts.items()
        ]
    ).sort("t", "symbol")  # interleaved rows, as a panel sorted by time
    out = add_all_ta_features(panel, by="symbol", ta_compat=True)
    via_ta = add_all_ta_features(panel.lazy(), by="symbol", engine="ta").collect()
    assert out.columns == via_ta.columns
    assert out.select("symbol", "t").equals(panel.select("symbol", "t"))  # row order kept
    for sym, part in parts.items():
        alone = add_all_ta_features(part, ta_compat=True)
        mine = out.filter(pl.col("symbol") == sym)
        theirs = via_ta.filter(pl.col("symbol") == sym)
        for col in TA_FEATURE_COLUMNS:
            # Polars' rolling sums round differently by a few ulps per group: 1e-12, not bits
            assert_parity(mine[col], alone[col].to_numpy(), name=f"{sym}/{col}", rtol=1e-12)
            if col not in FLAG_BANDS:
                assert_parity(mine[col], theirs[col].to_numpy(), name=f"{sym}/{col} vs ta")


def test_missing_column_raises_data_format_error() -> None:
    df = load_dataset("rw0").drop("volume")
    with pytest.raises(DataFormatError, match=r"volume='volume' not in the frame"):
        add_all_ta_features(df)
    with pytest.raises(DataFormatError, match=r"by='symbol'"):
        add_all_ta_features(load_dataset("rw0"), by="symbol")


def test_non_numeric_column_raises_data_format_error() -> None:
    df = load_dataset("rw0").with_columns(pl.col("close").cast(pl.String))
    with pytest.raises(DataFormatError, match="must be numeric"):
        add_all_ta_features(df)


def test_unknown_engine_raises_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="engine must be 'polars' or 'ta'"):
        add_all_ta_features(load_dataset("rw0"), engine="talib")  # type: ignore[call-overload]


def test_pandas_input_raises_data_format_error() -> None:
    with pytest.raises(DataFormatError, match=r"pl\.from_pandas"):
        add_all_ta_features(frame_to_pandas(load_dataset("rw0")))  # type: ignore[call-overload]


@pytest.mark.slow
def test_long_series_trend_columns_match_ta(assert_parity: Callable[..., None]) -> None:
    # 100,000 rows: the vectorised trend columns (no rolling std involved) still agree
    df = random_walk_ohlcv(21, 100_000)
    p = frame_to_pandas(df)
    ours = add_all_ta_features(df, ta_compat=True)
    refs = {
        "trend_macd_signal": ta.trend.macd_signal(p.close),
        "trend_ema_slow": ta.trend.ema_indicator(p.close, 26),
        "trend_sma_slow": ta.trend.sma_indicator(p.close, 26),
        "trend_kst_sig": ta.trend.kst_sig(p.close),
        "trend_mass_index": ta.trend.mass_index(p.high, p.low),
        "trend_vortex_ind_diff": ta.trend.VortexIndicator(
            p.high, p.low, p.close
        ).vortex_indicator_diff(),
        "trend_ichimoku_a": ta.trend.ichimoku_a(p.high, p.low),
        "trend_stc": ta.trend.stc(p.close),
        "trend_adx": ta.trend.adx(p.high, p.low, p.close),
    }
    for col, ref in refs.items():
        assert_parity(ours[col], ref, name=col)


@pytest.mark.parametrize("n", [0, 1, 2, 5, 30])
def test_short_frames_give_all_columns_without_error(n: int) -> None:
    # a symbol with fewer rows than the warm-ups must not fail a panel
    df = random_walk_ohlcv(31, 30).head(n)
    out = add_all_ta_features(df)
    assert out.height == n and out.columns[5:] == list(TA_FEATURE_COLUMNS)
    if n:
        assert out["trend_adx"].head(27).to_list() == [0.0] * min(n, 27)  # ta's warm-up
        assert out["trend_macd_signal"].null_count() == min(n, 33)


def test_package_all_names_import() -> None:
    import omni_research.indicators as pkg

    for name in pkg.__all__:
        assert getattr(pkg, name) is not None, name
    for module in ("_trend", "_momentum", "_volume", "_volatility", "_others"):
        mod = __import__(f"omni_research.indicators.{module}", fromlist=["__all__"])
        missing = sorted(set(mod.__all__) - set(pkg.__all__))
        assert not missing, f"{module} exports {missing} that the package does not"
