"""The parties of a benchmark, each in its own process, and what is read from outside them.

- ``Standin``: ``runhook emulator`` (the OpenAI stand-in) in its own interpreter;
- ``Serve``: ``runhook serve`` (real gunicorn: a master and its worker processes), or any WSGI
  target under ``deploy/gunicorn.conf.py`` (the bare Flask of the ingest benchmark);
- ``RedisProc``: a private ``redis-server`` without persistence;
- ``Poller``: ``runhook poll`` (the relay poller) over a store shared with the client;
- CPU time and memory of a process tree from ``/proc`` (utime + stime, VmRSS, VmHWM), and the
  machine's load (``os.getloadavg``, busy share of all CPUs from ``/proc/stat``);
- ``read_line``: a client's next line, given up on at once when a party it needs has exited.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx2

from bench.common import REPO, free_port

TICK = os.sysconf("SC_CLK_TCK")
CLI = [sys.executable, "-m", "runhook.cli"]


def base_env(**extra: str) -> dict[str, str]:
    """A clean environment for a child: this interpreter's path, the repo importable."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    }
    env.update(extra)
    return env


# -- /proc -----------------------------------------------------------------------------------


def _stat(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (0 when it is gone)."""
    try:
        fields = _stat(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (gunicorn's workers of a master)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(_stat(int(entry))[1]) == pid:
                    out.append(int(entry))
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
    return sorted(out)


def status_kib(pid: int, key: str) -> int:
    """A ``/proc/<pid>/status`` size in KiB (``VmRSS``, ``VmHWM``); 0 when gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def _cpu_totals() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields), idle


class Window:
    """CPU of some processes and the machine's load over one measured batch.

    Args:
        pids: ``{name: [pid, ...]}``; each name's CPU is the sum over its pids.
    """

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self.pids = pids
        self.load_before = os.getloadavg()
        self.totals_before = _cpu_totals()
        self.before = {n: sum(cpu_s(p) for p in ps) for n, ps in pids.items()}
        self.frozen: dict[str, float] = {}
        self.started = time.perf_counter()

    def freeze(self, name: str) -> None:
        """Take ``name``'s CPU now: its work is done, and what it spends after (a client's
        exit, while the server settles) is not the batch's."""
        self.frozen[name] = sum(cpu_s(p) for p in self.pids[name]) - self.before[name]

    def close(self) -> dict[str, Any]:
        """CPU seconds per name, wall seconds, load before/after, machine busy share."""
        cpu = {
            n: self.frozen[n] if n in self.frozen else sum(cpu_s(p) for p in ps) - self.before[n]
            for n, ps in self.pids.items()
        }
        total, idle = _cpu_totals()
        d_total = total - self.totals_before[0]
        d_idle = idle - self.totals_before[1]
        return {
            "cpu_s": cpu,
            "wall_s": time.perf_counter() - self.started,
            "load_before": list(self.load_before),
            "load_after": list(os.getloadavg()),
            "machine_busy": 1 - d_idle / d_total if d_total else float("nan"),
        }


def quiesce(
    pids: list[int], *, step: float = 0.2, idle_cpu_s: float = 0.004, cap: float = 10
) -> None:
    """Wait until ``pids`` together spend less than ``idle_cpu_s`` CPU in ``step`` s."""
    deadline = time.monotonic() + cap
    last = sum(cpu_s(p) for p in pids)
    while time.monotonic() < deadline:
        time.sleep(step)
        now = sum(cpu_s(p) for p in pids)
        if now - last < idle_cpu_s:
            return
        last = now


def machine() -> dict[str, Any]:
    """What the numbers ran on, and how busy it was at the start."""
    return {"nproc": os.cpu_count(), "loadavg": list(os.getloadavg())}


# -- processes -------------------------------------------------------------------------------


class Proc:
    """A child process, stopped with SIGTERM (then SIGKILL)."""

    proc: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self) -> Proc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def read_line(
    child: subprocess.Popen[str],
    what: str,
    *,
    needs: Mapping[str, Proc] | None = None,
    timeout_s: float = 1800.0,
) -> str:
    """The next line ``child`` prints, stripped.

    Raises ``RuntimeError`` as soon as ``child`` exits without one, or one of the processes it
    ``needs`` (the server, the poller) exits first: a client whose poller died would otherwise
    wait its runs' whole timeout. A line is read only once the pipe has data, so the protocol
    must be one line per request (the clients print ``ready``, then one JSON line after
    ``go``).
    """
    assert child.stdout is not None
    deadline = time.monotonic() + timeout_s
    while True:
        readable, _, _ = select.select([child.stdout], [], [], 0.5)
        if readable:
            line = child.stdout.readline()
            if not line:
                raise RuntimeError(f"{what} exited (code {child.wait(5)}) before its answer")
            return line.strip()
        for name, proc in (needs or {}).items():
            code = proc.proc.poll()
            if code is not None:
                raise RuntimeError(
                    f"{name} exited (code {code}) while {what} ran; BENCH_LOG_DIR=dir keeps its log"
                )
        if time.monotonic() >= deadline:
            raise RuntimeError(f"{what} printed nothing in {timeout_s:.0f} s")


