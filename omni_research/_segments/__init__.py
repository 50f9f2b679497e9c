"""Contiguous segments, the bottom layer under bars, indicators, quality and order books.

A frame grouped by series (the catalog's order: symbol by symbol, time ascending) holds
each series, and each bar of a series, as a contiguous run of rows. Finding those runs
once and running compiled passes over views of them is what makes the bar builders and
the grouped indicators fast. Everything that knows about runs lives here:

* ``_runs``: where each series starts (:func:`series_first_rows`), from Arrow string views;
* ``_groups``: the group search for any keys (:func:`group_segments`), chunk views
  (:class:`ChunkedColumn`), a kernel run per group (:func:`run_segmented`), and the one
  cache object, :data:`SEGMENTS` (a :class:`SegmentCache`; ``SEGMENTS.clear()`` forgets);
* ``_bars``: bars over segments (:func:`trade_segments`, :func:`ohlcv_segments`);
* ``_kernels``: the numba kernels, imported on first use (importing this package does not
  load numba).

This package imports only ``omni_research._time`` of the kit, never a feature module.
"""

from omni_research._segments._bars import ThresholdKind, ohlcv_segments, trade_segments
from omni_research._segments._groups import (
    SEGMENTS,
    ChunkedColumn,
    KernelResult,
    SegmentCache,
    Segments,
    as_series,
    group_segments,
    run_segmented,
    series_ident,
    to_numpy,
)
from omni_research._segments._runs import series_first_rows

__all__ = [
    "SEGMENTS",
    "ChunkedColumn",
    "KernelResult",
    "SegmentCache",
    "Segments",
    "ThresholdKind",
    "as_series",
    "group_segments",
    "ohlcv_segments",
    "run_segmented",
    "series_first_rows",
    "series_ident",
    "to_numpy",
    "trade_segments",
]
