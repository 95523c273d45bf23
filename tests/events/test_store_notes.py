"""Notes (trace contexts, run timelines), takeover flags and inbox counts, on every store."""

from __future__ import annotations

import json
from collections.abc import Callable

from runhook.events.store.base import Store
from runhook.events.store.records import Status
from tests.plugins.stores import FakeClock, race_in_threads


def append(item: str) -> Callable[[bytes | None], bytes]:
    def update(payload: bytes | None) -> bytes:
        return json.dumps([*json.loads(payload or b"[]"), item]).encode()

    return update


class TestNotes:
    def test_concurrent_appends_are_all_kept(self, any_store: Store) -> None:
        """Eight writers appending to one note at once: every item is there once."""
        results = race_in_threads(
            8, lambda i: any_store.put_note("tl:r", append(str(i)), ttl_s=60, queue="tl")
        )
        assert all(results)
        record = any_store.get("tl:r")
        assert record is not None and record.payload is not None
        assert sorted(json.loads(record.payload)) == [str(i) for i in range(8)]

    def test_notes_are_listed_newest_first_and_forgotten(
        self, any_store: Store, store_clock: FakeClock
    ) -> None:
        """notes() lists the highest rank first; after the TTL a note is gone."""
        for i, name in enumerate(["a", "b", "c"]):
            any_store.put_note(f"tl:{name}", append(name), ttl_s=60 + i, queue="tl", rank=i)
        assert [r.key for r in any_store.notes("tl")] == ["tl:c", "tl:b", "tl:a"]
        assert any_store.due("inbox") == []
        store_clock.advance(60.5)
        assert [r.key for r in any_store.notes("tl")] == ["tl:c", "tl:b"]
        assert any_store.get("tl:a") is None

    def test_a_note_without_a_queue_is_only_read_by_key(self, any_store: Store) -> None:
        """A trace context note is in no listing and never due."""
        any_store.put_note("trace:evt:1", lambda _: b"00-abc", ttl_s=60)
        record = any_store.get("trace:evt:1")
        assert record is not None and record.payload == b"00-abc"
        assert record.status is Status.PENDING


class TestTakeoverAndCensus:
    def test_a_lapsed_lease_is_a_takeover_a_retry_is_not(
        self, any_store: Store, store_clock: FakeClock
    ) -> None:
        """Claiming after a holder's lease lapsed says taken_over; after a release it does not."""
        any_store.enqueue("evt:1", b"{}", queue="inbox")
        first = any_store.claim("evt:1", 5)
        assert first is not None and not first.taken_over
        store_clock.advance(6)
        second = any_store.claim("evt:1", 5)
        assert second is not None and second.taken_over
        assert any_store.release(second)
        third = any_store.claim("evt:1", 5)
        assert third is not None and not third.taken_over

    def test_census_counts_due_in_flight_and_waiting(
        self, any_store: Store, store_clock: FakeClock
    ) -> None:
        """Two new entries are due, a claimed one in flight, a released-for-later one waiting."""
        for i in range(4):
            any_store.enqueue(f"evt:{i}", b"{}", queue="inbox")
        held = any_store.claim("evt:0", 30)
        later = any_store.claim("evt:1", 30)
        assert held is not None and later is not None
        any_store.release(later, retry_in_s=10)
        census = any_store.census("inbox")
        assert (census.due, census.in_flight, census.waiting) == (2, 1, 1)
        assert not census.truncated

    def test_count_includes_parked_records(self, any_store: Store) -> None:
        """count() sees records that are never due, such as parked ones."""
        any_store.enqueue("evt:p", b"{}", queue="inbox")
        claim = any_store.claim("evt:p", 30)
        assert claim is not None and any_store.park(claim, queue="parked", outcome="failed")
        assert any_store.count("parked") == 1
        assert any_store.census("parked").due == 0
