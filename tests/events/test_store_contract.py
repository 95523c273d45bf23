"""The Store contract: every rule of ``runhook.events.store.base``, against every store.

Each test runs against memory, SQLite and Redis (``any_store``); the cross-process races run
against the stores that processes can share (``shared_store_spec``). Time is a ``FakeClock``.
"""

from __future__ import annotations

from runhook.events.keys import payload_hash
from runhook.events.store import Claim, Enqueued, Status, Store
from runhook.events.store.memory import MemoryStore
from runhook.events.store.records import Record
from tests.plugins.stores import FakeClock, StoreSpec, race_in_processes, race_in_threads

LEASE_S = 30.0
TTL_S = 3600.0
THREADS = 8
PROCESSES = 4


class ReadCountingStore(MemoryStore):
    """A memory store that counts its reads (``_get``)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def _get(self, key: str) -> Record | None:
        self.reads += 1
        return super()._get(key)


def claimed(claim: Claim | None) -> Claim:
    """The claim, asserting that there is one."""
    assert claim is not None, "expected the claim to be granted"
    return claim


class TestEnqueue:
    def test_new_then_duplicate(self, any_store: Store) -> None:
        """The first enqueue of a key is NEW and a second with the same payload DUPLICATE."""
        assert any_store.enqueue("evt:1", b"body", queue="inbox") is Enqueued.NEW
        assert any_store.enqueue("evt:1", b"body", queue="inbox") is Enqueued.DUPLICATE

    def test_conflict(self, any_store: Store) -> None:
        """An enqueue of a known key with a different payload is a CONFLICT and changes nothing."""
        any_store.enqueue("evt:1", b"body", queue="inbox")
        assert any_store.enqueue("evt:1", b"other", queue="inbox") is Enqueued.CONFLICT
        record = any_store.get("evt:1")
        assert record is not None and record.payload == b"body"

    def test_given_payload_hash_decides(self, any_store: Store) -> None:
        """A caller-supplied payload hash is what duplicates are compared by."""
        any_store.enqueue("evt:1", b"a", queue="inbox", payload_hash="h1")
        assert any_store.enqueue("evt:1", b"b", queue="inbox", payload_hash="h1") is (
            Enqueued.DUPLICATE
        )

    def test_stores_a_pending_record(self, any_store: Store, store_clock: FakeClock) -> None:
        """An enqueued record is PENDING on its queue, due after the delay, never claimed yet."""
        any_store.enqueue("evt:1", b"\x00body\xff", queue="inbox", delay_s=5.0)
        record = any_store.get("evt:1")
        assert record is not None
        assert record.status is Status.PENDING
        assert record.queue == "inbox"
        assert record.payload == b"\x00body\xff"
        assert record.payload_hash == payload_hash(b"\x00body\xff")
        assert record.lease_until == store_clock.now + 5.0
        assert record.attempts == 0
        assert record.expires_at is None

    def test_duplicate_while_in_progress(self, any_store: Store) -> None:
        """An enqueue of a key that is claimed is a DUPLICATE."""
        any_store.enqueue("evt:1", b"body", queue="inbox")
        claimed(any_store.claim("evt:1", LEASE_S))
        assert any_store.enqueue("evt:1", b"body", queue="inbox") is Enqueued.DUPLICATE

    def test_duplicate_while_completed_is_remembered(
        self, any_store: Store, store_clock: FakeClock
    ) -> None:
        """An enqueue of a key completed within its TTL is a DUPLICATE."""
        any_store.enqueue("evt:1", b"body", queue="inbox")
        any_store.complete(claimed(any_store.claim("evt:1", LEASE_S)), TTL_S)
        store_clock.advance(TTL_S - 1)
        assert any_store.enqueue("evt:1", b"body", queue="inbox") is Enqueued.DUPLICATE

    def test_new_after_forgotten(self, any_store: Store, store_clock: FakeClock) -> None:
        """Once a completed record's TTL has passed, the key is NEW again, even with another body."""
        any_store.enqueue("evt:1", b"body", queue="inbox")
        any_store.complete(claimed(any_store.claim("evt:1", LEASE_S)), TTL_S)
        store_clock.advance(TTL_S)
        assert any_store.enqueue("evt:1", b"second", queue="inbox") is Enqueued.NEW
        record = any_store.get("evt:1")
        assert record is not None
        assert (record.status, record.payload, record.attempts) == (Status.PENDING, b"second", 0)
        assert any_store.due("inbox") == ["evt:1"]


