"""The life cycle every fake provider server shares: a threaded HTTP server on a free
``127.0.0.1`` port, started and stopped explicitly or as a context manager."""

from __future__ import annotations

import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class QuietServer(ThreadingHTTPServer):
    """A client that hung up (a timeout, a killed download) is not an error of the fake."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LoopbackServer:
    """Mixin: serve :meth:`handler_class` on a free loopback port.

    Subclasses (dataclasses or plain classes) implement :meth:`handler_class`; the server
    runs in a daemon thread from :meth:`start_server` (or ``with``) until :meth:`stop`.
    """

    _server: QuietServer | None = None
    _thread: threading.Thread | None = None

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        """The request handler class bound to this fake."""
        raise NotImplementedError

    def start_server(self) -> Self:
        """Start serving on a free loopback port and wait until it accepts; returns self."""
        self._server = QuietServer(("127.0.0.1", 0), self.handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # answered once it accepts a connection
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start_server()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port it listens on (the server must be running)."""
        assert self._server is not None, "the server is not running"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"
