"""An OHLCV frame with the stretches real data has and random walks lack: flat bars
(open = high = low = close for 60 rows) and zero volume (at the start and mid-series)."""

from __future__ import annotations

import polars as pl

from .conftest import random_walk_ohlcv


def edge_frame() -> pl.DataFrame:
    """600 random-walk rows; rows 200-259 flat at row 200's close; volume 0 in rows 0-29
    and 400-449."""
    df = random_walk_ohlcv(5, 600)
    i = pl.int_range(pl.len())
    flat = i.is_between(200, 259)
    zero = i.is_between(0, 29) | i.is_between(400, 449)
    level = pl.col("close").gather(200).first()
    return df.with_columns(
        [
            pl.when(flat).then(level).otherwise(pl.col(c)).alias(c)
            for c in ("open", "high", "low", "close")
        ]
    ).with_columns(volume=pl.when(zero).then(0.0).otherwise(pl.col("volume")))


def missing_frame() -> pl.DataFrame:
    """The rw0 walk with NaN in one close (row 300), one high (row 500) and one volume
    (row 600): pandas skips NaN in cumulative sums and EWMs, Polars would propagate it."""
    from .conftest import load_dataset

    i = pl.int_range(pl.len())
    nan = float("nan")
    return load_dataset("rw0").with_columns(
        close=pl.when(i == 300).then(nan).otherwise(pl.col("close")),
        high=pl.when(i == 500).then(nan).otherwise(pl.col("high")),
        volume=pl.when(i == 600).then(nan).otherwise(pl.col("volume")),
    )
