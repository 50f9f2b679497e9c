"""Properties every registered indicator must have: no look-ahead, and ``.over`` per symbol
equals each symbol alone. Run over the whole registry, so a new indicator is covered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
import pytest

from omni_research.indicators import Indicator, add_all_ta_features, kst, registry

from .conftest import random_walk_ohlcv

ENTRIES = list(registry().values())
# non-default settings that take another code path
VARIANTS: list[tuple[str, dict[str, Any]]] = [(e.name, {}) for e in ENTRIES] + [
    ("ichimoku", {"visual": True}),
    ("dpo", {"window": 2}),
]


def _exprs(entry: Indicator, params: dict[str, Any]) -> list[pl.Expr]:
    merged = {**entry.params, **params}
    if "ta_compat" in merged:
        merged["ta_compat"] = False
    return entry.exprs(**merged)


def _perturb_from(df: pl.DataFrame, k: int, seed: int) -> pl.DataFrame:
    """The same bars before row k; from row k on, a different but valid OHLCV path."""
    other = random_walk_ohlcv(seed, df.height)
    scale = df["close"][k - 1] / other["close"][k - 1] if k > 0 else 1.0
    mixed = {}
    for col in df.columns:
        factor = 1.0 if col == "volume" else scale
        mixed[col] = np.concatenate([df[col].to_numpy()[:k], other[col].to_numpy()[k:] * factor])
    return pl.DataFrame(mixed)


def _same(a: pl.Series, b: pl.Series) -> bool:
    fa = a.cast(pl.Float64).fill_nan(None)
    fb = b.cast(pl.Float64).fill_nan(None)
    if not fa.is_null().equals(fb.is_null()):
        return False
    diff = (fa - fb).abs().max()
    scale = max(float(fb.abs().max() or 0.0), 1.0)  # type: ignore[arg-type]
    return diff is None or float(diff) <= 1e-12 * scale  # type: ignore[arg-type]


@pytest.mark.parametrize("k", [1, 37, 150, 299])
@pytest.mark.parametrize(("name", "params"), VARIANTS, ids=[f"{n}{p or ''}" for n, p in VARIANTS])
def test_indicator_never_uses_future_rows(name: str, params: dict[str, Any], k: int) -> None:
    entry = registry()[name]
    base = random_walk_ohlcv(3, 300)
    changed = _perturb_from(base, k, seed=4)
    before = base.select(_exprs(entry, params)).head(k)
    after = changed.select(_exprs(entry, params)).head(k)
    for col in before.columns:
        # bit-identical: a value computed before row k cannot depend on rows >= k
        assert before[col].equals(after[col]), f"{name}.{col} changes before row {k}"
    # and the change is visible from row k on somewhere (the test can fail)
    full_a = base.select(_exprs(entry, params))
    full_b = changed.select(_exprs(entry, params))
    assert not all(full_a[c].equals(full_b[c]) for c in full_a.columns) or k == 299


def test_the_look_ahead_check_catches_ta_compat_kst() -> None:
    # ta's KST fills warm-up rows from the whole-series mean: a future change moves them
    base = random_walk_ohlcv(3, 300)
    changed = _perturb_from(base, 200, seed=4)
    a = base.select(kst(ta_compat=True)).head(30).to_series()
    b = changed.select(kst(ta_compat=True)).head(30).to_series()
    assert not a.equals(b)
    a0 = base.select(kst()).head(200).to_series()
    b0 = changed.select(kst()).head(200).to_series()
    assert a0.equals(b0)


def test_add_all_default_never_uses_future_rows() -> None:
    base = random_walk_ohlcv(5, 300)
    changed = _perturb_from(base, 120, seed=6)
    a = add_all_ta_features(base).head(120)
    b = add_all_ta_features(changed).head(120)
    for col in a.columns:
        assert a[col].equals(b[col]), col


def _panel() -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    parts = {
        "AAA": random_walk_ohlcv(21, 260),
        "BBB": random_walk_ohlcv(22, 200),
        "CCC": random_walk_ohlcv(23, 30),  # shorter than many warm-ups
    }
    panel = pl.concat(
        [
            p.with_columns(pl.lit(s).alias("symbol"), pl.int_range(pl.len()).alias("t"))
            for s, p in parts.items()
        ]
    ).sort("t", "symbol")  # interleaved, as a time-sorted panel
    return panel, parts


@pytest.mark.parametrize("kind", ["eager", "lazy"])
@pytest.mark.parametrize(("name", "params"), VARIANTS, ids=[f"{n}{p or ''}" for n, p in VARIANTS])
def test_over_symbol_equals_each_symbol_alone(
    name: str,
    params: dict[str, Any],
    kind: str,
    run_select: Callable[..., pl.DataFrame],
) -> None:
    entry = registry()[name]
    panel, parts = _panel()
    exprs = [e.over("symbol") for e in _exprs(entry, params)]
    grouped = run_select(panel, [pl.col("symbol"), *exprs], kind)
    for sym, part in parts.items():
        alone = part.select(_exprs(entry, params))
        mine = grouped.filter(pl.col("symbol") == sym).drop("symbol")
        for col in alone.columns:
            assert _same(mine[col], alone[col]), f"{name}.{col} differs for {sym}"


def test_add_all_by_equals_per_symbol() -> None:
    panel, parts = _panel()
    out = add_all_ta_features(panel, by="symbol")
    for sym, part in parts.items():
        alone = add_all_ta_features(part)
        mine = out.filter(pl.col("symbol") == sym).drop("symbol", "t")
        for col in alone.columns:
            assert _same(mine[col], alone[col]), (sym, col)


def test_registry_covers_every_ta_class_once() -> None:
    import inspect

    import ta

    classes = {
        f"ta.{mod}.{name}"
        for mod in ("volume", "volatility", "trend", "momentum", "others")
        for name, obj in inspect.getmembers(getattr(ta, mod), inspect.isclass)
        if obj.__module__ == f"ta.{mod}" and name != "IndicatorMixin"
    }
    refs = [e.ta_reference for e in ENTRIES]
    assert len(refs) == len(set(refs))
    assert set(refs) == classes
    assert all(e.placement in ("overlay", "panel") for e in ENTRIES)
