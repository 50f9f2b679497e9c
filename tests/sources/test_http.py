"""The shared HTTP machinery against a real loopback server: retries, limits, refusals."""

from __future__ import annotations

import time

import pytest

from omni_research.exceptions import ConfigurationError, SourceError
from omni_research.sources import LIMITS, Limits, source_settings
from omni_research.sources._http import HttpSession, check_base_url, public_url
from omni_research.testing._fake_bybit import FakeBybit
from tests.sources.conftest import FAST

KLINE = "/v5/market/kline"
PARAMS = {"category": "linear", "symbol": "BTCUSDT", "interval": "60", "limit": 3}


def _session(fake: FakeBybit, **kw: object) -> HttpSession:
    return HttpSession(fake.url, limits=LIMITS["bybit"], policy=FAST, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    ["http://api.bybit.com", "ftp://127.0.0.1", "https://", "https://user:pw@api.bybit.com"],
)
def test_check_base_url_refuses_plain_http_off_loopback_and_credentials(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"expected|only for the loopback|credentials"):
        check_base_url(url)


@pytest.mark.parametrize(
    "url", ["https://api.bybit.com/", "http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9"]
)
def test_check_base_url_accepts_https_and_loopback_http(url: str) -> None:
    assert check_base_url(url) == url.rstrip("/")


def test_source_settings_read_every_variable_with_real_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert source_settings().bybit_api_url == "https://api.bybit.com"
    monkeypatch.setenv("OMNI_NEWSAPI_URL", "http://127.0.0.1:1234/")
    assert source_settings().newsapi_url == "http://127.0.0.1:1234"
    monkeypatch.setenv("OMNI_X_API_URL", "http://x.example.com")
    with pytest.raises(ConfigurationError, match="OMNI_X_API_URL"):
        source_settings()


def test_public_url_masks_secret_parameters_and_given_secrets() -> None:
    shown = public_url("https://h/p?q=1&apiKey=s3cret&token=abc&x=tok9", secrets=["tok9"])
    assert "s3cret" not in shown and "abc" not in shown and "tok9" not in shown
    assert "q=1" in shown


@pytest.mark.xdist_group("servers")
@pytest.mark.parametrize("fault", ["http_500", "truncated", "reset"])
def test_transient_fault_is_retried_and_the_answer_is_the_faultless_one(
    fake_bybit: FakeBybit, fault: str
) -> None:
    with _session(fake_bybit) as http:
        clean = http.get_json(KLINE, PARAMS)
        fake_bybit.inject(fault, times=2)
        again = http.get_json(KLINE, PARAMS)
        assert (http.requests, http.retries) == (4, 2)
    assert again["result"] == clean["result"]


@pytest.mark.xdist_group("servers")
def test_slow_answer_times_out_and_is_retried(fake_bybit: FakeBybit) -> None:
    from dataclasses import replace

    policy = replace(FAST, timeout=0.2)
    fake_bybit.inject("slow", wait=1.0)
    with HttpSession(fake_bybit.url, limits=LIMITS["bybit"], policy=policy) as http:
        data = http.get_json(KLINE, PARAMS)
        assert http.retries == 1
    assert len(data["result"]["list"]) == 3


@pytest.mark.xdist_group("servers")
def test_rate_limit_code_waits_until_the_reset_header(fake_bybit: FakeBybit) -> None:
    fake_bybit.inject("rate_limit", wait=0.4)
    with _session(fake_bybit) as http:
        began = time.monotonic()
        http.get_json(KLINE, PARAMS)
        waited = time.monotonic() - began
        assert http.retries == 1
    # the backoff alone would be <= 0.06 s: the wait came from the reset header
    assert waited >= 0.35


