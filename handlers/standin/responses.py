"""The stand-in's Responses API: ``POST /v1/responses``, ``GET /v1/responses/{id}``,
``POST /v1/responses/{id}/cancel``, and OpenAI-style webhooks for background responses.

The scripted model is the Assistants one: ``call`` lines become ``function_call`` output items
of a completed response; a follow-up request with ``previous_response_id`` and one
``function_call_output`` per call gets a reply quoting the outputs (``<tool>: <output>``). A
follow-up that leaves a call unanswered gets the real 400 ``No tool output found for function
call <call_id>.``.

When a background response ends, a thin ``response.<status>`` event is POSTed to
``StandinConfig.webhook_url``, signed per Standard Webhooks with ``webhook_secret`` and sent with
OpenAI's headers; a non-2xx answer is retried with backoff under the same ``webhook-id``, and
``webhook_duplicate_rate`` of the deliveries are sent twice. Streaming responses are not
emulated (runhook's Responses path is webhook-driven).
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx2
from flask import Flask, jsonify, request

from events.signing import sign_headers
from handlers.standin.model import Plan, final_text, plan
from handlers.standin.state import ApiError, World, new_id

KEYS = {
    "model",
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "previous_response_id",
    "background",
    "metadata",
    "store",
    "stream",
    "temperature",
    "top_p",
    "max_output_tokens",
    "text",
    "reasoning",
    "truncation",
    "user",
    "include",
    "conversation",
    "prompt",
    "service_tier",
}
USER_AGENT = "OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)"
RETRY_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


@dataclass
class ResponseState:
    obj: dict[str, Any]
    plan: Plan
    round: int
    answered: list[tuple[str, str]]
    next_at: float | None = None
    names: dict[str, str] = field(default_factory=dict)


def _user_text(items: Any) -> str:
    if isinstance(items, str):
        return items
    texts = []
    for item in items or []:
        if isinstance(item, dict) and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                texts.append(content)
            else:
                texts.extend(str(p.get("text", "")) for p in content or [] if isinstance(p, dict))
    return "\n".join(texts)


class Responses:
    """Background responses and their webhooks, on the shared ``World`` clock and lock."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.items: dict[str, ResponseState] = {}
        # one client for every delivery: building one per webhook cost the stand-in ~50 ms of
        # CPU each (its SSL context), which the benchmarks then counted as delivery latency
        self.http = httpx2.Client(timeout=15.0, trust_env=False)
        world.closers.append(self.http.close)
        world.timers.append(self.tick)

    def stats(self, rid: str) -> dict[str, Any]:
        table: dict[str, dict[str, Any]] = self.world.stats["responses"]
        return table.setdefault(rid, {"transitions": [], "webhooks": 0, "follow_ups": 0})

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        world, now = self.world, self.world.clock()
        prev_id = body.get("previous_response_id")
        items = body.get("input")
        outputs = [
            i
            for i in (items if isinstance(items, list) else [])
            if isinstance(i, dict) and i.get("type") == "function_call_output"
        ]
        if prev_id:
            prev = self.items.get(prev_id)
            if prev is None:
                raise ApiError(
                    404,
                    f"Previous response with id '{prev_id}' not found.",
                    param="previous_response_id",
                )
            given = {str(o.get("call_id")): str(o.get("output") or "") for o in outputs}
            for call_id in prev.names:
                if call_id not in given:
                    raise ApiError(400, f"No tool output found for function call {call_id}.")
            answered = prev.answered + [(prev.names[c], given[c]) for c in prev.names]
            the_plan, round_ = prev.plan, prev.round + (1 if prev.names else 0)
            self.stats(prev_id)["follow_ups"] += 1
            text = _user_text(items)
            if text.strip():
                the_plan, round_, answered = plan(text, body.get("tools") or []), 0, []
        else:
            the_plan = plan(
                _user_text(items),
                body.get("tools") or [],
                parallel=body.get("parallel_tool_calls") is not False,
            )
            round_, answered = 0, []
        background = bool(body.get("background"))
        obj = {
            "id": new_id("resp_"),
            "object": "response",
            "created_at": now,
            "status": "queued" if background else "in_progress",
            "background": background,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "model": body.get("model") or "gpt-4o",
            "output": [],
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": prev_id,
            "tools": body.get("tools") or [],
            "tool_choice": body.get("tool_choice") or "auto",
            "temperature": 1.0,
            "top_p": 1.0,
            "metadata": body.get("metadata") or {},
            "usage": None,
            "store": body.get("store", True),
            "text": {"format": {"type": "text"}},
            "truncation": "disabled",
            "reasoning": None,
            "user": None,
        }
        state = ResponseState(obj=obj, plan=the_plan, round=round_, answered=answered)
        delay = world.config.latency_ms / 1000 + the_plan.sleep_ms / 1000
        with world.changed:
            self.items[obj["id"]] = state
            self.stats(obj["id"])["transitions"].append([obj["status"], now])
            if prev_id:
                prev_stats = self.stats(prev_id)
                prev_stats.setdefault("follow_up_at", []).append(now)
                prev_stats.setdefault("follow_up_ids", []).append(obj["id"])
            state.next_at = now + delay
            if not background:
                self._finish(state, now)
            world.changed.notify_all()
            return copy.deepcopy(obj)

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
            return copy.deepcopy(state.obj)

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
        if p.fail is not None and state.round == 0 and not state.answered:
            obj.update(status="failed", error={"code": p.fail[0], "message": p.fail[1]})
        elif state.round < len(p.rounds):
            for call in p.rounds[state.round]:
                call_id = new_id("call_")
                state.names[call_id] = call.name
                obj["output"].append(
                    {
                        "type": "function_call",
                        "id": new_id("fc_"),
                        "call_id": call_id,
                        "name": call.name,
                        "arguments": call.arguments,
                        "status": "completed",
                    }
                )
            obj["status"] = "completed"
        else:
            text = final_text(state.answered)
            obj["output"].append(
                {
                    "type": "message",
                    "id": new_id("msg_"),
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }
            )
            obj["status"] = "completed"
        obj["usage"] = {
            "input_tokens": 10,
            "output_tokens": 5,
            "total_tokens": 15,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        }
        self.stats(obj["id"])["transitions"].append([obj["status"], at])
        if obj["background"]:
            self._webhook(state)

    def _webhook(self, state: ResponseState) -> None:
        cfg = self.world.config
        if not cfg.webhook_url or not cfg.webhook_secret:
            return
        event = {
            "id": "evt_" + uuid.uuid4().hex[:24],
            "object": "event",
            "created_at": int(self.world.clock()),
            "type": f"response.{state.obj['status']}",
            "data": {"id": state.obj["id"]},
        }
        body = json.dumps(event, separators=(",", ":")).encode()
        msg_id = "wh_" + uuid.uuid4().hex[:24]
        copies = 2 if self.world.rng.random() < cfg.webhook_duplicate_rate else 1
        stats = self.stats(state.obj["id"])
        for _ in range(copies):
            threading.Thread(
                target=self._deliver,
                args=(cfg.webhook_url, cfg.webhook_secret, msg_id, body, stats),
                daemon=True,
                name="standin-webhook",
            ).start()

    def _deliver(
        self, url: str, secret: str, msg_id: str, body: bytes, stats: dict[str, Any]
    ) -> None:
        client = self.http
        for delay in (0.0, *RETRY_DELAYS_S):
            time.sleep(delay)
            headers = {**sign_headers(secret, body, msg_id=msg_id), "user-agent": USER_AGENT}
            try:
                status = client.post(url, content=body, headers=headers).status_code
            except RuntimeError:
                return  # the stand-in stopped (its client is closed) while this one waited
            except httpx2.HTTPError as exc:
                status = 0
                with self.world.lock:
                    stats.setdefault("webhook_errors", []).append(f"{type(exc).__name__}: {exc}")
            with self.world.lock:
                stats["webhooks"] += 1
                stats.setdefault("webhook_statuses", []).append(status)
            if 200 <= status < 300:
                return


def register_responses(app: Flask, world: World) -> None:
    """Mount the Responses routes on the stand-in app."""
    responses = Responses(world)

    @app.post("/v1/responses")
    def create_response() -> Any:
        body = request.get_json(silent=True) or {}
        for key in body:
            if key not in KEYS:
                raise ApiError(400, f"Unrecognized request argument supplied: {key}")
        if body.get("stream"):
            raise ApiError(
                400,
                "The stand-in does not emulate streaming responses; use background=true.",
                param="stream",
            )
        return jsonify(responses.create(body))

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
        return jsonify(copy.deepcopy(responses.get(rid).obj))

    @app.post("/v1/responses/<rid>/cancel")
    def cancel_response(rid: str) -> Any:
        return jsonify(responses.cancel(rid))
