"""PDF printing through headless Debian Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from omni_research.config import settings
from omni_research.exceptions import ConfigurationError, DataFormatError

_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")

INSTALL_HINT = (
    "install Debian's Chromium with `make browser` "
    "(apt-get install -y chromium poppler-utils fonts-dejavu-core), "
    "or point OMNI_CHROMIUM at a Chromium/Chrome executable"
)


def find_chromium() -> str:
    """Path of a Chromium executable: ``$OMNI_CHROMIUM``, Debian's, or one on ``PATH``.

    Raises
    ------
    ConfigurationError
        When no Chromium is installed.
    """
    env = settings().chromium
    if env:
        if Path(env).is_file() and os.access(env, os.X_OK):
            return env
        raise ConfigurationError(
            f"OMNI_CHROMIUM={env!r} is not an executable file; expected a Chromium binary. "
            f"Unset it or {INSTALL_HINT}"
        )
    for cand in _CANDIDATES:
        if Path(cand).is_file() and os.access(cand, os.X_OK):
            return cand
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise ConfigurationError(
        f"PDF export needs headless Chromium and none was found: {INSTALL_HINT}"
    )


def html_file_to_pdf_bytes(html_path: str | Path, *, timeout: float = 120.0) -> bytes:
    """Print a local HTML file to PDF with headless Chromium and return the PDF bytes.

    Chromium runs with a throw-away profile and every background-networking feature off, so
    printing makes no request beyond the ``file://`` page itself.

    Raises
    ------
    ConfigurationError
        When Chromium is missing.
    DataFormatError
        When Chromium fails or produces no PDF.
    """
    exe = find_chromium()
    src = Path(html_path).resolve()
    with tempfile.TemporaryDirectory(prefix="omni-pdf-") as tmp:
        out = Path(tmp) / "out.pdf"
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out}",
            src.as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except FileNotFoundError as exc:
            raise ConfigurationError(f"cannot start {exe}: {exc}; {INSTALL_HINT}") from exc
        except subprocess.TimeoutExpired as exc:
            raise DataFormatError(
                f"Chromium did not print {src} to PDF within {timeout:.0f} s; "
                "check the page opens in a browser"
            ) from exc
        if not out.is_file() or out.stat().st_size == 0:
            tail = (proc.stderr or "").strip().splitlines()[-5:]
            raise DataFormatError(
                f"Chromium ({exe}) exited with {proc.returncode} and wrote no PDF for {src}; "
                f"its last messages: {' | '.join(tail) or '(none)'}"
            )
        data = out.read_bytes()
    if not data.startswith(b"%PDF"):
        raise DataFormatError(f"Chromium's output for {src} is not a PDF (no %PDF header)")
    return data


def html_to_pdf_bytes(html_text: str, *, timeout: float = 120.0) -> bytes:
    """Print an HTML document (given as text) to PDF bytes."""
    with tempfile.TemporaryDirectory(prefix="omni-html-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html_text, encoding="utf-8")
        return html_file_to_pdf_bytes(page, timeout=timeout)
