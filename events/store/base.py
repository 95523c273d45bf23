"""The ``Store``: leases, completion and due-queues, written once over a few primitives.

In the style of Powertools' ``BasePersistenceLayer``: the public methods hold every rule
(leases, expiry, takeover, retries) and each implementation (memory, SQLite, Redis) supplies
only the primitives, each of which must be atomic:

- ``_get(key)``: the record or None;
- ``_put_if_absent(record, durable=True, unless=None)``: insert unless any record (even an
  expired one) has the key (False) or, given ``unless``, has that key (None);
- ``_compare_and_set(key, token, record, durable=True)``: replace the record whose token is
  ``token``;
- ``_delete(key, token, durable=True)``: delete the record whose token is ``token``;
- ``_scan_due(queue, now, limit)``: keys in ``queue`` that are PENDING or IN_PROGRESS with
  ``lease_until <= now`` (oldest first);
- ``_ping()``: raise ``StoreError`` when the backing service is unreachable.

The same store holds five kinds of records: the inbox (accepted events until processed, queue
``inbox``), parked inbox entries that ran out of attempts (queue ``parked``), wait claims
(``wait:…``, no queue), the relay poller's watch list (queue ``watch``) and notes, small
records that are not work (``put_note``: a delivery's trace context, ``trace:…``; a run's
timeline, queue ``timeline``), each forgotten after its TTL.

Durability: an accepted event, a checkpoint, a parked or requeued entry and a remembered id
are written ``durable`` (SQLite: synced to disk before the call returns). A watch-list entry is
durable too, in two steps: inserted like a claim, so the poller rung for it (``ring``) can
start on it at once, then synced (``sync``) before the watch returns. Two exceptions. An
event accepted in sync mode is processed before its sender gets an answer, and a sender that
gets none delivers it again, so its insert is written like a claim (below). A checkpoint whose
submit the API refuses the second time (Assistants runs, sessions: ``save(durable=False)``) is
written like a claim too: a power cut that undoes it makes the retry run the tools again, and
the API takes only one of the two submits; a Responses checkpoint stays synced, since a second
follow-up would fork the chain. Claims, renewals, completions, releases, deletions and notes are
written with ``durable=False``: every other process sees them at once (which is what keeps two
workers apart), they survive a crash of the process, and the next durable write (any accepted
event) syncs them too; an OS crash or power loss may undo the last of them, and that work then
runs again from its last durable state (the accepted event, its checkpoint) — never lost, at
worst repeated where a power cut interrupted it anyway.

Parking needs no primitive of its own: a parked record is a PENDING record of another queue
whose due time is ``PARKED_UNTIL``, so it is never due by itself, keeps its payload, and is
listed by ``_scan_due(queue, PARKED_UNTIL, limit)``.
"""

from __future__ import annotations

import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING

from runhook.events.keys import payload_hash as hash_payload
from runhook.events.store.bell import Bell
from runhook.events.store.records import Census, Claim, Enqueued, Record, Status

if TYPE_CHECKING:
    from runhook.events.store.lease import Lease, Renewer

