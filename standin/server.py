"""Serve the stand-in in a background thread (tests, the demo, benchmarks)."""

from __future__ import annotations

import io
import os
import socket
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from runhook.standin.app import create_app
from runhook.standin.state import StandinConfig, World

if TYPE_CHECKING:
    from openai import OpenAI


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler, quiet, and keeping HTTP/1.1 connections open.

    Werkzeug closes every connection after one response (``http.server`` cannot skip a body
    the application left unread before the next request line), so each API call of a client
    cost a TCP connect, a new connection in the client's pool and a new thread here: the real
    API keeps connections alive, and benchmarks paid that on both sides. Here a request's body
    (``Content-Length``) is read in full before the application sees it, so nothing is left
    unread, and the ``Connection: close`` werkzeug adds is dropped; a chunked request body, or
    a client that asks for it, still closes. An idle connection is closed after
    ``timeout`` seconds. Only with ``keep_alive`` (``StandinServer(keep_alive=True)``, or
    ``STANDIN_KEEP_ALIVE=1`` in the environment, which the benchmarks set for ``runhook
    emulator``): in-process tests make SDK clients they never close, whose kept-alive sockets
    would be collected unclosed.
    """

    timeout = 60
    keep_alive = False

    def setup(self) -> None:
        super().setup()
        # http.server writes a response's headers and its body (and each streamed event) as
        # separate small segments. With Nagle's algorithm on, the second waits for the ACK of
        # the first, which a client that is only reading delays by its 40 ms delayed-ACK
        # timer: every answer on a kept-alive connection arrived 40+ ms late. Servers set
        # TCP_NODELAY for this (gunicorn and httpcore do), and so does this one.
        if isinstance(self.connection, socket.socket) and self.connection.family in (
            socket.AF_INET,
            socket.AF_INET6,
        ):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None

    def run_wsgi(self) -> None:
        if not self.keep_alive or self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._keep = False
            return super().run_wsgi()
        self._keep = not self.close_connection
        length = int(self.headers.get("Content-Length") or 0)
        real = self.rfile
        self.rfile = io.BytesIO(real.read(length) if length > 0 else b"")
        try:
            super().run_wsgi()
        finally:
            self.rfile = real

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "connection" and value.lower() == "close" and self._keep:
            return
        super().send_header(keyword, value)


class StandinServer:
    """The stand-in on ``http://host:port/v1``, threaded, in a daemon thread.

    Args:
        config: the knobs; defaults to ``StandinConfig()``.
        host: bind address.
        port: 0 picks a free port.
        keep_alive: keep HTTP/1.1 connections open (see ``_QuietHandler``); None reads
            ``STANDIN_KEEP_ALIVE=1`` from the environment.
    """

    def __init__(
        self,
        config: StandinConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        keep_alive: bool | None = None,
    ) -> None:
        self.config = config or StandinConfig()
        self.world = World(self.config)
        self.app = create_app(self.world)
        if keep_alive is None:
            keep_alive = os.environ.get("STANDIN_KEEP_ALIVE") == "1"
        handler = type("_Handler", (_QuietHandler,), {"keep_alive": keep_alive})
        self._server: BaseWSGIServer = make_server(
            host, port, self.app, threaded=True, request_handler=handler
        )
        self._server.daemon_threads = True  # type: ignore[attr-defined]
        self.host, self.port = host, int(self._server.server_port)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="standin-http", daemon=True
        )

    @property
    def root_url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://host:port/v1``: what ``OPENAI_BASE_URL`` should be."""
        return f"{self.root_url}/v1"

    def start(self) -> StandinServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.world.stop()

    def client(self, **options: Any) -> OpenAI:
        """An official SDK client pointed at this stand-in."""
        from openai import OpenAI

        options.setdefault("api_key", "sk-standin")
        return OpenAI(base_url=self.base_url, **options)

    def stats(self) -> dict[str, Any]:
        """The ``/_standin/stats`` document."""
        import httpx2

        return dict(httpx2.get(f"{self.root_url}/_standin/stats", trust_env=False).json())

    def __enter__(self) -> StandinServer:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()
