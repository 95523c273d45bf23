"""The benchmark harness still measures: its /proc readings and one small batch end to end."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bench.procs import Proc, Standin, children, cpu_s, read_line
from bench.scenarios import _batch


def test_cpu_time_of_a_child_is_read_from_proc() -> None:
    """A child that spins for 0.3 s shows as this process's child with that CPU time."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"
            "time.sleep(30)",
        ]
    )
    try:
        deadline = time.monotonic() + 20
        while cpu_s(child.pid) < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert child.pid in children(os.getpid())
        assert 0.3 <= cpu_s(child.pid) < 5
    finally:
        child.kill()
        child.wait()


class _Sleeper(Proc):
    def __init__(self, seconds: float) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})"])


def _client(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def test_a_client_is_given_up_on_when_a_party_it_needs_exits() -> None:
    """A client waiting on a poller that died fails within seconds of the death, naming it,
    instead of waiting out its runs' timeout; a line that does come is read."""
    poller = _Sleeper(0.3)
    with _client("import time; time.sleep(60)") as silent:
        try:
            began = time.monotonic()
            with pytest.raises(RuntimeError, match=r"runhook poll exited \(code 0\) while the"):
                read_line(silent, "the client", needs={"runhook poll": poller})
            assert time.monotonic() - began < 10
        finally:
            silent.kill()
            poller.stop()
    alive = _Sleeper(60)
    with _client("print('ready', flush=True); import time; time.sleep(60)") as talker:
        try:
            assert read_line(talker, "the client", needs={"runhook poll": alive}) == "ready"
        finally:
            talker.kill()
            alive.stop()


def test_a_client_that_exits_without_its_line_fails_at_once() -> None:
    with _client("raise SystemExit(3)") as quitter:
        with pytest.raises(RuntimeError, match=r"the loader exited \(code 3\) before its"):
            read_line(quitter, "the loader", timeout_s=30)


def test_a_stream_batch_reports_reaction_cpu_and_load() -> None:
    """Two runs through the in-process stream relay, stand-in and client in their own
    processes, give a reaction per run from the stand-in and CPU and load per batch."""
    standin = Standin(0)
    try:
        batch = _batch(standin, "stream", None, 2, "", continuation=False)
    finally:
        standin.stop()
    assert len(batch["reaction"]) == 2
    assert all(0 <= r < 10 for r in batch["reaction"])
    assert batch["events_per_run"] >= 6
    assert batch["cpu_ms_per_run"] > 0
    assert batch["where"] == "client"
    assert len(batch["load_before"]) == 3
