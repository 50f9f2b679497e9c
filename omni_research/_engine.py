"""Engines: one function mapped over shards serially, in local processes or on Ray.

A job is a list of small, picklable shard specs (a symbol and a month, a slice of a
parameter grid) and a pure, module-level function ``func(context, shard)`` that reads its
shard's data itself and returns something small (a stats block, a file record). The
``context`` is what every shard shares (a data root's path, an indicator spec, a frame the
caller already holds): it is sent once per worker, not once per shard.

=========== ==================================================================================
engine      how the shards run
=========== ==================================================================================
``serial``  one after another in this process (the reference: every engine returns the same)
``process`` a ``ProcessPoolExecutor`` with the ``spawn`` start method (Polars and numba are
            not fork-safe); the context goes to each worker once through its initializer
``ray``     Ray tasks; the context is put once in Ray's object store. Connects to the cluster
            in ``RAY_ADDRESS`` when it is set, otherwise starts (or reuses) a local one.
            A task whose worker or node dies is retried (``retries``) by Ray
=========== ==================================================================================

Results come back in shard order. An error the kit raises inside a shard (a
``DataFormatError`` naming the file, say) is raised again as itself by every engine.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Literal, TypeAlias, TypeVar, cast

from omni_research._extras import require_extra
from omni_research.exceptions import ConfigurationError, OmniDataError

Engine: TypeAlias = Literal["serial", "process", "ray"]
ENGINES: tuple[Engine, ...] = ("serial", "process", "ray")

C = TypeVar("C")
S = TypeVar("S")
R = TypeVar("R")

_CONTEXT: Any = None  # the context of a process-pool worker, set by its initializer
_KEPT: dict[str, tuple[object, Any]] = {}  # worker_cache: key -> (stamp, value)


def check_engine(engine: object, *, where: str = "engine") -> Engine:
    """Return ``engine`` if it is one of :data:`ENGINES`; else raise ConfigurationError.

    Examples
    --------
    >>> check_engine("ray")
    'ray'
    """
    if not isinstance(engine, str) or engine not in ENGINES:
        raise ConfigurationError(
            f"{where}: engine={engine!r} is not an engine; expected one of "
            f"{', '.join(repr(e) for e in ENGINES)}"
        )
    return engine  # type: ignore[return-value]  # narrowed by the membership test


def map_shards(
    func: Callable[[C, S], R],
    shards: Sequence[S],
    /,
    *,
    context: C,
    engine: Engine = "serial",
    workers: int | None = None,
    retries: int = 3,
    label: str = "job",
    on_result: Callable[[S, R], object] | None = None,
) -> list[R]:
    """``[func(context, shard) for shard in shards]``, run by ``engine``.

    Parameters
    ----------
    func
        A module-level function (processes and Ray find it by its import path).
    shards
        Small, picklable shard specs; never the data itself.
    context
        What every shard shares; sent once per worker (Ray: once per job, through its
        object store).
    engine
        ``"serial"``, ``"process"`` or ``"ray"``.
    workers
        Processes of the ``process`` engine (default: the machine's CPUs). Ray schedules
        one CPU per task on the cluster.
    retries
        Ray: times a task is run again after its worker or node died.
    label
        Names the job in error messages.
    on_result
        Called on the caller's side with ``(shard, result)`` as each result arrives, in
        shard order (a ledger records finished shards as the job goes, so a job killed
        half-way keeps what it finished).

    Returns
    -------
    list
        The results, in the order of ``shards``.

    Raises
    ------
    ConfigurationError
        For an unknown engine, or ``ray`` without the ``[distributed]`` extra.
    OmniDataError
        A shard's own error (as raised in the shard), or a Ray task lost after its retries.
    """
    kind = check_engine(engine, where=label)
    if not shards:
        return []
    done = on_result or _ignore
    if kind == "serial":
        results = []
        for shard in shards:
            results.append(func(context, shard))
            done(shard, results[-1])
        return results
    if kind == "process":
        return _on_processes(func, shards, context, workers or os.cpu_count() or 1, done)
    return _on_ray(func, shards, context, retries, label, done)


def _ignore(shard: object, result: object) -> None:
    return None


def worker_cache(key: str, stamp: object, make: Callable[[], R]) -> R:
    """``make()``, kept in this process for ``key`` while ``stamp`` stays the same.

    Shards of one job run one after another in a worker process (a pool's process, a Ray
    worker); what each would build again (a catalog opened from a root's path: a listing and
    a manifest read) is built once per process. ``stamp`` says when it is stale (the
    manifest's size and modification time, say); ``None`` never keeps anything.
    """
    if stamp is not None:
        kept = _KEPT.get(key)
        if kept is not None and kept[0] == stamp:
            return cast(R, kept[1])
    value = make()
    if stamp is not None:
        _KEPT[key] = (stamp, value)
    return value


# --------------------------------------------------------------------------- processes


def _set_context(context: object) -> None:
    global _CONTEXT
    _CONTEXT = context


def _call_in_process(func: Callable[[Any, Any], Any], shard: object) -> Any:
    return func(_CONTEXT, shard)


def _on_processes(
    func: Callable[[C, S], R],
    shards: Sequence[S],
    context: C,
    workers: int,
    done: Callable[[S, R], object],
) -> list[R]:
    spawn = multiprocessing.get_context("spawn")
    size = max(1, min(workers, len(shards)))
    with ProcessPoolExecutor(
        max_workers=size, mp_context=spawn, initializer=_set_context, initargs=(context,)
    ) as pool:
        futures = [pool.submit(_call_in_process, func, shard) for shard in shards]
        results: list[R] = []
        for shard, future in zip(shards, futures, strict=True):
            results.append(future.result())
            done(shard, results[-1])
        return results


# --------------------------------------------------------------------------- ray


def ray_connect() -> Any:
    """The ``ray`` module, connected: to ``RAY_ADDRESS`` when set, else a local cluster.

    An existing connection (``ray.init`` called before, by the user or an earlier job) is
    reused. A local cluster gets the machine's CPUs and no dashboard.
    """
    require_extra("distributed", "engine='ray'")
    import ray

    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS") or None
        try:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                # "local": always a new instance of our own, never a cluster another process
                # left running on this machine (which a bare ray.init() would attach to)
                ray.init(
                    address="local",
                    num_cpus=os.cpu_count() or 1,
                    include_dashboard=False,
                    log_to_driver=False,
                )
        except Exception as exc:  # Ray raises plain errors (a timeout, a refused address)
            where = f"the cluster at RAY_ADDRESS={address}" if address else "a local Ray"
            raise ConfigurationError(
                f"engine='ray': could not start or reach {where} ({type(exc).__name__}: "
                f"{exc}); expected a running cluster at RAY_ADDRESS (`ray status` there), or, "
                "for a local one, a machine quiet enough for Ray's processes to start within "
                "its timeouts. Use engine='process' meanwhile"
            ) from exc
    return ray


def _call_on_ray(func: Callable[[Any, Any], Any], context: object, shard: object) -> Any:
    return func(context, shard)


def _on_ray(
    func: Callable[[C, S], R],
    shards: Sequence[S],
    context: C,
    retries: int,
    label: str,
    done: Callable[[S, R], object],
) -> list[R]:
    ray = ray_connect()
    from ray.exceptions import RayError, RayTaskError

    task = ray.remote(num_cpus=1, max_retries=retries)(_call_on_ray)
    shared = ray.put(context)
    refs = [task.remote(func, shared, shard) for shard in shards]
    results: list[R] = []
    # no ray.cancel of the other tasks on a failure: cancelling tasks that are finishing
    # tripped an internal check of Ray 2.60's driver (measured); they end on their own
    for shard, ref in zip(shards, refs, strict=True):
        try:
            results.append(ray.get(ref))
        except RayTaskError as exc:  # the shard raised: give the caller its own error
            cause = exc.cause
            if isinstance(cause, OmniDataError):
                raise cause from None
            raise OmniDataError(
                f"{label}: shard {_short(shard)} failed on Ray: {type(cause).__name__}: "
                f"{_short(cause, 400)}; a ModuleNotFoundError means the workers cannot import "
                "a function the job uses: install it on the cluster or define it in the "
                "driver's script"
            ) from exc
        except RayError as exc:  # the worker or node died more often than retries allow
            raise OmniDataError(
                f"{label}: shard {_short(shard)} was lost on Ray after {retries} retries "
                f"({type(exc).__name__}); check the cluster's nodes (`ray status`) and run the "
                "job again: shards already done are kept"
            ) from exc
        done(shard, results[-1])
    return results


def _short(value: object, limit: int = 120) -> str:
    text = repr(value) if not isinstance(value, BaseException) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