class TestEnqueueUnless:
    def test_nothing_is_written_when_the_other_key_exists(self, any_store: Store) -> None:
        """``unless`` names a key whose record, if any, stops the insert in the same step."""
        any_store.remember("env:1", b"wh_1", ttl_s=TTL_S, payload_hash="h")
        assert any_store.enqueue("evt:1", b"body", queue="inbox", unless="env:1") is (
            Enqueued.SHADOWED
        )
        assert any_store.get("evt:1") is None
        result, lease = any_store.enqueue_held(
            "evt:1", b"body", queue="inbox", lease_s=LEASE_S, unless="env:1"
        )
        assert (result, lease) == (Enqueued.SHADOWED, None) and any_store.get("evt:1") is None

    def test_written_as_usual_when_it_does_not(self, any_store: Store) -> None:
        assert any_store.enqueue("evt:1", b"body", queue="inbox", unless="env:1") is Enqueued.NEW
        assert any_store.enqueue("evt:1", b"body", queue="inbox", unless="env:1") is (
            Enqueued.DUPLICATE
        )
        assert any_store.enqueue("evt:1", b"other", queue="inbox", unless="env:1") is (
            Enqueued.CONFLICT
        )
        result, lease = any_store.enqueue_held(
            "evt:2", b"body", queue="inbox", lease_s=LEASE_S, unless="env:2"
        )
        assert result is Enqueued.NEW and lease is not None and lease.complete(TTL_S)


class TestEnqueueHeld:
    def test_stored_in_progress_and_held(self, any_store: Store, store_clock: FakeClock) -> None:
        """An entry enqueued held is one record in progress under the caller's lease: not
        due, not claimable, and completed through the lease."""
        result, lease = any_store.enqueue_held("evt:1", b"body", queue="inbox", lease_s=LEASE_S)
        assert result is Enqueued.NEW and lease is not None
        assert (lease.saved, lease.attempts) == (b"body", 1)
        record = any_store.get("evt:1")
        assert record is not None and record.status is Status.IN_PROGRESS
        assert any_store.due("inbox") == [] and any_store.claim("evt:1", LEASE_S) is None
        assert lease.complete(TTL_S) is True
        again, none = any_store.enqueue_held("evt:1", b"body", queue="inbox", lease_s=LEASE_S)
        assert (again, none) == (Enqueued.DUPLICATE, None)

    def test_a_dead_acceptors_entry_is_swept_after_the_lease(
        self, any_store: Store, store_clock: FakeClock
    ) -> None:
        """If the process that accepted and held the entry dies, the entry becomes due when
        its lease lapses and another worker claims it as a second attempt."""
        _, lease = any_store.enqueue_held("evt:1", b"body", queue="inbox", lease_s=LEASE_S)
        assert lease is not None
        lease.stop()
        store_clock.advance(LEASE_S)
        assert any_store.due("inbox") == ["evt:1"]
        taken = claimed(any_store.claim("evt:1", LEASE_S))
        assert (taken.payload, taken.attempts) == (b"body", 2)

    def test_released_unstarted_entry_keeps_its_attempts(self, any_store: Store) -> None:
        """A held entry given back unstarted (release, failed=False) is due at once and its
        next claim is its first attempt."""
        _, lease = any_store.enqueue_held("evt:1", b"body", queue="inbox", lease_s=LEASE_S)
        assert lease is not None and lease.release(failed=False)
        assert any_store.due("inbox") == ["evt:1"]
        assert claimed(any_store.claim("evt:1", LEASE_S)).attempts == 1


