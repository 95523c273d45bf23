"""Helpers for testing code that uses runhook (yours and ours).

::

    from runhook.events.testing import make_event, post_event

    event = make_event("thread.run.completed", id="run_1", status="completed")
    response = post_event(flask_app.test_client(), event, secret)
    assert response.status_code == 202
"""

from __future__ import annotations

from typing import Any

from runhook.events.envelope import Event
from runhook.events.signing import sign_headers
from runhook.events.sources import Delivery

__all__ = ["make_event", "post_event", "sign_headers", "signed_delivery"]


def make_event(type: str, *, event_id: str | None = None, **data: Any) -> Event:
    """An event of ``type`` whose ``data`` is ``data`` (``id`` defaults to ``obj_test``)."""
    data.setdefault("id", "obj_test")
    return Event.create(type, data, id=event_id)


def signed_delivery(
    event: Event,
    secret: str,
    *,
    source: str = "test",
    timestamp: int | None = None,
    msg_id: str | None = None,
) -> Delivery:
    """A ``Delivery`` of ``event`` signed with ``secret`` (``webhook-id`` = ``msg_id``, by
    default the event id, as runhook's relays send it)."""
    headers = sign_headers(secret, event.body, msg_id=msg_id or event.id, timestamp=timestamp)
    return Delivery(
        body=event.body, headers=headers, source=source, content_type="application/json"
    )


def post_event(
    client: Any,
    event: Event,
    secret: str,
    *,
    path: str = "/events",
    timestamp: int | None = None,
) -> Any:
    """POST ``event`` signed with ``secret`` through a Flask test client or an httpx2 client."""
    headers = sign_headers(secret, event.body, msg_id=event.id, timestamp=timestamp)
    if hasattr(client, "open") and hasattr(client, "application"):
        return client.post(path, data=event.body, headers=headers)
    return client.post(path, content=event.body, headers=headers)
