"""One loopback two-node Ray cluster per test process, shared by the ``ray`` engine tests.

Starting Ray costs seconds, so the first test that needs it starts it and the session's end
stops it (``config.add_cleanup``): every process it started is ended. Tests that use it are
marked ``xdist_group("ray")`` so they run in one worker, one after the other. The kit
connects through ``RAY_ADDRESS``, as it would to any existing cluster.
"""

from __future__ import annotations

import os

import pytest

from omni_research.testing import RayCluster, start_ray_cluster

_CLUSTER: list[RayCluster] = []
_FAILED: list[BaseException] = []


def shared_ray_cluster(config: pytest.Config) -> RayCluster:
    """The running shared cluster (started on first use), with ``RAY_ADDRESS`` set to it.

    A cluster that failed to start fails every later test at once with the same error
    rather than trying again for each.
    """
    pytest.importorskip("ray")
    if _FAILED:
        raise _FAILED[0]
    if not _CLUSTER:
        try:
            _CLUSTER.append(start_ray_cluster(cpus_per_node=1))
        except BaseException as exc:
            _FAILED.append(exc)
            raise

        def stop() -> None:
            _CLUSTER.pop().stop()

        config.add_cleanup(stop)
    cluster = _CLUSTER[0]
    os.environ["RAY_ADDRESS"] = cluster.address
    return cluster
