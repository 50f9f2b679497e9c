"""`add_all_ta_features`: `ta`'s 86 feature columns, same names, as one lazy Polars query."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeAlias, overload

import numpy as np
import polars as pl

from omni_research.exceptions import ConfigurationError, DataFormatError
from omni_research.indicators import _momentum as mo
from omni_research.indicators import _others as ot
from omni_research.indicators import _trend as tr
from omni_research.indicators import _volatility as vo
from omni_research.indicators import _volume as vl
from omni_research.indicators._common import as_float, group_segments

Engine: TypeAlias = Literal["polars", "ta"]

_TMP = "__omni_ta_"  # prefix of the temporary columns holding shared kernel results


def ta_feature_exprs(
    *,
    open: str = "open",
    high: str = "high",
    low: str = "low",
    close: str = "close",
    volume: str = "volume",
    ta_compat: bool = False,
) -> tuple[dict[str, pl.Expr], dict[str, pl.Expr]]:
    """The expressions behind `add_all_ta_features`, in `ta`'s column order.

    Returns ``(shared, features)``: ``shared`` are temporary columns computed first (the
    multi-output kernels, run once instead of once per output); ``features`` maps each of
    `ta`'s 86 column names to its expression, which may read the ``shared`` columns.
    """
    h, lo, c, v = as_float(high), as_float(low), as_float(close), as_float(volume)
    adx_col, psar_col, macd_col = f"{_TMP}adx", f"{_TMP}psar", f"{_TMP}macd"
    shared = {
        adx_col: tr.adx_all(h, lo, c, window=14),
        psar_col: tr.psar_all(h, lo, c, step=0.02, max_step=0.2),
        macd_col: tr.macd_all(c, window_slow=26, window_fast=12, window_sign=9),
    }
    adx_s, psar_s, macd_s = pl.col(adx_col), pl.col(psar_col), pl.col(macd_col)
    psar_up = psar_s.struct.field("psar_up")
    psar_down = psar_s.struct.field("psar_down")
    starts_up = psar_up.is_not_null() & psar_up.shift(1).is_null()
    starts_down = psar_down.is_not_null() & psar_down.shift(1).is_null()
    kst_kw = {
        "roc1": 10,
        "roc2": 15,
        "roc3": 20,
        "roc4": 30,
        "window1": 10,
        "window2": 10,
        "window3": 10,
        "window4": 15,
    }
    kc_kw: dict[str, Any] = {
        "window": 10,
        "window_atr": 10,
        "original_version": True,
        "multiplier": 2.0,
    }
    f: dict[str, pl.Expr] = {
        # volume
        "volume_adi": vl.acc_dist_index(h, lo, c, v),
        "volume_obv": vl.on_balance_volume(c, v),
        "volume_cmf": vl.chaikin_money_flow(h, lo, c, v, window=20),
        "volume_fi": vl.force_index(c, v, window=13),
        "volume_em": vl.ease_of_movement(h, lo, v, window=14),
        "volume_sma_em": vl.sma_ease_of_movement(h, lo, v, window=14),
        "volume_vpt": vl.volume_price_trend(c, v),
        "volume_vwap": vl.volume_weighted_average_price(h, lo, c, v, window=14),
        "volume_mfi": vl.money_flow_index(h, lo, c, v, window=14),
        "volume_nvi": vl.negative_volume_index(c, v),
        # volatility
        "volatility_bbm": vo.bollinger_mavg(c, window=20, window_dev=2),
        "volatility_bbh": vo.bollinger_hband(c, window=20, window_dev=2),
        "volatility_bbl": vo.bollinger_lband(c, window=20, window_dev=2),
        "volatility_bbw": vo.bollinger_wband(c, window=20, window_dev=2),
        "volatility_bbp": vo.bollinger_pband(c, window=20, window_dev=2),
        "volatility_bbhi": vo.bollinger_hband_indicator(c, window=20, window_dev=2),
        "volatility_bbli": vo.bollinger_lband_indicator(c, window=20, window_dev=2),
        "volatility_kcc": vo.keltner_channel_mband(h, lo, c, **kc_kw),
        "volatility_kch": vo.keltner_channel_hband(h, lo, c, **kc_kw),
        "volatility_kcl": vo.keltner_channel_lband(h, lo, c, **kc_kw),
        "volatility_kcw": vo.keltner_channel_wband(h, lo, c, **kc_kw),
        "volatility_kcp": vo.keltner_channel_pband(h, lo, c, **kc_kw),
        "volatility_kchi": vo.keltner_channel_hband_indicator(h, lo, c, **kc_kw),
        "volatility_kcli": vo.keltner_channel_lband_indicator(h, lo, c, **kc_kw),
        "volatility_dcl": vo.donchian_channel_lband(h, lo, c, window=20, offset=0),
        "volatility_dch": vo.donchian_channel_hband(h, lo, c, window=20, offset=0),
        "volatility_dcm": vo.donchian_channel_mband(h, lo, c, window=20, offset=0),
        "volatility_dcw": vo.donchian_channel_wband(h, lo, c, window=20, offset=0),
        "volatility_dcp": vo.donchian_channel_pband(h, lo, c, window=20, offset=0),
        "volatility_atr": vo.average_true_range(h, lo, c, window=10),
        "volatility_ui": vo.ulcer_index(c, window=14),
        # trend
        "trend_macd": macd_s.struct.field("macd"),
        "trend_macd_signal": macd_s.struct.field("macd_signal"),
        "trend_macd_diff": macd_s.struct.field("macd_diff"),
        "trend_sma_fast": tr.sma_indicator(c, window=12),
        "trend_sma_slow": tr.sma_indicator(c, window=26),
        "trend_ema_fast": tr.ema_indicator(c, window=12),
        "trend_ema_slow": tr.ema_indicator(c, window=26),
        "trend_vortex_ind_pos": tr.vortex_indicator_pos(h, lo, c, window=14, ta_compat=ta_compat),
        "trend_vortex_ind_neg": tr.vortex_indicator_neg(h, lo, c, window=14, ta_compat=ta_compat),
        "trend_vortex_ind_diff": tr.vortex_indicator_diff(h, lo, c, window=14, ta_compat=ta_compat),
        "trend_trix": tr.trix(c, window=15, ta_compat=ta_compat),
        "trend_mass_index": tr.mass_index(h, lo, window_fast=9, window_slow=25),
        "trend_dpo": tr.dpo(c, window=20, ta_compat=ta_compat),
        "trend_kst": tr.kst(c, **kst_kw, ta_compat=ta_compat),
        "trend_kst_sig": tr.kst_sig(c, **kst_kw, nsig=9, ta_compat=ta_compat),
        "trend_kst_diff": tr.kst_diff(c, **kst_kw, nsig=9, ta_compat=ta_compat),
        "trend_ichimoku_conv": tr.ichimoku_conversion_line(h, lo, window1=9, window2=26),
        "trend_ichimoku_base": tr.ichimoku_base_line(h, lo, window1=9, window2=26),
        "trend_ichimoku_a": tr.ichimoku_a(h, lo, window1=9, window2=26),
        "trend_ichimoku_b": tr.ichimoku_b(h, lo, window2=26, window3=52),
        "trend_stc": tr.stc(c, window_slow=50, window_fast=23, cycle=10, smooth1=3, smooth2=3),
        "trend_adx": adx_s.struct.field("adx"),
        "trend_adx_pos": adx_s.struct.field("adx_pos"),
        "trend_adx_neg": adx_s.struct.field("adx_neg"),
        "trend_cci": tr.cci(h, lo, c, window=20, constant=0.015),
        "trend_visual_ichimoku_a": tr.ichimoku_a(
            h, lo, window1=9, window2=26, visual=True, ta_compat=ta_compat
        ),
        "trend_visual_ichimoku_b": tr.ichimoku_b(
            h, lo, window2=26, window3=52, visual=True, ta_compat=ta_compat
        ),
        "trend_aroon_up": tr.aroon_up(h, lo, window=25),
        "trend_aroon_down": tr.aroon_down(h, lo, window=25),
        "trend_aroon_ind": tr.aroon_indicator(h, lo, window=25),
        "trend_psar_up": psar_up,
        "trend_psar_down": psar_down,
        # same rule as tr.psar_up_indicator / psar_down_indicator, on the shared kernel result
        "trend_psar_up_indicator": pl.when(starts_up & (psar_up != 0.0)).then(1.0).otherwise(0.0),
        "trend_psar_down_indicator": pl.when(starts_down).then(1.0).otherwise(0.0),
        # momentum
        "momentum_rsi": mo.rsi(c, window=14),
        "momentum_stoch_rsi": mo.stochrsi(c, window=14, smooth1=3, smooth2=3),
        "momentum_stoch_rsi_k": mo.stochrsi_k(c, window=14, smooth1=3, smooth2=3),
        "momentum_stoch_rsi_d": mo.stochrsi_d(c, window=14, smooth1=3, smooth2=3),
        "momentum_tsi": mo.tsi(c, window_slow=25, window_fast=13),
        "momentum_uo": mo.ultimate_oscillator(
            h, lo, c, window1=7, window2=14, window3=28, weight1=4.0, weight2=2.0, weight3=1.0
        ),
        "momentum_stoch": mo.stoch(h, lo, c, window=14, smooth_window=3),
        "momentum_stoch_signal": mo.stoch_signal(h, lo, c, window=14, smooth_window=3),
        "momentum_wr": mo.williams_r(h, lo, c, lbp=14),
        "momentum_ao": mo.awesome_oscillator(h, lo, window1=5, window2=34),
        "momentum_roc": mo.roc(c, window=12),
        "momentum_ppo": mo.ppo(c, window_slow=26, window_fast=12, window_sign=9),
        "momentum_ppo_signal": mo.ppo_signal(c, window_slow=26, window_fast=12, window_sign=9),
        "momentum_ppo_hist": mo.ppo_hist(c, window_slow=26, window_fast=12, window_sign=9),
        "momentum_pvo": mo.pvo(v, window_slow=26, window_fast=12, window_sign=9),
        "momentum_pvo_signal": mo.pvo_signal(v, window_slow=26, window_fast=12, window_sign=9),
        "momentum_pvo_hist": mo.pvo_hist(v, window_slow=26, window_fast=12, window_sign=9),
        "momentum_kama": mo.kama(c, window=10, pow1=2, pow2=30),
        # others
        "others_dr": ot.daily_return(c),
        "others_dlr": ot.daily_log_return(c),
        "others_cr": ot.cumulative_return(c),
    }
    return shared, {name: e.alias(name) for name, e in f.items()}


TA_FEATURE_COLUMNS: tuple[str, ...] = tuple(ta_feature_exprs()[1])
"""The 86 column names `ta.add_all_ta_features` adds (ta 0.11), in its order."""


def _check_columns(schema: pl.Schema, needed: dict[str, str], by: Sequence[str]) -> None:
    missing = {role: name for role, name in needed.items() if name not in schema}
    missing_by = [b for b in by if b not in schema]
    if missing or missing_by:
        parts = [f"{role}={name!r}" for role, name in missing.items()]
        parts += [f"by={b!r}" for b in missing_by]
        raise DataFormatError(
            f"add_all_ta_features: column(s) {', '.join(parts)} not in the frame; "
            f"it has {list(schema)}. Pass the right names with open=, high=, low=, close=, "
            "volume= (and by=)."
        )
    bad = {name: schema[name] for name in needed.values() if not schema[name].is_numeric()}
    if bad:
        raise DataFormatError(
            f"add_all_ta_features: price/volume columns must be numeric; got "
            f"{ {k: str(t) for k, t in bad.items()} }. Cast them, e.g. "
            "pl.col(name).cast(pl.Float64)."
        )


def _by_list(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def _through_ta(df: pl.DataFrame, needed: dict[str, str], by: list[str]) -> pl.DataFrame:
    import warnings

    import ta

    cols = list(dict.fromkeys(needed.values()))

    def one(part: pl.DataFrame) -> pl.DataFrame:
        pdf = part.select(cols).to_pandas().reset_index(drop=True).astype("float64")
        with warnings.catch_warnings():
            # ta divides by zero on flat data and lets numpy warn; the values are ta's own
            warnings.simplefilter("ignore", RuntimeWarning)
            out = ta.add_all_ta_features(pdf, **needed, fillna=False)
        feats = pl.from_pandas(out[list(TA_FEATURE_COLUMNS)]).cast(pl.Float64)
        return part.with_columns(feats.fill_nan(None))

    if not by:
        return one(df)
    index = f"{_TMP}row"
    parts = [one(part) for part in df.with_row_index(index).partition_by(by, maintain_order=True)]
    return pl.concat(parts).sort(index).drop(index)


# Below this many rows per group on average, one ``.over`` query beats a query per group
# (each of the 86-column queries has a fixed cost of a few milliseconds).
_MIN_ROWS_PER_GROUP = 5_000


def _per_group(
    frame: pl.DataFrame,
    groups: list[str],
    query: Callable[[pl.LazyFrame, list[str]], pl.LazyFrame],
) -> pl.DataFrame:
    """The features per group: one plain query per group on a zero-copy slice.

    ``.over(by)`` gathers and scatters every group around every one of the 86 expressions
    (and around each Python kernel call): 4-8x the cost of the same expressions on one
    symbol. Slicing the frame once by group and running the ungrouped query on each slice
    gives the same numbers (each slice is exactly what ``.over`` hands each expression).
    Many tiny groups keep ``.over``, whose cost is per row rather than per group.
    """
    order, bounds = group_segments([frame.get_column(b) for b in groups])
    n_groups = len(bounds) - 1
    if n_groups <= 1:
        return query(frame.lazy(), []).collect()
    if frame.height < _MIN_ROWS_PER_GROUP * n_groups:
        return query(frame.lazy(), groups).collect()
    ordered = frame if order is None else frame[order]
    parts = [
        query(ordered.slice(s, e - s).lazy(), []).collect() for s, e in itertools.pairwise(bounds)
    ]
    out = pl.concat(parts, rechunk=False)
    if order is None:
        return out
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.shape[0])
    return out[inverse]


@overload
def add_all_ta_features(
    df: pl.DataFrame,
    /,
    *,
    open: str = ...,
    high: str = ...,
    low: str = ...,
    close: str = ...,
    volume: str = ...,
    by: str | Sequence[str] | None = ...,
    ta_compat: bool = ...,
    engine: Engine = ...,
) -> pl.DataFrame: ...


@overload
def add_all_ta_features(
    df: pl.LazyFrame,
    /,
    *,
    open: str = ...,
    high: str = ...,
    low: str = ...,
    close: str = ...,
    volume: str = ...,
    by: str | Sequence[str] | None = ...,
    ta_compat: bool = ...,
    engine: Engine = ...,
) -> pl.LazyFrame: ...


def add_all_ta_features(
    df: pl.DataFrame | pl.LazyFrame,
    /,
    *,
    open: str = "open",
    high: str = "high",
    low: str = "low",
    close: str = "close",
    volume: str = "volume",
    by: str | Sequence[str] | None = None,
    ta_compat: bool = False,
    engine: Engine = "polars",
) -> pl.DataFrame | pl.LazyFrame:
    """Add `ta`'s 86 features with `ta`'s column names (as ``ta.add_all_ta_features(...,
    fillna=False)``), computed as Polars expressions.

    Parameters
    ----------
    df : DataFrame or LazyFrame
        OHLCV rows sorted by time (within each symbol when ``by`` is given).
    open, high, low, close, volume : str
        Column names of the inputs.
    by : str or sequence of str, optional
        Compute per group (e.g. ``"symbol"``): the same numbers as every feature under
        ``.over(by)``, so no window or recursion crosses from one symbol into the next.
        Rows may be interleaved; groups of a few thousand rows or more run as one plain
        query per group (much faster than ``.over``), smaller ones through ``.over``.
    ta_compat : bool, default False
        Reproduce `ta` exactly, including its look-ahead: KST and the visual Ichimoku spans
        fill warm-up rows from the mean of the whole series. By default those rows are null.
    engine : {"polars", "ta"}, default "polars"
        ``"ta"`` computes through the `ta` library itself (pandas, per group when ``by`` is
        given): `ta`'s original numbers, look-ahead included, much slower.

    Returns
    -------
    DataFrame or LazyFrame
        The input with the 86 columns appended (same kind as given). `ta`'s NaN is null.

    Examples
    --------
    >>> import polars as pl
    >>> from omni_research.indicators import add_all_ta_features
    >>> df = pl.DataFrame({
    ...     "open": [1.0, 2.0, 3.0], "high": [1.5, 2.5, 3.5], "low": [0.5, 1.5, 2.5],
    ...     "close": [1.2, 2.2, 3.2], "volume": [10.0, 11.0, 12.0],
    ... })
    >>> add_all_ta_features(df).select("trend_psar_up", "others_cr").to_series(1).to_list()
    [0.0, 83.33333333333334, 166.66666666666669]
    """
    if engine not in ("polars", "ta"):
        raise ConfigurationError(
            f"add_all_ta_features: engine must be 'polars' or 'ta', got {engine!r}"
        )
    if not isinstance(df, pl.DataFrame | pl.LazyFrame):
        raise DataFormatError(
            f"add_all_ta_features: expected a Polars DataFrame or LazyFrame, got "
            f"{type(df).__name__}; convert pandas with pl.from_pandas(...)"
        )
    needed = {"open": open, "high": high, "low": low, "close": close, "volume": volume}
    groups = _by_list(by)
    try:
        schema = df.collect_schema()
    except pl.exceptions.PolarsError as exc:
        raise DataFormatError(
            f"add_all_ta_features: cannot resolve the frame's schema: {exc}"
        ) from exc
    _check_columns(schema, needed, groups)

    if engine == "ta":
        eager = df.collect() if isinstance(df, pl.LazyFrame) else df
        out = _through_ta(eager, needed, groups)
        return out.lazy() if isinstance(df, pl.LazyFrame) else out

    shared, features = ta_feature_exprs(
        open=open, high=high, low=low, close=close, volume=volume, ta_compat=ta_compat
    )

    def query(frame: pl.LazyFrame, over: list[str]) -> pl.LazyFrame:
        def w(e: pl.Expr) -> pl.Expr:
            return e.over(over) if over else e

        return (
            frame.with_columns([w(e.alias(name)) for name, e in shared.items()])
            .with_columns([w(e) for e in features.values()])
            .drop(list(shared))
        )

    if groups:
        out_schema = dict(schema) | dict.fromkeys(features, pl.Float64)

        def per_group(frame: pl.DataFrame) -> pl.DataFrame:
            return _per_group(frame, groups, query)

        lf = df.lazy().map_batches(per_group, schema=out_schema)
    else:
        lf = query(df.lazy(), [])
    if isinstance(df, pl.LazyFrame):
        return lf
    try:
        return lf.collect()
    except pl.exceptions.PolarsError as exc:
        raise DataFormatError(f"add_all_ta_features: computing the features failed: {exc}") from exc
