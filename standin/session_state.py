"""The stand-in's Agents API sessions: the turn state machine and the event log (input batches
are applied in ``runhook.standin.session_input``).

A session with ``environment: {"type": "none"}`` starts its first turn from its creation
``input``; later turns start from ``agent.session.input.message`` events. A turn is driven by
the scripted model (``runhook.standin.model``): ``call`` lines become ``function_call`` items
and ``required_actions`` entries, all of one round in one wait; once every call has a
``tool_result`` the turn resumes, and the final assistant message quotes each result
(``<tool>: <output>``, or the ``error`` of a failed call). Every change appends an event to the
session's log (what ``GET …/events`` streams) and sends the matching thin ``agent.session.*``
webhook. Time advances on the shared ``World`` clock and scheduler (model latency, ``sleep``).

Choices where the real service is unsure (reference §8), each documented once here:

- a ``fail`` directive in the creation input fails the **session** (``agent.session.failed``,
  a failed initial input); in a later turn it fails only the turn (the session goes idle);
- a message while a turn is active is refused with 409 ``active_turn_not_steerable``;
- the ``agent.session.in_progress`` webhook is sent when a turn starts, not when it resumes
  after its results (the stream reports both);
- a result for an unknown ``(turn_id, call_id)``, or for a call of a turn that is no longer
  waiting, gets 400 ``Unknown pending tool call: <call_id>`` (the SDK's own race message); a
  result repeated for an answered call is a no-op 202 when identical, else 409;
- an ``Idempotency-Key`` seen before in the session answers 202 without effect when the body is
  the same, else 409 ``idempotency_conflict``; keys are kept for the session's life;
- ``session_results_race`` (a knob) refuses the first N results of each call with the race
  error, as if the result had overtaken the call's registration.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from runhook.standin.model import Plan, final_text, plan
from runhook.standin.objects import clone
from runhook.standin.state import ApiError, World, new_id
from runhook.standin.webhooks import Webhooks

KEEPALIVE_S = 2.0
"""Seconds between ``: keepalive`` comments on an idle stream (the real bound is 15 s; a short
one lets the server notice closed connections sooner)."""


@dataclass
class TurnState:
    """One turn plus what the state machine needs."""

    obj: dict[str, Any]
    plan: Plan
    first: bool
    round: int = 0
    answered: list[tuple[str, str]] = field(default_factory=list)
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)
    results: dict[str, str] = field(default_factory=dict)
    calls: dict[str, tuple[dict[str, Any], int]] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    next_at: float | None = None
    output_index: int = 0

    @property
    def id(self) -> str:
        return str(self.obj["id"])


@dataclass
class SessionState:
    """One session: its object, turns, items, event log and idempotency keys."""

    obj: dict[str, Any]
    turns: list[TurnState] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)
    deleted: bool = False
    epoch: int = 0

    @property
    def id(self) -> str:
        return str(self.obj["id"])

    def active(self) -> TurnState | None:
        for turn in self.turns:
            if turn.obj["status"] in ("queued", "in_progress", "waiting"):
                return turn
        return None

    def turn(self, turn_id: str) -> TurnState | None:
        for turn in self.turns:
            if turn.id == turn_id:
                return turn
        return None


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else json.dumps(content)


def input_messages(value: Any) -> list[dict[str, Any]]:
    """User message items from ``input`` (a string or a list of input messages)."""
    if isinstance(value, str):
        return [{"role": "user", "content": [{"type": "input_text", "text": value}]}]
    if isinstance(value, list) and value:
        return [m for m in value if isinstance(m, dict)]
    raise ApiError(400, "Invalid 'input': expected a non-empty string or list.", param="input")


class Sessions:
    """Agents and sessions on the shared ``World`` clock and lock."""

    def __init__(self, world: World, webhooks: Webhooks) -> None:
        self.world = world
        self.webhooks = webhooks
        self.agents: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, SessionState] = {}
        world.timers.append(self.tick)

    # -- bookkeeping --------------------------------------------------------------------------

    def stats(self, sid: str) -> dict[str, Any]:
        """The per-session stats: results applied per call, duplicates, refusals, webhooks."""
        table: dict[str, dict[str, Any]] = self.world.stats.setdefault("sessions", {})
        return table.setdefault(
            sid,
            {
                "applied": {},
                "duplicates": 0,
                "rejected": 0,
                "webhooks": 0,
                "turns": [],
                "statuses": [],
            },
        )

    def get(self, sid: str) -> SessionState:
        """The session ``sid``, advanced to now.

        Raises:
            ApiError: 404 for an unknown or deleted session.
        """
        state = self.sessions.get(sid)
        if state is None or state.deleted:
            raise ApiError(404, f"No session found with id '{sid}'.")
        self.tick(self.world.clock())
        return state

    def emit(self, s: SessionState, kind: str, **payload: Any) -> None:
        """Append one event to the session's log and wake its streams."""
        event = {"event_id": new_id("event_"), "type": kind, **clone(payload)}
        s.log.append(event)
        self.world.changed.notify_all()

    def set_status(self, s: SessionState, status: str, event: str | None = None) -> None:
        """Move the session to ``status``; emit ``event`` with the snapshot when given."""
        s.obj["status"] = status
        s.obj["last_active_at"] = int(self.world.clock())
        self.stats(s.id)["statuses"].append(status)
        if event:
            self.emit(s, event, session=s.obj)

    def notify(self, s: SessionState, kind: str) -> None:
        """Send the thin ``kind`` webhook about the session."""
        if kind == "agent.session.action_required":
            data: dict[str, Any] = {"id": s.id, "required_action": {"type": "function_call"}}
        else:
            data = {"id": s.id, "environment_type": "none"}
        self.webhooks.publish(kind, data, self.stats(s.id))

    # -- sessions and turns -------------------------------------------------------------------

    def create(self, obj: dict[str, Any], messages: list[dict[str, Any]]) -> SessionState:
        """Commit a new session and start its first turn from ``messages``."""
        with self.world.changed:
            s = SessionState(obj=obj)
            self.sessions[s.id] = s
            self.emit(s, "agent.session.created", session=s.obj)
            self.notify(s, "agent.session.created")
            self.start_turn(s, messages, first=True)
            return s

    def start_turn(self, s: SessionState, messages: list[dict[str, Any]], *, first: bool) -> None:
        """Open a turn for user ``messages`` (the caller holds the lock)."""
        now = self.world.clock()
        text = "\n".join(text_of(m.get("content")) for m in messages)
        turn = TurnState(
            obj={
                "id": new_id("turn_"),
                "object": "agent.session.turn",
                "agent_id": s.obj["agent"]["id"],
                "session_id": s.id,
                "created_at": int(now),
                "started_at": None,
                "completed_at": None,
                "status": "queued",
                "error": None,
                "subagent_id": None,
                "usage": None,
                "prompt_cache_options": None,
            },
            plan=plan(text, s.obj["agent"]["tools"]),
            first=first,
        )
        s.turns.append(turn)
        self.stats(s.id)["turns"].append(turn.id)
        ids = {"session_id": s.id, "turn_id": turn.id}
        self.emit(s, "agent.session.turn.created", **ids, turn=turn.obj)
        for message in messages:
            item = {
                "id": new_id("msg_"),
                "type": "message",
                "role": "user",
                "content": message.get("content"),
                "phase": None,
                "status": "completed",
                "turn_id": turn.id,
            }
            if isinstance(item["content"], str):
                item["content"] = [{"type": "input_text", "text": item["content"]}]
            s.items.append(item)
            self.emit(s, "agent.session.turn.item.added", **ids, output_index=None, item=item)
        self.set_status(s, "in_progress", "agent.session.in_progress")
        self.notify(s, "agent.session.in_progress")
        turn.obj.update(status="in_progress", started_at=int(now))
        self.emit(s, "agent.session.turn.in_progress", **ids, turn=turn.obj)
        turn.next_at = now + (self.world.config.latency_ms + turn.plan.sleep_ms) / 1000
        self.world.changed.notify_all()

    def tick(self, now: float) -> float | None:
        """Take every due model step; return the next due time."""
        nxt = None
        with self.world.changed:
            for s in list(self.sessions.values()):
                turn = s.active()
                if turn is None or turn.next_at is None:
                    continue
                if turn.next_at <= now:
                    turn.next_at = None
                    self._step(s, turn)
                else:
                    nxt = turn.next_at if nxt is None else min(nxt, turn.next_at)
        return nxt

    def _step(self, s: SessionState, turn: TurnState) -> None:
        p = turn.plan
        if p.fail is not None and turn.round == 0 and not turn.answered:
            self._fail(s, turn, p.fail)
        elif turn.round < len(p.rounds):
            self._calls(s, turn)
        else:
            self._finish(s, turn)

    def _calls(self, s: SessionState, turn: TurnState) -> None:
        ids = {"session_id": s.id, "turn_id": turn.id}
        for call in turn.plan.rounds[turn.round]:
            call_id = new_id("call_")
            try:
                arguments: Any = json.loads(call.arguments)
            except json.JSONDecodeError:
                arguments = call.arguments
            # Registered before its item.added is published (reference §8 item 8).
            turn.pending[call_id] = {
                "type": "function_call",
                "call_id": call_id,
                "name": call.name,
                "arguments": arguments,
                "turn_id": turn.id,
            }
            s.obj["required_actions"].append(turn.pending[call_id])
            item = {
                "id": new_id("fc_"),
                "type": "function_call",
                "call_id": call_id,
                "name": call.name,
                "arguments": arguments,
                "status": "in_progress",
                "turn_id": turn.id,
            }
            turn.calls[call_id] = (item, turn.output_index)
            s.items.append(item)
            self.emit(
                s, "agent.session.turn.item.added", **ids, output_index=turn.output_index, item=item
            )
            turn.output_index += 1
        turn.round += 1
        turn.obj["status"] = "waiting"
        self.set_status(s, "requires_action", "agent.session.requires_action")
        self.notify(s, "agent.session.action_required")

    def _finish(self, s: SessionState, turn: TurnState) -> None:
        now = int(self.world.clock())
        ids = {"session_id": s.id, "turn_id": turn.id}
        text = final_text(turn.answered)
        index = turn.output_index
        turn.output_index += 1
        item: dict[str, Any] = {
            "id": new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "content": [],
            "phase": "final_answer",
            "status": "in_progress",
            "turn_id": turn.id,
        }
        at = {**ids, "item_id": item["id"], "output_index": index, "content_index": 0}
        self.emit(s, "agent.session.turn.item.added", **ids, output_index=index, item=item)
        self.emit(
            s,
            "agent.session.turn.content_part.added",
            **at,
            part={"type": "output_text", "text": ""},
        )
        self.emit(s, "agent.session.turn.output_text.delta", **at, delta=text)
        self.emit(s, "agent.session.turn.output_text.done", **at, text=text)
        part = {"type": "output_text", "text": text}
        self.emit(s, "agent.session.turn.content_part.done", **at, part=part)
        item.update(status="completed", content=[{**part, "annotations": []}])
        s.items.append(item)
        self.emit(s, "agent.session.turn.item.done", **ids, output_index=index, item=item)
        usage = {
            "input_tokens": 10,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 5,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 15,
        }
        turn.obj.update(status="completed", completed_at=now, usage=usage)
        self.emit(s, "agent.session.turn.completed", **ids, turn=turn.obj, usage=usage)
        s.obj["usage"] = usage
        self.set_status(s, "idle", "agent.session.idle")
        self.notify(s, "agent.session.idle")

    def _fail(self, s: SessionState, turn: TurnState, error: tuple[str, str]) -> None:
        ids = {"session_id": s.id, "turn_id": turn.id}
        code, message = error
        turn.obj.update(
            status="failed",
            completed_at=int(self.world.clock()),
            error={"code": code, "message": message},
        )
        self.emit(s, "agent.session.turn.failed", **ids, turn=turn.obj, usage=None)
        if turn.first:
            s.obj["error"] = message
            self.set_status(s, "failed", "agent.session.failed")
            self.notify(s, "agent.session.failed")
        else:
            self.set_status(s, "idle", "agent.session.idle")
            self.notify(s, "agent.session.idle")

    # -- input --------------------------------------------------------------------------------

    def submit(self, sid: str, events: list[dict[str, Any]], key: str | None) -> None:
        """Apply one ``POST …/events`` batch (see ``runhook.standin.session_input``)."""
        from runhook.standin.session_input import submit

        submit(self, sid, events, key)

    # -- streams ------------------------------------------------------------------------------

    def drop_streams(self, sid: str) -> None:
        """End every open stream of ``sid`` now (a test hook: dropped connections)."""
        with self.world.changed:
            s = self.get(sid)
            s.epoch += 1
            self.world.changed.notify_all()

    def follow(self, s: SessionState, start: int, *, until_idle: bool = False) -> Iterator[str]:
        """SSE frames of the log from ``start``: live, with keepalives, until the client goes
        (or, for the creation stream, right after the first turn's idle or failed event, or
        when ``drop_streams`` ends every open stream of the session)."""
        yield ": connected\n\n"
        index, epoch = start, s.epoch
        while True:
            with self.world.changed:
                if index >= len(s.log) and not s.deleted and s.epoch == epoch:
                    self.world.changed.wait(timeout=KEEPALIVE_S)
                if s.epoch != epoch:
                    return  # dropped by the test hook
                batch = s.log[index:]
                index += len(batch)
                gone = s.deleted
            if not batch:
                if gone:
                    return
                yield ": keepalive\n\n"
                continue
            for event in batch:
                data = json.dumps(event, separators=(",", ":"))
                yield f"event: {event['type']}\ndata: {data}\n\n"
                if until_idle and event["type"] in ("agent.session.idle", "agent.session.failed"):
                    return
