"""The relay poller's Agents API part: watch sessions, emit their state as session events.

A watched session is an entry ``{"api": "sessions", "run_id": <session id>, …}`` on the same
watch list as runs (``runhook.events.sources.poller``), so one poller serves both. Each poll retrieves
the session and, level-triggered like runs:

- ``requires_action``: emits ``agent.session.requires_action`` with the snapshot on every
  poll while it lasts (a lost event heals itself; the handler answers each wait once);
- another status newly seen: ``agent.session.<status>`` with the snapshot;
- ``idle`` after the session was seen working, or ``failed``: the watch ends (a session lives
  on across turns; whoever starts the next turn watches it again). A session first seen idle
  is kept until it works and settles, or ``poll_max_interval_s`` × 20 passes.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from runhook.events.envelope import Event
from runhook.events.store.lease import Lease
from runhook.events.watchlist import watch_session as watch_session

if TYPE_CHECKING:
    from runhook.events.sources.poller import Poller

log = logging.getLogger("runhook.poller")

WORKING = frozenset({"in_progress", "requires_action"})


def poll_session(poller: Poller, lease: Lease, entry: dict[str, Any]) -> None:
    """Poll one watched session once (the poller holds its lease)."""
    settings, session_id = poller.settings, entry["run_id"]
    sessions = poller.client.beta.agents.sessions.with_raw_response
    raw = poller.fetch(lease, "session", session_id, lambda: sessions.retrieve(session_id))
    if raw is None:
        return
    session = raw.parse()
    status = str(session.status)
    base = poller.base_interval(raw)
    changed = status != entry["last_status"]
    if changed or status == "requires_action":
        event = Event.create(f"agent.session.{status}", session.model_dump(mode="json"))
        ack = poller.emit(event)
        if not ack.ok and ack.status >= 500:
            lease.release(retry_in_s=base)
            return
    worked = bool(entry.get("worked")) or status in WORKING
    idle_polls = int(entry.get("idle_polls") or 0) + (1 if status == "idle" else 0)
    if status == "failed" or (status == "idle" and (worked or idle_polls > 20)):
        lease.complete(settings.completed_ttl_s, outcome=status)
        return
    interval = base if changed or entry["interval"] is None else entry["interval"] * 1.5
    interval = min(interval, settings.poll_max_interval_s)
    entry.update(last_status=status, interval=interval, worked=worked, idle_polls=idle_polls)
    lease.release(retry_in_s=interval, payload=json.dumps(entry).encode())