class TestClaim:
    def test_claim_creates(self, any_store: Store, store_clock: FakeClock) -> None:
        """A claim of an unknown key creates an IN_PROGRESS record leased to the claimer."""
        claim = claimed(any_store.claim("wait:1", LEASE_S, payload_hash="h"))
        assert claim.key == "wait:1"
        assert claim.lease_until == store_clock.now + LEASE_S
        assert (claim.attempts, claim.payload, claim.queue) == (1, None, None)
        record = any_store.get("wait:1")
        assert record is not None
        assert record.status is Status.IN_PROGRESS
        assert record.token == claim.token
        assert record.lease_until == claim.lease_until
        assert record.payload_hash == "h"

    def test_second_claim_within_lease(self, any_store: Store, store_clock: FakeClock) -> None:
        """A second claim within the lease returns None."""
        claimed(any_store.claim("wait:1", LEASE_S))
        store_clock.advance(LEASE_S - 0.001)
        assert any_store.claim("wait:1", LEASE_S) is None

    def test_takeover_after_lease(self, any_store: Store, store_clock: FakeClock) -> None:
        """A claim after the lease lapsed takes over: attempts go up, the payload is kept."""
        any_store.enqueue("evt:1", b"body", queue="inbox")
        first = claimed(any_store.claim("evt:1", LEASE_S))
        store_clock.advance(LEASE_S)
        second = claimed(any_store.claim("evt:1", LEASE_S))
        assert second.token != first.token
        assert (second.attempts, second.payload, second.queue) == (2, b"body", "inbox")

    def test_claims_a_queued_record(self, any_store: Store) -> None:
        """A claim of a due queued record hands over its payload and counts the attempt."""
        any_store.enqueue("evt:1", b"body", queue="inbox")
        claim = claimed(any_store.claim("evt:1", LEASE_S))
        assert (claim.attempts, claim.payload, claim.queue) == (1, b"body", "inbox")

    def test_not_before_due(self, any_store: Store, store_clock: FakeClock) -> None:
        """A queued record cannot be claimed before it is due."""
        any_store.enqueue("evt:1", b"body", queue="inbox", delay_s=10.0)
        assert any_store.claim("evt:1", LEASE_S) is None
        store_clock.advance(10.0)
        assert any_store.claim("evt:1", LEASE_S) is not None


class TestClaimLikelyNew:
    """``likely_new`` (insert before any read) changes how many round trips a claim takes,
    never what it grants."""

    def test_same_answers_as_a_plain_claim(self, any_store: Store, store_clock: FakeClock) -> None:
        """Absent: granted. Held: refused. A due queued record: granted with its payload.
        Lapsed: taken over with the payload. Completed: refused until forgotten, then granted
        afresh."""
        first = claimed(any_store.claim("wait:1", LEASE_S, likely_new=True))
        assert (first.attempts, first.taken_over) == (1, False)
        assert any_store.claim("wait:1", LEASE_S, likely_new=True) is None
        any_store.enqueue("evt:1", b"body", queue="inbox")
        queued = claimed(any_store.claim("evt:1", LEASE_S, likely_new=True))
        assert (queued.attempts, queued.payload) == (1, b"body")
        store_clock.advance(LEASE_S)
        again = claimed(any_store.claim("evt:1", LEASE_S, likely_new=True))
        assert (again.attempts, again.payload, again.taken_over) == (2, b"body", True)
        assert any_store.complete(again, TTL_S)
        assert any_store.claim("evt:1", LEASE_S, likely_new=True) is None
        store_clock.advance(TTL_S)
        forgotten = claimed(any_store.claim("evt:1", LEASE_S, likely_new=True))
        assert (forgotten.attempts, forgotten.payload, forgotten.taken_over) == (1, None, False)

    def test_threads_race_to_claim(self, any_store: Store) -> None:
        """Of N threads claiming one new key at once with the hint, exactly one wins."""
        results = race_in_threads(
            THREADS, lambda i: any_store.claim("wait:1", LEASE_S, likely_new=True)
        )
        assert sum(claim is not None for claim in results) == 1

    def test_a_new_key_takes_one_write_and_no_read(self) -> None:
        """The reason for the hint: a wait seen for the first time costs one round trip."""
        store = ReadCountingStore()
        claimed(store.claim("wait:1", LEASE_S, likely_new=True))
        assert store.reads == 0
        claimed(store.claim("wait:2", LEASE_S))
        assert store.reads == 1