def _log(name: str) -> Any:
    """Where a child's output goes: ``$BENCH_LOG_DIR/<name>-<n>.log`` when set, else nowhere."""
    directory = os.environ.get("BENCH_LOG_DIR")
    if not directory:
        return subprocess.DEVNULL
    Path(directory).mkdir(parents=True, exist_ok=True)
    return open(tempfile.mktemp(prefix=f"{name}-", suffix=".log", dir=directory), "wb")  # noqa: SIM115


def _wait_http(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            httpx2.get(url, timeout=1, trust_env=False)
            return
        except httpx2.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start")


class Standin(Proc):
    """``runhook emulator --latency-ms L`` in its own process."""

    def __init__(self, latency_ms: int, *args: str) -> None:
        self.port = free_port()
        self.root_url = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.root_url}/v1"
        self.proc = subprocess.Popen(
            [*CLI, "emulator", "--port", str(self.port), "--latency-ms", str(latency_ms), *args],
            cwd=REPO,
            env=base_env(STANDIN_KEEP_ALIVE="1"),  # connections kept open, as the API does
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_http(f"{self.root_url}/_standin/stats", self.proc, "stand-in")

    def stats(self) -> dict[str, Any]:
        return dict(httpx2.get(f"{self.root_url}/_standin/stats", trust_env=False).json())

    def reset(self) -> None:
        httpx2.post(f"{self.root_url}/_standin/reset", trust_env=False)

    def wait(self, runs: list[str], timeout: float = 300) -> list[str]:
        """Block (in the stand-in) until ``runs`` are terminal; the ones still pending."""
        body = {"runs": runs, "timeout": timeout}
        answer = httpx2.post(
            f"{self.root_url}/_standin/wait", json=body, timeout=timeout + 30, trust_env=False
        ).json()
        return list(answer["pending"])

    def wait_responses(self, ids: list[str], timeout: float = 300) -> list[str]:
        """Block (in the stand-in) until the response chains started by ``ids`` ended."""
        body = {"responses": ids, "timeout": timeout, "interval": 0.05}
        answer = httpx2.post(
            f"{self.root_url}/_standin/responses/wait",
            json=body,
            timeout=timeout + 30,
            trust_env=False,
        ).json()
        return list(answer["pending"])

    def event_names(self, run_id: str) -> list[str]:
        return list(
            httpx2.get(f"{self.root_url}/_standin/runs/{run_id}/events", trust_env=False).json()
        )


class Serve(Proc):
    """``runhook serve`` (``target=None``) or ``gunicorn -c deploy/gunicorn.conf.py target``.

    Args:
        env: RUNHOOK_* and OPENAI_* variables of the server.
        target: a WSGI ``module:object`` to serve instead of runhook.
        port: the port (chosen in advance when the stand-in must know it for its webhooks).
    """

    def __init__(
        self, env: dict[str, str], target: str | None = None, *, port: int | None = None
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full = base_env(RUNHOOK_BIND=f"127.0.0.1:{self.port}", **env)
        if target is None:
            argv = [*CLI, "serve"]
        else:
            argv = [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", target]
        log = _log("server")
        self.proc = subprocess.Popen(argv, cwd=REPO, env=full, stdout=log, stderr=log)
        _wait_http(f"{self.url}/healthz", self.proc, f"server {target or 'runhook serve'}")
        want = int(env.get("RUNHOOK_WORKERS", "2"))
        deadline = time.monotonic() + 30
        while len(self.workers()) < want and time.monotonic() < deadline:
            time.sleep(0.1)
        self.boot_workers = self.workers()

    def workers(self) -> list[int]:
        """The worker processes' pids (children of the gunicorn master)."""
        return children(self.pid)

    def tree(self) -> list[int]:
        """The master and its workers: whose CPU time is the server's."""
        return [self.pid, *self.workers()]

    def rss_kib(self, key: str = "VmRSS") -> int:
        return sum(status_kib(p, key) for p in self.workers())


class RedisProc(Proc):
    """A private ``redis-server`` (no persistence), or None where Redis is not installed."""

    def __init__(self, binary: str) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="runhook-bench-redis-")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    @classmethod
    def start(cls) -> RedisProc | None:
        binary = shutil.which("redis-server")
        try:
            import redis  # noqa: F401
        except ImportError:
            return None
        return cls(binary) if binary else None


class PollerProc(Proc):
    """``runhook poll`` with the bench App (handlers run in it); ``env`` names its store.

    ``pause`` stops it (SIGSTOP: no CPU, no scans) while other paths are measured, ``resume``
    lets it go on; ``stop`` resumes it first, so it can take its SIGTERM.
    """

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [*CLI, "poll"],
            cwd=REPO,
            env=base_env(**env),
            stdout=_log("poller"),
            stderr=subprocess.STDOUT,
        )

    def pause(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        self.resume()
        super().stop()
