"""A real Redis for the tests: the suite starts its own ``redis-server``, never a shared one.

Fixtures:

- ``redis_server`` (session): one server on a free port for the whole run;
- ``redis_url`` (function): that server's URL, its database flushed for each test;
- ``own_redis_server`` (function): a server of the test's own, which it may ``stop()`` and
  ``start()`` again on the same port (outage tests).

Without a ``redis-server`` binary or the ``redis`` package, tests that need Redis are skipped;
with ``RUNHOOK_REQUIRE_SERVICES=1`` (set by ``.ci/run``) they fail instead, so that CI never
passes by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

REQUIRE_SERVICES = "RUNHOOK_REQUIRE_SERVICES"
START_TIMEOUT_S = 60.0


def services_required() -> bool:
    """True when missing services must fail the tests rather than skip them (CI)."""
    return os.environ.get(REQUIRE_SERVICES) == "1"


def unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it when ``RUNHOOK_REQUIRE_SERVICES=1``."""
    if services_required():
        pytest.fail(f"{reason} ({REQUIRE_SERVICES}=1: failing instead of skipping)")
    pytest.skip(reason)


def _require_redis() -> str:
    """Path of the redis-server binary; skips or fails when Redis cannot be used."""
    try:
        import redis  # noqa: F401
    except ImportError:
        unavailable("the redis package is missing: pip install -e '.[dev]'")
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server is not installed: run .ci/install-services (or apt/brew)")
    return binary


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """One ``redis-server`` process in ``directory``, without persistence.

    The port is chosen on the first ``start()`` and kept across restarts, so a client's URL
    stays valid through an outage.
    """

    def __init__(self, binary: str, directory: Path, *, persistent: bool = False) -> None:
        self.binary = binary
        self.directory = directory
        self.persistent = persistent
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log = directory / "redis.log"

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server and return once it answers PING."""
        attempts = 5 if self.port == 0 else 1  # a fresh port may be taken in between: retry
        for attempt in range(attempts):
            if self.port == 0 or attempt > 0:
                self.port = free_port()
            if self._launch():
                return
        raise RuntimeError(f"redis-server did not start; its log:\n{self._log.read_text()}")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after a generous wait)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)

    def client(self, **kwargs: Any) -> Any:
        """A new ``redis.Redis`` client of this server (close it when done)."""
        import redis

        return redis.Redis.from_url(self.url, **kwargs)

    def _launch(self) -> bool:
        args = [
            self.binary,
            *("--port", str(self.port), "--bind", "127.0.0.1"),
            *("--save", "", "--daemonize", "no"),
            *(
                ("--appendonly", "yes", "--appendfsync", "always")
                if self.persistent
                else ("--appendonly", "no")
            ),
            *("--dir", str(self.directory)),
        ]
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self.running:
                self._process = None
                return False
            if self._answers_ping():
                return True
            time.sleep(0.05)
        self.stop()
        return False

    def _answers_ping(self) -> bool:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of the test session's own, on a free port of 127.0.0.1."""
    server = RedisServer(_require_redis(), tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """URL of the session's Redis, with an empty database for this test."""
    client = redis_server.client()
    try:
        client.flushdb()
    finally:
        client.close()
    return redis_server.url


@pytest.fixture
def own_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server for this test alone, which it may stop and start again; it keeps its
    data across restarts (AOF, fsync always), as production Redis for runhook should."""
    server = RedisServer(_require_redis(), tmp_path, persistent=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()
