"""Leases: a claim that renews itself while its holder works, and knows when it is lost.

Every piece of work runhook does exactly once is held as a ``Lease`` (``Store.acquire``): an
inbox entry while its handlers run, a wait while its tools run and its outputs are submitted,
a run's outcome while it is recorded. The rules are written here once:

- **Acquire** claims the record and registers the lease with the store's ``Renewer`` before
  returning, so the holder's first network call already runs under renewal.
- **Renewal** happens every ``LEASE_RENEW_FRACTION`` of the lease, in one thread per store and
  process. A store error does not end it: the renewal is retried soon after, and only a
  refused compare-and-set (someone else took the record, or it is gone) marks the lease lost.
  Each renewal replaces the record's token, so a taker that read the record just before a
  late renewal fails its compare-and-set instead of taking a live holder's work.
- **Fencing**: ``fence`` is the claim's attempt number, which grows with every takeover, and
  every write the holder makes is a compare-and-set on the current token. ``ensure()``
  (renew now if the lease is past half its time, raise ``LeaseLost`` if it is gone) and
  ``checkpoint()`` (save a payload on the record, raise ``LeaseLost`` if it is gone) are how a
  holder learns it lost the lease *before* anything irreversible.
- **Ending**: ``complete``, ``release`` and ``park`` stop the renewal and write through the
  current token. They return False when the lease was lost (the work belongs to another).

No IO of its own: every read and write goes through the ``Store``'s public methods.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from runhook.events import defaults
from runhook.events.errors import LeaseLost
from runhook.events.store.records import Claim

if TYPE_CHECKING:
    from runhook.events.store.base import Store

log = logging.getLogger("runhook.lease")

#: after a failed renewal, try again after this fraction of the lease (at most 1 s)
_RETRY_FRACTION = 0.1


class Lease:
    """A held claim on one record; renewed by a ``Renewer`` until it ends.

    Thread-safe: the renewer and the holder's thread share it under a lock.

    Attributes:
        key: the record's key.
        lease_s: the lease length every renewal restores.
        fence: the attempt number of this claim; a takeover has a larger one.
        saved: the payload on the record when it was acquired: a queued entry's body, or the
            checkpoint a previous holder saved (``checkpoint``), else None.
    """

    def __init__(self, store: Store, claim: Claim, lease_s: float, renewer: Renewer) -> None:
        self.store = store
        self.key = claim.key
        self.lease_s = lease_s
        self.fence = claim.attempts
        self.saved = claim.payload
        self._claim = claim
        self._lock = threading.Lock()
        self._lost = False
        self._ended = False
        self._renewer = renewer
        self._next_renewal = 0.0
        renewer.add(self)

    # -- what the holder asks ----------------------------------------------------------------

    @property
    def claim(self) -> Claim:
        """The current claim (its token changes with every renewal)."""
        with self._lock:
            return self._claim

    @property
    def attempts(self) -> int:
        """How many times the record was claimed (from its queue, or by takeovers)."""
        return self.fence

    @property
    def taken_over(self) -> bool:
        """True when this lease took over a plain claim whose previous holder did not finish."""
        return self._claim.queue is None and self.fence > 1

    @property
    def lost(self) -> bool:
        """True once a renewal or a write was refused: another worker holds the record now."""
        return self._lost

    def ensure(self) -> None:
        """Make sure the lease is held with at least half its time left.

        Renews now when the last renewal is older than half the lease (the renewer is late:
        a stalled process), so an irreversible step that follows starts with a full lease.

        Raises:
            LeaseLost: the record was taken over or is gone.
            StoreError: the store cannot be reached to confirm the lease.
        """
        with self._lock:
            self._check_held()
            if self._claim.lease_until - self.store.clock() > self.lease_s / 2:
                return
            self._renew_locked()
            self._check_held()

    def checkpoint(self, payload: bytes, *, durable: bool = True) -> None:
        """Save ``payload`` on the record and renew the lease, in one write (``durable``: see
        ``Store.save``).

        Raises:
            LeaseLost: the record was taken over or is gone; the payload was not saved.
            StoreError: the store cannot be reached.
        """
        with self._lock:
            self._check_held()
            saved = self.store.save(self._claim, payload, self.lease_s, durable=durable)
            if saved is None:
                self._lose("checkpoint refused")
                raise LeaseLost(f"lease on {self.key} was taken over before the checkpoint")
            self._claim = saved
            self.saved = payload

    # -- ending ------------------------------------------------------------------------------

    def complete(self, ttl_s: float, *, outcome: str = "done") -> bool:
        """Mark the work done (see ``Store.complete``); False when the lease was lost."""
        return self._end(lambda claim: self.store.complete(claim, ttl_s, outcome=outcome))

    def release(
        self, *, retry_in_s: float = 0.0, payload: bytes | None = None, failed: bool = True
    ) -> bool:
        """Give the work back (see ``Store.release``); False when the lease was lost."""
        return self._end(
            lambda claim: self.store.release(
                claim, retry_in_s=retry_in_s, payload=payload, failed=failed
            )
        )

    def park(self, *, queue: str, outcome: str) -> bool:
        """Park the queued work (see ``Store.park``); False when the lease was lost."""
        return self._end(lambda claim: self.store.park(claim, queue=queue, outcome=outcome))

    def forget(self) -> bool:
        """Delete the record (see ``Store.forget``); False when the lease was lost."""
        return self._end(self.store.forget)

    def stop(self) -> None:
        """Stop renewing without writing anything (the lease lapses by itself)."""
        with self._lock:
            self._ended = True
        self._renewer.discard(self)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        """Leaving the block ends the lease: on an exception a lease still held is released
        (keeping any checkpoint) so a retry can take the work at once; otherwise renewal
        just stops."""
        if exc_type is not None and not self._ended and not self._lost:
            try:
                self.release()
            except Exception:  # the store is down: the lease lapses by itself instead
                log.warning("could not release a lease", exc_info=True, extra={"key": self.key})
        self.stop()

    # -- renewal (called by the Renewer) ------------------------------------------------------

    def renew(self) -> bool:
        """Renew once; returns False when the lease is lost or ended (stop renewing it).

        Raises:
            StoreError: the store could not be reached; the renewer tries again soon.
        """
        with self._lock:
            if self._ended or self._lost:
                return False
            self._renew_locked()
            return not self._lost

    def due_at(self) -> float:
        """Monotonic time of the next renewal."""
        return self._next_renewal

    def _renew_locked(self) -> None:
        renewed = self.store.extend(self._claim, self.lease_s)
        if renewed is None:
            self._lose("renewal refused")
            return
        self._claim = renewed
        self._next_renewal = time.monotonic() + self.lease_s * defaults.LEASE_RENEW_FRACTION

    def _check_held(self) -> None:
        if self._lost:
            raise LeaseLost(f"lease on {self.key} was taken over by another worker")
        if self._ended:
            raise LeaseLost(f"lease on {self.key} has ended")

    def _lose(self, why: str) -> None:
        if not self._lost:
            self._lost = True
            log.warning("lease lost: %s", why, extra={"key": self.key, "fence": self.fence})

    def _end(self, write: Callable[[Claim], bool]) -> bool:
        self._renewer.discard(self)
        with self._lock:
            if self._lost or self._ended:
                self._ended = True
                return False
            self._ended = True
            done = write(self._claim)
            if not done:
                self._lose("final write refused")
            return done


class Renewer:
    """Renews the leases of one store in one background thread.

    The thread starts with the first lease, sleeps until the next renewal is due and ends after
    5 s without leases (the next ``add`` starts another). It never ends on an error: a renewal that raises is logged and retried after a tenth of the lease
    (at most 1 s); the lease stays held for as long as the store keeps accepting renewals.

    Due times are kept in a heap, and ``add`` wakes the thread only for a lease due sooner than
    its next wake, so holding thousands of leases (waits queued in a worker) costs a heap push
    per lease instead of a scan of every lease on every ``add``.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._leases: dict[int, Lease] = {}
        self._heap: list[tuple[float, int, int]] = []  # (due, seq, id of the lease)
        self._seq = itertools.count()
        self._wakes_at = math.inf  # the sleeping thread's next wake; inf: wake it for any add
        self._wake = threading.Condition()
        self._pid = os.getpid()
        self._thread: threading.Thread | None = None

    def usable(self) -> bool:
        """False in a forked child, whose copy of the renewer has no thread."""
        return self._pid == os.getpid()

    def add(self, lease: Lease) -> None:
        """Start renewing ``lease`` (first renewal after ``LEASE_RENEW_FRACTION`` of it)."""
        due = time.monotonic() + lease.lease_s * defaults.LEASE_RENEW_FRACTION
        lease._next_renewal = due
        with self._wake:
            self._leases[id(lease)] = lease
            heapq.heappush(self._heap, (due, next(self._seq), id(lease)))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="runhook-lease-renewer", daemon=True
                )
                self._thread.start()
            if due < self._wakes_at:
                self._wake.notify()

    def discard(self, lease: Lease) -> None:
        """Stop renewing ``lease`` (no-op when it is not renewed here)."""
        with self._wake:
            if self._leases.get(id(lease)) is lease:
                del self._leases[id(lease)]

    def held(self) -> int:
        """How many leases are being renewed now."""
        with self._wake:
            return len(self._leases)

    def _due(self, now: float) -> list[Lease]:
        """Pop the leases due by ``now`` (under the lock); a live lease whose renewal moved
        later (``ensure`` renewed it) goes back on the heap at its new time."""
        due: list[Lease] = []
        while self._heap and self._heap[0][0] <= now:
            _, _, ident = heapq.heappop(self._heap)
            lease = self._leases.get(ident)
            if lease is None or lease in due:
                continue  # ended, or a second entry of a lease already taken
            if lease.due_at() > now:
                heapq.heappush(self._heap, (lease.due_at(), next(self._seq), ident))
                continue
            due.append(lease)
        return due

    def _loop(self) -> None:
        while True:
            with self._wake:
                if not self._leases:
                    self._heap.clear()
                    self._wake.wait(5.0)
                    if not self._leases:
                        self._thread = None  # idle: add() starts a new one when needed
                        return
                    continue
                now = time.monotonic()
                due = self._due(now)
                if not due:
                    self._wakes_at = self._heap[0][0] if self._heap else now + 5.0
                    self._wake.wait(max(0.005, self._wakes_at - now))
                    self._wakes_at = math.inf
                    continue
            for lease in due:
                self._renew(lease)
            with self._wake:
                for lease in due:
                    if self._leases.get(id(lease)) is lease:
                        heapq.heappush(self._heap, (lease.due_at(), next(self._seq), id(lease)))

    def _renew(self, lease: Lease) -> None:
        try:
            keep = lease.renew()
        except Exception:
            retry = min(1.0, lease.lease_s * _RETRY_FRACTION)
            lease._next_renewal = time.monotonic() + retry
            log.warning(
                "lease renewal failed; retrying in %.2f s",
                retry,
                exc_info=True,
                extra={"key": lease.key},
            )
            return
        if not keep:
            self.discard(lease)
