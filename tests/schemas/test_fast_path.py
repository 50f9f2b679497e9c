"""The one-query rule check agrees with Pandera's own validation on every kind."""

from __future__ import annotations

import numpy as np
import pandera.errors as pa_errors
import polars as pl
import pytest

import omni_research as omr
from omni_research.schemas._validate import MODELS, _all_rules_pass


def _pandera_passes(kind: str, df: pl.DataFrame) -> bool:
    try:
        MODELS[kind].validate(df, lazy=True)
    except (pa_errors.SchemaErrors, pa_errors.SchemaError):
        return False
    return True


def _mutate(df: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    row = int(rng.integers(df.height))
    col = df.columns[int(rng.integers(df.width))]
    dtype = df.schema[col]
    choice = int(rng.integers(5))
    if choice == 0:  # duplicate a row
        return pl.concat([df.head(row + 1), df.slice(row)])
    if choice == 1 and df.height > 2:  # swap two neighbours
        order = list(range(df.height))
        j = min(row + 1, df.height - 1)
        order[row], order[j] = order[j], order[row]
        return df[order]
    index = pl.int_range(pl.len()) == row
    if dtype.is_float():
        value = [float("nan"), -1.0, 0.0, float("inf"), 1e9][int(rng.integers(5))]
        return df.with_columns(pl.when(index).then(value).otherwise(pl.col(col)).alias(col))
    if dtype == pl.String:
        value = ["", "  ", "Buy", "x"][int(rng.integers(4))]
        return df.with_columns(pl.when(index).then(pl.lit(value)).otherwise(pl.col(col)).alias(col))
    return df.with_columns(pl.when(index).then(None).otherwise(pl.col(col)).alias(col))


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_fast_path_agrees_with_pandera_on_mutations(kind: str) -> None:
    base = omr.open_catalog().scan(kind).head(300).collect()
    assert _all_rules_pass(MODELS[kind], base)
    assert _pandera_passes(kind, base)
    rng = np.random.default_rng(sum(map(ord, kind)))
    disagreements = []
    failures = 0
    for _ in range(60):
        mutated = _mutate(base, rng)
        fast, full = _all_rules_pass(MODELS[kind], mutated), _pandera_passes(kind, mutated)
        failures += not full
        if fast != full:
            disagreements.append(mutated)
    assert not disagreements
    assert failures >= 5  # the mutations did break rules, so the agreement means something
