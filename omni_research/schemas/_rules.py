"""Frame-wide rules shared by the Pandera models: each is a Polars expression, True per good row.

Null counts as a failure. NaN is rejected explicitly elsewhere (``finite`` column checks),
because Polars orders NaN above every number and comparisons would let it through.
"""

from __future__ import annotations

import itertools

import polars as pl

_FIRST = pl.int_range(pl.len()) == 0


def strictly_increasing(*keys: str) -> pl.Expr:
    """Rows sorted by ``keys`` with no two rows equal on all of them.

    On sorted data this proves uniqueness at a fraction of ``unique=True``'s cost.
    """
    return _lexicographic(keys, strict=True)


def non_decreasing(*keys: str) -> pl.Expr:
    """Rows sorted by ``keys`` (ties allowed)."""
    return _lexicographic(keys, strict=False)


def _lexicographic(keys: tuple[str, ...], *, strict: bool) -> pl.Expr:
    last = pl.col(keys[-1])
    ok = (last > last.shift(1)) if strict else (last >= last.shift(1))
    for key in reversed(keys[:-1]):
        col = pl.col(key)
        ok = (col > col.shift(1)) | ((col == col.shift(1)) & ok)
    return (_FIRST | ok).fill_null(False)


def high_above_open_close() -> pl.Expr:
    return pl.col("high") >= pl.max_horizontal("open", "close")


def low_below_open_close() -> pl.Expr:
    return pl.col("low") <= pl.min_horizontal("open", "close")


def strictly_descending(*columns: str) -> pl.Expr:
    pairs = [pl.col(a) > pl.col(b) for a, b in itertools.pairwise(columns)]
    return pl.all_horizontal(pairs)


def strictly_ascending(*columns: str) -> pl.Expr:
    pairs = [pl.col(a) < pl.col(b) for a, b in itertools.pairwise(columns)]
    return pl.all_horizontal(pairs)
