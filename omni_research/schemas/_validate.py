"""validate(df, kind): run a kind's Pandera model and turn failures into one clear error."""

from __future__ import annotations

from functools import cache
from typing import Any, overload

import pandera.errors as pa_errors
import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData

from omni_research._layout import DERIVED_KINDS
from omni_research._typing import KINDS
from omni_research.exceptions import DataValidationError, UnknownKindError
from omni_research.schemas._agents import AgentMetrics, Decisions
from omni_research.schemas._exchange import Instruments, OpenInterest
from omni_research.schemas._market import OHLCV, Coins, Funding, Indicators, OrderBook, Trades
from omni_research.schemas._news import News, Sentiment
from omni_research.schemas._social import Posts
from omni_research.schemas._trading import Fills, Orders, PnL, Positions

MODELS: dict[str, type[pa.DataFrameModel]] = {
    "ohlcv": OHLCV,
    "trades": Trades,
    "orderbook": OrderBook,
    "funding": Funding,
    "open_interest": OpenInterest,
    "instruments": Instruments,
    "coins": Coins,
    "news": News,
    "sentiment": Sentiment,
    "posts": Posts,
    "orders": Orders,
    "fills": Fills,
    "positions": Positions,
    "pnl": PnL,
    "agent_metrics": AgentMetrics,
    "decisions": Decisions,
}
assert set(MODELS) == set(KINDS)
DERIVED: dict[str, type[pa.DataFrameModel]] = {"indicators": Indicators}
"""Models of the derived datasets: their base columns (the rest are in the manifest)."""
assert set(DERIVED) == set(DERIVED_KINDS)


def schema_for(kind: str) -> type[pa.DataFrameModel]:
    """The Pandera DataFrameModel of ``kind``; raises UnknownKindError for an unknown kind."""
    model = MODELS.get(kind) or DERIVED.get(kind)
    if model is None:
        raise UnknownKindError(
            f"unknown data kind {kind!r}; expected one of: {', '.join((*MODELS, *DERIVED))}"
        )
    return model


def polars_schema(kind: str) -> pl.Schema:
    """The column names and Polars dtypes a frame of ``kind`` must have."""
    schema = schema_for(kind).to_schema()
    return pl.Schema({name: col.dtype.type for name, col in schema.columns.items()})


@overload
def validate(df: pl.DataFrame, kind: str, *, source: str | None = None) -> pl.DataFrame: ...
@overload
def validate(df: pl.LazyFrame, kind: str, *, source: str | None = None) -> pl.LazyFrame: ...
def validate(
    df: pl.DataFrame | pl.LazyFrame, kind: str, *, source: str | None = None
) -> pl.DataFrame | pl.LazyFrame:
    """Check every rule of ``kind`` on ``df`` and return it unchanged, or raise.

    A LazyFrame is collected and checked in full (Pandera alone would check only names and
    dtypes of a LazyFrame), then returned lazy again.

    Parameters
    ----------
    df : pl.DataFrame or pl.LazyFrame
        The data.
    kind : str
        A data kind such as ``"ohlcv"`` (see ``omni_research.schemas.MODELS``).
    source : str, optional
        Where the data came from (a file name), for the error message.

    Raises
    ------
    DataValidationError
        With every failed rule in the message and ``.failure_cases`` as a frame.

    Examples
    --------
    >>> import omni_research as omr
    >>> bars = omr.testing.make_ohlcv(n=3)
    >>> omr.validate(bars, "ohlcv").height
    3
    """
    model = schema_for(kind)
    if isinstance(df, pl.LazyFrame):
        return validate(df.collect(), kind, source=source).lazy()
    if _all_rules_pass(model, df):
        return df
    try:
        model.validate(df, lazy=True)
    except pa_errors.SchemaErrors as exc:
        cases = _tidy(exc.failure_cases)
        raise DataValidationError(_message(kind, source, df, cases), cases) from None
    except pa_errors.SchemaError as exc:  # raised outside lazy collection (e.g. strictness)
        cases = pl.DataFrame(
            {
                "column": [str(getattr(exc.schema, "name", ""))],
                "check": [str(exc.check)],
                "failure_case": [str(exc)],
                "index": [None],
            },
            schema_overrides={"index": pl.Int64},
        )
        raise DataValidationError(_message(kind, source, df, cases), cases) from None
    return df


@cache
def _compiled(model: type[pa.DataFrameModel]) -> Any:
    return model.to_schema()


