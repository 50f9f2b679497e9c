"""`add_all_ta_features`: `ta`'s 86 feature columns, same names, as one lazy Polars query."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Literal, TypeAlias, overload

import numpy as np
import polars as pl

from omni_research._segments import group_segments
from omni_research.exceptions import ConfigurationError, DataFormatError

# the family modules declare their indicators when imported
from omni_research.indicators import _momentum, _others, _trend, _volatility, _volume  # noqa: F401
from omni_research.indicators._common import as_float
from omni_research.indicators._spec import Feature, IndicatorSpec, specs

Engine: TypeAlias = Literal["polars", "ta"]

_TMP = "__omni_ta_"  # prefix of temporary columns


_FAMILIES = ("volume", "volatility", "trend", "momentum", "others")  # `ta`'s order


def _features() -> list[tuple[IndicatorSpec, Feature]]:
    """Every declared `add_all_ta_features` column in `ta`'s order: family by family, each
    indicator's features in declaration order, a feature with ``after`` moved behind that
    column."""
    ordered: list[tuple[IndicatorSpec, Feature]] = []
    moved: list[tuple[IndicatorSpec, Feature]] = []
    declared = specs().values()
    for family in _FAMILIES:
        for spec in declared:
            if spec.family == family:
                for feature in spec.features:
                    (moved if feature.after else ordered).append((spec, feature))
    for spec, feature in moved:
        at = next(k for k, (_, f) in enumerate(ordered) if f.column == feature.after)
        ordered.insert(at + 1, (spec, feature))
    return ordered


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

    Returns ``(shared, features)``: ``features`` maps each of `ta`'s 86 column names to its
    expression, generated from the indicators' declarations (`IndicatorSpec.features`).
    ``shared`` are temporary columns to compute first; it is empty now (the outputs of one
    multi-output kernel share its pass through the kernel cache, see
    `_common.kernel_expr`'s ``share``) and kept so callers unpacking two values still work.
    """
    columns = {
        "open": as_float(open),
        "high": as_float(high),
        "low": as_float(low),
        "close": as_float(close),
        "volume": as_float(volume),
    }
    features = {
        feature.column: spec.feature_expr(feature, columns, ta_compat=ta_compat).alias(
            feature.column
        )
        for spec, feature in _features()
    }
    return {}, features


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
