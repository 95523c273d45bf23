"""The stream relay for the Responses API: a streamed response as runhook events.

A response created with ``stream=True`` sends ``response.created`` → (``response.queued``) →
``response.in_progress`` → output item, content and delta events → ``response.completed`` (or
``.failed`` / ``.incomplete``). The lifecycle events, which carry the whole Response, are relayed
as the envelopes the webhook path gets (``type`` = the event name, ``data`` = the Response), so
``response.completed`` with ``function_call`` items reaches the same handler whichever way it
came; item, content and delta events are skipped (token-level noise for a webhook pipeline).

A background response outlives its stream: when the connection drops (or the stream ends
without a terminal event) after the response exists, the relay resumes it with
``GET /v1/responses/{id}?stream=true&starting_after=<last sequence number>`` and carries on,
so nothing is lost and nothing is relayed twice. Envelope ids are derived from the response id
and the sequence number, so even a relay that resumes from too early is de-duplicated by the
inbox. A stream that ends on a cancelled response (which has no stream event) is closed with a
``response.cancelled`` envelope read from the API.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

import httpx2
import openai
from openai import OpenAI

from runhook.events.envelope import Event
from runhook.events.errors import StreamDropped
from runhook.events.sources.relay import Relay

log = logging.getLogger("runhook.stream")

LIFECYCLE = frozenset(
    {
        "response.created",
        "response.queued",
        "response.in_progress",
        "response.completed",
        "response.failed",
        "response.incomplete",
    }
)
"""Stream events relayed as envelopes: those carrying the whole Response."""

TERMINAL = frozenset({"completed", "failed", "cancelled", "incomplete"})
DROPPED = (openai.APIConnectionError, httpx2.TransportError)
"""What a dropped stream raises while it is read."""

Stream = AbstractContextManager[Iterable[Any]]


def event_id(response_id: str, position: int | str) -> str:
    """A stable envelope id for one stream event of one response."""
    digest = hashlib.sha256(f"{response_id}:{position}".encode()).hexdigest()
    return f"evt_{digest[:24]}"


class ResponseStreamRelay:
    """Relay the lifecycle events of one response's stream(s) to ``relay``.

    Args:
        relay: where envelopes go.
        on_relayed: called with each relayed event and the receiver's answer (for printing).
    """

    def __init__(
        self, relay: Relay, *, on_relayed: Callable[[Event, Any], None] | None = None
    ) -> None:
        self.relay = relay
        self.on_relayed = on_relayed
        self.response_id: str | None = None
        self.last_sequence = -1
        self.ended = False

    def feed(self, event: Any) -> None:
        """Take one SDK stream event; relay it when it is a lifecycle event."""
        sequence = getattr(event, "sequence_number", None)
        if isinstance(sequence, int):
            if sequence <= self.last_sequence:
                return  # already relayed before a resume
            self.last_sequence = sequence
        response = getattr(event, "response", None)
        if response is not None and self.response_id is None:
            self.response_id = str(response.id)
        if event.type not in LIFECYCLE or response is None:
            return
        self.emit(event.type, response.model_dump(mode="json"), sequence)
        if event.type.rsplit(".", 1)[1] in TERMINAL:
            self.ended = True

    def emit(self, type_: str, data: dict[str, Any], position: int | str | None) -> None:
        envelope = Event.create(
            type_, data, id=event_id(str(data["id"]), type_ if position is None else position)
        )
        ack = self.relay.emit(envelope)
        if not ack.ok:
            log.warning("relayed event refused: %s", ack.status, extra={"event_type": type_})
        if self.on_relayed is not None:
            self.on_relayed(envelope, ack)

    def drain(self, stream: Stream) -> int:
        """Relay everything ``stream`` yields; return how many events it gave."""
        count = 0
        with stream as events:
            for event in events:
                count += 1
                self.feed(event)
        return count


def relay_stream(
    client: OpenAI,
    relay: Relay,
    open_stream: Callable[[], Stream],
    *,
    resumes: int = 5,
    on_relayed: Callable[[Event, Any], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Relay a response's stream to its end, resuming it after drops; return its id.

    Raises:
        StreamDropped: the stream dropped before the response existed (whether it was created
            is unknown), or it could not be resumed ``resumes`` times in a row.
        openai.APIStatusError: the API refused the create or a resume.
    """
    handler = ResponseStreamRelay(relay, on_relayed=on_relayed)
    try:
        handler.drain(open_stream())
    except DROPPED as exc:
        if handler.response_id is None:
            raise StreamDropped(f"the stream dropped before the response existed: {exc}") from exc
        log.warning("response stream dropped; resuming", extra={"run_id": handler.response_id})
    if handler.response_id is None:
        raise StreamDropped("the stream ended before the response existed")
    failures, delay = 0, 0.2
    while not handler.ended:
        rid = handler.response_id
        try:
            given = handler.drain(
                client.responses.retrieve(rid, stream=True, starting_after=handler.last_sequence)
            )
        except DROPPED as exc:
            failures += 1
            if failures >= resumes:
                raise StreamDropped(f"resuming {rid} failed {failures} times: {exc}") from exc
            sleep(delay)
            delay = min(delay * 2, 5.0)
            continue
        if not handler.ended and given == 0:
            _close_without_event(client, handler, rid)
    return handler.response_id


def _close_without_event(client: OpenAI, handler: ResponseStreamRelay, rid: str) -> None:
    """A resume that yields nothing: the response ended without a stream event (cancelled)."""
    response = client.responses.retrieve(rid)
    status = str(response.status)
    if status in TERMINAL:
        handler.emit(f"response.{status}", response.model_dump(mode="json"), None)
        handler.ended = True


def stream_response(
    client: OpenAI,
    relay: Relay,
    *,
    on_relayed: Callable[[Event, Any], None] | None = None,
    **create: Any,
) -> str:
    """Create a streamed background response and relay it to its end; return its id.

    ``create`` are ``responses.create`` arguments; ``background`` defaults to True so that the
    response survives a dropped connection and can be resumed.
    """
    create.setdefault("background", True)
    return relay_stream(
        client,
        relay,
        lambda: client.responses.create(stream=True, **create),
        on_relayed=on_relayed,
    )


def resume_response(
    client: OpenAI,
    relay: Relay,
    response_id: str,
    *,
    starting_after: int = -1,
    on_relayed: Callable[[Event, Any], None] | None = None,
) -> str:
    """Relay a background streamed response from after ``starting_after`` to its end."""
    return relay_stream(
        client,
        relay,
        lambda: client.responses.retrieve(response_id, stream=True, starting_after=starting_after),
        on_relayed=on_relayed,
    )