class TestComplete:
    def test_complete(self, any_store: Store, store_clock: FakeClock) -> None:
        """Completing with the live claim marks the record COMPLETED and drops its payload."""
        any_store.enqueue("evt:1", b"body", queue="inbox")
        assert any_store.complete(claimed(any_store.claim("evt:1", LEASE_S)), TTL_S, outcome="ok")
        record = any_store.get("evt:1")
        assert record is not None
        assert record.status is Status.COMPLETED
        assert record.expires_at == store_clock.now + TTL_S
        assert (record.payload, record.outcome, record.lease_until) == (None, "ok", 0.0)
        assert record.payload_hash == payload_hash(b"body")

    def test_stale_claim_is_refused(self, any_store: Store, store_clock: FakeClock) -> None:
        """A claim whose lease was taken over cannot complete; the new owner's can."""
        stale = claimed(any_store.claim("wait:1", LEASE_S))
        store_clock.advance(LEASE_S + 1)
        owner = claimed(any_store.claim("wait:1", LEASE_S))
        assert any_store.complete(stale, TTL_S) is False
        record = any_store.get("wait:1")
        assert record is not None and record.status is Status.IN_PROGRESS
        assert any_store.complete(owner, TTL_S) is True

    def test_complete_twice(self, any_store: Store) -> None:
        """A claim completes once; a second complete with it is refused."""
        claim = claimed(any_store.claim("wait:1", LEASE_S))
        assert any_store.complete(claim, TTL_S) is True
        assert any_store.complete(claim, TTL_S) is False

    def test_completed_blocks_claims_until_ttl(
        self, any_store: Store, store_clock: FakeClock
    ) -> None:
        """A completed record refuses claims until its TTL passes, then is claimable afresh."""
        any_store.enqueue("evt:1", b"body", queue="inbox")
        any_store.complete(claimed(any_store.claim("evt:1", LEASE_S)), TTL_S)
        store_clock.advance(TTL_S - 1)
        assert any_store.claim("evt:1", LEASE_S) is None
        store_clock.advance(1)
        fresh = claimed(any_store.claim("evt:1", LEASE_S))
        assert (fresh.attempts, fresh.payload, fresh.queue) == (1, None, None)

    def test_get_hides_forgotten(self, any_store: Store, store_clock: FakeClock) -> None:
        """get() returns a completed record until its TTL passes, then None."""
        any_store.complete(claimed(any_store.claim("wait:1", LEASE_S)), TTL_S)
        store_clock.advance(TTL_S - 1)
        assert any_store.get("wait:1") is not None
        store_clock.advance(1)
        assert any_store.get("wait:1") is None

    def test_completed_is_not_due(self, any_store: Store, store_clock: FakeClock) -> None:
        """A completed queued record leaves its due-queue for good."""
        any_store.enqueue("evt:1", b"body", queue="inbox")
        any_store.complete(claimed(any_store.claim("evt:1", LEASE_S)), TTL_S)
        store_clock.advance(TTL_S * 2)
        assert any_store.due("inbox") == []


