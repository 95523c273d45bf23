"""The benchmark harness still measures: its /proc readings and one small batch end to end."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.procs import Standin, children, cpu_s
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
