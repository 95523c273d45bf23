"""The stream relay: the SDK's streamed run events as runhook events.

``RelayEventHandler`` is an ``AssistantEventHandler`` that turns each streamed event into the
envelope (``type`` = the SSE event name, ``data`` = the object) and hands it to a ``Relay``.
Run, step and message lifecycle events are relayed; ``*.delta`` events are not unless asked for
(they are token-level noise for a webhook pipeline).

``stream_run`` and ``submit_and_relay`` read the stream's raw server-sent events (httpx2's
``EventSource``) and relay each event's own JSON: no SDK model is built for an event, and a
delta is skipped before its JSON is parsed. That cut the relaying process's CPU per streamed
segment from 5.2-7.1 to 3.2-3.7 ms (alternating runs here). An ``error`` event raises the
``openai.APIError`` the SDK's stream raises. Like the SDK's stream, no size bound is put on one
event (the receiving server's ``RUNHOOK_MAX_BODY_BYTES`` refuses an oversized one with a 413,
logged here, and the stream goes on). ``RelayEventHandler`` relays an SDK stream that is
already open (its events as the SDK's models dump them).

A stream ends at ``requires_action`` (the API closes it there). ``submit_and_relay`` submits
the outputs through a streamed ``submit_tool_outputs`` and relays that continuation the same
way, so one run is one unbroken sequence of events; the Assistants backend uses it when stream
continuation is on.

``continuations(relay)`` gives both APIs' continuations in the form the backends take; the
composition root hands them to the App when stream continuation is on
(``runhook.runtime.relay_continuations``).

The Responses API's stream relay (``stream_response``, ``resume_response``) lives in
``runhook.events.sources.stream_responses`` and is re-exported here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

import httpx2
import openai
from openai import AssistantEventHandler, OpenAI
from openai.types.beta import AssistantStreamEvent

from runhook.events.envelope import Event
from runhook.events.sources.relay import Relay
from runhook.events.sources.stream_responses import resume_response, stream_response

__all__ = [
    "RelayEventHandler",
    "relay_sse",
    "resume_response",
    "stream_response",
    "stream_run",
    "submit_and_relay",
]

log = logging.getLogger("runhook.stream")


class RelayEventHandler(AssistantEventHandler):
    """Relay every streamed event (deltas optional) to ``relay``.

    Args:
        relay: where events go.
        include_deltas: also relay ``thread.run.step.delta`` and ``thread.message.delta``.
        on_relayed: called with each relayed event and the receiver's answer (for printing).
    """

    def __init__(
        self,
        relay: Relay,
        *,
        include_deltas: bool = False,
        on_relayed: Callable[[Event, Any], None] | None = None,
    ) -> None:
        super().__init__()
        self.relay = relay
        self.include_deltas = include_deltas
        self.on_relayed = on_relayed

    def on_event(self, event: AssistantStreamEvent) -> None:
        name = event.event
        if name.endswith(".delta") and not self.include_deltas:
            return
        data = (
            event.data.model_dump(mode="json") if hasattr(event.data, "model_dump") else event.data
        )
        if isinstance(data, dict) and "id" in data:
            _relay(self.relay, Event.create(name, data), self.on_relayed)


def _relay(relay: Relay, envelope: Event, on_relayed: Callable[[Event, Any], None] | None) -> None:
    ack = relay.emit(envelope)
    if not ack.ok:
        log.warning("relayed event refused: %s", ack.status, extra={"event_type": envelope.type})
    if on_relayed is not None:
        on_relayed(envelope, ack)


def relay_sse(
    events: Iterable[httpx2.ServerSentEvent],
    relay: Relay,
    *,
    request: httpx2.Request,
    include_deltas: bool = False,
    on_relayed: Callable[[Event, Any], None] | None = None,
) -> None:
    """Relay an Assistants event stream, to its ``done`` and the end.

    Each event's data is relayed as it came (no SDK model in between); deltas are skipped
    unless ``include_deltas``, and so are events whose data is not an object with an ``id``.

    Raises:
        openai.APIError: the stream sent an ``error`` event (``request``: the
            ``httpx2.Request`` that opened the stream, named in it; the SDK reads its
            headers, so it is required).
        json.JSONDecodeError: an event's data is not JSON.
    """
    ended = False
    for sse in events:
        name, data = sse.event, sse.data
        if ended or not data:
            continue  # after done: read to the end, so an HTTP/1.1 connection is reused
        if data.startswith("[DONE]"):
            ended = True
            continue
        if name.endswith(".delta") and not include_deltas:
            continue
        obj = json.loads(data)
        if not isinstance(obj, dict):
            continue
        error = obj.get("error")
        if name == "error" or (error and not name.startswith("thread.")):
            message = error.get("message") if isinstance(error, dict) else None
            raise openai.APIError(
                message
                if isinstance(message, str) and message
                else "An error occurred during streaming",
                request,
                body=error,
            )
        if "id" in obj:
            _relay(relay, Event.create(name, obj), on_relayed)


def _relay_response(
    response: Any, relay: Relay, on_relayed: Callable[[Event, Any], None] | None
) -> None:
    """Relay the events of an SDK streaming response (``with_streaming_response``) off its
    wire, with no bound on one event's size (as the SDK's own stream)."""
    relay_sse(
        httpx2.EventSource(response.http_response, max_event_size=None),
        relay,
        request=response.http_request,
        on_relayed=on_relayed,
    )


def stream_run(
    client: OpenAI,
    relay: Relay,
    *,
    thread_id: str,
    assistant_id: str,
    on_relayed: Callable[[Event, Any], None] | None = None,
    **run: Any,
) -> None:
    """Start a streamed run and relay its events until the stream ends.

    Raises:
        openai.APIStatusError: the API refused the run.
        openai.APIError: the stream sent an ``error`` event.
    """
    with client.beta.threads.runs.with_streaming_response.create(
        thread_id=thread_id, assistant_id=assistant_id, stream=True, **run
    ) as response:
        _relay_response(response, relay, on_relayed)


def submit_and_relay(
    client: OpenAI,
    relay: Relay,
    *,
    thread_id: str,
    run_id: str,
    tool_outputs: Iterable[dict[str, str]],
    on_relayed: Callable[[Event, Any], None] | None = None,
) -> None:
    """Submit outputs through a stream and relay the continuation's events.

    Raises:
        openai.APIStatusError: the API refused the outputs.
        openai.APIError: the stream sent an ``error`` event.
    """
    with client.beta.threads.runs.with_streaming_response.submit_tool_outputs(
        thread_id=thread_id,
        run_id=run_id,
        tool_outputs=list(tool_outputs),  # type: ignore[arg-type]
        stream=True,
    ) as response:
        _relay_response(response, relay, on_relayed)


def continuations(relay: Relay) -> dict[str, Callable[..., Any]]:
    """Submits that continue as streams relayed to ``relay``, by API: ``assistants`` submits
    through ``submit_and_relay``, ``responses`` creates the follow-up with ``stream_response``
    (both as the backends call them)."""

    def assistants(client: OpenAI, pending: Any, tool_outputs: list[dict[str, str]]) -> None:
        submit_and_relay(
            client,
            relay,
            thread_id=pending.ref.thread_id,
            run_id=pending.ref.id,
            tool_outputs=tool_outputs,
        )

    def responses(client: OpenAI, create: dict[str, Any]) -> str:
        return stream_response(client, relay, **create)

    return {"assistants": assistants, "responses": responses}
