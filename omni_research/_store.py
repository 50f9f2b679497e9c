"""Object storage under a data root URI (``s3://bucket/prefix``, ``gs://``, ``az://``).

One small interface, :class:`ObjectStore`, is all the catalog, the manifest and ``sync``
need from a bucket: list the objects under the root, get one (whole), put one (a single
PUT is atomic on S3, GCS and Azure: readers see the old object or the new one, never half),
put one *conditionally* (``put_if``: create-only, or replace only the version that was
read, so two writers of a manifest cannot lose each other's files), and delete one.
Requests go through obstore (the same Rust ``object_store`` Polars reads the cloud with).

Every request is preceded by the production guard on the object's URI
(:func:`omni_research._guard.check_uri`), and every store failure becomes the kit's
:class:`~omni_research.exceptions.StorageError` naming the URI and what to do. Credentials
come from ``storage_options`` or the standard environment (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, ``AWS_REGION``, ``AWS_ALLOW_HTTP``,
``GOOGLE_*``, ``AZURE_*``); they are never part of a repr, a message or a log line.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar, cast

from omni_research import _guard, _network
from omni_research._extras import require_extra
from omni_research.exceptions import (
    ConfigurationError,
    StorageError,
    WriteConflictError,
)

T = TypeVar("T")

# client (HTTP) options obstore takes apart from the store's config; a Polars-style
# ``storage_options`` mixes both, with or without the store's prefix (aws_allow_http)
_CLIENT_KEYS = frozenset(
    {
        "allow_http",
        "allow_invalid_certificates",
        "connect_timeout",
        "default_content_type",
        "http1_only",
        "http2_only",
        "pool_idle_timeout",
        "pool_max_idle_per_host",
        "proxy_url",
        "proxy_ca_certificate",
        "proxy_excludes",
        "randomize_addresses",
        "read_timeout",
        "timeout",
        "user_agent",
    }
)
_PREFIXES = {"s3": "aws_", "gs": "google_", "az": "azure_"}
_SECRET_WORDS = ("secret", "token", "password", "key", "sas", "credential")
# a few quick retries: a dropped connection fails in seconds, not obstore's default 3 minutes
_RETRY = {"max_retries": 2, "retry_timeout": dt.timedelta(seconds=8)}
_CLIENT = {"connect_timeout": "5s", "timeout": "120s"}
_BUCKET = re.compile(r"^[^/?#]+$")


class MissingObjectError(StorageError):
    """An object the read names does not exist (raised with the object's URI)."""


@dataclass(frozen=True, kw_only=True)
class ObjectInfo:
    """One object under a store's root: its key relative to the root, size and entity tag."""

    key: str
    size: int
    e_tag: str | None


def _truthy(value: object) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _split_options(
    scheme: str, options: Mapping[str, object]
) -> tuple[dict[str, str], dict[str, Any]]:
    """``storage_options`` as obstore's (store config, client options)."""
    prefix = _PREFIXES.get(scheme, "")
    config: dict[str, str] = {}
    client: dict[str, Any] = dict(_CLIENT)
    for raw, value in options.items():
        if not isinstance(raw, str):
            raise ConfigurationError(f"storage_options key {raw!r} is not a string")
        key = raw.lower()
        bare = key.removeprefix(prefix)
        if bare in _CLIENT_KEYS:
            client[bare] = (
                _truthy(value) if bare.endswith(("http", "only", "certificates")) else (str(value))
            )
        else:
            config[key] = str(value)
    # explicit client options replace the ones obstore reads from the environment: keep
    # the standard switch (AWS_ALLOW_HTTP=true for a local endpoint) working
    env = os.environ.get(f"{prefix.upper()}ALLOW_HTTP") if prefix else None
    if "allow_http" not in client and env is not None:
        client["allow_http"] = _truthy(env)
    return config, client


_ENDPOINT_ENV = {
    "s3": ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"),
    "gs": ("GOOGLE_BASE_URL",),
    "az": ("AZURE_STORAGE_ENDPOINT", "AZURE_ENDPOINT"),
}


def _endpoints(scheme: str, options: Mapping[str, object]) -> list[str]:
    """The endpoint URLs the store will talk to, from the options or the environment."""
    given = [
        str(v)
        for k, v in options.items()
        if isinstance(k, str) and ("endpoint" in k.lower() or k.lower().endswith("base_url"))
    ]
    if given:
        return given
    return [os.environ[name] for name in _ENDPOINT_ENV.get(scheme, ()) if os.environ.get(name)]


def _scrubber(options: Mapping[str, object]) -> Callable[[str], str]:
    """Remove every secret-looking option or ``AWS_*``/``GOOGLE_*``/``AZURE_*`` environment
    value from a text (store errors echo parts of requests)."""
    named = [*options.items()] + [
        (k, v) for k, v in os.environ.items() if k.startswith(("AWS_", "GOOGLE_", "AZURE_"))
    ]
    secrets = [
        str(v)
        for k, v in named
        if any(w in str(k).lower() for w in _SECRET_WORDS) and len(str(v)) >= 4
    ]

    def scrub(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "***")
        return text

    return scrub


class ObjectStore:
    """The objects under one root URI (``s3://bucket/prefix``), guarded and error-mapped.

    Parameters
    ----------
    uri
        ``scheme://bucket[/prefix]`` with a scheme the guard knows (``s3``, ``s3a``,
        ``s3n``, ``gs``, ``gcs``, ``az``, ``abfs``, ``abfss``).
    storage_options
        Store settings and credentials (Polars' names: ``aws_access_key_id``,
        ``aws_secret_access_key``, ``aws_endpoint_url``, ``aws_region``,
        ``aws_allow_http``, ...). Unset ones come from the standard environment.

    Raises
    ------
    ProductionDataError
        If the URI lies under an ``OMNI_PRODUCTION_PATHS`` prefix or a ``real_time`` part.
    ConfigurationError
        If the URI is not an object-store URI, or obstore (the ``[cloud]`` extra) is missing.
    """

    def __init__(self, uri: str, *, storage_options: Mapping[str, object] | None = None) -> None:
        scheme = _guard.uri_scheme(uri)
        if scheme is None or scheme == "file":
            raise ConfigurationError(
                f"{uri!r} is not an object-store URI; expected s3://bucket/prefix, gs://... or "
                "az://... (open a local folder with its path)"
            )
        _guard.check_uri(uri)
        require_extra("cloud", "a data root in object storage")
        from obstore.store import from_url

        rest = uri.split("://", 1)[1].strip("/")
        bucket, _, prefix = rest.partition("/")
        if not _BUCKET.fullmatch(bucket):
            raise ConfigurationError(f"{uri!r}: expected scheme://bucket[/prefix]")
        self.uri = f"{uri.split('://', 1)[0]}://{rest}"
        self.scheme = scheme
        self.bucket = bucket
        self._prefix = prefix
        options = dict(storage_options or {})
        self._scrub = _scrubber(options)
        for endpoint in _endpoints(scheme, options):
            _network.check_url(endpoint)  # https, or http to the loopback / an opted-in host
        config, client = _split_options(scheme, options)
        try:
            # the store sits at the bucket so the guard can also read the manifests of the
            # prefixes above the root; every key below is prefixed by hand
            self._store = from_url(
                f"{scheme}://{bucket}",
                config=cast("Any", config),
                client_options=cast("Any", client),
                retry_config=cast("Any", _RETRY),
            )
        except Exception as exc:  # obstore raises ValueError or a Rust panic for bad keys
            raise ConfigurationError(
                f"{self.uri}: cannot configure the object store ({self._brief(exc)}); "
                "check storage_options' names (aws_access_key_id, aws_endpoint_url, ...)"
            ) from None

    def __repr__(self) -> str:  # never the credentials
        return f"ObjectStore({self.uri!r})"

    # -- names -------------------------------------------------------------------------------
    def key(self, relpath: str) -> str:
        """The object's key in the bucket for a path relative to the root."""
        return f"{self._prefix}/{relpath}" if self._prefix else relpath

    def uri_of(self, relpath: str) -> str:
        """The object's full URI (as the root was written: ``s3a://`` stays ``s3a://``)."""
        return f"{self.uri}/{relpath}"

    def parent_keys(self, name: str) -> list[str]:
        """``name`` at the root and at every prefix above it, up to the bucket (the guard's
        walk of the manifests above a root)."""
        parts = self._prefix.split("/") if self._prefix else []
        return ["/".join([*parts[:i], name]) for i in range(len(parts), -1, -1)]

    def check_tiers(self) -> None:
        """Refuse the root if a manifest at it or at any prefix above it (up to the bucket)
        declares tier production: the guard's rule for local folders, applied to keys."""
        from omni_research.config import MANIFEST_NAME

        found = {}
        for key in self.parent_keys(MANIFEST_NAME):
            uri = f"{self.uri.split('://', 1)[0]}://{self.bucket}/{key}"
            raw = self._get_optional(key, uri)
            if raw is not None:
                found[uri] = raw
        _guard.check_uri_tiers(self.uri, found)

    def _get_optional(self, key: str, uri: str) -> bytes | None:
        try:
            return self.get_key(key, uri)
        except MissingObjectError:
            return None

    # -- errors ------------------------------------------------------------------------------
    @contextmanager
    def _errors(self, uri: str, doing: str) -> Iterator[None]:
        from obstore import exceptions as obx

        try:
            yield
        except (obx.PermissionDeniedError, obx.UnauthenticatedError) as exc:
            raise StorageError(
                f"{uri}: the store refused to {doing} (access denied: "
                f"{self._brief(exc)}); check the credentials (AWS_ACCESS_KEY_ID / "
                "AWS_SECRET_ACCESS_KEY or storage_options) and the identity's rights"
            ) from None
        except (obx.PreconditionError, obx.AlreadyExistsError) as exc:
            raise WriteConflictError(
                f"{uri}: another writer changed it since it was read ({self._brief(exc)}); "
                "nothing was replaced. Re-read the manifest and retry the write"
            ) from None
        except FileNotFoundError as exc:
            if "NoSuchBucket" in str(exc):
                raise self._no_bucket(uri) from None
            raise MissingObjectError(
                f"{uri}: no such object ({self._brief(exc)}); expected it under the root. "
                "Run `omni-research verify` on the root, or sync it again"
            ) from None
        except (obx.BaseError, OSError, RuntimeError) as exc:
            text = self._brief(exc)
            if "NoSuchBucket" in str(exc):
                raise self._no_bucket(uri) from None
            raise StorageError(
                f"{uri}: could not {doing} ({text}); check that the store is reachable "
                "(AWS_ENDPOINT_URL / storage_options) and retry"
            ) from None

    def _no_bucket(self, uri: str) -> StorageError:
        return StorageError(
            f"{uri}: bucket {self.bucket!r} does not exist (or is not visible to these "
            "credentials); create it or fix the URI"
        )

    def _brief(self, exc: BaseException) -> str:
        """The first line of a store error, without secrets."""
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return self._scrub(first[:300])

    # -- requests ----------------------------------------------------------------------------
    def list(self) -> list[ObjectInfo]:
        """Every object under the root (keys relative to it), sorted by key."""
        import obstore

        _guard.check_uri(self.uri)
        base = f"{self._prefix}/" if self._prefix else ""
        out = []
        with self._errors(self.uri, "list the objects"):
            for chunk in obstore.list(self._store, prefix=self._prefix or None, chunk_size=1000):
                for meta in chunk:
                    path = str(meta["path"])
                    if not path.startswith(base):
                        continue
                    out.append(
                        ObjectInfo(
                            key=path[len(base) :], size=int(meta["size"]), e_tag=meta["e_tag"]
                        )
                    )
        return sorted(out, key=lambda o: o.key)

    def get(self, relpath: str) -> bytes:
        """The bytes of one object (the guard runs on its URI first)."""
        return self.get_key(self.key(relpath), self.uri_of(relpath))

    def get_key(self, key: str, uri: str) -> bytes:
        """The bytes of the object at bucket key ``key`` (``uri`` names it in messages)."""
        import obstore

        _guard.check_uri(uri)
        with self._errors(uri, "read it"):
            return bytes(obstore.get(self._store, key).bytes())

    def get_versioned(self, relpath: str) -> tuple[bytes, str | None] | None:
        """The bytes and entity tag of one object, or ``None`` if it does not exist."""
        import obstore

        uri = self.uri_of(relpath)
        _guard.check_uri(uri)
        try:
            with self._errors(uri, "read it"):
                result = obstore.get(self._store, self.key(relpath))
                return bytes(result.bytes()), result.meta["e_tag"]
        except MissingObjectError:
            return None

    def open_reader(self, relpath: str) -> BinaryIO:
        """A seekable reader of one object, fetching the ranges read (for a Parquet footer)."""
        import obstore

        uri = self.uri_of(relpath)
        _guard.check_uri(uri)
        with self._errors(uri, "open it"):
            reader = obstore.open_reader(self._store, self.key(relpath), buffer_size=64 * 1024)
        return cast("BinaryIO", _Reader(reader, self, uri))

    def put(self, relpath: str, data: bytes) -> str | None:
        """Write one object in a single PUT (atomic); returns its entity tag."""
        import obstore

        uri = self.uri_of(relpath)
        _guard.check_uri(uri)
        with self._errors(uri, "write it"):
            return obstore.put(self._store, self.key(relpath), data)["e_tag"]

    def put_if(self, relpath: str, data: bytes, *, e_tag: str | None) -> str | None:
        """Write one object only if it is still the version read (``e_tag``), or, with
        ``e_tag=None``, only if it does not exist yet.

        Raises
        ------
        WriteConflictError
            If another writer created or replaced it in between (HTTP 412 from the store).
        """
        import obstore

        uri = self.uri_of(relpath)
        _guard.check_uri(uri)
        mode: Any = "create" if e_tag is None else {"e_tag": e_tag}
        with self._errors(uri, "write it"):
            return obstore.put(self._store, self.key(relpath), data, mode=mode)["e_tag"]

    def delete(self, relpath: str) -> None:
        """Remove one object (a missing one is not an error)."""
        import obstore

        uri = self.uri_of(relpath)
        _guard.check_uri(uri)
        with self._errors(uri, "delete it"):
            obstore.delete(self._store, self.key(relpath))


class _Reader:
    """obstore's readable file with store errors mapped to the kit's (for pyarrow)."""

    def __init__(self, inner: Any, store: ObjectStore, uri: str) -> None:
        self._inner, self._store, self._uri = inner, store, uri
        self.closed = False

    def _call(self, fn: Callable[[], T]) -> T:
        with self._store._errors(self._uri, "read it"):
            return fn()

    def read(self, size: int = -1) -> bytes:
        return bytes(self._call(lambda: self._inner.read(size if size >= 0 else None)))

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self._call(lambda: self._inner.seek(offset, whence)))

    def tell(self) -> int:
        return int(self._inner.tell())

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    @property
    def size(self) -> int:
        return int(self._inner.size)

    def close(self) -> None:
        self.closed = True
        self._inner.close()

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def is_uri(root: object) -> bool:
    """Whether ``root`` names object storage (``s3://``, ``gs://``, ``az://`` and aliases)."""
    scheme = _guard.uri_scheme(root) if isinstance(root, str) else None
    return scheme is not None and scheme != "file"
