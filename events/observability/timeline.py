"""Per-run timelines for the operator page, kept as notes in the store.

Each run (an Assistants run, or a Responses chain named by its first response) gets one note,
``timeline:<run id>``, in the store's ``timeline`` queue: a JSON list of entries, each an
event processed, a tool call or a submit, with its start (unix seconds), duration and outcome::

    {"kind": "tool", "name": "fetch_url", "start": 1763800000.12, "seconds": 0.041,
     "outcome": "ok", "id": "call_…"}

Writers append with compare-and-set (``Store.put_note``), so workers on several hosts add to
one timeline safely. Notes are forgotten after ``timeline_ttl_s``; the page lists the most
recently active runs first. Entries carry ids and short words only, never payloads.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runhook.events.envelope import Event
from runhook.events.store.base import Store

QUEUE = "timeline"
"""Store queue of the timeline notes."""

MAX_ENTRIES = 500
"""Entries kept per run; older ones are dropped first."""


def timeline_key(run_id: str) -> str:
    """Store key of one run's timeline."""
    return f"timeline:{run_id}"


def run_ref(event: Event) -> str | None:
    """The run an event belongs to: the run id, or a Responses chain's first response id."""
    data = event.data
    if event.type.startswith("response."):
        metadata = data.get("metadata") or {}
        return str(metadata.get("runhook_root") or data.get("id") or "") or None
    if event.type.startswith(("thread.run.step.", "thread.message.")):
        return str(data.get("run_id") or "") or None
    if event.type.startswith("thread.run."):
        return str(data.get("id") or "") or None
    return None


@dataclass(frozen=True)
class RunTimeline:
    """One run's entries, oldest first."""

    run_id: str
    entries: list[dict[str, Any]]

    @property
    def start(self) -> float:
        """When the first entry began."""
        return min((e["start"] for e in self.entries), default=0.0)

    @property
    def end(self) -> float:
        """When the last entry ended."""
        return max((e["start"] + e["seconds"] for e in self.entries), default=0.0)


class Timeline:
    """Appends to and reads run timelines in ``store``.

    Args:
        store: where the notes live.
        ttl_s: how long a timeline is kept after its last entry.
        clock: unix seconds.
    """

    def __init__(
        self, store: Store, *, ttl_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.clock = clock

    def add(
        self, run_id: str, kind: str, name: str, start: float, seconds: float, **more: Any
    ) -> None:
        """Append one entry to ``run_id``'s timeline."""
        entry = {"kind": kind, "name": name, "start": start, "seconds": seconds, **more}

        def append(payload: bytes | None) -> bytes:
            entries = json.loads(payload) if payload else []
            entries.append(entry)
            return json.dumps(entries[-MAX_ENTRIES:]).encode()

        self.store.put_note(
            timeline_key(run_id), append, ttl_s=self.ttl_s, queue=QUEUE, rank=self.clock()
        )

    def get(self, run_id: str) -> RunTimeline | None:
        """One run's timeline, or None when nothing was recorded for it."""
        record = self.store.get(timeline_key(run_id))
        if record is None or not record.payload:
            return None
        return RunTimeline(run_id, _sorted(json.loads(record.payload)))

    def recent(self, limit: int = 50) -> list[RunTimeline]:
        """The most recently active runs' timelines, newest first."""
        found = []
        for record in self.store.notes(QUEUE, limit=limit):
            if record.payload:
                run_id = record.key.partition(":")[2]
                found.append(RunTimeline(run_id, _sorted(json.loads(record.payload))))
        return found


def _sorted(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entries, key=lambda e: (e["start"], e["kind"] != "event"))
