"""Relays: how sources without HTTP hand events on, as the same signed envelope a webhook
carries (Bolt's Socket Mode does the same with its ``build_headers()``).

- ``PipelineRelay``: in-process, straight into ``Pipeline.accept``;
- ``HttpRelay``: a signed POST to a runhook server's ``/events``, retried on 5xx and connection
  errors with backoff under the same ``webhook-id``.

The webhook id is the event id, so a relay that sends one event twice is de-duplicated.

``HttpRelay(skip_unrouted_s=S)`` stops sending an event type for ``S`` seconds after the
server answered ``200 unhandled`` with ``"type_unrouted": true`` (no route of the server takes
any event of that type), and answers those events itself with the same ``unhandled`` status
(plus ``"skipped": true``). Such an event would not have been stored, so nothing is lost while
the server's routes stay the same; a route added by a deploy gets its type's events at most
``S`` seconds later. Off (0) by default.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

import httpx2

from runhook.events.envelope import Event
from runhook.events.observability.tracing import NULL_TRACER, Tracer
from runhook.events.pipeline import Pipeline
from runhook.events.signing import sign_headers
from runhook.events.sources import Ack, Delivery

log = logging.getLogger("runhook.relay")


class Relay(Protocol):
    """Hands one event on; returns the receiver's answer."""

    def emit(self, event: Event) -> Ack: ...


class PipelineRelay:
    """Sign and accept events in this process."""

    def __init__(self, pipeline: Pipeline, secret: str, *, source: str = "relay") -> None:
        self.pipeline = pipeline
        self.secret = secret
        self.source = source

    def emit(self, event: Event) -> Ack:
        headers = sign_headers(self.secret, event.body, msg_id=event.id)
        return self.pipeline.accept(
            Delivery(event.body, headers, source=self.source, content_type="application/json")
        )


class HttpRelay:
    """POST signed events to a runhook server.

    Args:
        url: the server's ``/events`` URL.
        secret: the ``whsec_`` secret the server verifies with.
        client: an httpx2 client (injectable; a default one is made).
        attempts: tries per event on 5xx/connection errors.
        tracer: adds the current span's ``traceparent`` to each POST, so the server's spans
            join the relay's trace.
        skip_unrouted_s: how long a type the server routes nowhere is answered here instead of
            sent (see the module doc); 0 sends everything.
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        client: httpx2.Client | None = None,
        attempts: int = 5,
        tracer: Tracer = NULL_TRACER,
        skip_unrouted_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if skip_unrouted_s < 0:
            raise ValueError(f"skip_unrouted_s must be >= 0, got {skip_unrouted_s}")
        self.tracer = tracer
        self.skip_unrouted_s = skip_unrouted_s
        self.clock = clock
        self._unrouted: dict[str, float] = {}  # event type -> until (clock)
        self.url = url
        self.secret = secret
        self.client = client or httpx2.Client(timeout=15.0, trust_env=False)
        self.attempts = attempts

    def emit(self, event: Event) -> Ack:
        if self.skip_unrouted_s:
            until = self._unrouted.get(event.type)
            if until is not None and self.clock() < until:
                return Ack(200, {"status": "unhandled", "id": event.id, "skipped": True}, event.id)
        ack = self._post(event)
        if (
            self.skip_unrouted_s
            and ack.status == 200
            and isinstance(ack.body, dict)
            and ack.body.get("type_unrouted") is True
        ):
            self._unrouted[event.type] = self.clock() + self.skip_unrouted_s
        return ack

    def _post(self, event: Event) -> Ack:
        headers = sign_headers(self.secret, event.body, msg_id=event.id)
        self.tracer.inject(headers)
        delay = 0.2
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.client.post(self.url, content=event.body, headers=headers)
            except httpx2.HTTPError as exc:
                ack = Ack.error(503, "unreachable", str(exc), event_id=event.id)
            else:
                try:
                    body = response.json()
                except ValueError:
                    body = {"text": response.text[:200]}
                ack = Ack(response.status_code, body, event.id)
            if ack.status < 500 or attempt == self.attempts:
                return ack
            log.warning("relay got %s; retrying", ack.status, extra={"event_id": event.id})
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.client.close()
