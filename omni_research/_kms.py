"""Key management services: where the master keys that wrap the data keys live.

One small interface, :class:`Kms` (``wrap(key, key_id)`` / ``unwrap(wrapped, key_id)``), and
two clients:

* :class:`KmipKms` speaks KMIP 1.2 over mutually authenticated TLS (PyKMIP's client) to an
  enterprise key manager. The master keys are AES-256 symmetric keys on the server, named
  by their KMIP unique identifier; wrapping is the server's own ``Encrypt``/``Decrypt``
  operation, so a master key never leaves the server. PyKMIP 0.11's client does not carry
  GCM tags, so the server encrypts with AES-256-CBC (PKCS#5 padding, server-chosen IV) and
  the kit adds a 16-byte check value (HMAC-SHA256 of the key under itself) that proves,
  after unwrapping, that the right master key opened an undamaged wrapped key.
* :class:`LocalKeyFile` is for a single laptop: a JSON file of named 256-bit keys, outside
  every data root, mode 0600 and owned by the user (refused otherwise); wrapping is
  AES-256-GCM with the key id as associated data.

:func:`kms_from_settings` picks one from ``OMNI_KMS`` (``kmip://host:port`` or
``file:///path/keys.json``). Every failure to reach a key raises
:class:`~omni_research.exceptions.KeyAccessError`; no message ever holds key bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol
from urllib.parse import unquote, urlsplit

from omni_research.config import MANIFEST_NAME, Settings, settings
from omni_research.exceptions import ConfigurationError, KeyAccessError

KEY_BYTES = 32
"""Every key the kit makes or accepts is 256 bits."""
_CHECK = b"omni-research key check"
_KEY_ID = re.compile(r"^[A-Za-z0-9_.:@/-]{1,128}$")


class Kms(Protocol):
    """What the kit needs of a key management service.

    ``name`` is where the keys live, fit for a message (never a secret).
    """

    @property
    def name(self) -> str:
        """Where the master keys live (``kmip://host:port``, ``file:///path``)."""
        ...

    def wrap(self, key: bytes, key_id: str) -> bytes:
        """Encrypt ``key`` under the master key ``key_id``."""
        ...

    def unwrap(self, wrapped: bytes, key_id: str) -> bytes:
        """Decrypt a key that :meth:`wrap` returned for ``key_id``."""
        ...


def check_key_id(key_id: str) -> str:
    """A master key id as the kit stores it in a manifest, or ConfigurationError."""
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        raise ConfigurationError(
            f"master key id {key_id!r} is not valid; expected 1-128 letters, digits or "
            "'_.:@/-' (a KMIP unique identifier such as '7', or a name in the key file)"
        )
    return key_id


def _check_value(key: bytes) -> bytes:
    return hmac.new(key, _CHECK, hashlib.sha256).digest()[:16]


# ------------------------------------------------------------------------- local key file


def data_root_of(path: Path) -> Path | None:
    """The data root holding ``path``: the nearest folder above it with a manifest."""
    for folder in path.parents:
        if (folder / MANIFEST_NAME).is_file():
            return folder
    return None


def _check_key_file(path: Path) -> None:
    """Refuse a key file that others could read, that is not ours, or inside a data root."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise ConfigurationError(
            f"local key file {path} does not exist; create one with "
            "omni_research.create_local_key(path, key_id) (it is written with mode 0600)"
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigurationError(
            f"local key file {path} is not a regular file (a symlink or a folder); expected "
            "the key file itself"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode != 0o600:
        raise ConfigurationError(
            f"local key file {path} has mode {mode:04o}; expected 0600 (only its owner may "
            f"read or write it): run `chmod 600 {path}`"
        )
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise ConfigurationError(
            f"local key file {path} is owned by uid {info.st_uid}, not by you (uid "
            f"{os.getuid()}); expected a key file of your own"
        )
    root = data_root_of(path.resolve())
    if root is not None:
        raise ConfigurationError(
            f"local key file {path} lies inside the data root {root}; keys must never be "
            "stored with the data they protect: move it outside every data root (e.g. "
            "~/.config/omni_research/keys.json) and point OMNI_KMS at it"
        )


@dataclass(frozen=True)
class LocalKeyFile:
    """Master keys in a local JSON file (``{"keys": {"<key id>": "<64 hex digits>"}}``).

    The file must be a regular file of the user's own, mode 0600 exactly, outside every
    data root; anything else raises ConfigurationError saying what to do (``chmod 600``).

    Parameters
    ----------
    path
        The key file.
    """

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(os.path.abspath(os.path.expanduser(self.path))))
        _check_key_file(self.path)

    @property
    def name(self) -> str:
        return self.path.as_uri()

    def _keys(self) -> dict[str, str]:
        _check_key_file(self.path)  # checked again at each use: the mode may have changed
        try:
            data = json.loads(self.path.read_text("utf-8"))
            keys = data["keys"]
            if not isinstance(keys, dict):
                raise TypeError("'keys' is not a table")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(
                f"local key file {self.path} is unreadable ({type(exc).__name__}); expected "
                'JSON {"keys": {"<key id>": "<64 hex digits>"}}'
            ) from None
        return keys

    def _key(self, key_id: str) -> bytes:
        value = self._keys().get(key_id)
        if value is None:
            raise KeyAccessError(
                f"master key {key_id!r} is not in the local key file {self.path}; use the key "
                "file that holds it (OMNI_KMS), or ask whoever encrypted the data for it"
            )
        try:
            key = bytes.fromhex(value)
        except (ValueError, TypeError):
            key = b""
        if len(key) != KEY_BYTES:
            raise ConfigurationError(
                f"master key {key_id!r} in {self.path} is not 64 hex digits (256 bits)"
            )
        return key

    def wrap(self, key: bytes, key_id: str) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(12)
        return nonce + AESGCM(self._key(key_id)).encrypt(nonce, key, key_id.encode("utf-8"))

    def unwrap(self, wrapped: bytes, key_id: str) -> bytes:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        master = self._key(key_id)
        try:
            return AESGCM(master).decrypt(wrapped[:12], wrapped[12:], key_id.encode("utf-8"))
        except (InvalidTag, ValueError):
            raise KeyAccessError(
                f"the wrapped data key does not open under master key {key_id!r} of "
                f"{self.name}: the key file holds another key under that id, or the key "
                "material was damaged; use the key file the data was encrypted with"
            ) from None


def create_local_key(path: str | os.PathLike[str], key_id: str) -> str:
    """Add a new random 256-bit master key ``key_id`` to the local key file at ``path``.

    The file is created if needed, written atomically with mode 0600, and must lie outside
    every data root. An existing key id is never overwritten.

    Returns
    -------
    str
        ``key_id``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> create_local_key(folder / "keys.json", "research-2026")
    'research-2026'
    >>> oct((folder / "keys.json").stat().st_mode & 0o777)
    '0o600'
    """
    target = Path(os.path.abspath(os.path.expanduser(path)))
    check_key_id(key_id)
    root = data_root_of(target.resolve())
    if root is not None:
        raise ConfigurationError(
            f"local key file {target} would lie inside the data root {root}; keys must never "
            "be stored with the data they protect: choose a path outside every data root"
        )
    keys: dict[str, str] = {}
    if os.path.lexists(target):
        keys = LocalKeyFile(target)._keys()
    if key_id in keys:
        raise ConfigurationError(f"{target} already holds a master key {key_id!r}")
    keys[key_id] = secrets.token_bytes(KEY_BYTES).hex()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:  # mkstemp: mode 0600
            json.dump({"keys": keys}, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return key_id


# ------------------------------------------------------------------------------- KMIP


@dataclass(frozen=True, kw_only=True)
class KmipKms:
    """A KMIP server reached over TLS with a client certificate (PyKMIP's client).

    Parameters
    ----------
    host, port
        The server.
    ca
        The CA bundle that signed the server's certificate (the server's name or IP must be
        in its subject alternative names).
    cert, key
        The client certificate and its private key; the server knows the client by it.
    timeout
        Seconds to wait for the server.
    """

    host: str
    port: int
    ca: Path
    cert: Path
    key: Path
    timeout: float = 10.0
    cache_unwrapped: ClassVar[bool] = True  # a network round trip: readers may cache keys

    @property
    def name(self) -> str:
        return f"kmip://{self.host}:{self.port}"

    def _open(self) -> Any:
        """A new, open PyKMIP ``ProxyKmipClient`` on a strict TLS context."""
        import ssl

        _import_kmip()
        from kmip.pie.client import ProxyKmipClient  # type: ignore[import-untyped]
        from kmip.services.kmip_client import KMIPProxy  # type: ignore[import-untyped]

        for what, path in (("CA", self.ca), ("client certificate", self.cert), ("key", self.key)):
            if not Path(path).is_file():
                raise ConfigurationError(
                    f"KMIP {what} file {path} does not exist; set OMNI_KMIP_CA, "
                    "OMNI_KMIP_CERT and OMNI_KMIP_KEY to the PEM files your key manager issued"
                )
        kms = self

        class _StrictProxy(KMIPProxy):  # type: ignore[misc]
            # PyKMIP builds its context from the deprecated PROTOCOL_TLS without hostname
            # checks; this one verifies the server against the CA and its name.
            def _create_socket(self, sock: Any) -> None:
                context = ssl.create_default_context(cafile=str(kms.ca))
                context.minimum_version = ssl.TLSVersion.TLSv1_2
                context.load_cert_chain(str(kms.cert), str(kms.key))
                self.socket = context.wrap_socket(sock, server_hostname=kms.host)
                self.socket.settimeout(kms.timeout)

        client = ProxyKmipClient(hostname=self.host, port=self.port, config_file=os.devnull)
        client.proxy = _StrictProxy(
            host=self.host, port=self.port, timeout=self.timeout, config_file=os.devnull
        )
        try:
            client.open()
        except Exception as exc:
            raise KeyAccessError(
                f"cannot reach the key manager at {self.name}: {_reason(exc)}; check that it "
                "runs, that OMNI_KMS names it, and that OMNI_KMIP_CA/CERT/KEY are the "
                "certificates it trusts"
            ) from None
        return client

    @contextlib.contextmanager
    def client(self) -> Iterator[Any]:
        """A new, open PyKMIP ``ProxyKmipClient`` on a strict TLS context (closed on exit)."""
        client = self._open()
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.close()

    def _pooled(self) -> Any:
        """This thread's open connection to the server (made on first use).

        One TLS handshake per thread and client identity instead of one per operation
        (measured on loopback: 11 ms per unwrap with a new connection, 3 ms on an open one).
        A forked child never uses its parent's connections.
        """
        if getattr(_pool, "pid", None) != os.getpid():
            _pool.pid, _pool.clients = os.getpid(), {}
        clients: dict[KmipKms, Any] = _pool.clients
        if self not in clients:
            clients[self] = self._open()
        return clients[self]

    def _drop(self) -> None:
        client = getattr(_pool, "clients", {}).pop(self, None)
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    def _call(self, action: str, key_id: str, fn: Any) -> Any:
        """Run ``fn(client)`` on the pooled connection; a broken connection (the server
        restarted, a timeout) is dropped and the operation tried once on a new one, and a
        refusal by the server is a KeyAccessError."""
        _import_kmip()
        from kmip.pie.exceptions import KmipOperationFailure  # type: ignore[import-untyped]

        for attempt in (1, 2):
            client = self._pooled()
            try:
                return fn(client)
            except KmipOperationFailure as exc:
                raise KeyAccessError(
                    f"the key manager at {self.name} refused to {action} with master key "
                    f"{key_id!r}: {_reason(exc)}; ask its administrators for access to that "
                    "key (it may be revoked or destroyed, or your certificate may not be "
                    "allowed to use it)"
                ) from None
            except Exception as exc:
                self._drop()
                if attempt == 2:
                    raise KeyAccessError(
                        f"the key manager at {self.name} failed to {action} with master key "
                        f"{key_id!r}: {_reason(exc)}; check that it runs and try again"
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def wrap(self, key: bytes, key_id: str) -> bytes:
        def run(client: Any) -> bytes:
            data, iv = client.encrypt(key + _check_value(key), uid=key_id, **_cbc())
            return bytes(iv) + bytes(data)

        wrapped: bytes = self._call("encrypt", key_id, run)
        return wrapped

    def unwrap(self, wrapped: bytes, key_id: str) -> bytes:
        def run(client: Any) -> bytes:
            out = client.decrypt(wrapped[16:], uid=key_id, iv_counter_nonce=wrapped[:16], **_cbc())
            return bytes(out)

        plain: bytes = self._call("decrypt", key_id, run)
        key, check = plain[:KEY_BYTES], plain[KEY_BYTES:]
        if len(key) != KEY_BYTES or not hmac.compare_digest(check, _check_value(key)):
            raise KeyAccessError(
                f"the wrapped data key does not open under master key {key_id!r} at "
                f"{self.name}: another key under that id, or damaged key material"
            )
        return key

    def create_key(self, name: str | None = None) -> str:
        """Create and activate an AES-256 master key on the server; returns its id."""
        _import_kmip()
        from kmip.core import enums  # type: ignore[import-untyped]

        def run(client: Any) -> str:
            uid = client.create(
                enums.CryptographicAlgorithm.AES,
                256,
                name=name,
                cryptographic_usage_mask=[
                    enums.CryptographicUsageMask.ENCRYPT,
                    enums.CryptographicUsageMask.DECRYPT,
                ],
            )
            client.activate(uid)
            return str(uid)

        created: str = self._call("create a key", name or "(new)", run)
        return created


_pool = threading.local()  # each thread's open KMIP connections, by client identity


def _import_kmip() -> None:
    """Import PyKMIP once, quietly: its SQLAlchemy models warn of 2.0 deprecations, which the
    kit's warnings-as-errors test runs would otherwise turn into failures."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import kmip.pie.client  # type: ignore[import-untyped]
        import kmip.services.kmip_client  # type: ignore[import-untyped]  # noqa: F401


def _cbc() -> dict[str, Any]:
    _import_kmip()
    from kmip.core import enums  # type: ignore[import-untyped]

    return {
        "cryptographic_parameters": {
            "cryptographic_algorithm": enums.CryptographicAlgorithm.AES,
            "block_cipher_mode": enums.BlockCipherMode.CBC,
            "padding_method": enums.PaddingMethod.PKCS5,
        }
    }


def _reason(exc: BaseException) -> str:
    """An exception's text without anything that could be key material."""
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


# ------------------------------------------------------------------------- from settings


def kms_from_settings(config: Settings | None = None) -> Kms:
    """The KMS ``OMNI_KMS`` names (with ``OMNI_KMIP_CA/CERT/KEY`` for KMIP).

    Raises
    ------
    KeyAccessError
        If ``OMNI_KMS`` is not set (nothing encrypted can be read or written without it).
    ConfigurationError
        If it is malformed, or a KMIP certificate setting is missing.
    """
    config = config or settings()
    url = config.kms
    if not url:
        raise KeyAccessError(
            "no key management service is configured (OMNI_KMS is not set); set OMNI_KMS="
            "kmip://host:port with OMNI_KMIP_CA, OMNI_KMIP_CERT and OMNI_KMIP_KEY, or "
            "OMNI_KMS=file:///path/to/keys.json for a local key file"
        )
    parts = urlsplit(url)
    if parts.scheme == "file":
        return LocalKeyFile(Path(unquote(parts.path)))
    if parts.scheme == "kmip":
        missing = [
            name
            for name, value in (
                ("OMNI_KMIP_CA", config.kmip_ca),
                ("OMNI_KMIP_CERT", config.kmip_cert),
                ("OMNI_KMIP_KEY", config.kmip_key),
            )
            if not value
        ]
        if missing or not parts.hostname:
            raise ConfigurationError(
                f"OMNI_KMS={url} needs a host and port and {', '.join(missing) or 'nothing'}"
                " set; expected kmip://host:port with OMNI_KMIP_CA, OMNI_KMIP_CERT and "
                "OMNI_KMIP_KEY naming PEM files"
            )
        assert config.kmip_ca and config.kmip_cert and config.kmip_key
        return KmipKms(
            host=parts.hostname,
            port=parts.port or 5696,
            ca=Path(config.kmip_ca),
            cert=Path(config.kmip_cert),
            key=Path(config.kmip_key),
        )
    raise ConfigurationError(
        f"OMNI_KMS={url!r} has an unknown scheme; expected kmip://host:port or "
        "file:///path/to/keys.json"
    )
