"""Leases: renewed from acquire, surviving store errors, fencing late takers, keeping
checkpoints for the next holder."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from runhook.events.errors import LeaseLost, StoreError
from runhook.events.store.lease import Lease
from runhook.events.store.memory import MemoryStore
from runhook.events.store.records import Claim, Record
from tests.plugins.stores import FakeClock

LEASE_S = 10.0


def held(lease: Lease | None) -> Lease:
    assert lease is not None, "expected to acquire the lease"
    return lease


class FlakyStore(MemoryStore):
    """A memory store whose renewals raise ``StoreError`` the first ``failures`` times."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.renewals = 0

    def extend(self, claim: Claim, lease_s: float) -> Claim | None:
        self.renewals += 1
        if self.failures > 0:
            self.failures -= 1
            raise StoreError("store is down for a moment")
        return super().extend(claim, lease_s)


class StallingStore(MemoryStore):
    """A memory store whose renewals block while ``stalled`` is set (a stalled process, or a
    slow store call), until ``resume`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.stalled = threading.Event()
        self.resume = threading.Event()

    def extend(self, claim: Claim, lease_s: float) -> Claim | None:
        if self.stalled.is_set():
            self.resume.wait(30)
        return super().extend(claim, lease_s)


class InterleavedStore(MemoryStore):
    """A memory store that runs ``before_next_write`` once, just before its next
    compare-and-set: what another worker does between a read and a write."""

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__(clock=clock)
        self.before_next_write: Callable[[], object] | None = None

    def _compare_and_set(
        self, key: str, token: str, record: Record, *, durable: bool = True
    ) -> bool:
        hook, self.before_next_write = self.before_next_write, None
        if hook is not None:
            hook()
        return super()._compare_and_set(key, token, record, durable=durable)


class TestRenewal:
    def test_a_held_lease_outlives_its_length(self) -> None:
        """While held, a 0.3 s lease is renewed: after a second nobody can take it, and the
        holder completes the work."""
        store = MemoryStore()
        lease = held(store.acquire("wait:1", 0.3))
        time.sleep(1.0)
        assert store.acquire("wait:1", 0.3) is None
        assert not lease.lost
        assert lease.complete(60.0) is True
        assert store._renewer().held() == 0

    def test_renewal_survives_store_errors(self) -> None:
        """Two renewals that raise do not end the renewal: it is retried and the lease is
        still held after three times its length."""
        store = FlakyStore(failures=2)
        lease = held(store.acquire("wait:1", 0.5))
        time.sleep(1.5)
        assert store.renewals >= 4
        assert store.acquire("wait:1", 0.5) is None
        assert lease.complete(60.0) is True

    def test_stalled_renewals_are_taken_over_and_the_holder_learns_it(self) -> None:
        """A holder whose renewals stall loses the lease to a taker once it lapses; when it
        resumes, its checkpoint raises LeaseLost and its completion is refused."""
        store = StallingStore()
        lease = held(store.acquire("wait:1", 0.3))
        store.stalled.set()
        time.sleep(0.5)
        taker = held(store.acquire("wait:1", 0.3))
        assert taker.fence == lease.fence + 1
        store.stalled.clear()
        store.resume.set()
        with pytest.raises(LeaseLost):
            lease.checkpoint(b"outputs")
        assert lease.lost
        assert lease.complete(60.0) is False
        assert taker.complete(60.0) is True

    def test_a_late_renewal_between_read_and_write_fences_the_taker(self) -> None:
        """A taker reads a lapsed lease, the holder renews before the taker writes: the
        taker's compare-and-set fails, it reads again, finds the lease live and gives up."""
        clock = FakeClock()
        store = InterleavedStore(clock)
        lease = held(store.acquire("wait:1", LEASE_S))
        clock.advance(LEASE_S + 1)
        store.before_next_write = lease.renew
        assert store.acquire("wait:1", LEASE_S) is None
        assert not lease.lost
        assert lease.complete(60.0) is True


class TestCheckpoint:
    def test_the_next_holder_gets_the_checkpoint(self) -> None:
        """A holder that saved a checkpoint and died leaves it to the worker that takes the
        record over after the lease lapses."""
        clock = FakeClock()
        store = MemoryStore(clock=clock)
        first = held(store.acquire("wait:1", LEASE_S))
        assert not first.taken_over and first.saved is None
        first.checkpoint(b"saved outputs")
        first.stop()  # dies: no more renewals, nothing written
        assert store.acquire("wait:1", LEASE_S) is None
        clock.advance(LEASE_S)
        second = held(store.acquire("wait:1", LEASE_S))
        assert (second.taken_over, second.fence, second.saved) == (True, 2, b"saved outputs")

    def test_release_keeps_a_checkpoint_and_deletes_a_bare_claim(self) -> None:
        """Released with a checkpoint, the record is free at once and keeps it; released
        without one, the record is gone."""
        store = MemoryStore()
        with held(store.acquire("wait:1", LEASE_S)) as lease:
            lease.checkpoint(b"saved")
            assert lease.release() is True
        again = held(store.acquire("wait:1", LEASE_S))
        assert again.saved == b"saved"
        with held(store.acquire("wait:2", LEASE_S)) as bare:
            assert bare.release() is True
        assert store.get("wait:2") is None


class TestEnsure:
    def test_ensure_renews_a_lease_past_half_its_time(self) -> None:
        """A holder whose renewer is late renews synchronously before its irreversible step."""
        clock = FakeClock()
        store = MemoryStore(clock=clock)
        lease = held(store.acquire("wait:1", LEASE_S))
        clock.advance(LEASE_S * 0.6)
        lease.ensure()
        assert lease.claim.lease_until == clock.now + LEASE_S

    def test_ensure_raises_once_taken_over(self) -> None:
        """After a takeover, ensure() raises LeaseLost instead of letting the holder go on."""
        clock = FakeClock()
        store = MemoryStore(clock=clock)
        lease = held(store.acquire("wait:1", LEASE_S))
        clock.advance(LEASE_S)
        held(store.acquire("wait:1", LEASE_S))
        with pytest.raises(LeaseLost):
            lease.ensure()
