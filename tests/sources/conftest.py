"""Fixtures of the source tests: a fake Bybit on the loopback, research roots, a fast policy."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

from omni_research.sources import RetryPolicy, init_root
from omni_research.testing._fake_bybit import FakeBybit

S = TypeVar("S", bound=Any)

FAST = RetryPolicy(attempts=4, initial=0.01, maximum=0.05, jitter=0.01, timeout=2.0)
"""Retries without the real API's patience, so fault tests run in milliseconds."""


@pytest.fixture
def fake_bybit(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBybit]:
    """A fake Bybit v5 API on 127.0.0.1 (free port), two symbols over two days from
    2025-01-06, an ETHUSDT outage and an ETHUSDT funding interval change; always stopped."""
    fake = FakeBybit(
        symbols=("BTCUSDT", "ETHUSDT"),
        start="2025-01-06",
        days=2,
        outages={"ETHUSDT": [("2025-01-06T10:41", 7)]},
        funding_hours={"ETHUSDT": [("2025-01-07T00:00", 4)]},
    )
    yield from serve(fake, monkeypatch, urls=["OMNI_BYBIT_API_URL"])


def serve(
    server: S, monkeypatch: pytest.MonkeyPatch, /, *, urls: Sequence[str], **env: str
) -> Iterator[S]:
    """Start a fake provider, point the ``urls`` variables at it and set ``env``; yield it
    and always stop it (the body of every fake-server fixture)."""
    server.start_server()
    try:
        for variable in urls:
            monkeypatch.setenv(variable, server.url)
        for variable, value in env.items():
            monkeypatch.setenv(variable, value)
        yield server
    finally:
        server.stop()


@pytest.fixture
def research(tmp_path: Path) -> Path:
    """An empty research root."""
    return init_root(tmp_path / "research")


def every_output(
    root: Path, kind: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> list[str]:
    """Everywhere a download's secret could leak: the log, stdout and stderr, every file of
    ``root``, and the audit log after an audited read of ``kind``."""
    import omni_research as omr

    out = capsys.readouterr()
    texts = [caplog.text, out.out, out.err]
    texts += [p.read_bytes().decode("latin-1") for p in root.rglob("*") if p.is_file()]
    omr.open_catalog(root).load(kind)  # an audited read, so the audit log is checked
    texts.append(Path(os.environ["OMNI_AUDIT_LOG"]).read_text())
    return texts


def production_root(tmp_path: Path) -> Path:
    """A folder whose manifest says ``tier = "production"``: every download must refuse it."""
    prod = tmp_path / "prod"
    prod.mkdir()
    (prod / "omni-data.toml").write_text('tier = "production"\nschema_version = "1.0"\n')
    return prod
