"""A real two-node Ray cluster on loopback, for tests of the ``ray`` engine.

Two nodes on this machine: a head (GCS, raylet, agents) and a second raylet that joins it,
each with its own CPUs, every port bound to 127.0.0.1, token authentication off (nothing
leaves loopback). The nodes are started through Ray's own ``ray.cluster_utils.Cluster``,
which runs the same processes as ``ray start --head`` / ``ray start --address`` with the
node address given as is: Ray 2.60's ``ray start`` rewrites ``--node-ip-address=127.0.0.1``
of a joining node to the machine's outside interface (measured), which a test must not use.

:meth:`RayCluster.kill_node` kills the second node's raylet (its workers die with it), as a
crashed machine would; :meth:`RayCluster.stop` ends every process of the cluster.

Examples
--------
>>> from omni_research.testing import ray_cluster  # doctest: +SKIP
>>> with ray_cluster() as cluster:  # doctest: +SKIP
...     os.environ["RAY_ADDRESS"] = cluster.address
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omni_research._extras import require_extra
from omni_research.exceptions import ConfigurationError

# Loopback only, no token (a test cluster), and a dead node noticed within ~2 s instead of
# Ray's default of about 30 s, so a killed node's tasks are retried at once. Ray rewrites a
# 127.0.0.1 address to the machine's outside interface unless it believes it runs on one
# machine (its Windows/macOS switch, read at import by this process and by every process
# the nodes start): with it, drivers and workers reach the GCS on loopback.
_ENV = {
    "RAY_AUTH_MODE": "disabled",
    "RAY_raylet_start_wait_time_s": "120",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
}
_SYSTEM_CONFIG = {
    "health_check_period_ms": 500,
    "health_check_timeout_ms": 1000,
    "health_check_failure_threshold": 3,
    "health_check_initial_delay_ms": 0,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _node_args(session_dir: Path) -> dict[str, Any]:
    """A node's fixed identity and ports, with its agents' port files written beforehand.

    A raylet waits at most ~15 s for its agents to write their port files and aborts after
    that; on a busy 2-core machine the agents (Python processes importing Ray) take longer.
    Without ``ray[default]`` the dashboard agent runs minimal and reports ``-1`` (no
    metrics, no HTTP listener): those files are written here first, with the same ``-1``,
    and the runtime-env agent's port is given, so the raylet starts without waiting.
    """
    node_id = secrets.token_hex(28)
    session_dir.mkdir(parents=True, exist_ok=True)
    for name in ("metrics_agent_port", "metrics_export_port", "dashboard_agent_listen_port"):
        (session_dir / f"{name}_{node_id}").write_text("-1")
    return {
        "node_ip_address": "127.0.0.1",
        "node_id": node_id,
        "runtime_env_agent_port": _free_port(),
    }


def _end_processes_under(temp_dir: Path) -> None:
    """Kill what is left of a cluster: the processes whose command line names its temporary
    folder (GCS, raylets, monitors) and their children (agents, workers). The folder's name
    is unique to this cluster, so only processes this helper started match."""
    import psutil  # type: ignore[import-untyped]  # installed with ray; no stubs

    marker, me = str(temp_dir), os.getpid()
    found: list[Any] = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if proc.pid != me and any(marker in part for part in proc.info["cmdline"] or ()):
            found.append(proc)
            with contextlib.suppress(psutil.Error):
                found += proc.children(recursive=True)
    for proc in found:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(found, timeout=10)
    shutil.rmtree(temp_dir, ignore_errors=True)


@dataclass(kw_only=True)
class RayCluster:
    """A running loopback cluster: ``address`` for ``RAY_ADDRESS`` or ``ray.init``."""

    address: str
    temp_dir: Path
    _cluster: Any = field(repr=False)
    _second: Any = field(repr=False)
    _saved_env: dict[str, str | None] = field(repr=False, default_factory=dict)

    @property
    def nodes(self) -> int:
        """Nodes alive, as the cluster's GCS sees them (connecting this process first)."""
        import ray

        if not ray.is_initialized():
            ray.init(address=self.address, log_to_driver=False)
        nodes: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]
        return sum(1 for n in nodes if n["Alive"])

    def kill_node(self) -> int:
        """Kill the second node's raylet (SIGKILL), as a crash would; return its pid."""
        raylet = self._second.all_processes["raylet"][0].process
        raylet.kill()
        raylet.wait(timeout=30)
        return int(raylet.pid)

    def stop(self) -> None:
        """End every process of the cluster and remove its temporary folder."""
        try:
            import ray

            if ray.is_initialized():
                ray.shutdown()
            self._cluster.shutdown()
        finally:
            for key, value in self._saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            _end_processes_under(self.temp_dir)


def start_ray_cluster(*, cpus_per_node: int = 1, attempts: int = 2) -> RayCluster:
    """Start a head node and a second node on 127.0.0.1, ``cpus_per_node`` CPUs each.

    Ray gives a node 30 s to register, which a busy machine can miss: a failed start is
    cleaned up and tried again, ``attempts`` times in all. The caller must call
    :meth:`RayCluster.stop` (or use :func:`ray_cluster`).
    """
    for attempt in range(1, attempts + 1):
        try:
            return _start(cpus_per_node)
        except ConfigurationError:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


def _start(cpus_per_node: int) -> RayCluster:
    require_extra("distributed", "omni_research.testing.start_ray_cluster")
    import ray._private.ray_constants as ray_constants
    from ray.cluster_utils import Cluster

    saved = {key: os.environ.get(key) for key in (*_ENV, "RAY_ADDRESS")}
    os.environ.update(_ENV)
    os.environ.pop("RAY_ADDRESS", None)
    ray_constants.ENABLE_RAY_CLUSTER = False  # this process imported ray already
    # a short path: Ray's socket names must fit in 107 bytes
    temp_dir = Path(tempfile.mkdtemp(prefix="omr", dir="/tmp"))
    session = f"session_omni_{os.getpid()}_{secrets.token_hex(4)}"
    cluster = None
    started = time.monotonic()
    try:
        cluster = Cluster(
            initialize_head=True,
            head_node_args={
                **_node_args(temp_dir / session),
                "session_name": session,
                "gcs_server_port": _free_port(),
                "num_cpus": cpus_per_node,
                "temp_dir": str(temp_dir),
                "_system_config": _SYSTEM_CONFIG,
                "include_dashboard": False,
            },
        )
        second = cluster.add_node(**_node_args(temp_dir / session), num_cpus=cpus_per_node)
        cluster.wait_for_nodes()
    except Exception as exc:
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.shutdown()  # type: ignore[no-untyped-call]
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _end_processes_under(temp_dir)  # a node that half-started
        raise ConfigurationError(
            f"the loopback Ray test cluster did not start ({exc}) after "
            f"{time.monotonic() - started:.0f} s; expected a head and a second node on "
            "127.0.0.1 within Ray's start-up timeouts: retry when the machine is less loaded"
        ) from exc
    return RayCluster(
        address=str(cluster.address),
        temp_dir=temp_dir,
        _cluster=cluster,
        _second=second,
        _saved_env=saved,
    )


@contextlib.contextmanager
def ray_cluster(*, cpus_per_node: int = 1) -> Iterator[RayCluster]:
    """:func:`start_ray_cluster` as a context manager that always stops the cluster."""
    cluster = start_ray_cluster(cpus_per_node=cpus_per_node)
    try:
        yield cluster
    finally:
        cluster.stop()
