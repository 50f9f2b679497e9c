"""The shared HTTP machinery of every source: settings, limits as data, one retry policy.

httpx's own split is the model: :class:`HttpSession` owns one ``httpx.Client`` per
download (timeouts always set, certificates always checked, HTTPS to every host that is
not the loopback), and all retrying happens in one place, a tenacity policy built from a
:class:`RetryPolicy`:

* **retried** with exponential backoff and jitter: timeouts, connection resets, truncated
  or unparseable bodies, HTTP 5xx, and a provider's "server busy" codes;
* **waited for**: a provider's rate-limit answer (Bybit ``retCode 10006``: until the
  ``X-Bapi-Limit-Reset-Timestamp`` header; HTTP 429: ``Retry-After``);
* **never retried**: other 4xx client errors and a provider's error codes (the request
  itself is wrong), and Bybit's HTTP 403 "access too frequent", an IP ban for minutes:
  the download stops with :class:`~omni_research.exceptions.SourceError` saying when to
  run it again (it resumes where it stopped).

Each provider's limits are a :class:`Limits` row of :data:`LIMITS`; a client-side window
keeps the request rate under the documented budget before the server has to say so.

Base URLs come from the environment (``OMNI_BYBIT_API_URL``, ``OMNI_BYBIT_PUBLIC_URL``,
``OMNI_BYBIT_ORDERBOOK_URL``, ``OMNI_COINGECKO_API_URL``, ``OMNI_NEWSAPI_URL``,
``OMNI_X_API_URL``), read here through :func:`source_settings` (one frozen object), so that
tests and company mirrors can point elsewhere.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import tenacity

from omni_research._network import check_url
from omni_research.exceptions import ConfigurationError, SourceError

T = TypeVar("T")

__all__ = [
    "LIMITS",
    "CorruptBody",
    "HttpSession",
    "Limits",
    "RetryPolicy",
    "SourceSettings",
    "Transient",
    "check_base_url",
    "public_url",
    "shape_error",
    "source_settings",
]


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True, kw_only=True)
class SourceSettings:
    """Base URLs of the providers, from the environment (real hosts by default).

    Attributes
    ----------
    bybit_api_url : str
        ``OMNI_BYBIT_API_URL``: Bybit's v5 REST API.
    bybit_public_url : str
        ``OMNI_BYBIT_PUBLIC_URL``: Bybit's public trading-history dumps.
    bybit_orderbook_url : str
        ``OMNI_BYBIT_ORDERBOOK_URL``: Bybit's historical order-book dumps.
    coingecko_api_url : str
        ``OMNI_COINGECKO_API_URL``.
    newsapi_url : str
        ``OMNI_NEWSAPI_URL``.
    x_api_url : str
        ``OMNI_X_API_URL``.
    """

    bybit_api_url: str = "https://api.bybit.com"
    bybit_public_url: str = "https://public.bybit.com"
    bybit_orderbook_url: str = "https://quote-saver.bycsi.com"
    coingecko_api_url: str = "https://api.coingecko.com/api/v3"
    newsapi_url: str = "https://newsapi.org"
    x_api_url: str = "https://api.x.com"


ENVIRONMENT: dict[str, str] = {
    "bybit_api_url": "OMNI_BYBIT_API_URL",
    "bybit_public_url": "OMNI_BYBIT_PUBLIC_URL",
    "bybit_orderbook_url": "OMNI_BYBIT_ORDERBOOK_URL",
    "coingecko_api_url": "OMNI_COINGECKO_API_URL",
    "newsapi_url": "OMNI_NEWSAPI_URL",
    "x_api_url": "OMNI_X_API_URL",
}
"""Which environment variable sets which :class:`SourceSettings` field."""


def source_settings() -> SourceSettings:
    """Read the providers' base URLs from the environment now (never cached).

    Every URL is checked by :func:`check_base_url`.

    Raises
    ------
    ConfigurationError
        If a URL is not ``https://`` (plain ``http://`` is accepted for the loopback only)
        or has no host; the message names the environment variable.
    """
    values: dict[str, str] = {}
    for name, variable in ENVIRONMENT.items():
        raw = os.environ.get(variable, "").strip()
        if raw:
            values[name] = check_base_url(raw, variable=variable)
    return SourceSettings(**values)


def check_base_url(url: str, /, *, variable: str = "base URL") -> str:
    """Return ``url`` without a trailing ``/`` if it is a usable base URL; else raise.

    HTTPS (with the certificate checked) is required for every host that is not the
    loopback (``127.0.0.0/8``, ``::1``, ``localhost``), where the test servers run, unless
    the host is named in ``OMNI_ALLOW_HTTP_HOSTS`` (:func:`omni_research._network.check_url`).

    Examples
    --------
    >>> check_base_url("http://127.0.0.1:8080/")
    'http://127.0.0.1:8080'
    """
    try:
        check_url(url)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{variable}: {exc}") from None
    return url.rstrip("/")


# --------------------------------------------------------------------------- limits


@dataclass(frozen=True, kw_only=True)
class Limits:
    """A provider's documented request limits and error conventions, as data.

    Attributes
    ----------
    source : str
        The provider's name, for messages.
    requests, window : int, float
        At most ``requests`` requests per ``window`` seconds from this process.
    code_field : str or None
        The JSON field of the provider's own status code (Bybit: ``retCode``, 0 is OK).
    rate_limit_codes : frozenset of int
        Codes meaning "too many requests, wait" (Bybit: 10006).
    retry_codes : frozenset of int
        Codes meaning a transient server fault worth retrying (Bybit: 10000 server
        timeout, 10016 server error).
    reset_header : str or None
        Header holding when the rate-limit window resets, an epoch time in
        ``reset_unit`` (Bybit: ``X-Bapi-Limit-Reset-Timestamp``, milliseconds; X:
        ``x-rate-limit-reset``, seconds).
    reset_unit : float
        Seconds per unit of ``reset_header``: ``0.001`` for milliseconds, ``1.0`` for
        seconds.
    remaining_header : str or None
        Header holding the requests left in the current window (Bybit:
        ``X-Bapi-Limit-Status``); at 0 the next request waits for the reset instead of
        being refused.
    ban_status : int or None
        HTTP status of an IP ban (Bybit: 403 "access too frequent"): stop, do not retry.
    ban_minutes : float
        How long the ban lasts, for the message.
    max_wait : float
        Longest wait (seconds) for a rate-limit reset before giving up.
    """

    source: str
    requests: int
    window: float
    code_field: str | None = None
    rate_limit_codes: frozenset[int] = frozenset()
    retry_codes: frozenset[int] = frozenset()
    reset_header: str | None = None
    reset_unit: float = 0.001
    remaining_header: str | None = None
    ban_status: int | None = None
    ban_minutes: float = 10.0
    max_wait: float = 60.0

    def reset_wait(self, headers: Mapping[str, str], /) -> float | None:
        """Seconds until the rate-limit window resets, from ``headers`` (a response's).

        Reads :attr:`reset_header` as an epoch time in :attr:`reset_unit` seconds; None
        when there is no such header or it is not a number.

        Examples
        --------
        >>> Limits(source="X", requests=1, window=1.0).reset_wait({}) is None
        True
        """
        if self.reset_header is None:
            return None
        try:
            reset = float(str(headers.get(self.reset_header)))
        except ValueError:
            return None
        if reset != reset or abs(reset) == float("inf"):
            return None
        return max(0.0, reset * self.reset_unit - time.time()) + 0.01


LIMITS: dict[str, Limits] = {
    "bybit": Limits(
        source="Bybit",
        requests=600,
        window=5.0,
        code_field="retCode",
        rate_limit_codes=frozenset({10006}),
        retry_codes=frozenset({10000, 10016}),
        reset_header="X-Bapi-Limit-Reset-Timestamp",
        reset_unit=0.001,
        remaining_header="X-Bapi-Limit-Status",
        ban_status=403,
        ban_minutes=10.0,
    ),
    "bybit_public": Limits(source="Bybit public dumps", requests=600, window=5.0, ban_status=403),
    "coingecko": Limits(source="CoinGecko", requests=30, window=60.0),
    "newsapi": Limits(source="NewsAPI", requests=100, window=86_400.0),
    "x": Limits(
        source="X",
        requests=450,
        window=900.0,
        reset_header="x-rate-limit-reset",
        reset_unit=1.0,
    ),
}
"""Per-provider limits: Bybit about 600 requests per 5 s per IP (403 = banned ~10 min,
``retCode 10006`` = per-second limit with a reset header); CoinGecko's demo plan about 30
calls a minute; NewsAPI's free plan 100 requests a day; X recent search 450 per 15 min."""


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How transient faults are retried: exponential backoff with jitter, bounded attempts.

    Attributes
    ----------
    attempts : int
        Tries per request in total (the first one included).
    initial, maximum, jitter : float
        Seconds: the first backoff, its ceiling, and the random jitter added to each.
    timeout : float
        Seconds a read may take (connect: at most 10 s).
    """

    attempts: int = 6
    initial: float = 0.5
    maximum: float = 30.0
    jitter: float = 0.5
    timeout: float = 30.0


SECRET_PARAMS = frozenset(
    {"apikey", "api_key", "x_cg_demo_api_key", "x_cg_pro_api_key", "token", "access_token"}
)
"""Query parameters whose values never appear in messages or logs."""


def public_url(url: str | httpx.URL, /, *, secrets: Iterable[str] = ()) -> str:
    """``url`` with the values of secret query parameters (and any of ``secrets``) masked.

    Examples
    --------
    >>> public_url("https://newsapi.org/v2/everything?q=btc&apiKey=abc123")
    'https://newsapi.org/v2/everything?q=btc&apiKey=***'
    """
    parts = urlsplit(str(url))
    query = [
        (k, "***" if k.lower() in SECRET_PARAMS else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    text = urlunsplit(parts._replace(query=urlencode(query, safe="*,")))
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def shape_error(
    url: str, what: str, /, *, source: str, documentation: str, module: str
) -> SourceError:
    """The error for a response whose shape differs from the provider's documentation.

    Examples
    --------
    >>> print(shape_error("https://h/p", "no 'list'", source="Bybit",
    ...                   documentation="the v5 documentation", module="m"))
    Bybit: GET https://h/p answered in a shape that differs from the v5 documentation: no 'list'. Nothing of this unit was written; if Bybit changed its API, update the kit (m)
    """  # noqa: E501
    return SourceError(
        f"{source}: GET {url} answered in a shape that differs from {documentation}: "
        f"{what}. Nothing of this unit was written; if {source} changed its API, update the "
        f"kit ({module})",
        url=url,
    )


# --------------------------------------------------------------------------- session


class Transient(Exception):
    """A fault worth another try; ``wait`` (seconds) when the provider said how long.

    Raised inside the retry policy (by the session itself, by a response hook given to
    :class:`HttpSession`, or by a ``decode`` function of :meth:`HttpSession.get_decoded`
    through :class:`CorruptBody`), it makes the request go again.
    """

    def __init__(self, reason: str, *, url: str, status: int | None, wait: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.url = url
        self.status = status
        self.wait = wait


class CorruptBody(Exception):
    """Raised by a ``decode`` of :meth:`HttpSession.get_decoded` for a damaged body (a
    truncated gzip or zip file): the request is retried like a truncated response."""


class _Window:
    """At most ``requests`` calls per ``window`` seconds (a sliding window of send times)."""

    def __init__(self, limits: Limits, sleep: Callable[[float], None]) -> None:
        self._limits = limits
        self._sleep = sleep
        self._sent: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()
        self._paused_until = 0.0  # time.monotonic() before which nothing is sent

    def pause(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (the provider said the window is used up)."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def acquire(self) -> None:
        with self._lock:
            now = time.monotonic()
            if self._paused_until > now:
                self._sleep(self._paused_until - now)
                now = time.monotonic()
            while self._sent and now - self._sent[0] >= self._limits.window:
                self._sent.popleft()
            if len(self._sent) >= self._limits.requests:
                self._sleep(self._limits.window - (now - self._sent[0]))
                self._sent.popleft()
            self._sent.append(time.monotonic())


class HttpSession:
    """One ``httpx.Client`` for one download from one provider, with the retry policy.

    Parameters
    ----------
    base_url
        The provider's base URL (checked by :func:`check_base_url`).
    limits
        The provider's :class:`Limits`.
    policy
        The :class:`RetryPolicy`.
    headers
        Extra request headers (an API key header, say); their values are treated as
        secrets and masked in every message.
    response_hooks
        Functions called with every ``httpx.Response`` before the session judges it (a
        provider's own error objects, its own rate-limit headers). A hook may raise
        :class:`Transient` (retried, after its ``wait``) or
        :class:`~omni_research.exceptions.SourceError` (stops); returning lets the
        session's own handling apply.
    sleep
        The function that waits (tests pass a fast one).

    Attributes
    ----------
    requests : int
        Requests sent, retries included.
    retries : int
        Requests that were retries of an earlier one.
    bytes : int
        Response bytes received.
    """

    def __init__(
        self,
        base_url: str,
        /,
        *,
        limits: Limits,
        policy: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        response_hooks: Sequence[Callable[[httpx.Response], None]] = (),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = check_base_url(base_url)
        self.limits = limits
        self.policy = policy if policy is not None else RetryPolicy()
        self.requests = 0
        self.retries = 0
        self.bytes = 0
        self._secrets = tuple(v for v in (headers or {}).values() if v)
        self._sleep = sleep
        self._window = _Window(limits, sleep)
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(self.policy.timeout, connect=min(10.0, self.policy.timeout)),
            verify=True,
            follow_redirects=False,
            headers={"User-Agent": "omni-research", **dict(headers or {})},
            event_hooks={"response": list(response_hooks)},
        )

    def __enter__(self) -> HttpSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the client and its connections."""
        self._client.close()

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """The public form of a request URL (secrets masked), for messages."""
        request = self._client.build_request("GET", path, params=_params(params))
        return public_url(request.url, secrets=self._secrets)

    def mask(self, text: str, /) -> str:
        """``text`` with every secret of this session (the key headers' values) masked."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def excerpt(self, response: httpx.Response, /, *, size: int = 200) -> str:
        """The start of ``response``'s body for a message: one line, secrets masked."""
        return self.mask(response.text)[:size].replace("\n", " ")

    # -- retrying -----------------------------------------------------------------------
    def _retrying(self) -> tenacity.Retrying:
        policy = self.policy
        backoff = tenacity.wait_exponential_jitter(
            multiplier=policy.initial, max=policy.maximum, jitter=policy.jitter
        )
        max_wait = self.limits.max_wait

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome is not None else None
            if isinstance(exc, Transient) and exc.wait is not None:
                return min(max(exc.wait, 0.0), max_wait)
            return float(backoff(state))

        def count(_state: tenacity.RetryCallState) -> None:
            self.retries += 1

        return tenacity.Retrying(
            stop=tenacity.stop_after_attempt(policy.attempts),
            wait=wait,
            retry=tenacity.retry_if_exception_type(Transient),
            before_sleep=count,
            sleep=self._sleep,
            reraise=True,
        )

    def _run(self, once: Callable[[], Any]) -> Any:
        try:
            for attempt in self._retrying():
                with attempt:
                    return once()
        except Transient as exc:
            raise SourceError(
                f"{self.limits.source}: GET {exc.url} failed {self.policy.attempts} times; "
                f"the last answer: {exc.reason}. Nothing of this unit was written; run the "
                "same download again later: it resumes where it stopped",
                url=exc.url,
                status=exc.status,
            ) from None
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    # -- one request ----------------------------------------------------------------------
    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` and return its parsed JSON, retrying transient faults.

        Raises
        ------
        SourceError
            For a fault retrying cannot fix (a 4xx, an IP ban, a provider error code), or
            when the attempts ran out; the message names the URL and the status.
        """
        return self._run(lambda: self._json_once(path, params))

    def get_bytes(self, path: str, params: Mapping[str, Any] | None = None) -> bytes:
        """GET ``path`` and return the complete body, retrying transient faults."""
        body: bytes = self._run(lambda: self._send(path, params).content)
        return body

    def get_decoded(
        self,
        path: str,
        decode: Callable[[bytes], T],
        /,
        params: Mapping[str, Any] | None = None,
    ) -> T:
        """GET ``path`` and ``decode`` its body, both inside the retry policy.

        ``decode`` raises :class:`CorruptBody` for a damaged body (fetched again, like a
        truncated response) and :class:`~omni_research.exceptions.SourceError` for a body
        whose content differs from the documented shape (not retried).
        """

        def once() -> T:
            response = self._send(path, params)
            body = response.content
            try:
                return decode(body)
            except CorruptBody as exc:
                raise Transient(
                    f"a corrupt or incomplete file ({exc}; {len(body)} bytes received)",
                    url=public_url(response.request.url, secrets=self._secrets),
                    status=response.status_code,
                ) from None

        result: T = self._run(once)
        return result

    def _send(self, path: str, params: Mapping[str, Any] | None) -> httpx.Response:
        request = self._client.build_request("GET", path, params=_params(params))
        shown = public_url(request.url, secrets=self._secrets)
        try:  # every request, not only the base URL: a path may be an absolute URL
            check_url(str(request.url))
        except ConfigurationError as exc:
            raise ConfigurationError(self.mask(str(exc))) from None
        self._window.acquire()
        self.requests += 1
        try:
            response = self._client.send(request)
            response.read()
            self.bytes += len(response.content)
            self._note_remaining(response)
        except httpx.TimeoutException as exc:
            raise Transient(f"timed out ({type(exc).__name__})", url=shown, status=None) from None
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise Transient(
                f"connection reset or body cut short ({type(exc).__name__}: {exc})",
                url=shown,
                status=None,
            ) from None
        except httpx.HTTPError as exc:
            raise SourceError(
                f"{self.limits.source}: GET {shown} could not be sent ({exc}); check the base URL",
                url=shown,
            ) from None
        status = response.status_code
        if 200 <= status < 300:
            return response
        body = self.excerpt(response)
        limits = self.limits
        if limits.ban_status is not None and status == limits.ban_status:
            resume = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=limits.ban_minutes)
            raise SourceError(
                f"{limits.source}: GET {shown} answered HTTP {status} ({body!r}): the "
                f"provider refuses this IP for about {limits.ban_minutes:g} minutes ('access "
                "too frequent'). The download stopped; what was committed stays. Run it again "
                f"after {resume:%Y-%m-%d %H:%M} UTC: it resumes where it stopped",
                url=shown,
                status=status,
            )
        if status == 429:
            raise Transient(
                f"HTTP 429 too many requests ({body!r})",
                url=shown,
                status=status,
                wait=_retry_after(response),
            )
        if status >= 500:
            raise Transient(f"HTTP {status} ({body!r})", url=shown, status=status)
        raise SourceError(
            f"{limits.source}: GET {shown} answered HTTP {status} ({body!r}); a client error "
            "is not retried: check the symbols, the dates and the options",
            url=shown,
            status=status,
        )

    def _note_remaining(self, response: httpx.Response) -> None:
        header = self.limits.remaining_header
        if header is None:
            return
        try:
            remaining = int(response.headers.get(header, ""))
        except ValueError:
            return
        if remaining <= 0:
            wait = self.limits.reset_wait(response.headers)
            self._window.pause(min(wait if wait is not None else 1.0, self.limits.max_wait))

    def _json_once(self, path: str, params: Mapping[str, Any] | None) -> Any:
        response = self._send(path, params)
        shown = public_url(response.request.url, secrets=self._secrets)
        try:
            data = json.loads(response.content)
        except ValueError as exc:
            raise Transient(
                f"a body that is not complete JSON ({exc}; {len(response.content)} bytes)",
                url=shown,
                status=response.status_code,
            ) from None
        field = self.limits.code_field
        if field is None:
            return data
        if not isinstance(data, dict) or field not in data:
            raise SourceError(
                f"{self.limits.source}: GET {shown} answered without {field!r}; expected the "
                f"documented envelope {{{field}, retMsg, result, time}}",
                url=shown,
                status=response.status_code,
            )
        code = data[field]
        message = self.mask(str(data.get("retMsg", "")))[:200]
        if code == 0:
            return data
        if code in self.limits.rate_limit_codes:
            raise Transient(
                f"{field} {code} ({message!r}): rate limit",
                url=shown,
                status=response.status_code,
                wait=self.limits.reset_wait(response.headers),
            )
        if code in self.limits.retry_codes:
            raise Transient(f"{field} {code} ({message!r})", url=shown, status=response.status_code)
        raise SourceError(
            f"{self.limits.source}: GET {shown} answered {field} {code} ({message!r}); the "
            "provider refused the request: check the symbols, the category and the options",
            url=shown,
            status=response.status_code,
        )


def _params(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not params:
        return None
    return {k: str(v) for k, v in params.items() if v is not None}


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
