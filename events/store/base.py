"""The ``Store``: leases, completion and due-queues, written once over a few primitives.

In the style of Powertools' ``BasePersistenceLayer``: the public methods hold every rule
(leases, expiry, takeover, retries) and each implementation (memory, SQLite, Redis) supplies
only the primitives, each of which must be atomic:

- ``_get(key)``: the record or None;
- ``_put_if_absent(record)``: insert unless any record (even an expired one) has the key;
- ``_compare_and_set(key, token, record)``: replace the record whose token is ``token``;
- ``_delete(key, token)``: delete the record whose token is ``token``;
- ``_scan_due(queue, now, limit)``: keys in ``queue`` that are PENDING or IN_PROGRESS with
  ``lease_until <= now`` (oldest first);
- ``_ping()``: raise ``StoreError`` when the backing service is unreachable.

The same store holds five kinds of records: the inbox (accepted events until processed, queue
``inbox``), parked inbox entries that ran out of attempts (queue ``parked``), wait claims
(``wait:…``, no queue), the relay poller's watch list (queue ``watch``) and notes, small
records that are not work (``put_note``: a delivery's trace context, ``trace:…``; a run's
timeline, queue ``timeline``), each forgotten after its TTL.

Parking needs no primitive of its own: a parked record is a PENDING record of another queue
whose due time is ``PARKED_UNTIL``, so it is never due by itself, keeps its payload, and is
listed by ``_scan_due(queue, PARKED_UNTIL, limit)``.
"""

from __future__ import annotations

import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable

from events.keys import payload_hash as hash_payload
from events.store.records import Census, Claim, Enqueued, Record, Status

PARKED_UNTIL = 253_402_300_799.0
"""Due time of a parked record (9999-12-31T23:59:59Z): never, in practice."""


def new_token() -> str:
    """A fresh random record token."""
    return uuid.uuid4().hex


