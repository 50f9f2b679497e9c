"""Frozen settings. Every ``OMNI_*`` environment variable is read here and nowhere else."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from omni_research.exceptions import MissingKeyError

SCHEMA_VERSION = "1.0"
MANIFEST_NAME = "omni-data.toml"
# how every Parquet file the kit writes is written (plain or encrypted): zstd, with page
# checksums so a flipped byte is an error on read, and statistics for predicate pushdown
PARQUET_WRITE_OPTIONS: dict[str, object] = {
    "compression": "zstd",
    "compression_level": 9,
    "write_page_checksum": True,
    "write_statistics": True,
}


def data_test_root() -> Path:
    """The shipped test data root: ``omni_research/data_test`` in an installed wheel, else the
    checkout's ``data_test/`` (a source checkout or an editable install).

    The wheel's copy is written at build time by ``setup.py`` from the repository's folder, so
    the two hold the same files; an installed root may be read-only, which the catalog accepts
    (it only reads; the audit log lives outside every root, see ``Settings.audit_log``).
    """
    package = Path(__file__).resolve().parent
    installed = package / "data_test"
    return installed if installed.is_dir() else package.parent / "data_test"


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Settings taken from the environment.

    Attributes
    ----------
    production_paths : tuple of str
        ``OMNI_PRODUCTION_PATHS``: path or URI prefixes that are production data, separated
        by commas, semicolons or ``:``. Reads under any of them are refused.
    audit_log : Path
        ``OMNI_AUDIT_LOG``: the hash-chained JSON-lines audit log of every read and every
        refusal (``omni-research audit verify|show``); by default
        ``$XDG_CACHE_HOME/omni_research/audit.jsonl`` (``~/.cache/...``).
    pseudonym_key : str or None
        ``OMNI_PSEUDONYM_KEY``: key of the keyed hash that pseudonymises account ids of
        research-tier trading data.
    chromium : str or None
        ``OMNI_CHROMIUM``: the Chromium executable that prints PDF reports (default: Debian's
        ``/usr/bin/chromium`` or one on ``PATH``).
    user : str or None
        ``OMNI_USER``: the identity a deployment gives the reader (a JupyterHub user running
        under a shared service account, say). Honoured only for the OS accounts a root's
        ``[access] service_accounts`` lists; see docs/security.md (an environment variable
        is a claim, not authentication).
    allow_http_hosts : tuple of str
        ``OMNI_ALLOW_HTTP_HOSTS``: host names (comma-separated) to which plain ``http://``
        is allowed although they are not the loopback; every other host needs HTTPS.
    kms : str or None
        ``OMNI_KMS``: the key management service holding the master keys of encrypted
        kinds: ``kmip://host:port`` (a KMIP server) or ``file:///path/keys.json`` (a local
        key file, mode 0600, outside every data root). See docs/security.md.
    kmip_ca, kmip_cert, kmip_key : str or None
        ``OMNI_KMIP_CA``, ``OMNI_KMIP_CERT``, ``OMNI_KMIP_KEY``: PEM files of the CA that
        signed the KMIP server's certificate, and of this client's certificate and key.
    """

    production_paths: tuple[str, ...]
    audit_log: Path
    pseudonym_key: str | None
    chromium: str | None = None
    user: str | None = None
    allow_http_hosts: tuple[str, ...] = ()
    kms: str | None = None
    kmip_ca: str | None = None
    kmip_cert: str | None = None
    kmip_key: str | None = None

    def require_pseudonym_key(self) -> bytes:
        """The pseudonymisation key, or a MissingKeyError (a ConfigurationError) saying how
        to set it."""
        if not self.pseudonym_key:
            raise MissingKeyError(
                "research-tier trading data holds account identifiers that must be pseudonymised "
                "on load, but OMNI_PSEUDONYM_KEY is not set; expected a secret key in the "
                "environment, e.g. `export OMNI_PSEUDONYM_KEY=$(openssl rand -hex 32)`"
            )
        return self.pseudonym_key.encode("utf-8")


def settings() -> Settings:
    """Read the settings from the environment now (cheap; never cached, so tests can patch)."""
    raw = os.environ.get("OMNI_PRODUCTION_PATHS", "")
    # commas, semicolons or colons separate entries; the colon of "s3://" does not
    parts = [p.strip() for p in re.split(r",|;|:(?!//)", raw)]
    audit = os.environ.get("OMNI_AUDIT_LOG")
    if audit:
        audit_path = Path(audit).expanduser()
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        audit_path = Path(cache) / "omni_research" / "audit.jsonl"
    return Settings(
        production_paths=tuple(p for p in parts if p),
        audit_log=audit_path,
        pseudonym_key=os.environ.get("OMNI_PSEUDONYM_KEY") or None,
        chromium=os.environ.get("OMNI_CHROMIUM") or None,
        user=os.environ.get("OMNI_USER", "").strip() or None,
        allow_http_hosts=tuple(
            h.strip().lower()
            for h in os.environ.get("OMNI_ALLOW_HTTP_HOSTS", "").split(",")
            if h.strip()
        ),
        kms=os.environ.get("OMNI_KMS", "").strip() or None,
        kmip_ca=os.environ.get("OMNI_KMIP_CA") or None,
        kmip_cert=os.environ.get("OMNI_KMIP_CERT") or None,
        kmip_key=os.environ.get("OMNI_KMIP_KEY") or None,
    )
