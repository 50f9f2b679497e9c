"""Network rule: HTTPS with the certificate checked everywhere, plain HTTP only to the
loopback or to a host opted in by name (``OMNI_ALLOW_HTTP_HOSTS``)."""

from __future__ import annotations

import datetime as dt
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from omni_research._network import check_url, is_loopback
from omni_research.exceptions import ConfigurationError, SourceError
from omni_research.sources import LIMITS, RetryPolicy
from omni_research.sources._http import HttpSession

QUICK = RetryPolicy(attempts=2, initial=0.01, maximum=0.02, jitter=0.0, timeout=5.0)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.bybit.com/v5/market/kline?symbol=BTCUSDT",
        "https://example.org",
        "http://127.0.0.1:9/x",
        "http://127.8.9.10/x",
        "http://localhost:8080",
        "http://LOCALHOST.:8080",
        "http://[::1]:9/x",
    ],
)
def test_https_anywhere_and_http_to_the_loopback_are_allowed(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("http://api.bybit.com/v5", "plain http is accepted only for the loopback"),
        ("http://10.0.0.5:8333/", "OMNI_ALLOW_HTTP_HOSTS=10.0.0.5"),
        ("http://127.0.0.1.example.com/", "plain http"),  # a name, not the loopback
        ("http://localhost.evil.com/", "plain http"),
        ("ftp://127.0.0.1/x", "expected an https:// URL"),
        ("file:///etc/passwd", "expected an https:// URL"),
        ("https:///nohost", "expected an https:// URL"),
        ("https://user:secret@api.bybit.com/", "carries credentials"),
        ("http://[::1/", "not a valid URL"),
    ],
)
def test_other_urls_are_refused_naming_the_url_and_what_to_do(url: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match) as info:
        check_url(url)
    assert "secret" not in str(info.value)


def test_a_query_string_never_appears_in_the_refusal() -> None:
    with pytest.raises(ConfigurationError) as info:
        check_url("http://newsapi.org/v2/everything?apiKey=s3cr3t")
    assert "s3cr3t" not in str(info.value) and "http://newsapi.org/v2/everything" in str(info.value)


def test_plain_http_is_allowed_only_for_the_hosts_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNI_ALLOW_HTTP_HOSTS", "mirror.internal, Data.Corp.Example")
    assert check_url("http://mirror.internal:8080/x") == "http://mirror.internal:8080/x"
    assert check_url("http://data.corp.example/x") == "http://data.corp.example/x"
    for other in ("http://mirror.internal.evil.com/", "http://internal/", "http://corp.example/"):
        with pytest.raises(ConfigurationError, match="OMNI_ALLOW_HTTP_HOSTS"):
            check_url(other)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.255.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("128.0.0.1", False),
        ("::ffff:8.8.8.8", False),
        ("localhostx", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_a_session_refuses_an_absolute_url_to_another_host_before_sending() -> None:
    sent: list[httpx.Request] = []
    with HttpSession("http://127.0.0.1:9", limits=LIMITS["bybit"], policy=QUICK) as session:
        session._client._transport = httpx.MockTransport(
            lambda request: sent.append(request) or httpx.Response(200, content=b"ok")
        )
        assert session.get_bytes("/ok") == b"ok"
        with pytest.raises(ConfigurationError, match="plain http is accepted only"):
            session.get_bytes("http://api.bybit.com/v5/market/kline", {"apiKey": "k"})
    assert [str(r.url) for r in sent] == ["http://127.0.0.1:9/ok"]


# --------------------------------------------------------------------------- real TLS


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"hello": "tls"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on loopback with a self-signed certificate no trust store holds."""
    cert, key = _self_signed(tmp_path_factory.mktemp("tls"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", cert
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_an_unverifiable_certificate_is_refused_not_ignored(
    tls_server: tuple[str, Path],
) -> None:
    url, cert = tls_server
    # the server works: a client that trusts its certificate gets the answer
    trusted = ssl.create_default_context(cafile=str(cert))
    assert httpx.get(url + "/x", verify=trusted).json() == {"hello": "tls"}
    # the kit's session checks certificates against the system's trust store: refused
    with (
        HttpSession(url, limits=LIMITS["bybit"], policy=QUICK) as session,
        pytest.raises(SourceError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        session.get_json("/x")
