"""The worker: runs handlers after the HTTP reply (ack-then-process).

Each server process has one ``Worker``: a bounded thread pool fed by the pipeline (newly
accepted events, already held: ``Store.enqueue_held`` stores and claims them in one write, and
hands the parsed event over, so nothing is read or parsed again) and by a sweeper thread that
regularly asks the store for due inbox entries. Waits (events that ask for tools) go ahead of
everything else in the queue, so a ``requires_action`` never waits behind lifecycle bookkeeping.
The sweeper is what makes the inbox durable in practice: entries of a crashed process (their
lease lapsed), retries whose backoff has passed, entries accepted while this process's queue was
full, and everything left over from before a restart are all found there.

While a handler runs, the entry is held as a ``Lease`` (``runhook.events.store.lease``) that renews
itself, so a long tool call is never taken over by another worker while its owner is alive.

Shutdown is warm, in rq's style: ``stop()`` stops taking work, waits for in-flight handlers up to
a timeout, and releases the claims it could not finish so another process picks them up at once.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from runhook.events import keys
from runhook.events.envelope import Event
from runhook.events.pipeline import Pipeline
from runhook.events.store.lease import Lease

log = logging.getLogger("runhook.worker")


class WarmShutdown(BaseException):
    """Raised in the main thread on the first SIGTERM; slips past ``except Exception``."""


@dataclass(order=True)
class _Item:
    """A queued piece of work: a key the sweeper found, or an entry accepted and held here."""

    priority: int
    seq: int
    key: str = field(compare=False)
    lease: Lease | None = field(default=None, compare=False)
    event: Event | None = field(default=None, compare=False)


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
        self._queue: queue.PriorityQueue[_Item] = queue.PriorityQueue(
            maxsize=queue_size or settings.worker_queue_size
        )
        self._seq = itertools.count()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queued: set[str] = set()
        self._inflight: dict[str, Lease] = {}
        self._busy = 0
        self._held = 0  # queued entries accepted and held here: in flight for their senders
        self._threads: list[threading.Thread] = []
        self._started = False
        pipeline.attach(self)

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
            # Entries this process accepted and holds are finished too, not only those whose
            # handler already started: their sender got a 202 from us a moment ago.
            while (self._busy or (self._held and self._started)) and time.monotonic() < deadline:
                self._idle.wait(min(0.1, max(0.0, deadline - time.monotonic())))
            leftovers = list(self._inflight.values())
        while True:  # what is still queued: held entries go back to the store at once
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item.lease is not None:
                item.lease.release(failed=False)
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
            item = self._next(timeout=0.0)
            if item is not None:
                self._process(item)
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
        return self._put(_Item(1, next(self._seq), key))

    def has_room(self) -> bool:
        """True when a newly accepted event would be queued here now."""
        return not self._stopping.is_set() and not self._queue.full()

    def take(self, lease: Lease, event: Event) -> bool:
        """Queue an entry the pipeline accepted and holds; False when it cannot be queued
        (the caller releases the lease, and the sweeper finds the entry)."""
        priority = 0 if event.type in keys.WAIT_EVENT_TYPES else 1
        return self._put(_Item(priority, next(self._seq), lease.key, lease, event))

    def _put(self, item: _Item) -> bool:
        if self._stopping.is_set():
            return False
        with self._lock:
            if item.key in self._queued or item.key in self._inflight:
                return item.lease is None
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                return False
            self._queued.add(item.key)
            if item.lease is not None:
                self._held += 1
            return True

    # -- threads ------------------------------------------------------------------------------

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _next(self, timeout: float) -> _Item | None:
        """The next queued item, counted as busy until ``_process`` (or ``_skip``) ends it."""
        try:
            item = self._queue.get(timeout=timeout) if timeout else self._queue.get_nowait()
        except queue.Empty:
            return None
        with self._lock:
            self._queued.discard(item.key)
            self._busy += 1
            if item.lease is not None:
                self._held -= 1
        return item

    def _run(self) -> None:
        while True:
            item = self._next(timeout=0.2)
            if item is None:
                if self._stopping.is_set():
                    return
                continue
            if self._stopping.is_set() and item.lease is None:
                self._skip()  # a key the sweeper found: the store keeps it for the next process
                continue
            self._process(item)

    def _skip(self) -> None:
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()

    def _process(self, item: _Item) -> None:
        store = self.pipeline.store
        key = item.key
        try:
            lease = item.lease or store.acquire(key, self.pipeline.settings.claim_lease_s)
            if lease is None:
                return
            with self._lock:
                self._inflight[key] = lease
            try:
                self.pipeline.process_lease(lease, event=item.event)
            finally:
                lease.stop()
                with self._lock:
                    self._inflight.pop(key, None)
        except Exception:
            log.exception("worker failed to process an inbox entry", extra={"key": key})
        finally:
            self._skip()

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
