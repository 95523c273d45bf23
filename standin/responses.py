"""The stand-in's Responses API: ``POST /v1/responses`` (plain, ``background``, ``stream``),
``GET /v1/responses/{id}`` (also ``?stream=true&starting_after=N`` to resume a stream),
``POST /v1/responses/{id}/cancel``, and OpenAI-style webhooks for background responses.

Every create is checked as the real API checks it (``responses_params``: unknown or badly typed
parameters, refused combinations such as ``previous_response_id`` with ``conversation``) and
recorded in ``/_standin/stats`` (``responses[id]["request"]``), so a test sees what each
follow-up carried. The returned objects follow the spec's ``Response`` schema
(``responses_objects``).

The scripted model is the Assistants one: ``call`` lines become ``function_call`` output items
of a completed response. A create whose ``function_call_output`` items answer a response's
pending calls continues that response's plan, whichever way it names it: by
``previous_response_id``, by the ``conversation`` it belongs to, or only by the ``call_id``s
(clients that re-send the whole input, user turn included); the reply quotes the outputs
(``<tool>: <output>``). A follow-up that leaves a call unanswered gets the real 400 ``No tool
output found for function call <call_id>.``; an output for a call nobody made gets ``No tool
call found for function call output with call_id <call_id>.``.

When a background response ends, a thin ``response.<status>`` event is published through
``runhook.standin.webhooks``: to ``StandinConfig.webhook_url`` and to every endpoint
registered for that type, signed per Standard Webhooks, retried on non-2xx.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, jsonify, request

from runhook.standin.conversations import Conversations, register_conversations
from runhook.standin.model import Plan, final_text, plan
from runhook.standin.objects import clone
from runhook.standin.responses_objects import (
    finish,
    function_call_item,
    message_item,
    reasoning_item,
    response_object,
    with_logprobs,
)
from runhook.standin.responses_params import check_create, conversation_id
from runhook.standin.responses_stream import EventLog, frames
from runhook.standin.state import TERMINAL, ApiError, World, new_id
from runhook.standin.webhooks import Webhooks
from runhook.standin.wire import query_int_or_none, sse


@dataclass
class ResponseState:
    obj: dict[str, Any]
    plan: Plan
    round: int
    answered: list[tuple[str, str]]
    request: dict[str, Any] = field(default_factory=dict)
    next_at: float | None = None
    names: dict[str, str] = field(default_factory=dict)
    continued: bool = False
    log: EventLog | None = None


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(
        str(p.get("text", "")) for p in content or [] if isinstance(p, dict) and "text" in p
    )


def _user_text(items: Any) -> str:
    """The latest user message's text (the scripted model's directives)."""
    if isinstance(items, str):
        return items
    texts = [
        _text_of(item.get("content"))
        for item in items or []
        if isinstance(item, dict) and item.get("role") == "user"
    ]
    return texts[-1] if texts else ""


def _outputs(items: Any) -> dict[str, str]:
    """``call_id -> output`` of the ``function_call_output`` items of an input."""
    return {
        str(i.get("call_id")): _text_of(i.get("output"))
        for i in (items if isinstance(items, list) else [])
        if isinstance(i, dict) and i.get("type") == "function_call_output"
    }


def _input_calls(items: Any) -> set[str]:
    return {
        str(i.get("call_id"))
        for i in (items if isinstance(items, list) else [])
        if isinstance(i, dict) and i.get("type") == "function_call"
    }


class Responses:
    """Background responses and their webhooks, on the shared ``World`` clock and lock."""

    def __init__(
        self,
        world: World,
        conversations: Conversations | None = None,
        webhooks: Webhooks | None = None,
    ) -> None:
        self.world = world
        self.webhooks = webhooks or Webhooks(world)
        self.conversations = conversations or Conversations(world)
        self.items: dict[str, ResponseState] = {}
        self.calls: dict[str, str] = {}  # call_id -> the response that made the call
        world.timers.append(self.tick)

    def stats(self, rid: str) -> dict[str, Any]:
        table: dict[str, dict[str, Any]] = self.world.stats["responses"]
        return table.setdefault(rid, {"transitions": [], "webhooks": 0, "follow_ups": 0})

    def _answered_state(
        self, body: dict[str, Any], base: ResponseState | None
    ) -> ResponseState | None:
        """The response whose pending calls this create answers (None: a fresh turn).

        Raises:
            ApiError: an output answers no call, or ``base`` has a call left unanswered.
        """
        items = body.get("input")
        given = _outputs(items)
        made_here = _input_calls(items)
        for call_id in given:
            if call_id not in self.calls and call_id not in made_here:
                raise ApiError(
                    400,
                    f"No tool call found for function call output with call_id {call_id}.",
                    param="input",
                )
        if base is not None:
            for call_id in base.names:
                if call_id not in given:
                    raise ApiError(400, f"No tool output found for function call {call_id}.")
            return base if base.names else None
        answered = [
            self.items[rid]
            for rid in dict.fromkeys(self.calls[c] for c in given if c in self.calls)
            if not self.items[rid].continued and all(c in given for c in self.items[rid].names)
        ]
        return max(answered, key=lambda s: s.obj["created_at"], default=None)

    def _base(self, body: dict[str, Any]) -> tuple[ResponseState | None, str | None]:
        """The response a create continues by name, and its conversation id."""
        prev_id = body.get("previous_response_id")
        conv_id = conversation_id(body.get("conversation"))
        if prev_id:
            prev = self.items.get(prev_id)
            if prev is None:
                raise ApiError(
                    404,
                    f"Previous response with id '{prev_id}' not found.",
                    param="previous_response_id",
                )
            self.stats(prev_id)["follow_ups"] += 1
            return prev, None
        if conv_id:
            latest = self.conversations.get(conv_id).latest
            return (self.items.get(latest) if latest else None), conv_id
        return None, None

    def create(self, body: dict[str, Any]) -> ResponseState:
        """Start a response for a checked create ``body``."""
        world, now = self.world, self.world.clock()
        with world.changed:
            base, conv_id = self._base(body)
            cont = self._answered_state(body, base)
            if cont is not None:
                given = _outputs(body.get("input"))
                answered = cont.answered + [(cont.names[c], given[c]) for c in cont.names]
                the_plan, round_ = cont.plan, cont.round + 1
                cont.continued = True
                if base is None or conv_id:
                    self.stats(cont.obj["id"])["follow_ups"] += 1
            else:
                the_plan = plan(
                    _user_text(body.get("input")),
                    body.get("tools") or [],
                    parallel=body.get("parallel_tool_calls") is not False,
                )
                round_, answered = 0, []
            obj = response_object(
                body,
                now=now,
                previous_response_id=body.get("previous_response_id"),
                conversation=conv_id,
            )
            state = ResponseState(
                obj=obj, plan=the_plan, round=round_, answered=answered, request=body
            )
            if body.get("stream"):
                state.log = EventLog()
                state.log.snapshot("response.created", obj)
                if obj["background"]:
                    state.log.snapshot("response.queued", obj)
            self.items[obj["id"]] = state
            if conv_id:
                self.conversations.get(conv_id).latest = obj["id"]
            record = self.stats(obj["id"])
            record["request"] = clone(body)
            record["transitions"].append([obj["status"], now])
            followed = cont or base
            if followed is not None:  # the benchmarks time a wait's answer from these
                prev_stats = self.stats(followed.obj["id"])
                prev_stats.setdefault("follow_up_at", []).append(now)
                prev_stats.setdefault("follow_up_ids", []).append(obj["id"])
            state.next_at = now + world.config.latency_ms / 1000 + the_plan.sleep_ms / 1000
            if not obj["background"]:
                self._finish(state, now)
            world.changed.notify_all()
            return state

    def follow(self, rid: str, after: int = -1) -> Iterator[dict[str, Any]]:
        """The stream events of ``rid`` after sequence number ``after``, until it ends."""
        state = self.get(rid)
        log = state.log
        if log is None:
            raise ApiError(
                400,
                "This response cannot be streamed because it was not created with stream=true.",
                param="stream",
            )
        index = after + 1
        while True:
            with self.world.changed:
                while index >= len(log.events):
                    ended = state.obj["status"] in TERMINAL
                    if ended or self.world.stopping:
                        return
                    self.world.changed.wait(timeout=0.5)
                    self.tick(self.world.clock())
                event = clone(log.events[index])
            index += 1
            yield event

    def chain_done(self, rid: str) -> bool:
        """True once ``rid`` is terminal and, if it asked for calls, a follow-up chain is done."""
        state = self.items.get(rid)
        if state is None:
            return True
        if state.obj["status"] in ("queued", "in_progress"):
            return False
        if state.obj["status"] != "completed" or not state.names:
            return True
        return any(self.chain_done(f) for f in self.stats(rid).get("follow_up_ids", []))

    def get(self, rid: str) -> ResponseState:
        state = self.items.get(rid)
        if state is None:
            raise ApiError(404, f"Response with id '{rid}' not found.")
        self.tick(self.world.clock())
        return state

    def cancel(self, rid: str) -> dict[str, Any]:
        state = self.get(rid)
        with self.world.changed:
            if not state.obj["background"]:
                raise ApiError(400, "Only responses created with background=true can be cancelled.")
            if state.obj["status"] in ("queued", "in_progress"):
                state.obj["status"] = "cancelled"
                state.next_at = None
                self._webhook(state)
            return clone(state.obj)

    def tick(self, now: float) -> float | None:
        nxt = None
        with self.world.changed:
            for state in list(self.items.values()):
                if state.next_at is None:
                    continue
                if state.next_at <= now:
                    self._finish(state, state.next_at)
                else:
                    nxt = state.next_at if nxt is None else min(nxt, state.next_at)
        return nxt

    def _finish(self, state: ResponseState, at: float) -> None:
        obj, p = state.obj, state.plan
        state.next_at = None
        if state.log is not None:
            state.log.snapshot("response.in_progress", {**obj, "status": "in_progress"})
        new_items: list[dict[str, Any]] = []
        thought = reasoning_item(state.request)
        if thought is not None and not (p.fail is not None and state.round == 0):
            new_items.append(thought)
        if p.fail is not None and state.round == 0 and not state.answered:
            obj["error"] = {"code": p.fail[0], "message": p.fail[1]}
            finish(obj, "failed", at)
        elif state.round < len(p.rounds):
            for call in p.rounds[state.round]:
                call_id = new_id("call_")
                state.names[call_id] = call.name
                self.calls[call_id] = obj["id"]
                new_items.append(function_call_item(call_id, call.name, call.arguments))
        else:
            new_items.append(with_logprobs(message_item(final_text(state.answered)), state.request))
        obj["output"].extend(new_items)
        if obj["status"] != "failed":
            finish(obj, "completed", at)
        if state.log is not None:
            for index, item in enumerate(new_items):
                state.log.item(index, item)
            state.log.snapshot(f"response.{obj['status']}", obj)
        self._remember(state)
        self.stats(obj["id"])["transitions"].append([obj["status"], at])
        self.world.changed.notify_all()
        if obj["background"]:
            self._webhook(state)

    def _remember(self, state: ResponseState) -> None:
        """Add a finished response's input and output to its conversation."""
        conv = state.obj.get("conversation")
        if not conv:
            return
        items = state.request.get("input")
        if isinstance(items, str):
            items = [{"type": "message", "role": "user", "content": items}]
        record = self.conversations.get(conv["id"]).items
        record.extend(clone(list(items or [])))
        record.extend(clone(state.obj["output"]))

    def _webhook(self, state: ResponseState) -> None:
        self.webhooks.publish(
            f"response.{state.obj['status']}", {"id": state.obj["id"]}, self.stats(state.obj["id"])
        )


