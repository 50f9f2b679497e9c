"""Which URLs the kit may talk to: HTTPS everywhere, plain HTTP only to the loopback.

The rule, for every request the kit sends (the sources' :class:`HttpSession`) and every
endpoint it is given (object storage):

* ``https://`` to any host, always with the certificate checked (the kit never turns
  verification off; clients are built with ``verify=True``);
* ``http://`` only to the loopback (``127.0.0.0/8``, ``::1``, ``localhost``), where test
  servers run, or to a host the user names in ``OMNI_ALLOW_HTTP_HOSTS`` (a comma-separated
  list of exact host names: an opt-in per host, never a switch for all hosts);
* any other scheme, a URL without a host, or credentials inside the URL: refused.

A refusal is a :class:`~omni_research.exceptions.ConfigurationError` naming the URL (with
its query string dropped: it may hold a key) and the variable that would allow it.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from omni_research.config import settings
from omni_research.exceptions import ConfigurationError

__all__ = ["ALLOW_HTTP_VARIABLE", "check_url", "is_loopback"]

ALLOW_HTTP_VARIABLE = "OMNI_ALLOW_HTTP_HOSTS"
"""The environment variable naming the non-loopback hosts plain HTTP may reach."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is the loopback: ``localhost``, ``127.0.0.0/8`` or ``::1``."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _shown(url: str) -> str:
    """The URL without its query and fragment (a query may carry a key)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split("?", 1)[0][:80]
    return parts._replace(query="", fragment="").geturl() if parts.scheme else url[:80]


def check_url(url: str, /) -> str:
    """Return ``url`` if the kit may send a request to it; raise otherwise.

    Parameters
    ----------
    url
        An absolute URL.

    Returns
    -------
    str
        ``url``, unchanged.

    Raises
    ------
    ConfigurationError
        A scheme other than http/https, no host, credentials in the URL, or plain http to
        a host that is neither the loopback nor listed in ``OMNI_ALLOW_HTTP_HOSTS``.

    Examples
    --------
    >>> check_url("https://api.bybit.com/v5/market/kline")
    'https://api.bybit.com/v5/market/kline'
    >>> check_url("http://127.0.0.1:8080/x")
    'http://127.0.0.1:8080/x'
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        credentials = bool(parts.username or parts.password)
    except ValueError as exc:  # a malformed port or IPv6 literal
        raise ConfigurationError(f"{_shown(url)} is not a valid URL ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        raise ConfigurationError(
            f"{_shown(url)}: expected an https:// URL with a host, such as https://api.bybit.com"
        )
    if credentials:
        raise ConfigurationError(
            f"{scheme}://{host}: the URL carries credentials; keys come from their own "
            "environment variables, never from a URL"
        )
    if scheme == "http" and not is_loopback(host):
        allowed = settings().allow_http_hosts
        if host.lower().rstrip(".") not in allowed:
            raise ConfigurationError(
                f"{_shown(url)}: plain http is accepted only for the loopback and for hosts "
                f"named in {ALLOW_HTTP_VARIABLE} (nothing checks who answers, and anyone on "
                "the path can read or change the data); use https://, or, for a trusted host "
                f"inside your network, opt in by name: {ALLOW_HTTP_VARIABLE}={host}"
            )
    return url
