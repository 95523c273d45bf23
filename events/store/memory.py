"""In-process store: a real implementation for tests and single serverless invocations."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from runhook.events.store.base import Store
from runhook.events.store.bell import Bell, ConditionBell, Rings
from runhook.events.store.records import Record, Status


class MemoryStore(Store):
    """Records in a dict behind one lock. Nothing survives the process; its bells hear the
    rings of the same store object."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock=clock)
        self._records: dict[str, Record] = {}
        self._lock = threading.Lock()
        self._rings = Rings()

    def ring(self, queue: str) -> None:
        self._rings.ring(queue)

    def bell(self, queue: str) -> Bell:
        return ConditionBell(self._rings, queue)

    def _get(self, key: str) -> Record | None:
        with self._lock:
            return self._records.get(key)

    def _put_if_absent(
        self, record: Record, *, durable: bool = True, unless: str | None = None
    ) -> bool | None:
        with self._lock:
            if unless is not None and unless in self._records:
                return None
            if record.key in self._records:
                return False
            self._records[record.key] = record
            return True

    def _compare_and_set(
        self, key: str, token: str, record: Record, *, durable: bool = True
    ) -> bool:
        with self._lock:
            current = self._records.get(key)
            if current is None or current.token != token:
                return False
            self._records[key] = record
            return True

    def _delete(self, key: str, token: str, *, durable: bool = True) -> bool:
        with self._lock:
            current = self._records.get(key)
            if current is None or current.token != token:
                return False
            del self._records[key]
            return True

    def _scan_due(self, queue: str, now: float, limit: int) -> list[str]:
        with self._lock:
            due = [
                r
                for r in self._records.values()
                if r.queue == queue
                and r.status is not Status.COMPLETED
                and r.lease_until <= now
                and not r.expired(now)
            ]
        due.sort(key=lambda r: r.lease_until)
        return [r.key for r in due[:limit]]

    def _ping(self) -> None:
        return None
