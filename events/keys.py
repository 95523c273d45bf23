"""De-duplication keys. No IO.

Two keys guard against doing work twice:

- the event key, from ``webhook-id`` (or the envelope ``id``): the same delivery retried;
- the wait key of a ``requires_action`` (run id + sorted tool-call ids): two relays that
  describe the same wait with different event ids. For the Responses API the response id plays
  the run's part and the pending ``function_call`` ids the calls'.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

INBOX_QUEUE = "inbox"
"""Queue name of accepted-but-unprocessed events in the store."""

WATCH_QUEUE = "watch"
"""Queue name of the relay poller's watch list in the store."""

PARKED_QUEUE = "parked"
"""Queue name of inbox entries that ran out of attempts: kept with their payload, never due by
themselves, until an operator replays them (``runhook inbox``)."""


WAIT_EVENT_TYPES = frozenset(
    {
        "thread.run.requires_action",
        "response.completed",
        "agent.session.action_required",
        "agent.session.requires_action",
    }
)
"""Event types that may ask for tools: workers run them ahead of lifecycle bookkeeping."""


def event_key(event_id: str) -> str:
    """Store key of one delivered event (``webhook-id`` or envelope id)."""
    return f"evt:{event_id}"


def envelope_key(envelope_id: str) -> str:
    """Key that remembers an envelope ``id`` delivered under a ``webhook-id`` of another
    value, so the same envelope under a new ``webhook-id`` is still a duplicate."""
    return f"env:{envelope_id}"


def wait_key(run_id: str, call_ids: Iterable[str]) -> str:
    """Store key of one requires_action wait: run id plus its sorted tool-call ids."""
    ids = sorted(call_ids)
    digest = hashlib.sha256(",".join(ids).encode()).hexdigest()[:32]
    return f"wait:{run_id}:{digest}"


def watch_key(run_id: str) -> str:
    """Store key of one run on the relay poller's watch list."""
    return f"watch:{run_id}"


def payload_hash(body: bytes) -> str:
    """Short stable hash of a payload, to spot an id reused with a different body."""
    return hashlib.sha256(body).hexdigest()
