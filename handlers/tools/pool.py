"""The tool pool: the threads a process's tool calls run on, shared by every wait.

A call goes to a thread that is idle, or to a new one when none is: nothing ever queues, so a
call never waits behind a tool that hangs, as with a pool of its own per wait; a thread that
stays idle for ``idle_s`` ends, so a burst's threads do not outlive it. Threads are daemons: a
tool that never returns does not keep the process from exiting (a ``ThreadPoolExecutor``'s
threads are joined at exit). Each wait used to make its own ``ThreadPoolExecutor``, which
started and ended a thread per wait: 255 us of CPU for a single-call wait against 65-73 us on
a shared pool, measured on this machine. The cap on one wait's calls running at once
(``tool_concurrency``) is the runner's (``runhook.tools.runner.run_calls``).

A process forked while the pool had threads gets none of them: the child starts its own.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

__all__ = ["ToolPool"]

T = TypeVar("T")

_Job = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class ToolPool(Executor):
    """An elastic thread pool: idle threads are reused, a new one starts when none is idle.

    Args:
        idle_s: how long an idle thread waits for a call before it ends.
        name: the threads' name prefix.
    """

    def __init__(self, *, idle_s: float = 60.0, name: str = "runhook-tool") -> None:
        if idle_s <= 0:
            raise ValueError(f"idle_s must be > 0, got {idle_s}")
        self.idle_s = idle_s
        self.name = name
        self._lock = threading.Lock()
        self._idle: list[queue.SimpleQueue[_Job | None]] = []  # one inbox per idle thread
        self._threads = 0
        self._shutdown = False
        self._pid = os.getpid()
        self._seq = itertools.count()

    @property
    def threads(self) -> int:
        """Threads alive now (busy or idle)."""
        with self._lock:
            self._after_fork()
            return self._threads

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Run ``fn(*args, **kwargs)`` on an idle thread, or on a new one.

        Raises:
            RuntimeError: the pool was shut down.
        """
        future: Future[T] = Future()
        job: _Job = (future, fn, args, kwargs)
        with self._lock:
            self._after_fork()
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            inbox = self._idle.pop() if self._idle else None
            if inbox is None:
                self._threads += 1
        if inbox is not None:
            inbox.put(job)
        else:
            threading.Thread(
                target=self._serve,
                args=(job,),
                name=f"{self.name}-{next(self._seq)}",
                daemon=True,
            ).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Take no more calls and let the idle threads end. Calls already running finish on
        their threads (a daemon thread never blocks the process's exit); ``wait`` and
        ``cancel_futures`` have nothing to wait for or cancel, since nothing queues."""
        with self._lock:
            self._shutdown = True
            idle, self._idle = self._idle, []
        for inbox in idle:
            inbox.put(None)

    def _after_fork(self) -> None:
        if self._pid != os.getpid():  # the parent's threads did not come along
            self._pid, self._idle, self._threads = os.getpid(), [], 0

    def _serve(self, job: _Job | None) -> None:
        inbox: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        while job is not None:
            future, fn, args, kwargs = job
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:  # the caller reads it from the future
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del job, future, fn, args, kwargs  # drop references before idling
            job = self._next(inbox)
        with self._lock:
            self._threads -= 1

    def _next(self, inbox: queue.SimpleQueue[_Job | None]) -> _Job | None:
        with self._lock:
            if self._shutdown:
                return None
            self._idle.append(inbox)
        try:
            return inbox.get(timeout=self.idle_s)
        except queue.Empty:
            with self._lock:
                if inbox in self._idle:
                    self._idle.remove(inbox)
                    return None
            return inbox.get()  # taken from the idle list just now: its call is on the way
