"""The worker: runs handlers after the HTTP reply (ack-then-process).

Each server process has one ``Worker``: a bounded thread pool fed by the pipeline (keys of newly
accepted events) and by a sweeper thread that regularly asks the store for due inbox entries.
The sweeper is what makes the inbox durable in practice: entries of a crashed process (their
lease lapsed), retries whose backoff has passed, entries accepted while this process's queue was
full, and everything left over from before a restart are all found there.

While a handler runs, the entry is held as a ``Lease`` (``events.store.lease``) that renews
itself, so a long tool call is never taken over by another worker while its owner is alive.

Shutdown is warm, in rq's style: ``stop()`` stops taking work, waits for in-flight handlers up to
a timeout, and releases the claims it could not finish so another process picks them up at once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from events.pipeline import Pipeline
from events.store.lease import Lease

log = logging.getLogger("runhook.worker")


class WarmShutdown(BaseException):
    """Raised in the main thread on the first SIGTERM; slips past ``except Exception``."""


class Worker:
    """Bounded executor behind ``Pipeline.accept``.

    Args:
        pipeline: the pipeline whose inbox this worker drains.
        threads: handler threads.
        queue_size: keys waiting for a thread; beyond it new keys are left to the sweeper.
        sweep_interval_s: how often to look for due inbox entries.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        threads: int | None = None,
        queue_size: int | None = None,
        sweep_interval_s: float | None = None,
    ) -> None:
        settings = pipeline.settings
        self.pipeline = pipeline
        self.threads = threads or settings.worker_threads
        self.sweep_interval_s = (
            settings.sweep_interval_s if sweep_interval_s is None else sweep_interval_s
        )
        self._queue: queue.Queue[str] = queue.Queue(
            maxsize=queue_size or settings.worker_queue_size
        )
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queued: set[str] = set()
        self._inflight: dict[str, Lease] = {}
        self._busy = 0
        self._threads: list[threading.Thread] = []
        self._started = False
        pipeline.on_enqueued(self.submit)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Worker:
        """Start the handler threads and the sweeper (idempotent)."""
        with self._lock:
            if self._started:
                return self
            self._started = True
        for i in range(self.threads):
            self._spawn(self._run, f"runhook-worker-{i}")
        self._spawn(self._sweep_loop, "runhook-sweeper")
        return self

    @property
    def draining(self) -> bool:
        """True once ``stop()`` was called: the process must not be sent new work."""
        return self._stopping.is_set()

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop taking work, wait up to ``timeout`` for in-flight handlers, release the rest.

        Returns:
            True when everything in flight finished; False when claims had to be released.
        """
        self._stopping.set()
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy and time.monotonic() < deadline:
                self._idle.wait(min(0.1, max(0.0, deadline - time.monotonic())))
            leftovers = list(self._inflight.values())
        for lease in leftovers:
            # The handler thread is still running; give the entry back so another process
            # takes it now instead of after the lease lapses.
            lease.release(failed=False)
            log.warning("released an unfinished claim at shutdown", extra={"key": lease.key})
        return not leftovers

    def drain(self, timeout: float = 30.0) -> bool:
        """Process everything that is due (queued and swept), then return; True when idle.

        For tests and one-shot runs; the worker threads need not be started.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._sweep_once()
            key = self._next_key(timeout=0.0)
            if key is not None:
                self._process(key)
                continue
            with self._lock:
                busy = self._busy
            if not busy and not self.pipeline.due(limit=1):
                return True
            time.sleep(0.01)
        return False

    # -- feeding ------------------------------------------------------------------------------

    def submit(self, key: str) -> bool:
        """Queue ``key`` for a handler thread; False when full or stopping (the sweeper will
        find the entry in the store)."""
        if self._stopping.is_set():
            return False
        with self._lock:
            if key in self._queued or key in self._inflight:
                return True
            try:
                self._queue.put_nowait(key)
            except queue.Full:
                return False
            self._queued.add(key)
            return True

    # -- threads ------------------------------------------------------------------------------

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _next_key(self, timeout: float) -> str | None:
        try:
            key = self._queue.get(timeout=timeout) if timeout else self._queue.get_nowait()
        except queue.Empty:
            return None
        with self._lock:
            self._queued.discard(key)
        return key

    def _run(self) -> None:
        while not self._stopping.is_set():
            key = self._next_key(timeout=0.2)
            if key is not None:
                self._process(key)

    def _process(self, key: str) -> None:
        store = self.pipeline.store
        with self._lock:
            self._busy += 1
        try:
            lease = store.acquire(key, self.pipeline.settings.claim_lease_s)
            if lease is None:
                return
            with self._lock:
                self._inflight[key] = lease
            try:
                self.pipeline.process_lease(lease)
            finally:
                lease.stop()
                with self._lock:
                    self._inflight.pop(key, None)
        except Exception:
            log.exception("worker failed to process an inbox entry", extra={"key": key})
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def _sweep_once(self) -> None:
        try:
            keys = self.pipeline.due(limit=self._queue.maxsize or 100)
        except Exception:
            log.warning("sweep failed: store unavailable", exc_info=True)
            return
        for key in keys:
            if not self.submit(key):
                break

    def _sweep_loop(self) -> None:
        while not self._stopping.wait(self.sweep_interval_s):
            self._sweep_once()