@pytest.mark.xdist_group("servers")
def test_ip_ban_stops_at_once_saying_when_to_resume(fake_bybit: FakeBybit) -> None:
    fake_bybit.inject("ban")
    with _session(fake_bybit) as http, pytest.raises(SourceError) as info:
        http.get_json(KLINE, PARAMS)
    assert fake_bybit.count() == 1  # not retried
    assert info.value.status == 403
    assert "/v5/market/kline?category=linear&symbol=BTCUSDT" in str(info.value)
    assert "Run it again after" in str(info.value) and "UTC" in str(info.value)


@pytest.mark.xdist_group("servers")
def test_client_error_is_not_retried(fake_bybit: FakeBybit) -> None:
    with _session(fake_bybit) as http, pytest.raises(SourceError, match="HTTP 404") as info:
        http.get_json("/v5/market/nothing-here")
    assert fake_bybit.count() == 1
    assert info.value.status == 404


@pytest.mark.xdist_group("servers")
def test_provider_error_code_is_not_retried(fake_bybit: FakeBybit) -> None:
    with _session(fake_bybit) as http, pytest.raises(SourceError, match="retCode 10001"):
        http.get_json(KLINE, {**PARAMS, "symbol": "NOSUCHUSDT"})
    assert fake_bybit.count() == 1


@pytest.mark.xdist_group("servers")
def test_attempts_are_bounded_and_the_error_names_the_url(fake_bybit: FakeBybit) -> None:
    fake_bybit.inject("http_500", times=100)
    with _session(fake_bybit) as http, pytest.raises(SourceError) as info:
        http.get_json(KLINE, PARAMS)
    assert fake_bybit.count() == FAST.attempts
    assert "failed 4 times" in str(info.value) and "HTTP 502" in str(info.value)
    assert info.value.url.startswith(f"{fake_bybit.url}/v5/market/kline?")


@pytest.mark.xdist_group("servers")
def test_request_window_keeps_under_the_budget(fake_bybit: FakeBybit) -> None:
    slept: list[float] = []
    tight = Limits(source="tight", requests=2, window=10.0, code_field="retCode")
    with HttpSession(fake_bybit.url, limits=tight, policy=FAST, sleep=slept.append) as http:
        for _ in range(3):
            http.get_json(KLINE, PARAMS)
    # the third request had to wait for the first to leave the 10 s window
    assert len(slept) == 1 and 9.0 < slept[0] <= 10.0


@pytest.mark.xdist_group("servers")
def test_header_secrets_never_appear_in_errors(fake_bybit: FakeBybit) -> None:
    token = "tok-XYZ-123"
    fake_bybit.inject("ban")
    session = HttpSession(
        fake_bybit.url, limits=LIMITS["bybit"], policy=FAST, headers={"X-Key": token}
    )
    with session as http, pytest.raises(SourceError) as info:
        http.get_json(KLINE, {**PARAMS, "apiKey": token})
    assert token not in str(info.value) and token not in info.value.url


@pytest.mark.xdist_group("servers")
def test_used_up_window_makes_the_next_request_wait_for_the_reset(fake_bybit: FakeBybit) -> None:
    slept: list[float] = []
    fake_bybit.inject("limit_used", wait=0.5)
    with HttpSession(fake_bybit.url, limits=LIMITS["bybit"], policy=FAST, sleep=slept.append) as h:
        h.get_json(KLINE, PARAMS)
        assert slept == []  # the answer itself was good
        h.get_json(KLINE, PARAMS)
        assert h.retries == 0  # nothing was refused: the kit waited before asking
    assert len(slept) == 1 and 0.3 < slept[0] <= 0.52


# --------------------------------------------------------------------------- public hooks


