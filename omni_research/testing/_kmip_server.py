"""A real KMIP server for tests: PyKMIP's server on a free ``127.0.0.1`` port, over TLS.

:class:`KmipTestServer` makes a throw-away CA, a server certificate (for ``127.0.0.1`` and
``localhost``) and a client certificate in a folder, starts ``kmip.services.server`` as a
subprocess with its sqlite database and log in that folder, waits until it accepts TLS
connections, and stops it (SIGTERM, then SIGKILL) on :meth:`stop` or at the end of a
``with`` block. :meth:`environ` gives the ``OMNI_KMS``/``OMNI_KMIP_*`` settings of a client.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

# The server, with a watchdog: when the process that started it is gone (a test run killed
# before its fixture could stop it), the server's whole process group ends itself.
_SERVER = """
import os, signal, sys, threading, time
parent = int(sys.argv.pop(1))
def watch():
    while os.getppid() == parent:
        time.sleep(0.5)
    os.killpg(os.getpgrp(), signal.SIGKILL)
threading.Thread(target=watch, daemon=True).start()
from kmip.services.server.server import main
main()
"""


@dataclass(frozen=True, kw_only=True)
class ClientCredentials:
    """PEM files a KMIP client presents: the CA it trusts, its certificate and key."""

    ca: Path
    cert: Path
    key: Path


def _key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write_key(key: Any, path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization

    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return path


def _certificate(
    subject_cn: str,
    key: Any,
    issuer: tuple[Any, Any] | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> Any:
    """A certificate for ``key``; self-signed when ``issuer`` (cert, key) is None."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
    issuer_name = name if issuer is None else issuer[0].subject
    signer = key if issuer is None else issuer[1]
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    elif server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(signer, hashes.SHA256())


def _write_cert(cert: Any, path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization

    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class KmipTestServer:
    """PyKMIP's KMIP server on loopback, with its own CA and certificates in ``folder``.

    Parameters
    ----------
    folder
        An empty private folder (a pytest ``tmp_path``); certificates, the database and
        the log are written there.

    Examples
    --------
    >>> import tempfile
    >>> with KmipTestServer(tempfile.mkdtemp()) as server:  # doctest: +SKIP
    ...     key_id = server.kms().create_key()
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._ca: tuple[Any, Any] | None = None
        self.ca_path = self.folder / "ca.pem"

    # -- certificates ------------------------------------------------------------------
    def _make_ca(self) -> None:
        key = _key()
        cert = _certificate("omni-research test CA", key, None, ca=True)
        self._ca = (cert, key)
        _write_cert(cert, self.ca_path)

    def client_credentials(
        self, name: str = "omni-research", *, trusted: bool = True
    ) -> ClientCredentials:
        """A client certificate for ``name`` signed by the server's CA (``trusted``) or by
        a CA the server has never seen."""
        assert self._ca is not None, "start the server first"
        issuer = self._ca
        if not trusted:
            rogue = _key()
            issuer = (_certificate("rogue CA", rogue, None, ca=True), rogue)
        key = _key()
        cert = _certificate(name, key, issuer)
        stem = f"client-{name}{'' if trusted else '-untrusted'}"
        return ClientCredentials(
            ca=self.ca_path,
            cert=_write_cert(cert, self.folder / f"{stem}.pem"),
            key=_write_key(key, self.folder / f"{stem}.key"),
        )

    # -- life cycle --------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> Self:
        """Start the server and wait until it completes a TLS handshake; returns self."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._make_ca()
        assert self._ca is not None
        server_key = _key()
        cert = _write_cert(
            _certificate("127.0.0.1", server_key, self._ca, server=True),
            self.folder / "server.pem",
        )
        key = _write_key(server_key, self.folder / "server.key")
        (self.folder / "policies").mkdir(exist_ok=True)
        self.port = _free_port()
        conf = self.folder / "server.conf"
        conf.write_text(
            "[server]\n"
            "hostname=127.0.0.1\n"
            f"port={self.port}\n"
            f"certificate_path={cert}\n"
            f"key_path={key}\n"
            f"ca_path={self.ca_path}\n"
            "auth_suite=TLS1.2\n"
            f"policy_path={self.folder / 'policies'}\n"
            "enable_tls_client_auth=True\n"
            "logging_level=INFO\n"
            f"database_path={self.folder / 'kmip.db'}\n"
        )
        args = [
            sys.executable,
            "-c",
            _SERVER,
            str(os.getpid()),
            f"--config_path={conf}",
            f"--log_path={self.folder / 'server.log'}",
        ]
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        with open(self.folder / "server.stderr", "wb") as errors:
            self._process = subprocess.Popen(
                args,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                env=env,
                cwd=self.folder,
                start_new_session=True,  # its policy monitor is a child: stopped as a group
            )
        try:
            self._wait(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                log = (self.folder / "server.stderr").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the KMIP server exited at start: {log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"the KMIP server did not listen on port {self.port} in {timeout} s")

    def stop(self) -> None:
        """Stop the server: SIGINT (its clean shutdown), then SIGKILL to its process group."""
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # the group of the server started here
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- clients -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``kmip://127.0.0.1:<port>``."""
        return f"kmip://127.0.0.1:{self.port}"

    def environ(self, credentials: ClientCredentials) -> dict[str, str]:
        """The ``OMNI_KMS``, ``OMNI_KMIP_CA/CERT/KEY`` of a client using ``credentials``."""
        return {
            "OMNI_KMS": self.url,
            "OMNI_KMIP_CA": str(credentials.ca),
            "OMNI_KMIP_CERT": str(credentials.cert),
            "OMNI_KMIP_KEY": str(credentials.key),
        }

    def kms(self, credentials: ClientCredentials | None = None) -> Any:
        """A :class:`~omni_research._kms.KmipKms` client of this server."""
        from omni_research._kms import KmipKms

        creds = credentials or self.client_credentials()
        return KmipKms(
            host="127.0.0.1", port=self.port, ca=creds.ca, cert=creds.cert, key=creds.key
        )
