"""Signal statistics: how the bars where an indicator rule holds did over the next bars.

A quick look before a backtest: no fills, no costs, no position sizing, just the forward
returns of the bars where a rule on one indicator is on (``IndicatorLab`` shows them).
"""

from __future__ import annotations

import polars as pl

from omni_research.exceptions import ConfigurationError

RULES = ("price above", "price below", "above threshold", "below threshold", "rising", "falling")
"""The rules :func:`signal_stats` reads: when the signal is on (long)."""


def signal_mask(close: pl.Expr, ind: pl.Expr, rule: str, threshold: float) -> pl.Expr:
    """True on bars where ``rule`` holds (the 'long' bars); a null indicator gives False.

    Parameters
    ----------
    close, ind
        The close and the indicator, as expressions.
    rule
        One of :data:`RULES`: ``price above``/``price below`` compare the close with the
        indicator, ``above threshold``/``below threshold`` the indicator with
        ``threshold``, ``rising``/``falling`` the indicator with its previous bar.
    threshold
        For the threshold rules.

    Raises
    ------
    ConfigurationError
        For an unknown rule.
    """
    exprs = {
        "price above": close > ind,
        "price below": close < ind,
        "above threshold": ind > threshold,
        "below threshold": ind < threshold,
        "rising": ind > ind.shift(1),
        "falling": ind < ind.shift(1),
    }
    if rule not in exprs:
        raise ConfigurationError(f"unknown rule {rule!r}; expected one of {list(RULES)}")
    return exprs[rule].fill_null(False)


def signal_stats(
    bars: pl.DataFrame, values: pl.Series, *, rule: str, threshold: float, horizon: int
) -> dict[str, float | int]:
    """Forward-return statistics of the bars where an indicator rule holds.

    Parameters
    ----------
    bars : DataFrame
        Bars of one series in time order, with ``close``.
    values : Series
        The indicator, one value per bar (NaN is read as missing).
    rule, threshold
        When the signal is on; see :func:`signal_mask`.
    horizon : int
        Forward-return horizon in bars, >= 1.

    Returns
    -------
    dict
        ``n_bars``, ``n_signal``, ``signal_share``, ``hit_rate``, ``mean_forward_return``
        (signal bars), ``mean_forward_return_off`` (other bars), ``baseline_forward_return``
        (all bars), ``edge`` and ``horizon``.

    Raises
    ------
    ConfigurationError
        For a horizon below 1 or an unknown rule.

    Notes
    -----
    The forward return over ``horizon`` bars is ``close[t + h] / close[t] - 1``; rows
    without it (the last ``h``) or without an indicator value (warm-up) are left out.
    ``hit_rate`` is the share of signal bars whose forward return is > 0; ``edge`` is the
    signal bars' mean forward return minus all bars'.

    Examples
    --------
    >>> import polars as pl
    >>> bars = pl.DataFrame({"close": [1.0, 2.0, 3.0, 2.0, 1.0]})
    >>> ind = pl.Series([1.0, 1.0, 1.0, 1.0, 1.0])
    >>> s = signal_stats(bars, ind, rule="price above", threshold=0.0, horizon=1)
    >>> s["n_bars"], s["n_signal"], s["hit_rate"]
    (4, 3, 0.3333333333333333)
    """
    if horizon < 1:
        raise ConfigurationError(f"horizon must be >= 1 bar, got {horizon}")
    frame = bars.select(pl.col("close").cast(pl.Float64)).with_columns(
        values.cast(pl.Float64).fill_nan(None).alias("_ind")
    )
    frame = frame.with_columns(
        (pl.col("close").shift(-horizon) / pl.col("close") - 1.0).alias("_fwd"),
        signal_mask(pl.col("close"), pl.col("_ind"), rule, threshold).alias("_sig"),
    ).filter(pl.col("_fwd").is_not_null() & pl.col("_ind").is_not_null())
    on = frame.filter(pl.col("_sig"))
    off = frame.filter(~pl.col("_sig"))

    def mean(df: pl.DataFrame) -> float:
        m = df["_fwd"].mean() if df.height else None
        return float(m) if isinstance(m, int | float) else float("nan")

    hit = (on["_fwd"] > 0).mean() if on.height else None
    return {
        "n_bars": frame.height,
        "n_signal": on.height,
        "signal_share": on.height / frame.height if frame.height else float("nan"),
        "hit_rate": float(hit) if isinstance(hit, int | float) else float("nan"),
        "mean_forward_return": mean(on),
        "mean_forward_return_off": mean(off),
        "baseline_forward_return": mean(frame),
        "edge": mean(on) - mean(frame),
        "horizon": horizon,
    }


def signal_onsets(
    bars: pl.DataFrame, values: pl.Series, /, *, rule: str, threshold: float
) -> pl.DataFrame:
    """The bars where the rule turns on (off on the bar before), as buy markers.

    Returns
    -------
    DataFrame
        ``timestamp``, ``side`` (``"buy"``) and ``price`` (the close), the form
        ``plotting.plot_candles(trades=...)`` draws.
    """
    sig = signal_mask(pl.col("close"), pl.col("_ind"), rule, threshold).alias("_sig")
    return (
        bars.with_columns(values.alias("_ind"))
        .with_columns(sig)
        .filter(pl.col("_sig") & ~pl.col("_sig").shift(1, fill_value=False))
        .select("timestamp", pl.lit("buy").alias("side"), pl.col("close").alias("price"))
    )