class _Echo:
    """A loopback server answering every GET with ``status`` and a body that echoes the
    request's ``X-Api-Key`` header (as some providers do in their error objects)."""

    def __init__(self, status: int, body: str = "error for key {key}", **headers: str) -> None:
        import http.server
        import threading

        echo = self
        self.status = status
        self.requests = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                echo.requests += 1
                key = self.headers.get("X-Api-Key", "")
                payload = body.format(key=key).encode()
                self.send_response(echo.status)
                for name, value in headers.items():
                    self.send_header(name.replace("_", "-"), value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


SECRET = "sk-live-0123456789abcdef"


@pytest.mark.parametrize("status", [400, 500])
def test_a_key_echoed_in_an_error_body_never_reaches_the_exception_text(status: int) -> None:
    server = _Echo(status)
    try:
        limits = Limits(source="Echo", requests=100, window=1.0)
        session = HttpSession(server.url, limits=limits, policy=FAST, headers={"X-Api-Key": SECRET})
        with session as h, pytest.raises(SourceError) as info:
            h.get_json("/v2/everything", {"q": "btc"})
        assert server.requests >= 1  # the server did see (and echo) the key
        text = str(info.value) + repr(info.value.args) + str(info.value.url)
        assert SECRET not in text
        assert "error for key ***" in text
    finally:
        server.close()


def test_a_key_echoed_in_a_provider_error_message_is_masked_too() -> None:
    body = '{{"retCode": 10001, "retMsg": "bad key {key}", "result": {{}}, "time": 1}}'
    server = _Echo(200, body)
    try:
        with (
            HttpSession(
                server.url, limits=LIMITS["bybit"], policy=FAST, headers={"X-Api-Key": SECRET}
            ) as h,
            pytest.raises(SourceError) as info,
        ):
            h.get_json("/v5/market/kline")
        assert SECRET not in str(info.value) and "bad key ***" in str(info.value)
    finally:
        server.close()


def test_the_reset_header_is_read_in_its_limits_unit() -> None:
    now = time.time()
    seconds = Limits(source="S", requests=1, window=1.0, reset_header="r", reset_unit=1.0)
    millis = Limits(source="M", requests=1, window=1.0, reset_header="r", reset_unit=0.001)
    assert seconds.reset_wait({"r": str(now + 30)}) == pytest.approx(30.01, abs=0.5)
    assert millis.reset_wait({"r": str(int((now + 30) * 1000))}) == pytest.approx(30.01, abs=0.5)
    assert millis.reset_wait({"r": "soon"}) is None and millis.reset_wait({}) is None
    assert LIMITS["x"].reset_unit == 1.0 and LIMITS["bybit"].reset_unit == 0.001


def test_a_response_hook_sees_every_answer_first_and_may_stop_the_request() -> None:
    server = _Echo(429, "slow down")
    seen: list[int] = []

    def hook(response: object) -> None:
        seen.append(getattr(response, "status_code", 0))
        raise SourceError("stopped by the hook")

    try:
        limits = Limits(source="Echo", requests=100, window=1.0)
        session = HttpSession(server.url, limits=limits, policy=FAST, response_hooks=[hook])
        with session as h, pytest.raises(SourceError, match="stopped by the hook"):
            h.get_json("/x")
        assert seen == [429] and server.requests == 1  # not retried: the hook stopped it
    finally:
        server.close()


def test_get_decoded_fetches_a_corrupt_body_again_and_then_gives_up() -> None:
    from omni_research.sources._http import CorruptBody

    server = _Echo(200, "not gzip")
    calls: list[bytes] = []

    def decode(body: bytes) -> bytes:
        calls.append(body)
        if len(calls) < 2:
            raise CorruptBody("gzip: bad header")
        return body.upper()

    try:
        limits = Limits(source="Echo", requests=100, window=1.0)
        with HttpSession(server.url, limits=limits, policy=FAST) as h:
            assert h.get_decoded("/f.gz", decode) == b"NOT GZIP"
            assert h.retries == 1 and server.requests == 2

            def never(body: bytes) -> bytes:
                raise CorruptBody("zip: truncated")

            with pytest.raises(SourceError, match="corrupt or incomplete file"):
                h.get_decoded("/f.zip", never)
        assert server.requests == 2 + FAST.attempts
    finally:
        server.close()