def register_responses(app: Flask, world: World, webhooks: Webhooks | None = None) -> Responses:
    """Mount the Responses (and Conversations) routes; ends are published via ``webhooks``."""
    conversations = Conversations(world)
    register_conversations(app, conversations)
    responses = Responses(world, conversations, webhooks)

    @app.post("/v1/responses")
    def create_response() -> Any:
        parsed = request.get_json(silent=True)
        if parsed is None and request.get_data():
            raise ApiError(
                400,
                "We could not parse the JSON body of your request. (HINT: This likely means "
                "you aren't using your HTTP library correctly.)",
            )
        body = check_create(parsed if parsed is not None else {})
        state = responses.create(body)
        if body.get("stream"):
            events = responses.follow(state.obj["id"])
            cut = world.config.stream_drop_after
            return sse(frames(itertools.islice(events, cut) if cut is not None else events))
        with world.lock:  # the scheduler thread may be advancing it right now
            return jsonify(clone(state.obj))

    @app.post("/_standin/responses/wait")
    def wait_responses() -> Any:
        """Block until every chain in ``{"responses": [...]}`` ended (see ``chain_done``) or
        ``timeout`` s pass; answer ``{"pending": [...]}`` (benchmarks, instead of polling)."""
        body = request.get_json(force=True, silent=True) or {}
        pending = [str(r) for r in body.get("responses", [])]
        interval = float(body.get("interval", 0.02))
        deadline = time.monotonic() + float(body.get("timeout", 60))
        while True:
            with world.lock:
                pending = [r for r in pending if not responses.chain_done(r)]
            if not pending or time.monotonic() >= deadline:
                return jsonify({"pending": pending})
            time.sleep(interval)

    @app.get("/v1/responses/<rid>")
    def get_response(rid: str) -> Any:
        after = query_int_or_none("starting_after")
        if request.args.get("stream") == "true":
            return sse(frames(responses.follow(rid, -1 if after is None else after)))
        state = responses.get(rid)
        with world.lock:  # the scheduler thread may be advancing it right now
            return jsonify(clone(state.obj))

    @app.post("/v1/responses/<rid>/cancel")
    def cancel_response(rid: str) -> Any:
        return jsonify(responses.cancel(rid))

    return responses
