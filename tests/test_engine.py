"""The engines: serial, process and ray map a function over shards with the same results."""

from __future__ import annotations

import os

import pytest

from omni_research._engine import ENGINES, Engine, check_engine, map_shards, worker_cache
from omni_research.exceptions import ConfigurationError, DataFormatError, OmniDataError
from tests._ray import shared_ray_cluster


def _scaled(context: dict[str, int], shard: tuple[int, str]) -> tuple[int, str, int, int]:
    index, name = shard
    return index, name, index * context["factor"], os.getpid()


def _fails_on_three(context: None, shard: int) -> int:
    if shard == 3:
        raise DataFormatError(f"shard {shard}: broken file part-3.parquet")
    return shard


def _raises_plain(context: None, shard: int) -> int:
    raise KeyError(f"no key for {shard}")


SHARDS = [(i, f"s{i}") for i in range(7)]


@pytest.fixture
def ray_address(request: pytest.FixtureRequest) -> str:
    """The shared loopback two-node cluster; the kit connects through ``RAY_ADDRESS``."""
    return shared_ray_cluster(request.config).address


def test_check_engine_accepts_the_three_and_names_them_on_a_typo() -> None:
    assert [check_engine(e) for e in ENGINES] == ["serial", "process", "ray"]
    with pytest.raises(ConfigurationError, match=r"engine='rya'.*'serial', 'process', 'ray'"):
        check_engine("rya", where="sweep")
    with pytest.raises(ConfigurationError, match="sweep"):
        map_shards(_scaled, SHARDS, context={"factor": 2}, engine="threads", label="sweep")  # type: ignore[arg-type]


def test_no_shards_gives_no_results_without_starting_anything() -> None:
    assert map_shards(_scaled, [], context={"factor": 2}, engine="process") == []


@pytest.mark.xdist_group("ray")
@pytest.mark.parametrize("engine", ["serial", "process", "ray"])
def test_every_engine_returns_the_serial_results_in_shard_order(
    engine: Engine, request: pytest.FixtureRequest
) -> None:
    if engine == "ray":
        request.getfixturevalue("ray_address")
    expected = [(i, f"s{i}", 3 * i) for i in range(7)]  # by hand: index x factor
    got = map_shards(_scaled, SHARDS, context={"factor": 3}, engine=engine, workers=2)
    assert [g[:3] for g in got] == expected
    pids = {g[3] for g in got}
    # serial runs here; the others in worker processes (at most 2 of them)
    assert (pids == {os.getpid()}) == (engine == "serial")
    assert len(pids) <= 2


@pytest.mark.xdist_group("ray")
@pytest.mark.parametrize("engine", ["serial", "process", "ray"])
def test_a_shards_own_error_comes_back_as_itself(
    engine: Engine, request: pytest.FixtureRequest
) -> None:
    if engine == "ray":
        request.getfixturevalue("ray_address")
    with pytest.raises(DataFormatError, match=r"shard 3: broken file part-3\.parquet"):
        map_shards(_fails_on_three, list(range(5)), context=None, engine=engine, workers=2)


@pytest.mark.xdist_group("ray")
def test_a_plain_error_on_ray_becomes_the_kits_error_naming_the_shard(ray_address: str) -> None:
    with pytest.raises(
        OmniDataError, match=r"myjob: shard 0 failed on Ray: KeyError: .no key for 0"
    ):
        map_shards(_raises_plain, [0], context=None, engine="ray", label="myjob")


def test_worker_cache_keeps_a_value_while_its_stamp_holds() -> None:
    made: list[int] = []

    def make() -> int:
        made.append(len(made))
        return len(made)

    key = f"test:{os.getpid()}:{id(made)}"
    assert worker_cache(key, ("v", 1), make) == 1
    assert worker_cache(key, ("v", 1), make) == 1  # kept
    assert worker_cache(key, ("v", 2), make) == 2  # stale: made again
    assert worker_cache(key, None, make) == 3  # no stamp: never kept
    assert worker_cache(key, None, make) == 4
    assert made == [0, 1, 2, 3]
