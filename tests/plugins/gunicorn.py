"""Real gunicorn servers for scenario tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Gunicorn:
    """``gunicorn -c deploy/gunicorn.conf.py deploy.wsgi:app`` with the given environment."""

    def __init__(self, env: dict[str, str], log: Path, *, port: int | None = None) -> None:
        self.port = port or free_port()
        self.workers = int(env.get("RUNHOOK_WORKERS", "2"))
        self._logs_info = env.get("RUNHOOK_LOG_LEVEL", "info") in ("debug", "info") and (
            env.get("RUNHOOK_LOG_FORMAT", "text") != "none"
        )
        self.url = f"http://127.0.0.1:{self.port}"
        full = {k: v for k, v in os.environ.items() if not k.startswith(("RUNHOOK_", "OPENAI_"))}
        full.update({"RUNHOOK_BIND": f"127.0.0.1:{self.port}", "PYTHONPATH": str(REPO)}, **env)
        self.log_path = log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "deploy.wsgi:app"],
            cwd=REPO,
            env=full,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self.wait_ready()
        except BaseException:
            self.kill()
            raise

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx2.get(f"{self.url}/readyz", timeout=1, trust_env=False).status_code == 200:
                    self._wait_all_workers(deadline)
                    return
            except httpx2.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"gunicorn not ready: {self.log_path.read_text()[-2000:]}")

    def _wait_all_workers(self, deadline: float) -> None:
        """Wait until every worker has loaded the app ("runhook serving" once per worker).

        A SIGTERM that reaches a worker between its fork and gunicorn's own signal set-up is
        lost (the child still runs the master's handler), and the master then waits out the
        whole graceful timeout; tests that stop a server right away must not start that race.
        """
        if not self._logs_info:
            return
        while time.monotonic() < deadline:
            if self.log_path.read_text(errors="replace").count("runhook serving") >= self.workers:
                return
            time.sleep(0.05)

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def terminate(self, timeout: float = 30.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            for pid in self.worker_pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.kill()
            self.proc.wait(10)
        if not self._log.closed:
            self._log.close()


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[Callable[..., Gunicorn]]:
    """Start gunicorn servers (always killed at teardown)."""
    servers: list[Gunicorn] = []

    def start(port: int | None = None, **env: Any) -> Gunicorn:
        log = tmp_path / f"gunicorn-{len(servers)}.log"
        server = Gunicorn({k: str(v) for k, v in env.items()}, log, port=port)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()


def wait_until(
    predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
