"""What the store keeps: records, and the claims handed to workers. No IO."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Status(enum.StrEnum):
    """Life of a record."""

    PENDING = "pending"
    """Queued work waiting until ``lease_until`` (its due time)."""
    IN_PROGRESS = "in_progress"
    """Claimed by a worker until ``lease_until``; after that anyone may take it over."""
    COMPLETED = "completed"
    """Done; remembered until ``expires_at`` so duplicates are recognised."""


class Enqueued(enum.StrEnum):
    """Result of ``Store.enqueue``."""

    NEW = "new"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    """The key exists with a different payload hash."""
    SHADOWED = "shadowed"
    """The ``unless`` key exists: nothing was written (``Store.enqueue(unless=…)``)."""


@dataclass(frozen=True)
class Record:
    """One stored record.

    Attributes:
        key: unique key (``evt:…``, ``wait:…``, ``watch:…``).
        status: see ``Status``.
        token: random value replaced on every write; compare-and-set compares it.
        lease_until: PENDING: due time; IN_PROGRESS: lease expiry; COMPLETED: 0.
        expires_at: when the record is forgotten (None: kept until completed).
        queue: name of the due-queue the record sits in (``inbox``, ``watch``), or None for
            plain claims such as wait keys.
        payload: the queued bytes (an event envelope, a watch entry), or None.
        payload_hash: hash of ``payload`` (or of the body a claim was made for).
        attempts: how many times the record was claimed from its queue.
        outcome: a short word set on completion (``done``, ``failed``, ``moved_on`` …).
    """

    key: str
    status: Status
    token: str
    lease_until: float
    expires_at: float | None = None
    queue: str | None = None
    payload: bytes | None = None
    payload_hash: str | None = None
    attempts: int = 0
    outcome: str | None = None

    def expired(self, now: float) -> bool:
        """True when the record is past ``expires_at`` and counts as absent."""
        return self.expires_at is not None and self.expires_at <= now

    def available(self, now: float) -> bool:
        """True when a claim may take this record: absent-equivalent or a lapsed lease."""
        if self.expired(now):
            return True
        if self.status is Status.COMPLETED:
            return False
        return self.lease_until <= now


@dataclass(frozen=True)
class Census:
    """How many records of one due-queue are in each state (``Store.census``).

    Attributes:
        due: claimable now (new, a retry whose backoff passed, a lapsed lease).
        in_flight: held by a live lease.
        waiting: a retry waiting for its backoff.
        truncated: True when the queue held more records than were counted.
    """

    due: int = 0
    in_flight: int = 0
    waiting: int = 0
    truncated: bool = False


@dataclass(frozen=True)
class Claim:
    """Proof that a worker owns a record until ``lease_until``.

    Pass it back to ``complete``, ``release`` or ``extend``; a claim whose record was taken
    over by another worker (after the lease lapsed) is refused there.
    """

    key: str
    token: str
    lease_until: float
    payload: bytes | None = None
    queue: str | None = None
    attempts: int = 0
    taken_over: bool = False
    """True when the claim took the record from a holder whose lease lapsed (not a retry)."""
    record: Record | None = field(default=None, repr=False, compare=False)
    """The whole record as this claim wrote it: while the token matches, it is the stored
    record, so a renewal can write without reading it first (one round trip)."""
