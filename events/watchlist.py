"""The relay poller's watch list: what is put on it, by whom. No IO of its own (store calls only).

An entry is a JSON record on ``keys.WATCH_QUEUE`` keyed ``keys.watch_key(id)``: a run
(``watch``), a background response (``watch_response``) or an Agents API session
(``watch_session``). The poller (``runhook.events.sources.poller``) takes due entries under a
lease and polls them; ``POST /watch`` (``runhook.events.sources.watch_api``) and ``runhook poll
--watch`` add them, and the Responses backend's follow-up hook extends a watched chain
(``watch_follow_up``), so the poller follows it to its end. A new entry rings the store's bell
for the watch queue (``Store.ring``), so an idle poller polls it at once instead of at its next
scan; each add returns once its entry is durable.
"""

from __future__ import annotations

import json
from typing import Any

from runhook.events import keys
from runhook.events.store.base import Store


def _add(store: Store, watched_id: str, entry: dict[str, Any]) -> bool:
    """Insert the entry where every process sees it, ring the poller, then sync: the
    poller's first poll overlaps this fsync instead of waiting for it, and the caller is
    told the run is watched only once the entry is on disk."""
    result = store.enqueue(
        keys.watch_key(watched_id),
        json.dumps(entry).encode(),
        queue=keys.WATCH_QUEUE,
        durable=False,
    )
    if result.value != "new":
        return False
    store.ring(keys.WATCH_QUEUE)
    store.sync()
    return True


def watch(store: Store, run_id: str, thread_id: str) -> bool:
    """Put a run on the watch list; False when it is already watched."""
    entry = {"run_id": run_id, "thread_id": thread_id, "last_status": None, "interval": None}
    return _add(store, run_id, entry)


def watch_response(store: Store, response_id: str) -> bool:
    """Put a background response on the watch list; False when it is already watched."""
    entry = {"response_id": response_id, "last_status": None, "interval": None}
    return _add(store, response_id, entry)


def watch_session(store: Store, session_id: str) -> bool:
    """Put a session on the watch list; False when it is already watched."""
    entry = {
        "api": "sessions",
        "run_id": session_id,
        "thread_id": None,
        "last_status": None,
        "interval": None,
        "worked": False,
        "idle_polls": 0,
    }
    return _add(store, session_id, entry)


def watch_follow_up(store: Store, previous_id: str, follow_up_id: str) -> bool:
    """Watch ``follow_up_id`` when ``previous_id`` is (or was) watched; True if it now is."""
    if store.get(keys.watch_key(previous_id)) is None:
        return False
    watch_response(store, follow_up_id)
    return True
