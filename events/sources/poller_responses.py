"""The relay poller's Responses half: watching background responses.

A watch entry ``{"response_id", "last_status", "interval"}`` shares the watch list, the
leases and the backoff of the runs' entries (``runhook.events.sources.poller``). Each poll retrieves
the response and emits ``response.<status>`` (the full Response) for every status newly seen.

A Responses wait is a *completed* response whose output holds ``function_call`` items; the
response itself never changes again, so the poller is level-triggered on the wait instead: it
re-emits ``response.completed`` every interval until the wait's key in the store
(``keys.wait_key``: response id + call ids) is completed, then ends the watch. A lost event
heals itself, duplicates are harmless. The follow-up response is a new id: the handler that
creates it puts it on the watch list when the answered response was watched
(``watch_follow_up``), so the poller follows the chain to its end.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from runhook.events import keys
from runhook.events.envelope import Event
from runhook.events.store.base import Store
from runhook.events.store.lease import Lease
from runhook.events.store.records import Status
from runhook.events.watchlist import watch_follow_up as watch_follow_up
from runhook.events.watchlist import watch_response as watch_response

if TYPE_CHECKING:
    from runhook.events.sources.poller import Poller

log = logging.getLogger("runhook.poller")

TERMINAL = frozenset({"completed", "failed", "cancelled", "incomplete"})


def _call_ids(response: Any) -> list[str]:
    return [
        str(item.call_id)
        for item in response.output or []
        if getattr(item, "type", None) == "function_call"
    ]


def _answered(store: Store, response_id: str, calls: list[str]) -> bool:
    record = store.get(keys.wait_key(response_id, calls))
    return record is not None and record.status is Status.COMPLETED


def poll_response(poller: Poller, lease: Lease, entry: dict[str, Any]) -> None:
    """Poll one watched response (the poller holds ``lease``, its watch entry's)."""
    store, settings = poller.store, poller.settings
    rid = entry["response_id"]
    responses = poller.client.responses.with_raw_response
    raw = poller.fetch(lease, "response", rid, lambda: responses.retrieve(rid))
    if raw is None:
        return
    response = raw.parse()
    status = str(response.status)
    calls = _call_ids(response) if status == "completed" else []
    if calls and _answered(store, rid, calls):
        lease.complete(settings.completed_ttl_s, outcome="answered")
        return
    base = poller.base_interval(raw)
    changed = status != entry["last_status"]
    if changed or calls:
        ack = poller.emit(Event.create(f"response.{status}", response.model_dump(mode="json")))
        if not ack.ok and ack.status >= 500:
            lease.release(retry_in_s=base)
            return
    if status in TERMINAL and not calls:
        lease.complete(settings.completed_ttl_s, outcome=status)
        return
    if calls and _answered(store, rid, calls):
        lease.complete(settings.completed_ttl_s, outcome="answered")
        return
    interval = base if changed or entry["interval"] is None else entry["interval"] * 1.5
    interval = min(interval, settings.poll_max_interval_s)
    entry.update(last_status=status, interval=interval)
    lease.release(retry_in_s=interval, payload=json.dumps(entry).encode())
