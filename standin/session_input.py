"""The stand-in's session input: ``POST /agents/sessions/{id}/events`` batches.

A batch is checked whole, then applied (all or nothing): messages start a turn, ``cancel``
ends the active one, and each ``tool_result`` answers one pending call (the choices for
repeats, unknown calls and idempotency keys are listed in ``runhook.standin.session_state``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from runhook.standin.session_state import (
    Sessions,
    SessionState,
    input_messages,
    text_of,
)
from runhook.standin.state import ApiError, new_id


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def submit(sessions: Sessions, sid: str, events: list[dict[str, Any]], key: str | None) -> None:
    """Apply one ``POST …/events`` batch atomically (all or nothing).

    Raises:
        ApiError: 400 for an unknown call or a bad event, 409 for a conflicting replay.
    """
    with sessions.world.changed:
        s = sessions.get(sid)
        digest = _digest(events)
        if key is not None and key in s.keys:
            if s.keys[key] != digest:
                raise ApiError(
                    409,
                    "This idempotency key was used with different input.",
                    code="idempotency_conflict",
                )
            sessions.stats(sid)["duplicates"] += 1
            return
        for event in events:
            _check(sessions, s, event)
        for event in events:
            _apply(sessions, s, event)
        if key is not None:
            s.keys[key] = digest


def _check(sessions: Sessions, s: SessionState, event: dict[str, Any]) -> None:
    kind = event.get("type")
    if kind == "agent.session.input.tool_result":
        turn_id, call_id = str(event.get("turn_id")), str(event.get("call_id"))
        if not isinstance(event.get("success"), bool):
            raise ApiError(400, "Missing required parameter: 'success'.", param="success")
        turn = s.turn(turn_id)
        if turn is not None and call_id in turn.results:
            if turn.results[call_id] != _digest(_result_of(event)):
                raise ApiError(
                    409, "The tool call already has a different result.", code="conflict"
                )
            return
        refused = turn.refused.get(call_id, 0) if turn is not None else 0
        race = sessions.world.config.session_results_race
        if turn is None or call_id not in turn.pending or refused < race:
            if turn is not None and call_id in turn.pending:
                turn.refused[call_id] = refused + 1
            sessions.stats(s.id)["rejected"] += 1
            raise ApiError(
                400, f"Unknown pending tool call: {call_id}", code="invalid_request_error"
            )
    elif kind == "agent.session.input.message":
        input_messages(event.get("input"))
        if s.obj["status"] == "failed":
            raise ApiError(400, "The session has failed and accepts no more input.")
        if s.active() is not None:
            raise ApiError(
                409,
                "The session cannot accept additional input while a turn is running.",
                code="active_turn_not_steerable",
            )
    elif kind != "agent.session.input.cancel":
        raise ApiError(400, f"Invalid value: '{kind}'. Unsupported input event type.", param="type")


def _apply(sessions: Sessions, s: SessionState, event: dict[str, Any]) -> None:
    kind = event["type"]
    if kind == "agent.session.input.message":
        sessions.start_turn(s, input_messages(event["input"]), first=False)
    elif kind == "agent.session.input.cancel":
        _cancel(sessions, s)
    else:
        _result(sessions, s, event)


def _result(sessions: Sessions, s: SessionState, event: dict[str, Any]) -> None:
    turn = s.turn(str(event["turn_id"]))
    call_id = str(event["call_id"])
    assert turn is not None
    if call_id in turn.results:
        sessions.stats(s.id)["duplicates"] += 1
        return
    action = turn.pending.pop(call_id)
    s.obj["required_actions"] = [
        a for a in s.obj["required_actions"] if a.get("call_id") != call_id
    ]
    turn.results[call_id] = _digest(_result_of(event))
    applied = sessions.stats(s.id)["applied"]
    applied[f"{turn.id}:{call_id}"] = applied.get(f"{turn.id}:{call_id}", 0) + 1
    ok = event["success"]
    output = event.get("output") if ok else None
    quoted = text_of(output) if ok else str(event.get("error") or "")
    turn.answered.append((str(action["name"]), quoted))
    ids = {"session_id": s.id, "turn_id": turn.id}
    out_item = {
        "id": new_id("fco_"),
        "type": "function_call_output",
        "call_id": call_id,
        "output": output,
        "error": None if ok else event.get("error"),
        "status": "completed" if ok else "failed",
        "turn_id": turn.id,
    }
    s.items.append(out_item)
    sessions.emit(s, "agent.session.turn.item.added", **ids, output_index=None, item=out_item)
    item, index = turn.calls[call_id]
    item["status"] = "completed" if ok else "failed"
    sessions.emit(s, "agent.session.turn.item.done", **ids, output_index=index, item=item)
    if not turn.pending:
        sessions.set_status(s, "in_progress", "agent.session.in_progress")
        turn.obj["status"] = "in_progress"
        turn.next_at = sessions.world.clock() + sessions.world.config.latency_ms / 1000


def _cancel(sessions: Sessions, s: SessionState) -> None:
    turn = s.active()
    if turn is None:
        return
    turn.pending.clear()
    turn.next_at = None
    s.obj["required_actions"] = []
    turn.obj.update(status="cancelled", completed_at=int(sessions.world.clock()))
    ids = {"session_id": s.id, "turn_id": turn.id}
    sessions.emit(s, "agent.session.turn.cancelled", **ids, turn=turn.obj, usage=None)
    sessions.set_status(s, "idle", "agent.session.idle")
    sessions.notify(s, "agent.session.idle")


def _result_of(event: dict[str, Any]) -> dict[str, Any]:
    return {k: event.get(k) for k in ("success", "output", "error")}
