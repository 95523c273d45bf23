"""The shared tool pool: idle threads reused, a new one whenever none is idle, idle ones end."""

from __future__ import annotations

import os
import threading
import time

import pytest

from runhook.app import App
from runhook.events.config import Settings
from runhook.events.store.memory import MemoryStore
from runhook.tools.pool import ToolPool


def _until(condition: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_an_idle_thread_is_reused() -> None:
    pool = ToolPool()
    first = pool.submit(threading.get_ident).result(5)
    assert _until(lambda: pool.threads == 1)
    for _ in range(20):
        assert pool.submit(threading.get_ident).result(5) == first
    assert pool.threads == 1


def test_a_new_thread_starts_when_every_thread_is_busy() -> None:
    """Two calls that each wait for the other can only finish on two threads at once: a
    pool that queued the second behind the first would hang here."""
    pool = ToolPool()
    barrier = threading.Barrier(3, timeout=5)
    calls = [pool.submit(barrier.wait) for _ in range(2)]
    barrier.wait()
    assert sorted(c.result(5) for c in calls) == [0, 1]
    assert pool.threads == 2


def test_a_hung_call_does_not_hold_up_the_next() -> None:
    pool = ToolPool()
    release = threading.Event()
    hung = pool.submit(release.wait, 10)
    try:
        assert pool.submit(lambda: "next").result(2) == "next"
    finally:
        release.set()
    assert hung.result(5) is True


def test_an_idle_thread_ends_after_idle_s() -> None:
    pool = ToolPool(idle_s=0.05)
    pool.submit(lambda: None).result(5)
    assert _until(lambda: pool.threads == 0)
    assert pool.submit(lambda: "again").result(5) == "again"  # a new thread starts


def test_threads_are_daemons_named_after_the_pool() -> None:
    pool = ToolPool(name="runhook-tool")
    thread = pool.submit(threading.current_thread).result(5)
    assert thread.daemon and thread.name.startswith("runhook-tool-")


def test_an_exception_reaches_the_caller() -> None:
    def boom() -> None:
        raise ValueError("tool broke")

    with pytest.raises(ValueError, match="tool broke"):
        ToolPool().submit(boom).result(5)


def test_shutdown_refuses_new_calls_and_ends_idle_threads() -> None:
    pool = ToolPool()
    pool.submit(lambda: None).result(5)
    pool.shutdown()
    assert _until(lambda: pool.threads == 0)
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(lambda: None)


def test_idle_s_must_be_positive() -> None:
    with pytest.raises(ValueError, match="idle_s"):
        ToolPool(idle_s=0)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_starts_its_own_threads() -> None:
    pool = ToolPool()
    pool.submit(lambda: None).result(5)
    assert _until(lambda: pool.threads == 1)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's idle thread did not come along
        try:
            answer = pool.submit(lambda: b"ok").result(5)
            os.write(write, answer if pool.threads == 1 else b"no")
        finally:
            os._exit(0)
    os.close(write)
    assert os.read(read, 2) == b"ok"
    os.waitpid(pid, 0)
    os.close(read)


def test_the_app_runs_its_tools_on_one_shared_pool() -> None:
    app = App(settings=Settings(webhook_secrets=("whsec_" + "A" * 32,)), store=MemoryStore())
    assert isinstance(app.executor, ToolPool)
