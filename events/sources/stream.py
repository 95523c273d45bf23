"""The stream relay: the SDK's streamed run events as runhook events.

``RelayEventHandler`` is an ``AssistantEventHandler`` that turns each streamed event into the
envelope (``type`` = the SSE event name, ``data`` = the object) and hands it to a ``Relay``.
Run, step and message lifecycle events are relayed; ``*.delta`` events are not unless asked for
(they are token-level noise for a webhook pipeline).

A stream ends at ``requires_action`` (the API closes it there). ``submit_and_relay`` submits
the outputs through ``submit_tool_outputs_stream`` and relays that continuation the same way,
so one run is one unbroken sequence of events; the Assistants backend uses it when stream
continuation is on.

``continuations(relay)`` gives both APIs' continuations in the form the backends take; the
composition root hands them to the App when stream continuation is on
(``runhook.runtime.relay_continuations``).

The Responses API's stream relay (``stream_response``, ``resume_response``) lives in
``runhook.events.sources.stream_responses`` and is re-exported here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from openai import AssistantEventHandler, OpenAI
from openai.types.beta import AssistantStreamEvent

from runhook.events.envelope import Event
from runhook.events.sources.relay import Relay
from runhook.events.sources.stream_responses import resume_response, stream_response

__all__ = [
    "RelayEventHandler",
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
        if not isinstance(data, dict) or "id" not in data:
            return
        envelope = Event.create(name, data)
        ack = self.relay.emit(envelope)
        if not ack.ok:
            log.warning("relayed event refused: %s", ack.status, extra={"event_type": name})
        if self.on_relayed is not None:
            self.on_relayed(envelope, ack)


def stream_run(
    client: OpenAI,
    relay: Relay,
    *,
    thread_id: str,
    assistant_id: str,
    on_relayed: Callable[[Event, Any], None] | None = None,
    **run: Any,
) -> None:
    """Start a streamed run and relay its events until the stream ends."""
    handler = RelayEventHandler(relay, on_relayed=on_relayed)
    with client.beta.threads.runs.stream(
        thread_id=thread_id, assistant_id=assistant_id, event_handler=handler, **run
    ) as stream:
        stream.until_done()


def submit_and_relay(
    client: OpenAI,
    relay: Relay,
    *,
    thread_id: str,
    run_id: str,
    tool_outputs: Iterable[dict[str, str]],
    on_relayed: Callable[[Event, Any], None] | None = None,
) -> None:
    """Submit outputs through a stream and relay the continuation's events."""
    handler = RelayEventHandler(relay, on_relayed=on_relayed)
    with client.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=thread_id,
        run_id=run_id,
        tool_outputs=list(tool_outputs),  # type: ignore[arg-type]
        event_handler=handler,
    ) as stream:
        stream.until_done()


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
