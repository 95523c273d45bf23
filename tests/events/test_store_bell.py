"""Store bells (``runhook.events.store.bell``): a ring wakes a waiting listener, on every store.

Each test opens two stores on the same records (``store_spec``; the memory store is one
object), as a watcher and a poller in two processes would, and rings from the other one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runhook.events.store import Store, open_store
from runhook.events.store.bell import Bell
from tests.plugins.stores import StoreSpec, run_in_fork

#: a wait that should end at once, bounded so that a broken bell fails instead of hanging
LONG_S = 30.0


@pytest.fixture
def pair(store_spec: StoreSpec) -> Iterator[tuple[Store, Store]]:
    """(listener's store, ringer's store) on the same records."""
    listener = store_spec.open(time.time)
    ringer = listener if store_spec.kind == "memory" else store_spec.open(time.time)
    try:
        yield listener, ringer
    finally:
        listener.close()
        ringer.close()


class TestBell:
    def test_a_ring_wakes_a_waiting_bell(self, pair: tuple[Store, Store]) -> None:
        """A ring from another store object ends a long wait with True."""
        listener, ringer = pair
        with listener.bell("watch") as bell:
            timer = threading.Timer(0.2, ringer.ring, args=("watch",))
            timer.start()
            began = time.monotonic()
            assert bell.wait(LONG_S) is True
            assert time.monotonic() - began < LONG_S / 2
            timer.join()

    def test_without_a_ring_the_wait_times_out(self, pair: tuple[Store, Store]) -> None:
        """Nobody rings: the wait returns False after its timeout."""
        listener, _ = pair
        with listener.bell("watch") as bell:
            began = time.monotonic()
            assert bell.wait(0.3) is False
            assert time.monotonic() - began >= 0.3

    def test_rings_before_the_wait_are_kept_and_taken_together(
        self, pair: tuple[Store, Store]
    ) -> None:
        """Rings made while nobody waited are not lost: the next wait returns at once, and
        takes all of them (the wait after that hears nothing)."""
        listener, ringer = pair
        with listener.bell("watch") as bell:
            for _ in range(3):
                ringer.ring("watch")
            time.sleep(0.1)  # let them arrive
            assert bell.wait(LONG_S) is True
            assert bell.wait(0.2) is False

    def test_a_ring_of_another_queue_is_not_heard(self, pair: tuple[Store, Store]) -> None:
        listener, ringer = pair
        with listener.bell("watch") as bell:
            ringer.ring("inbox")
            assert bell.wait(0.3) is False

    def test_stop_ends_the_wait(self, pair: tuple[Store, Store]) -> None:
        """A set stop event ends a long wait within a fraction of a second, unrung."""
        listener, _ = pair
        stop = threading.Event()
        with listener.bell("watch") as bell:
            threading.Timer(0.1, stop.set).start()
            began = time.monotonic()
            assert bell.wait(LONG_S, stop) is False
            assert time.monotonic() - began < LONG_S / 2

    def test_a_ring_nobody_hears_is_harmless(self, pair: tuple[Store, Store]) -> None:
        """No bell listens (or one was closed): ringing raises nothing."""
        listener, ringer = pair
        ringer.ring("watch")
        listener.bell("watch").close()
        ringer.ring("watch")


def test_a_ring_from_another_process_is_heard(shared_store_spec: StoreSpec) -> None:
    """A forked process (a watcher in another process) rings; this process's bell hears it."""
    store = shared_store_spec.open(time.time)
    try:
        with store.bell("watch") as bell:

            def child() -> bool:
                other = shared_store_spec.open(time.time)
                other.ring("watch")
                other.close()
                return True

            assert run_in_fork(child) == 0
            assert bell.wait(LONG_S) is True
    finally:
        store.close()


def test_sqlite_one_listener_per_file_and_queue(tmp_path: Path) -> None:
    """A second SQLite bell on the same file and queue cannot bind the socket: it only sleeps
    (its poller scans), and the first one still hears every ring."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    first, second = open_store(url), open_store(url)
    try:
        with first.bell("watch") as heard, second.bell("watch") as deaf:
            assert type(heard) is not Bell
            assert type(deaf) is Bell
            second.ring("watch")
            assert heard.wait(LONG_S) is True
            assert deaf.wait(0.2) is False
        with second.bell("watch") as again:  # the first closed: the socket is free
            assert type(again) is not Bell
    finally:
        first.close()
        second.close()