_RENEWER_LOCK = threading.Lock()

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
        unless: str | None = None,
        durable: bool = True,
    ) -> Enqueued:
        """Put ``payload`` on ``queue`` under ``key`` unless the key is already known.

        ``unless``: write nothing when a record (even an expired one) has this key, in the
        same atomic step (the pipeline's check for an envelope alias rides on the insert
        instead of costing a read of its own). ``durable=False`` writes it like a claim
        (visible to every process at once, synced later): for a caller that calls ``sync()``
        itself before it says the entry is stored, after letting a listener start on it
        (``ring``).

        Returns:
            ``NEW`` when stored; ``DUPLICATE`` when the key exists (pending, in progress or
            completed and not yet forgotten) with the same payload hash; ``CONFLICT`` when it
            exists with a different one; ``SHADOWED`` when ``unless`` exists.
        """
        now = self.clock()
        record = Record(
            key=key,
            status=Status.PENDING,
            token=new_token(),
            lease_until=now + delay_s,
            queue=queue,
            payload=payload,
            payload_hash=payload_hash or hash_payload(payload),
        )
        return self._insert(record, now, unless=unless, durable=durable)

    def enqueue_held(
        self,
        key: str,
        payload: bytes,
        *,
        queue: str,
        lease_s: float,
        unless: str | None = None,
        durable: bool = True,
    ) -> tuple[Enqueued, Lease | None]:
        """``enqueue``, already claimed by the caller: one durable write instead of two
        (``unless`` as for ``enqueue``).

        The entry is stored in progress (first attempt) under a ``Lease`` that renews itself;
        if the caller dies, the lease lapses and any worker's sweep takes the entry over, as
        for any claimed entry. The lease is None unless the result is ``NEW``.

        ``durable=False`` is for a caller that processes the entry before it answers its
        sender (sync mode): the sender keeps the event until that answer, so the insert need
        not be synced on its own (see the module docstring).
        """
        from runhook.events.store.lease import Lease

        now = self.clock()
        record = Record(
            key=key,
            status=Status.IN_PROGRESS,
            token=new_token(),
            lease_until=now + lease_s,
            queue=queue,
            payload=payload,
            payload_hash=hash_payload(payload),
            attempts=1,
        )
        result = self._insert(record, now, unless=unless, durable=durable)
        if result is not Enqueued.NEW:
            return result, None
        return result, Lease(self, self._claim_of(record), lease_s, self._renewer())

    def _insert(
        self, record: Record, now: float, *, unless: str | None = None, durable: bool = True
    ) -> Enqueued:
        for _ in range(self._RACE_RETRIES):
            put = self._put_if_absent(record, durable=durable, unless=unless)
            if put is None:
                return Enqueued.SHADOWED
            if put:
                return Enqueued.NEW
            existing = self._get(record.key)
            if existing is None:
                continue
            if existing.expired(now):
                if self._compare_and_set(record.key, existing.token, record, durable=durable):
                    return Enqueued.NEW
                continue
            if existing.payload_hash and existing.payload_hash != record.payload_hash:
                return Enqueued.CONFLICT
            return Enqueued.DUPLICATE
        return Enqueued.DUPLICATE

    def remember(self, key: str, payload: bytes, *, ttl_s: float, payload_hash: str) -> Enqueued:
        """Record that ``key`` was seen with ``payload_hash`` (done, forgotten after ``ttl_s``).

        Returns ``NEW`` the first time, ``DUPLICATE`` when the key is known with the same hash,
        ``CONFLICT`` with another. ``payload`` is kept for the caller (``get(key).payload``).
        """
        now = self.clock()
        record = Record(
            key=key,
            status=Status.COMPLETED,
            token=new_token(),
            lease_until=0.0,
            expires_at=now + ttl_s,
            payload=payload,
            payload_hash=payload_hash,
            outcome="seen",
        )
        return self._insert(record, now)

    def claim(
        self,
        key: str,
        lease_s: float,
        *,
        payload_hash: str | None = None,
        likely_new: bool = False,
    ) -> Claim | None:
        """Take the record ``key`` for ``lease_s`` seconds, creating it if absent.

        Returns None when someone else holds a live lease or the work is already completed.
        A lapsed lease, a due PENDING entry or a forgotten (expired) record is taken over.
        ``likely_new``: the caller expects no record yet (a wait seen for the first time), so
        the insert is tried before any read: one round trip instead of two when it is right,
        one more when it is not.
        """
        for attempt in range(self._RACE_RETRIES):
            now = self.clock()
            existing = None if likely_new and attempt == 0 else self._get(key)
            if existing is None:
                record = Record(
                    key=key,
                    status=Status.IN_PROGRESS,
                    token=new_token(),
                    lease_until=now + lease_s,
                    payload_hash=payload_hash,
                    attempts=1,
                )
                if self._put_if_absent(record, durable=False):
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
            # A claim is seen by every other worker at once (that is what keeps two from
            # working on it); a power cut can undo it only while its work is unfinished, and
            # that work is then taken over anyway. What must survive one is the checkpoint.
            if self._compare_and_set(key, existing.token, record, durable=False):
                lapsed = not fresh and existing.status is Status.IN_PROGRESS
                return self._claim_of(record, taken_over=lapsed)
        return None

    def acquire(
        self,
        key: str,
        lease_s: float,
        *,
        payload_hash: str | None = None,
        likely_new: bool = False,
    ) -> Lease | None:
        """Claim ``key`` (see ``claim``) as a ``Lease`` that renews itself from this moment.

        This is how every holder takes work: the worker's inbox entries, the wait claims and
        the lifecycle records. Renewal starts before ``acquire`` returns, so nothing the
        holder does next (a network call) can outlast an unrenewed lease.

        Returns None when someone else holds a live lease or the work is already completed.
        """
        from runhook.events.store.lease import Lease

        claim = self.claim(key, lease_s, payload_hash=payload_hash, likely_new=likely_new)
        if claim is None:
            return None
        return Lease(self, claim, lease_s, self._renewer())

    def extend(self, claim: Claim, lease_s: float) -> Claim | None:
        """Renew a live claim for ``lease_s`` more seconds; None if it was lost.

        Renewal replaces the token like every other write: a worker that read the record
        before the renewal, saw the lease lapsed and now tries to take it over fails its
        compare-and-set and finds the lease live. Use the returned claim from now on; the old
        one is refused by ``complete``/``release`` (``Lease`` keeps track of this).
        """
        return self._rewrite(claim, durable=False, lease_until=self.clock() + lease_s)

    def save(
        self, claim: Claim, payload: bytes, lease_s: float, *, durable: bool = True
    ) -> Claim | None:
        """Checkpoint: store ``payload`` on the claimed record and renew it, in one write.

        A wait keeps its tool outputs this way before the submit, so a worker that takes it
        over submits them instead of running the tools again. None if the claim was lost.
        ``durable=False`` writes it like a claim (see the module docstring): for a caller
        whose work may be repeated after a power cut without harm (a submit the API refuses
        the second time).
        """
        return self._rewrite(
            claim,
            durable=durable,
            lease_until=self.clock() + lease_s,
            payload=payload,
            payload_hash=hash_payload(payload),
        )

    def _rewrite(self, claim: Claim, *, durable: bool, **changes: object) -> Claim | None:
        existing = self._current(claim)
        if existing is None or existing.token != claim.token:
            return None
        if existing.status is not Status.IN_PROGRESS:
            return None
        record = _replace(existing, token=new_token(), **changes)
        if self._compare_and_set(claim.key, claim.token, record, durable=durable):
            return self._claim_of(record)
        return None

    def complete(self, claim: Claim, ttl_s: float, *, outcome: str = "done") -> bool:
        """Mark the claimed work done and remember it for ``ttl_s`` seconds.

        Returns False when the claim was lost (its lease lapsed and someone took over).
        """
        existing = self._current(claim)
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
        return self._compare_and_set(claim.key, claim.token, record, durable=False)

    def release(
        self,
        claim: Claim,
        *,
        retry_in_s: float = 0.0,
        payload: bytes | None = None,
        failed: bool = True,
    ) -> bool:
        """Give the claimed work back so that it can run again.

        A queued record goes back to PENDING, due in ``retry_in_s``, carrying ``payload`` when
        given (the relay poller stores a watch entry's last-seen status this way). With
        ``failed=False`` (a retry the handler asked for) the claim does not count as an
        attempt. A plain claim is deleted, unless it holds a checkpoint (``save``) or is given
        ``payload``: then its lease is made to lapse now, and the next claim takes it over with
        that payload.
        Returns False when the claim was already lost.
        """
        existing = self._current(claim)
        if existing is None or existing.token != claim.token:
            return False
        now = self.clock()
        if existing.queue is None:
            if payload is None and existing.payload is None:
                return self._delete(claim.key, claim.token, durable=False)
            lapsed = _replace(existing, token=new_token(), lease_until=now)
            if payload is not None:
                lapsed = _replace(lapsed, payload=payload, payload_hash=hash_payload(payload))
            return self._compare_and_set(claim.key, claim.token, lapsed, durable=False)
        attempts = existing.attempts if failed else max(0, existing.attempts - 1)
        record = _replace(
            existing,
            status=Status.PENDING,
            token=new_token(),
            lease_until=now + retry_in_s,
            attempts=attempts,
        )
        if payload is not None:
            record = _replace(record, payload=payload, payload_hash=hash_payload(payload))
        return self._compare_and_set(claim.key, claim.token, record, durable=False)

    def forget(self, claim: Claim) -> bool:
        """Delete the claimed record, so that its key is unknown again (a run taken off the
        watch list may be watched again later). Returns False when the claim was lost."""
        return self._delete(claim.key, claim.token, durable=False)

    def park(self, claim: Claim, *, queue: str, outcome: str) -> bool:
        """Move claimed queued work to ``queue``, where it is kept until ``requeue``.

        Unlike ``complete``, the payload and the attempt count are kept and the record never
        expires, so nothing is lost: an operator lists (``parked``) and replays it. The key
        stays known, so a redelivery of the same event is still a duplicate. Returns False when
        the claim was already lost.
        """
        existing = self._current(claim)
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
            # Notes are observations, not work: a power cut may cost the last few.
            if existing is None:
                if self._put_if_absent(record, durable=False):
                    return True
            elif self._compare_and_set(key, existing.token, record, durable=False):
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

    def _renewer(self) -> Renewer:
        """This process's renewer of this store's leases (one thread, started on first use
        and again in a forked child, where the parent's thread does not exist)."""
        from runhook.events.store.lease import Renewer

        with _RENEWER_LOCK:
            renewer: Renewer | None = getattr(self, "_lease_renewer", None)
            if renewer is None or not renewer.usable():
                renewer = Renewer(clock=self.clock)
                self._lease_renewer = renewer
            return renewer

    def ring(self, queue: str) -> None:  # noqa: B027 - optional hook, see bell()
        """Tell whoever listens on ``queue`` (``bell``) that an entry there is due now.

        Best effort and cheap: nothing is raised, and a ring nobody hears is lost without
        harm (the entry is in the store; listeners scan for it too). This base store has no
        bell: its listeners only scan.
        """

    def bell(self, queue: str) -> Bell:
        """A listener for ``ring(queue)`` (see ``runhook.events.store.bell``); close it after
        use. This base store's bell hears nothing and only sleeps."""
        return Bell()

    def sync(self) -> None:  # noqa: B027 - optional hook, most stores have nothing to sync
        """Make every write this process has committed durable (SQLite: synced to disk), as
        a ``durable`` write would have been.

        Raises:
            StoreError: the store could not sync.
        """

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
    def _put_if_absent(
        self, record: Record, *, durable: bool = True, unless: str | None = None
    ) -> bool | None: ...

    @abstractmethod
    def _compare_and_set(
        self, key: str, token: str, record: Record, *, durable: bool = True
    ) -> bool: ...

    @abstractmethod
    def _delete(self, key: str, token: str, *, durable: bool = True) -> bool: ...

    @abstractmethod
    def _scan_due(self, queue: str, now: float, limit: int) -> list[str]: ...

    @abstractmethod
    def _ping(self) -> None: ...

    # -- helpers ------------------------------------------------------------------------------

    def _current(self, claim: Claim) -> Record | None:
        """The record as ``claim`` last wrote it, else as stored. While the claim's token
        matches, the two are the same (every write replaces the token), and the
        compare-and-set that follows checks exactly that: one round trip instead of two."""
        return claim.record if claim.record is not None else self._get(claim.key)

    @staticmethod
    def _claim_of(record: Record, *, taken_over: bool = False) -> Claim:
        return Claim(
            key=record.key,
            token=record.token,
            lease_until=record.lease_until,
            payload=record.payload,
            queue=record.queue,
            attempts=record.attempts,
            record=record,
            taken_over=taken_over,
        )


def _replace(record: Record, **changes: object) -> Record:
    from dataclasses import replace

    return replace(record, **changes)  # type: ignore[arg-type]