class TestRelease:
    def test_queued_goes_back_pending(self, any_store: Store, store_clock: FakeClock) -> None:
        """A released queued record is PENDING again and due() lists it only once it is due."""
        any_store.enqueue("evt:1", b"body", queue="inbox")
        claim = claimed(any_store.claim("evt:1", LEASE_S))
        assert any_store.release(claim, retry_in_s=10.0) is True
        record = any_store.get("evt:1")
        assert record is not None
        assert (record.status, record.lease_until) == (Status.PENDING, store_clock.now + 10.0)
        assert any_store.due("inbox") == []
        assert any_store.claim("evt:1", LEASE_S) is None
        store_clock.advance(10.0)
        assert any_store.due("inbox") == ["evt:1"]
        retry = claimed(any_store.claim("evt:1", LEASE_S))
        assert (retry.attempts, retry.payload) == (2, b"body")

    def test_release_with_payload(self, any_store: Store) -> None:
        """A release may carry a new payload, which replaces the old one and its hash."""
        any_store.enqueue("watch:run_1", b"queued", queue="watch")
        claim = claimed(any_store.claim("watch:run_1", LEASE_S))
        any_store.release(claim, payload=b"in_progress")
        record = any_store.get("watch:run_1")
        assert record is not None
        assert record.payload == b"in_progress"
        assert record.payload_hash == payload_hash(b"in_progress")

    def test_plain_claim_is_deleted(self, any_store: Store) -> None:
        """Releasing a claim without a queue deletes it, so the next claim starts afresh."""
        claim = claimed(any_store.claim("wait:1", LEASE_S))
        assert any_store.release(claim) is True
        assert any_store.get("wait:1") is None
        assert claimed(any_store.claim("wait:1", LEASE_S)).attempts == 1

    def test_stale_release_is_refused(self, any_store: Store, store_clock: FakeClock) -> None:
        """A claim that was taken over cannot release the new owner's record."""
        for key, queue in (("wait:1", None), ("evt:1", "inbox")):
            if queue:
                any_store.enqueue(key, b"body", queue=queue)
            stale = claimed(any_store.claim(key, LEASE_S))
            store_clock.advance(LEASE_S)
            owner = claimed(any_store.claim(key, LEASE_S))
            assert any_store.release(stale) is False
            record = any_store.get(key)
            assert record is not None and record.token == owner.token


class TestExtend:
    def test_extend_keeps_the_lease(self, any_store: Store, store_clock: FakeClock) -> None:
        """An extended claim is not taken over when its first lease would have lapsed."""
        claim = claimed(any_store.claim("wait:1", LEASE_S))
        store_clock.advance(LEASE_S - 1)
        renewed = claimed(any_store.extend(claim, LEASE_S))
        assert renewed.lease_until == store_clock.now + LEASE_S
        store_clock.advance(2)
        assert any_store.claim("wait:1", LEASE_S) is None
        assert any_store.complete(renewed, TTL_S) is True

    def test_extend_fences_the_old_token(self, any_store: Store) -> None:
        """A renewal replaces the token: the renewed claim completes the work, the claim from
        before the renewal is refused (Lease keeps the current one)."""
        claim = claimed(any_store.claim("wait:1", LEASE_S))
        renewed = claimed(any_store.extend(claim, LEASE_S))
        assert renewed.token != claim.token
        assert any_store.complete(claim, TTL_S) is False
        assert any_store.complete(renewed, TTL_S) is True

    def test_late_renewal_beats_a_taker(self, any_store: Store, store_clock: FakeClock) -> None:
        """A holder that renews after its lease lapsed, but before anyone took it over, keeps
        it: the taker that looks next finds a live lease."""
        claim = claimed(any_store.claim("wait:1", LEASE_S))
        store_clock.advance(LEASE_S + 1)
        renewed = claimed(any_store.extend(claim, LEASE_S))
        assert any_store.claim("wait:1", LEASE_S) is None
        assert any_store.complete(renewed, TTL_S) is True

    def test_extend_lost_claim(self, any_store: Store, store_clock: FakeClock) -> None:
        """A claim that was taken over cannot be extended."""
        stale = claimed(any_store.claim("wait:1", LEASE_S))
        store_clock.advance(LEASE_S)
        claimed(any_store.claim("wait:1", LEASE_S))
        assert any_store.extend(stale, LEASE_S) is None

    def test_extend_keeps_queue_and_payload(self, any_store: Store) -> None:
        """Extending a queued claim keeps its payload, queue and attempts."""
        any_store.enqueue("evt:1", b"body", queue="inbox")
        renewed = claimed(any_store.extend(claimed(any_store.claim("evt:1", LEASE_S)), LEASE_S))
        assert (renewed.payload, renewed.queue, renewed.attempts) == (b"body", "inbox", 1)


