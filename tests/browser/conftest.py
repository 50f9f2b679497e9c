"""JupyterLab + headless Chromium fixtures for the real-browser widget tests.

``jupyter_lab`` starts JupyterLab once per module on 127.0.0.1 (free port, random token)
with temporary config/data/runtime/settings/workspace folders, the news pop-up off, every
notebook cell attached to the page (windowing off, so widgets scrolled out of view still
render) and a ``python3`` kernelspec that runs this interpreter: the shipped notebooks name
``python3``, so they run on the venv under test unchanged. ``browser`` launches Debian's
Chromium through Playwright and ``page`` opens one tab, once per module. Each
stops everything it started (terminate, wait, kill on timeout).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
KERNEL_NAME = "python3"  # what the shipped notebooks' metadata names


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab: where it listens and where its files are."""

    url: str
    token: str
    root: Path
    log: Path
    kernel: str = KERNEL_NAME

    def api(self, path: str, method: str = "GET") -> Any:
        req = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            body = resp.read()
        return json.loads(body) if body else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _stop(proc: subprocess.Popen[bytes], *, timeout: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def _settings(folder: Path, plugin: str, values: dict[str, Any]) -> None:
    package, name = plugin.split(":")
    target = folder / package
    target.mkdir(parents=True, exist_ok=True)
    (target / f"{name}.jupyterlab-settings").write_text(json.dumps(values))


@pytest.fixture(scope="module")
def jupyter_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    pytest.importorskip("jupyterlab")
    pytest.importorskip("ipykernel")
    base = tmp_path_factory.mktemp("lab")
    home = base / "jupyter"
    dirs = {name: home / name for name in ("config", "data", "runtime", "settings", "workspaces")}
    for d in dirs.values():
        d.mkdir(parents=True)
    root = base / "root"
    root.mkdir()
    # The kernel must be this interpreter (the venv that has omni_research and ipykernel).
    spec = dirs["data"] / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "omni-research test kernel",
                "language": "python",
                "env": {"MPLBACKEND": "Agg"},
            }
        )
    )
    _settings(
        dirs["settings"],
        "@jupyterlab/apputils-extension:notification",
        {"fetchNews": "false", "checkForUpdates": False},
    )
    _settings(dirs["settings"], "@jupyterlab/notebook-extension:tracker", {"windowingMode": "none"})
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
        "JUPYTER_PLATFORM_DIRS": "1",
        "JUPYTER_PREFER_ENV_PATH": "0",  # a venv puts its own kernels first otherwise
        "MPLBACKEND": "Agg",
    }
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.expose_app_in_browser=True",
        f"--MappingKernelManager.default_kernel_name={KERNEL_NAME}",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = base / "jupyterlab.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=root)
    lab = Lab(url=f"http://127.0.0.1:{port}", token=token, root=root, log=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited early:\n{log.read_text()[-3000:]}")
            try:
                lab.api("/api/status")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start in 60 s:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
        yield lab
    finally:
        # Kernels first (the server would also stop them, but a hung kernel must not outlive
        # the tests), then the server itself.
        try:
            for kernel in lab.api("/api/kernels") or []:
                lab.api(f"/api/kernels/{kernel['id']}", method="DELETE")
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        _stop(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (make browser)")
    sync_api = pytest.importorskip("playwright.sync_api")
    pw = sync_api.sync_playwright().start()
    try:
        # launch() gives the browser a fresh temporary profile of its own.
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        pw.stop()


@pytest.fixture(scope="module")
def page(browser: Any) -> Iterator[Any]:
    """One browser tab for the module: JupyterLab loads once, notebooks open in it."""
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    try:
        tab = context.new_page()
        tab.set_default_timeout(30_000)
        yield tab
    finally:
        context.close()
