"""`quality_catalog`: :func:`quality_report` over a whole catalog, one shard per dataset
and symbol, on any engine.

Each shard opens the catalog itself from the root's path (guard, checksums and audit on the
worker), scans its dataset for its one symbol (and, for ``ohlcv``, the root's trades of
that symbol to reconcile, as ``omni-research quality`` does) and returns its findings: a
small frame. The driver concatenates them in the report's order. Every check of
:func:`quality_report` is per symbol, so a symbol's findings are those of the whole
dataset's report for that symbol; the ``unsorted`` check then looks at one symbol's rows
at a time (an out-of-order *symbol* boundary, which the catalog's partitioning rules out,
is not seen).

This module and ``indicators._materialize`` are the documented places where an analysis
package opens a catalog (tests/test_architecture.py): the shards run elsewhere and are
handed a path, never data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from omni_research._engine import Engine, check_engine, map_shards
from omni_research.exceptions import UnknownKindError
from omni_research.quality._findings import FINDINGS_SCHEMA, QUALITY_KINDS, SEVERITY_ORDER
from omni_research.quality._report import quality_report


@dataclass(frozen=True, kw_only=True)
class _Job:
    root: str
    trades: str | None  # the root's one trades dataset, reconciled with its ohlcv
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class _Shard:
    dataset: str
    kind: str
    symbol: str | None  # None: a dataset without symbol partitions, checked whole


def _run_shard(job: _Job, shard: _Shard) -> pl.DataFrame:
    from omni_research._catalog import worker_catalog  # workers open the root themselves

    catalog = worker_catalog(job.root)
    lf = catalog.scan(shard.dataset, symbols=shard.symbol)
    extra: dict[str, Any] = {}
    if shard.kind == "ohlcv" and job.trades is not None:
        extra["trades"] = catalog.scan(job.trades, symbols=shard.symbol)
    return quality_report(lf, shard.kind, dataset=shard.dataset, **extra, **job.options)


def quality_catalog(
    catalog: Any,
    /,
    *,
    kinds: Sequence[str] | None = None,
    symbols: str | Sequence[str] | None = None,
    engine: Engine = "serial",
    **options: Any,
) -> pl.DataFrame:
    """Run :func:`quality_report` on every ohlcv, trades and orderbook dataset of a catalog.

    Parameters
    ----------
    catalog : Catalog
        An open catalog (:func:`omni_research.open_catalog`); shards reopen its root.
    kinds : list of str, optional
        Only datasets of these kinds (default: every kind of :data:`QUALITY_KINDS`).
    symbols : str or list of str, optional
        Only these symbols.
    engine : {"serial", "process", "ray"}
        Where the shards (dataset x symbol) run; every engine returns the same frame.
    **options
        Options of :func:`quality_report` (``stale_bars``, ``outlier_z``, ...).

    Returns
    -------
    pl.DataFrame
        The findings, columns of :data:`FINDINGS_SCHEMA`, sorted as :func:`quality_report`
        sorts them (errors first, then dataset, check, symbol).

    Examples
    --------
    >>> import omni_research as omr
    >>> from omni_research.quality import quality_catalog
    >>> quality_catalog(omr.open_catalog(), kinds=["ohlcv"]).columns[:3]  # doctest: +SKIP
    ['dataset', 'symbol', 'check']
    """
    kind = check_engine(engine, where="quality_catalog")
    wanted_kinds = tuple(QUALITY_KINDS if kinds is None else kinds)
    bad = [k for k in wanted_kinds if k not in QUALITY_KINDS]
    if bad:
        raise UnknownKindError(
            f"quality_catalog: no quality checks for kind(s) {bad}; expected some of "
            f"{QUALITY_KINDS}"
        )
    wanted = None if symbols is None else {symbols} if isinstance(symbols, str) else set(symbols)
    listing = catalog.datasets()
    trades = listing.filter(pl.col("kind") == "trades")["name"].to_list()
    shards = []
    for name, ds_kind, ds_symbols in listing.select("name", "kind", "symbols").iter_rows():
        if ds_kind not in wanted_kinds:
            continue
        if not ds_symbols:
            shards.append(_Shard(dataset=name, kind=ds_kind, symbol=None))
            continue
        for symbol in ds_symbols:
            if wanted is None or symbol in wanted:
                shards.append(_Shard(dataset=name, kind=ds_kind, symbol=symbol))
    job = _Job(
        root=str(catalog.root), trades=trades[0] if len(trades) == 1 else None, options=options
    )
    frames = map_shards(_run_shard, shards, context=job, engine=kind, label="quality_catalog")
    found = [f for f in frames if f.height]
    if not found:
        return pl.DataFrame(schema=FINDINGS_SCHEMA)
    return (
        pl.concat(found, how="vertical")
        .with_columns(_rank=pl.col("severity").replace_strict(SEVERITY_ORDER, default=3))
        .sort("_rank", "dataset", "check", "symbol", maintain_order=True)
        .drop("_rank")
    )