class TestDue:
    def test_oldest_first(self, any_store: Store, store_clock: FakeClock) -> None:
        """due() lists the due keys by due time, oldest first, not by insertion order."""
        for key, delay in (("evt:c", 3.0), ("evt:a", 1.0), ("evt:d", 4.0), ("evt:b", 2.0)):
            any_store.enqueue(key, b"body", queue="inbox", delay_s=delay)
        store_clock.advance(10.0)
        assert any_store.due("inbox") == ["evt:a", "evt:b", "evt:c", "evt:d"]

    def test_limit(self, any_store: Store, store_clock: FakeClock) -> None:
        """due() returns at most ``limit`` keys, the oldest."""
        for i in range(5):
            any_store.enqueue(f"evt:{i}", b"body", queue="inbox", delay_s=float(i))
        store_clock.advance(10.0)
        assert any_store.due("inbox", limit=2) == ["evt:0", "evt:1"]
        assert any_store.due("inbox", limit=0) == []

    def test_only_due(self, any_store: Store, store_clock: FakeClock) -> None:
        """due() leaves out entries whose due time is still ahead."""
        any_store.enqueue("evt:now", b"body", queue="inbox")
        any_store.enqueue("evt:later", b"body", queue="inbox", delay_s=60.0)
        assert any_store.due("inbox") == ["evt:now"]
        store_clock.advance(60.0)
        assert any_store.due("inbox") == ["evt:now", "evt:later"]

    def test_per_queue(self, any_store: Store) -> None:
        """Each queue lists only its own entries; plain claims are in no queue."""
        any_store.enqueue("evt:1", b"body", queue="inbox")
        any_store.enqueue("watch:run_1", b"body", queue="watch")
        claimed(any_store.claim("wait:1", LEASE_S))
        assert any_store.due("inbox") == ["evt:1"]
        assert any_store.due("watch") == ["watch:run_1"]
        assert any_store.due("other") == []

    def test_lapsed_leases_are_due(self, any_store: Store, store_clock: FakeClock) -> None:
        """A claimed entry is not due while its lease runs, and due again once it lapses."""
        any_store.enqueue("evt:1", b"body", queue="inbox")
        claimed(any_store.claim("evt:1", LEASE_S))
        assert any_store.due("inbox") == []
        store_clock.advance(LEASE_S)
        assert any_store.due("inbox") == ["evt:1"]


class TestRecords:
    def test_missing(self, any_store: Store) -> None:
        """get() of an unknown key is None."""
        assert any_store.get("evt:nothing") is None

    def test_round_trip(self, any_store: Store, store_clock: FakeClock) -> None:
        """Keys, binary payloads and fractional times come back exactly as stored."""
        store_clock.now = 1_700_000_000.123456
        key = "evt:ünïcode key:with:colons"
        payload = bytes(range(256)) * 4096  # 1 MiB, every byte value
        any_store.enqueue(key, payload, queue="inbox", delay_s=0.1)
        record = any_store.get(key)
        assert record is not None
        assert (record.key, record.payload) == (key, payload)
        assert record.lease_until == 1_700_000_000.123456 + 0.1
        store_clock.advance(1)
        assert any_store.due("inbox") == [key]

    def test_empty_payload(self, any_store: Store) -> None:
        """An empty payload is stored as empty bytes, not as no payload."""
        any_store.enqueue("evt:1", b"", queue="inbox")
        record = any_store.get("evt:1")
        assert record is not None and record.payload == b""

    def test_ping(self, any_store: Store) -> None:
        """ping() returns quietly when the store is usable."""
        any_store.ping()