def _all_rules_pass(model: type[pa.DataFrameModel], df: pl.DataFrame) -> bool:
    """Every rule of ``model`` in one Polars ``select``: True when nothing fails.

    The model's own check functions build the expressions (they are handed a stand-in for
    the LazyFrame that records what they select), so the rules stay defined once, in
    Pandera. Pandera runs each check as its own query with failure-case bookkeeping, which
    costs more than reading the file; here they run as one parallel query. A frame that
    fails, or any check that does not fit this shape, goes through Pandera itself.
    """
    schema = _compiled(model)
    if dict(df.schema) != {name: col.dtype.type for name, col in schema.columns.items()}:
        return False
    flags: list[pl.Expr] = []
    try:
        for name, col in schema.columns.items():
            column = pl.col(name)
            if not col.nullable:
                bad = column.is_null()
                if df.schema[name].is_float() and not any(c.name == "finite" for c in col.checks):
                    bad = bad | column.is_nan()  # Pandera counts NaN as null too
                flags.append(~bad.any())
            if col.unique:
                flags.append(column.n_unique() == pl.len())
            checks = [_recorded(check, name) for check in col.checks]
            if checks and df.schema[name] == pl.String:
                # Column checks are element-wise, so checking the first row of every run of
                # equal values checks them all: a handful of rows for symbol-like columns.
                heads = df.select(column.filter(column.ne_missing(column.shift(1))))
                row = heads.select(c.alias(f"c{i}") for i, c in enumerate(checks)).row(0)
                if not all(value is True for value in row):
                    return False
            else:
                flags += checks
        flags += [_recorded(check, None) for check in schema.checks]
        result = df.select(flag.alias(f"rule_{i}") for i, flag in enumerate(flags))
    except Exception:  # any surprise: let Pandera itself decide, and explain
        return False
    return all(value is True for value in result.row(0))


class _Selected:
    def __init__(self, exprs: list[pl.Expr]) -> None:
        self.exprs = exprs


class _Recorder:
    """Stands in for the LazyFrame a check selects from, capturing the expressions."""

    def select(self, *exprs: pl.Expr) -> _Selected:
        return _Selected(list(exprs))


def _recorded(check: Any, key: str | None) -> pl.Expr:
    out = check._check_fn(PolarsData(_Recorder(), key), **check._check_kwargs)  # type: ignore[arg-type]
    if not isinstance(out, _Selected) or not all(isinstance(e, pl.Expr) for e in out.exprs):
        raise TypeError(f"check {check.name} is not a plain select")
    outcome = out.exprs[0] if len(out.exprs) == 1 else pl.all_horizontal(out.exprs)
    # Pandera skips nulls of a nullable column (and a non-nullable one fails its null flag
    # anyway); a null outcome of a frame-wide rule is a failure: all() then gives null.
    return outcome.all(ignore_nulls=key is not None)


def _tidy(failure_cases: Any) -> pl.DataFrame:
    cases = failure_cases if isinstance(failure_cases, pl.DataFrame) else pl.DataFrame()
    wanted = {"column": pl.String, "check": pl.String, "failure_case": pl.String, "index": pl.Int64}
    return cases.select(
        (pl.col(name).cast(dtype) if name in cases.columns else pl.lit(None, dtype)).alias(name)
        for name, dtype in wanted.items()
    )


def _message(kind: str, source: str | None, df: pl.DataFrame, cases: pl.DataFrame) -> str:
    where = f"{kind} data from {source}" if source else f"{kind} data"
    model_name = schema_for(kind).__name__
    groups = cases.group_by("column", "check", maintain_order=True).agg(
        pl.len().alias("n"),
        pl.col("index").drop_nulls().min().alias("first"),
        pl.col("failure_case").first(),
    )
    lines = []
    for row in groups.iter_rows(named=True):
        column = row["column"] if row["column"] not in (kind, model_name, None) else "rows"
        what = f"column {column!r}" if column != "rows" else "rows"
        at = ""
        first = row["first"]
        if first is not None and 0 <= first < df.height:
            at = f" (first at row {first}"
            if "timestamp" in df.columns:
                stamp = df["timestamp"][first]
                at += f", {stamp:%Y-%m-%d %H:%M:%S} UTC" if stamp is not None else ""
            at += ")"
        example = str(row["failure_case"])
        example = example if len(example) <= 120 else example[:117] + "..."
        lines.append(
            f"  - {what} fails {row['check']!r} in {row['n']} row(s){at}; example: {example}"
        )
    return (
        f"{where}: {cases.height} failure(s) against the {kind} schema:\n"
        + "\n".join(lines)
        + f"\nExpected data meeting every rule of omni_research.schemas.{model_name}; "
        "fix the source or drop the bad rows explicitly before loading."
    )
