"""Frame-wide rules shared by the Pandera models: each is a Polars expression, True per good row.

Null counts as a failure. NaN is rejected explicitly elsewhere (``finite`` column checks),
because Polars orders NaN above every number and comparisons would let it through.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

import polars as pl

from omni_research._time import MONDAY_US, UNIT_US
from omni_research._typing import TIMEFRAMES

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


def unique(*keys: str) -> pl.Expr:
    """No two rows equal on all of ``keys``: the uniqueness rule for data not sorted by them."""
    return ~pl.struct(keys).is_duplicated()


_DAY_US = UNIT_US["d"]
_TIMEFRAME = re.compile(r"^([1-9]\d*)([mhdwM])$")


def bar_aligned(timeframes: Iterable[str] = TIMEFRAMES) -> pl.Expr:
    """``timestamp`` is a bar open time on the grid of the row's ``timeframe``.

    Minutes, hours and days count from 1970-01-01 00:00 UTC (Bybit's and ``dt.truncate``'s
    grid: 4h bars open at 00, 04, 08 ... UTC); weeks from Monday 00:00 UTC; months (``"1M"``,
    Bybit's ``M``) at 00:00 UTC on the 1st. A timeframe outside ``timeframes`` is left to the
    ``isin`` rule of the column, so it is reported once, as unknown, not also as misaligned.
    """
    steps: dict[str, int] = {}
    offsets: dict[str, int] = {}
    months: dict[str, int] = {}
    for tf in timeframes:
        match = _TIMEFRAME.match(tf)
        if match is None:
            raise ValueError(f"timeframe {tf!r} is not a number followed by m, h, d, w or M")
        number, unit = int(match[1]), match[2]
        if unit == "M":
            months[tf] = number
        else:
            steps[tf] = number * UNIT_US[unit]
            offsets[tf] = MONDAY_US if unit == "w" else 0
    timeframe, stamp = pl.col("timeframe"), pl.col("timestamp")
    epoch = stamp.dt.epoch("us")
    step = timeframe.replace_strict(steps, default=None, return_dtype=pl.Int64)
    offset = timeframe.replace_strict(offsets, default=0, return_dtype=pl.Int64)
    rule = pl.when(step.is_not_null()).then((epoch - offset) % step == 0).otherwise(True)
    if months:
        count = timeframe.replace_strict(months, default=None, return_dtype=pl.Int64)
        month_index = stamp.dt.year().cast(pl.Int64) * 12 + stamp.dt.month().cast(pl.Int64) - 1
        on_first = (stamp.dt.day() == 1) & (epoch % _DAY_US == 0)
        rule = (
            pl.when(count.is_not_null()).then(on_first & (month_index % count == 0)).otherwise(rule)
        )
    return rule.fill_null(False)