class TestConcurrency:
    def test_threads_race_to_claim(self, any_store: Store) -> None:
        """Of N threads claiming one key at once, exactly one wins."""
        results = race_in_threads(THREADS, lambda i: any_store.claim("wait:1", LEASE_S))
        assert sum(claim is not None for claim in results) == 1

    def test_threads_race_to_take_over(self, any_store: Store, store_clock: FakeClock) -> None:
        """Of N threads taking over one lapsed lease at once, exactly one wins."""
        any_store.enqueue("evt:1", b"body", queue="inbox")
        claimed(any_store.claim("evt:1", LEASE_S))
        store_clock.advance(LEASE_S)
        results = race_in_threads(THREADS, lambda i: any_store.claim("evt:1", LEASE_S))
        winners = [claim for claim in results if claim is not None]
        assert len(winners) == 1 and winners[0].attempts == 2

    def test_threads_race_to_enqueue(self, any_store: Store) -> None:
        """Of N threads enqueueing one key at once, exactly one gets NEW."""
        results = race_in_threads(
            THREADS, lambda i: any_store.enqueue("evt:1", b"body", queue="inbox")
        )
        assert sorted(results) == [Enqueued.DUPLICATE] * (THREADS - 1) + [Enqueued.NEW]

    def test_threads_write_distinct_keys(self, any_store: Store) -> None:
        """Writes from many threads at once are all kept."""
        results = race_in_threads(
            THREADS, lambda i: any_store.enqueue(f"evt:{i}", b"body", queue="inbox")
        )
        assert results == [Enqueued.NEW] * THREADS
        assert sorted(any_store.due("inbox")) == sorted(f"evt:{i}" for i in range(THREADS))

    def test_processes_race_to_claim(
        self, shared_store_spec: StoreSpec, store_clock: FakeClock
    ) -> None:
        """Of N processes claiming one key at once, exactly one wins."""
        results = race_in_processes(
            shared_store_spec, store_clock.now, "claim", "wait:1", PROCESSES
        )
        assert sorted(results) == ["lost"] * (PROCESSES - 1) + ["won"]

    def test_processes_race_to_enqueue(
        self, shared_store_spec: StoreSpec, store_clock: FakeClock
    ) -> None:
        """Of N processes enqueueing one key at once, exactly one gets NEW."""
        results = race_in_processes(
            shared_store_spec, store_clock.now, "enqueue", "evt:1", PROCESSES
        )
        assert sorted(results) == ["duplicate"] * (PROCESSES - 1) + ["new"]
        store = shared_store_spec.open(store_clock)
        try:
            assert store.due("inbox") == ["evt:1"]
        finally:
            store.close()

    def test_two_stores_share_records(
        self, shared_store_spec: StoreSpec, store_clock: FakeClock
    ) -> None:
        """Two stores on the same backing see each other's records and leases."""
        first, second = shared_store_spec.open(store_clock), shared_store_spec.open(store_clock)
        try:
            first.enqueue("evt:1", b"body", queue="inbox")
            assert second.enqueue("evt:1", b"body", queue="inbox") is Enqueued.DUPLICATE
            claim = claimed(second.claim("evt:1", LEASE_S))
            assert first.claim("evt:1", LEASE_S) is None
            assert first.complete(claim, TTL_S) is True
        finally:
            first.close()
            second.close()


