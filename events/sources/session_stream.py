"""The stream relay for Agents API sessions: a session's live event stream as runhook events.

The session-level events of ``GET /agents/sessions/{id}/events`` (``agent.session.created``,
``in_progress``, ``requires_action``, ``idle``, ``failed``) carry the full session snapshot;
each becomes the envelope ``{type: <event type>, data: <session>}`` under the stream's own
``event_id``, so a relay that hands one event on twice is de-duplicated. Turn, item and text
events are not relayed (token-level noise for a webhook pipeline; the session snapshot says
what a handler needs).

The stream is live only: no cursor, no replay. When it ends or breaks before the followed turn
is over, ``SessionRelay`` opens a new stream first and then retrieves the session, relaying the
state it finds (``requires_action``, ``idle`` or ``failed``) as a snapshot event, the recovery
the docs describe (subscribe, then read the saved state). A missed wait is therefore relayed
late, never lost; a wait relayed twice is answered once (the handler's wait key).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx2
import openai
from openai import OpenAI

from runhook.events.envelope import Event
from runhook.events.sources.relay import Relay

log = logging.getLogger("runhook.stream")

SESSION_EVENTS = frozenset(
    {
        "agent.session.created",
        "agent.session.in_progress",
        "agent.session.requires_action",
        "agent.session.idle",
        "agent.session.failed",
    }
)
TURN_ENDS = frozenset(
    {"agent.session.turn.completed", "agent.session.turn.failed", "agent.session.turn.cancelled"}
)
RESYNC_TYPES = {
    "requires_action": "agent.session.requires_action",
    "idle": "agent.session.idle",
    "failed": "agent.session.failed",
}


def session_envelope(event: Any) -> Event | None:
    """The runhook event for one streamed session event; None for the ones not relayed."""
    if getattr(event, "type", None) not in SESSION_EVENTS:
        return None
    session = event.session
    data = session.model_dump(mode="json") if hasattr(session, "model_dump") else dict(session)
    return Event.create(str(event.type), data, id=getattr(event, "event_id", None))


class SessionRelay:
    """Relay one session's stream, reconnecting until the followed turn is over.

    Args:
        client: the OpenAI client.
        relay: where events go.
        session_id: the session to follow.
        on_relayed: called with each relayed event and the receiver's answer (for printing).
        reconnects: how many consecutive reconnects to try before giving up.
        sleep: the pause before a reconnect (0.2 s, doubling), injectable for tests.
    """

    def __init__(
        self,
        client: OpenAI,
        relay: Relay,
        session_id: str,
        *,
        on_relayed: Callable[[Event, Any], None] | None = None,
        reconnects: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.relay = relay
        self.session_id = session_id
        self.on_relayed = on_relayed
        self.reconnects = reconnects
        self.sleep = sleep
        self.reconnected = 0

    def open(self) -> Any:
        """Subscribe to the session's live events."""
        return self.client.beta.agents.sessions.events.stream(self.session_id)

    def follow(
        self,
        stream: Iterable[Any] | None = None,
        *,
        until_turn_end: bool = True,
        stop: threading.Event | None = None,
    ) -> str:
        """Relay until the turn ends (its end, then ``idle``), the session fails, or ``stop``.

        Args:
            stream: an already open stream (the creation stream, or one subscribed before the
                input was posted); default: subscribe now.
            until_turn_end: False to follow across turns until ``stop`` (or failure).
            stop: set it to end the relay after the current event.

        Returns:
            ``idle``, ``failed`` or ``stopped``.

        Raises:
            openai.APIError: the stream could not be reopened ``reconnects`` times in a row.
        """
        current = stream if stream is not None else self.open()
        turn_over, failures = False, 0
        while True:
            try:
                for event in current:
                    failures = 0
                    turn_over = turn_over or getattr(event, "type", None) in TURN_ENDS
                    ended = self.emit(session_envelope(event), turn_over, until_turn_end)
                    if ended is not None:
                        return ended
                    if stop is not None and stop.is_set():
                        return "stopped"
                log.info("session stream ended early", extra={"run_id": self.session_id})
            except (openai.APIError, httpx2.HTTPError) as exc:
                log.warning("session stream broke: %s", type(exc).__name__)
            finally:
                _close(current)
            if stop is not None and stop.is_set():
                return "stopped"
            failures += 1
            if failures > self.reconnects:
                raise openai.APIConnectionError(
                    message=f"the event stream of {self.session_id} could not be reopened",
                    request=httpx2.Request("GET", f"/agents/sessions/{self.session_id}/events"),
                )
            self.sleep(min(5.0, 0.2 * 2 ** (failures - 1)))
            try:
                current = self.open()
                ended = self._resync(until_turn_end)
            except (openai.APIError, httpx2.HTTPError) as exc:
                log.warning("reconnect failed: %s", type(exc).__name__)
                current = ()
                continue
            self.reconnected += 1
            if ended is not None:
                _close(current)
                return ended

    def _resync(self, until_turn_end: bool) -> str | None:
        """Relay the session's current state after a reconnect (the stream replays nothing)."""
        session = self.client.beta.agents.sessions.retrieve(self.session_id)
        kind = RESYNC_TYPES.get(str(session.status))
        if kind is None:
            return None
        envelope = Event.create(kind, session.model_dump(mode="json"))
        return self.emit(envelope, True, until_turn_end)

    def emit(
        self, envelope: Event | None, turn_over: bool = False, until_turn_end: bool = True
    ) -> str | None:
        """Hand one event on; return ``idle``/``failed`` when it ends what is followed."""
        if envelope is None:
            return None
        ack = self.relay.emit(envelope)
        if not ack.ok:
            log.warning(
                "relayed event refused: %s", ack.status, extra={"event_type": envelope.type}
            )
        if self.on_relayed is not None:
            self.on_relayed(envelope, ack)
        if envelope.type == "agent.session.failed":
            return "failed"
        if envelope.type == "agent.session.idle" and turn_over and until_turn_end:
            return "idle"
        return None


def _close(stream: Any) -> None:
    close = getattr(stream, "close", None)
    if callable(close):
        close()


def start_turn(
    client: OpenAI,
    relay: Relay,
    session_id: str,
    message: str,
    *,
    on_relayed: Callable[[Event, Any], None] | None = None,
) -> str:
    """Subscribe to an idle session, post ``message`` as a new turn, and relay the turn."""
    follower = SessionRelay(client, relay, session_id, on_relayed=on_relayed)
    stream = follower.open()  # subscribe before sending work: the stream replays nothing
    client.beta.agents.sessions.events.create(
        session_id,
        events=[
            {
                "type": "agent.session.input.message",
                "input": [{"role": "user", "content": [{"type": "input_text", "text": message}]}],
            }
        ],
    )
    return follower.follow(stream)


def create_and_relay(
    client: OpenAI,
    relay: Relay,
    *,
    agent_id: str,
    message: str,
    on_relayed: Callable[[Event, Any], None] | None = None,
) -> tuple[str, str]:
    """Create a session whose first turn is ``message`` and relay its creation stream.

    Returns:
        ``(session_id, final status)``.
    """
    stream = client.beta.agents.sessions.create(
        environment={"type": "none"}, agent_id=agent_id, input=message, stream=True
    )
    events = iter(stream)
    first = next(events)  # agent.session.created: names the session
    follower = SessionRelay(client, relay, first.session.id, on_relayed=on_relayed)  # type: ignore[union-attr]
    follower.emit(session_envelope(first))
    try:
        return follower.session_id, follower.follow(events)
    finally:
        stream.close()