class Store(ABC):
    """Durable records with lease semantics. Thread-safe; implementations must be too.

    Args:
        clock: returns unix seconds; injectable so tests can move time.
    """

    #: how many times claim() re-reads after losing a race before giving up
    _RACE_RETRIES = 5

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock

    # -- public API ---------------------------------------------------------------------------

    def enqueue(
        self,
        key: str,
        payload: bytes,
        *,
        queue: str,
        delay_s: float = 0.0,
        payload_hash: str | None = None,
    ) -> Enqueued:
        """Put ``payload`` on ``queue`` under ``key`` unless the key is already known.

        Returns:
            ``NEW`` when stored; ``DUPLICATE`` when the key exists (pending, in progress or
            completed and not yet forgotten) with the same payload hash; ``CONFLICT`` when it
            exists with a different one.
        """
        now = self.clock()
        digest = payload_hash or hash_payload(payload)
        record = Record(
            key=key,
            status=Status.PENDING,
            token=new_token(),
            lease_until=now + delay_s,
            queue=queue,
            payload=payload,
            payload_hash=digest,
        )
        for _ in range(self._RACE_RETRIES):
            if self._put_if_absent(record):
                return Enqueued.NEW
            existing = self._get(key)
            if existing is None:
                continue
            if existing.expired(now):
                if self._compare_and_set(key, existing.token, record):
                    return Enqueued.NEW
                continue
            if existing.payload_hash and existing.payload_hash != digest:
                return Enqueued.CONFLICT
            return Enqueued.DUPLICATE
        return Enqueued.DUPLICATE

    def claim(self, key: str, lease_s: float, *, payload_hash: str | None = None) -> Claim | None:
        """Take the record ``key`` for ``lease_s`` seconds, creating it if absent.

        Returns None when someone else holds a live lease or the work is already completed.
        A lapsed lease, a due PENDING entry or a forgotten (expired) record is taken over.
        """
        for _ in range(self._RACE_RETRIES):
            now = self.clock()
            existing = self._get(key)
            if existing is None:
                record = Record(
                    key=key,
                    status=Status.IN_PROGRESS,
                    token=new_token(),
                    lease_until=now + lease_s,
                    payload_hash=payload_hash,
                    attempts=1,
                )
                if self._put_if_absent(record):
                    return self._claim_of(record)
                continue
            if not existing.available(now):
                return None
            fresh = existing.expired(now)
            record = Record(
                key=key,
                status=Status.IN_PROGRESS,
                token=new_token(),
                lease_until=now + lease_s,
                expires_at=None,
                queue=None if fresh else existing.queue,
                payload=None if fresh else existing.payload,
                payload_hash=payload_hash if fresh else (existing.payload_hash or payload_hash),
                attempts=1 if fresh else existing.attempts + 1,
            )
            if self._compare_and_set(key, existing.token, record):
                lapsed = not fresh and existing.status is Status.IN_PROGRESS
                return self._claim_of(record, taken_over=lapsed)
        return None

    def extend(self, claim: Claim, lease_s: float) -> Claim | None:
        """Renew a live claim for ``lease_s`` more seconds; None if it was lost.

        Renewal keeps the token: ownership does not change, so the claim object the working
        thread holds stays valid for ``complete``/``release`` while a heartbeat renews it.
        """
        existing = self._get(claim.key)
        if existing is None or existing.token != claim.token:
            return None
        record = _replace(existing, lease_until=self.clock() + lease_s)
        if self._compare_and_set(claim.key, claim.token, record):
            return self._claim_of(record)
        return None

    def complete(self, claim: Claim, ttl_s: float, *, outcome: str = "done") -> bool:
        """Mark the claimed work done and remember it for ``ttl_s`` seconds.

        Returns False when the claim was lost (its lease lapsed and someone took over).
        """
        existing = self._get(claim.key)
        if existing is None or existing.token != claim.token:
            return False
        now = self.clock()
        record = _replace(
            existing,
            status=Status.COMPLETED,
            token=new_token(),
            lease_until=0.0,
            expires_at=now + ttl_s,
            payload=None,
            outcome=outcome,
        )
        return self._compare_and_set(claim.key, claim.token, record)

    def release(
        self, claim: Claim, *, retry_in_s: float = 0.0, payload: bytes | None = None
    ) -> bool:
        """Give the claimed work back so that it can run again.

        A queued record goes back to PENDING, due in ``retry_in_s``, carrying ``payload`` when
        given (the relay poller stores a watch entry's last-seen status this way); a plain
        claim is deleted. Returns False when the claim was already lost.
        """
        existing = self._get(claim.key)
        if existing is None or existing.token != claim.token:
            return False
        if existing.queue is None:
            return self._delete(claim.key, claim.token)
        record = _replace(
            existing,
            status=Status.PENDING,
            token=new_token(),
            lease_until=self.clock() + retry_in_s,
        )
        if payload is not None:
            record = _replace(record, payload=payload, payload_hash=hash_payload(payload))
        return self._compare_and_set(claim.key, claim.token, record)

    def forget(self, claim: Claim) -> bool:
        """Delete the claimed record, so that its key is unknown again (a run taken off the
        watch list may be watched again later). Returns False when the claim was lost."""
        return self._delete(claim.key, claim.token)

    def park(self, claim: Claim, *, queue: str, outcome: str) -> bool:
        """Move claimed queued work to ``queue``, where it is kept until ``requeue``.

        Unlike ``complete``, the payload and the attempt count are kept and the record never
        expires, so nothing is lost: an operator lists (``parked``) and replays it. The key
        stays known, so a redelivery of the same event is still a duplicate. Returns False when
        the claim was already lost.
        """
        existing = self._get(claim.key)
        if existing is None or existing.token != claim.token:
            return False
        record = _replace(
            existing,
            status=Status.PENDING,
            token=new_token(),
            lease_until=PARKED_UNTIL,
            expires_at=None,
            queue=queue,
            outcome=outcome,
        )
        return self._compare_and_set(claim.key, claim.token, record)

    def parked(self, queue: str, *, limit: int = 100) -> list[Record]:
        """Up to ``limit`` records parked in ``queue``."""
        found = (self._get(key) for key in self._scan_due(queue, PARKED_UNTIL, limit))
        return [r for r in found if r is not None and r.queue == queue]

    def requeue(self, key: str, *, from_queue: str, to_queue: str) -> bool:
        """Move a record parked in ``from_queue`` back to ``to_queue``, due now, with its
        attempts reset. Returns False when ``key`` is not parked there."""
        for _ in range(self._RACE_RETRIES):
            existing = self._get(key)
            if existing is None or existing.queue != from_queue:
                return False
            if existing.status is not Status.PENDING:
                return False
            record = _replace(
                existing,
                token=new_token(),
                lease_until=self.clock(),
                queue=to_queue,
                attempts=0,
                outcome=None,
            )
            if self._compare_and_set(key, existing.token, record):
                return True
        return False

    def due(self, queue: str, *, limit: int = 100) -> list[str]:
        """Keys in ``queue`` that a worker may claim now (due PENDING, lapsed IN_PROGRESS)."""
        return self._scan_due(queue, self.clock(), limit)

    def put_note(
        self,
        key: str,
        update: Callable[[bytes | None], bytes],
        *,
        ttl_s: float,
        queue: str | None = None,
        rank: float = 0.0,
    ) -> bool:
        """Create or rewrite a note: a small record that is not work (a trace context, a run's
        timeline), forgotten after ``ttl_s``.

        ``update`` gets the current payload (None when absent) and returns the new one; it is
        applied with compare-and-set, so concurrent writers never lose each other's changes. A
        note in ``queue`` is listed by ``notes(queue)``, highest ``rank`` first. Returns False when the note kept changing under the writer.
        """
        for _ in range(self._RACE_RETRIES * 2):
            now = self.clock()
            existing = self._get(key)
            live = existing is not None and not existing.expired(now)
            payload = update(existing.payload if live and existing is not None else None)
            record = Record(
                key=key,
                status=Status.PENDING,
                token=new_token(),
                # in a queue: listed by a due-scan, highest rank first (nobody claims notes)
                lease_until=-rank if queue else PARKED_UNTIL,
                expires_at=now + ttl_s,
                queue=queue,
                payload=payload,
            )
            if existing is None:
                if self._put_if_absent(record):
                    return True
            elif self._compare_and_set(key, existing.token, record):
                return True
        return False

    def notes(self, queue: str, *, limit: int = 100) -> list[Record]:
        """Up to ``limit`` live notes of ``queue`` (see ``put_note``), highest rank first."""
        found = (self._get(key) for key in self._scan_due(queue, self.clock(), limit))
        return [r for r in found if r is not None and r.queue == queue]

    def census(self, queue: str, *, limit: int = 10_000) -> Census:
        """Count the unfinished records of ``queue`` by state (metrics, the operator page).

        Two due-scans give every unfinished key and the due ones; only the rest (in flight or
        waiting for a retry, usually few) are read one by one. At most ``limit`` keys are
        counted; ``Census.truncated`` says when there were more.
        """
        now = self.clock()
        every = self._scan_due(queue, PARKED_UNTIL, limit + 1)
        due = set(self._scan_due(queue, now, limit))
        in_flight = waiting = 0
        for key in every[:limit]:
            if key in due:
                continue
            record = self._get(key)
            if record is None or record.queue != queue or record.status is Status.COMPLETED:
                continue
            if record.status is Status.IN_PROGRESS and record.lease_until > now:
                in_flight += 1
            elif record.lease_until > now:
                waiting += 1
        return Census(len(due), in_flight, waiting, truncated=len(every) > limit)

    def count(self, queue: str, *, limit: int = 10_000) -> int:
        """How many unfinished records ``queue`` holds (parked ones included), up to ``limit``."""
        return len(self._scan_due(queue, PARKED_UNTIL, limit))

    def get(self, key: str) -> Record | None:
        """The live record of ``key``, or None (forgotten records count as absent)."""
        record = self._get(key)
        if record is None or record.expired(self.clock()):
            return None
        return record

    def ping(self) -> None:
        """Raise ``StoreError`` if the store cannot be used right now (readiness probes)."""
        self._ping()

    def close(self) -> None:  # noqa: B027 - optional hook, most stores hold nothing to close
        """Release connections; the store may not be used afterwards."""

    def reopen(self) -> None:  # noqa: B027 - optional hook
        """Drop connections inherited across ``fork()`` (gunicorn post_fork calls this)."""

    # -- primitives -----------------------------------------------------------------------------

    @abstractmethod
    def _get(self, key: str) -> Record | None: ...

    @abstractmethod
    def _put_if_absent(self, record: Record) -> bool: ...

    @abstractmethod
    def _compare_and_set(self, key: str, token: str, record: Record) -> bool: ...

    @abstractmethod
    def _delete(self, key: str, token: str) -> bool: ...

    @abstractmethod
    def _scan_due(self, queue: str, now: float, limit: int) -> list[str]: ...

    @abstractmethod
    def _ping(self) -> None: ...

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _claim_of(record: Record, *, taken_over: bool = False) -> Claim:
        return Claim(
            key=record.key,
            token=record.token,
            lease_until=record.lease_until,
            payload=record.payload,
            queue=record.queue,
            attempts=record.attempts,
            taken_over=taken_over,
        )


def _replace(record: Record, **changes: object) -> Record:
    from dataclasses import replace

    return replace(record, **changes)  # type: ignore[arg-type]