class TestParking:
    def test_parked_work_keeps_its_payload_and_is_never_due(
        self, any_store: Store, store_clock: FakeClock
    ) -> None:
        """A parked record keeps payload and attempts, is not due (ever, in practice), is never
        forgotten, and its key still makes a redelivery a duplicate."""
        any_store.enqueue("evt:1", b"body", queue="inbox")
        claim = claimed(any_store.claim("evt:1", LEASE_S))
        assert any_store.park(claim, queue="parked", outcome="failed")
        store_clock.advance(10 * 365 * 86400.0)
        assert any_store.due("inbox") == [] and any_store.due("parked") == []
        assert any_store.claim("evt:1", LEASE_S) is None
        assert any_store.enqueue("evt:1", b"body", queue="inbox") is Enqueued.DUPLICATE
        [record] = any_store.parked("parked")
        assert (record.key, record.payload, record.attempts) == ("evt:1", b"body", 1)
        assert (record.status, record.outcome, record.expires_at) == (
            Status.PENDING,
            "failed",
            None,
        )

    def test_park_with_a_lost_claim_is_refused(
        self, any_store: Store, store_clock: FakeClock
    ) -> None:
        """A worker whose lease was taken over cannot park the new owner's work."""
        any_store.enqueue("evt:1", b"body", queue="inbox")
        old = claimed(any_store.claim("evt:1", LEASE_S))
        store_clock.advance(LEASE_S + 1)
        claimed(any_store.claim("evt:1", LEASE_S))
        assert not any_store.park(old, queue="parked", outcome="failed")
        assert any_store.parked("parked") == []

    def test_requeue_makes_it_due_with_fresh_attempts(self, any_store: Store) -> None:
        """Requeued work is due at once on its queue, attempts reset, and processes normally."""
        for n in range(3):
            any_store.enqueue(f"evt:{n}", b"body%d" % n, queue="inbox")
            claim = claimed(any_store.claim(f"evt:{n}", LEASE_S))
            any_store.park(claim, queue="parked", outcome="failed")
        assert sorted(r.key for r in any_store.parked("parked")) == ["evt:0", "evt:1", "evt:2"]
        assert len(any_store.parked("parked", limit=2)) == 2
        assert any_store.requeue("evt:1", from_queue="parked", to_queue="inbox")
        assert not any_store.requeue("evt:1", from_queue="parked", to_queue="inbox")
        assert not any_store.requeue("evt:nope", from_queue="parked", to_queue="inbox")
        assert any_store.due("inbox") == ["evt:1"]
        claim = claimed(any_store.claim("evt:1", LEASE_S))
        assert claim.payload == b"body1" and claim.attempts == 1
        assert any_store.complete(claim, TTL_S)
        assert sorted(r.key for r in any_store.parked("parked")) == ["evt:0", "evt:2"]


class TestForget:
    def test_forgotten_key_is_unknown_again(self, any_store: Store) -> None:
        """A forgotten record is gone: not due, not found, and its key can be enqueued anew."""
        any_store.enqueue("watch:1", b"a", queue="watch")
        claim = claimed(any_store.claim("watch:1", LEASE_S))
        assert any_store.forget(claim)
        assert any_store.get("watch:1") is None and any_store.due("watch") == []
        assert any_store.enqueue("watch:1", b"b", queue="watch") is Enqueued.NEW

    def test_forget_with_a_lost_claim_is_refused(
        self, any_store: Store, store_clock: FakeClock
    ) -> None:
        """A lapsed claim cannot delete the record another worker now holds."""
        any_store.enqueue("watch:1", b"a", queue="watch")
        old = claimed(any_store.claim("watch:1", LEASE_S))
        store_clock.advance(LEASE_S + 1)
        claimed(any_store.claim("watch:1", LEASE_S))
        assert not any_store.forget(old)
        assert any_store.get("watch:1") is not None
