"""The stand-in's Agents API routes: ``/v1/agents`` and ``/v1/agents/sessions``.

Every route requires ``OpenAI-Beta: agents=v1`` (else 400 ``invalid_beta``, worded like the
Assistants one). Objects carry every field SDK 3.57 declares, with explicit ``null``s; the
state machine, event stream and tool-result rules live in ``runhook.standin.session_state``.
``POST …/events`` answers 202 with an empty body once the input is applied.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request

from runhook.standin.objects import clone
from runhook.standin.session_state import Sessions, input_messages
from runhook.standin.state import ApiError, World, new_id
from runhook.standin.webhooks import Webhooks

BETA_MESSAGE = (
    "You must provide the 'OpenAI-Beta' header to access the Agents API. Please try again by "
    "setting the header 'OpenAI-Beta: agents=v1'."
)
AGENT_KEYS = {
    "model",
    "instructions",
    "metadata",
    "name",
    "tools",
    "reasoning",
    "text",
    "service_tier",
    "multi_agent",
    "compaction",
    "experimental",
}
SESSION_KEYS = {
    "environment",
    "agent_id",
    "agent",
    "input",
    "metadata",
    "vault_ids",
    "prompt_cache_options",
    "review",
    "stream",
    "stream_options",
}
SNAPSHOT_KEYS = (
    "id",
    "instructions",
    "model",
    "multi_agent",
    "name",
    "reasoning",
    "service_tier",
    "text",
    "tools",
)


def _body(allowed: set[str]) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    for key in body:
        if key not in allowed:
            raise ApiError(400, f"Unrecognized request argument supplied: {key}")
    return body


def _page(items: list[dict[str, Any]]) -> dict[str, Any]:
    order = request.args.get("order", "desc")
    limit = max(1, min(100, int(request.args.get("limit", 20))))
    seq = list(items) if order == "asc" else list(reversed(items))
    ids = [i["id"] for i in seq]
    after = request.args.get("after")
    if after in ids:
        seq = seq[ids.index(after) + 1 :]
    page = seq[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(seq) > limit,
    }


def _tools(tools: Any) -> list[dict[str, Any]]:
    result = []
    for tool in tools or []:
        tool = dict(tool)
        if tool.get("type") == "function":
            tool.setdefault("defer_loading", False)
        result.append(tool)
    return result


def agent_object(body: dict[str, Any], now: int, *, agent_id: str | None = None) -> dict[str, Any]:
    """A full ``Agent`` object from a create body."""
    if not body.get("model"):
        raise ApiError(
            400,
            "Missing required parameter: 'model'.",
            param="model",
            code="missing_required_parameter",
        )
    return {
        "id": agent_id or new_id("agent_"),
        "object": "agent",
        "created_at": now,
        "updated_at": now,
        "name": body.get("name"),
        "instructions": body.get("instructions"),
        "metadata": body.get("metadata") or {},
        "model": body["model"],
        "tools": _tools(body.get("tools")),
        "reasoning": {"effort": None, "summary": None, **(body.get("reasoning") or {})},
        "text": body.get("text") or {"format": {"type": "text"}, "verbosity": "medium"},
        "service_tier": body.get("service_tier") or "default",
        "multi_agent": body.get("multi_agent")
        or {"enabled": False, "max_concurrent_subagents": None},
    }


def register_sessions(app: Flask, world: World, webhooks: Webhooks) -> Sessions:
    """Mount the Agents routes on the stand-in app; return the sessions state. Session
    webhooks go out through ``webhooks``, as the Responses ones do."""
    sessions = Sessions(world, webhooks)
    bp = Blueprint("agents", __name__, url_prefix="/v1/agents")

    @bp.before_request
    def beta() -> Response | None:
        if request.headers.get("OpenAI-Beta") != "agents=v1":
            raise ApiError(400, BETA_MESSAGE, code="invalid_beta")
        return None

    def agent(aid: str) -> dict[str, Any]:
        if aid not in sessions.agents:
            raise ApiError(404, f"No agent found with id '{aid}'.")
        return sessions.agents[aid]

    # -- agents -------------------------------------------------------------------------------

    @bp.post("")
    def create_agent() -> Any:
        obj = agent_object(_body(AGENT_KEYS), int(world.clock()))
        with world.lock:
            sessions.agents[obj["id"]] = obj
        return jsonify(obj)

    @bp.get("")
    def list_agents() -> Any:
        return jsonify(_page(list(sessions.agents.values())))

    @bp.get("/<aid>")
    def get_agent(aid: str) -> Any:
        return jsonify(agent(aid))

    @bp.post("/<aid>")
    def update_agent(aid: str) -> Any:
        obj = agent(aid)
        body = _body(AGENT_KEYS)
        with world.lock:
            if "tools" in body:
                body["tools"] = _tools(body["tools"])
            obj.update(body, updated_at=int(world.clock()))
        return jsonify(obj)

    @bp.delete("/<aid>")
    def delete_agent(aid: str) -> Any:
        agent(aid)
        with world.lock:
            del sessions.agents[aid]
        return jsonify({"id": aid, "deleted": True, "object": "agent.deleted"})

    # -- sessions -----------------------------------------------------------------------------

    def snapshot(body: dict[str, Any], now: int) -> dict[str, Any]:
        base: dict[str, Any] = {}
        if body.get("agent_id"):
            base = clone(agent(str(body["agent_id"])))
        inline = body.get("agent") or {}
        merged = {**base, **clone(inline)}
        if not base:
            merged = agent_object(merged, now)
        elif "tools" in inline:
            merged["tools"] = _tools(inline["tools"])
        return {k: merged.get(k) for k in SNAPSHOT_KEYS}

    @bp.post("/sessions")
    def create_session() -> Any:
        body = _body(SESSION_KEYS)
        environment = body.get("environment")
        if not isinstance(environment, dict):
            raise ApiError(
                400,
                "Missing required parameter: 'environment'.",
                param="environment",
                code="missing_required_parameter",
            )
        if environment.get("type") != "none":
            raise ApiError(
                400,
                "The stand-in supports only environment type 'none'.",
                param="environment.type",
            )
        if body.get("input") in (None, "", []):
            raise ApiError(
                400,
                "Conversation-only sessions currently require initial input.",
                param="input",
            )
        messages = input_messages(body["input"])
        now = int(world.clock())
        obj: dict[str, Any] = {
            "id": new_id("sess_"),
            "object": "agent.session",
            "agent": snapshot(body, now),
            "created_at": now,
            "last_active_at": now,
            "environment": {"type": "none"},
            "error": None,
            "metadata": body.get("metadata") or {},
            "required_actions": [],
            "status": "in_progress",
            "usage": None,
            "vault_ids": list(body.get("vault_ids") or []),
            "prompt_cache_options": body.get("prompt_cache_options"),
        }
        if body.get("review") == "auto_review":
            obj["review"] = "auto_review"
        state = sessions.create(obj, messages)
        if body.get("stream"):
            return _sse(sessions.follow(state, 0, until_idle=True))
        with world.lock:
            return jsonify(state.log[0]["session"])

    @bp.get("/sessions")
    def list_sessions() -> Any:
        found = [s.obj for s in sessions.sessions.values() if not s.deleted]
        if request.args.get("agent_id"):
            found = [s for s in found if s["agent"]["id"] == request.args["agent_id"]]
        with world.lock:
            return jsonify(_page(clone(found)))

    @bp.get("/sessions/<sid>")
    def get_session(sid: str) -> Any:
        s = sessions.get(sid)
        with world.lock:
            return jsonify(clone(s.obj))

    @bp.post("/sessions/<sid>")
    def update_session(sid: str) -> Any:
        s = sessions.get(sid)
        body = _body({"agent", "metadata", "prompt_cache_options", "review"})
        with world.lock:
            if "metadata" in body:
                s.obj["metadata"] = body["metadata"] or {}
            for key, value in (body.get("agent") or {}).items():
                s.obj["agent"][key] = _tools(value) if key == "tools" else value
            return jsonify(clone(s.obj))

    @bp.delete("/sessions/<sid>")
    def delete_session(sid: str) -> Any:
        with world.changed:
            s = sessions.get(sid)
            if s.active() is not None:
                raise ApiError(400, "Running execution must be cancelled first.")
            s.deleted = True
            world.changed.notify_all()
        return jsonify({"id": sid, "deleted": True, "object": "agent.session.deleted"})

    @bp.post("/sessions/<sid>/events")
    def post_events(sid: str) -> Any:
        body = _body({"events"})
        events = body.get("events")
        if not isinstance(events, list) or not events:
            raise ApiError(
                400,
                "Missing required parameter: 'events'.",
                param="events",
                code="missing_required_parameter",
            )
        if not all(isinstance(e, dict) for e in events):
            raise ApiError(400, "Invalid 'events': expected a list of objects.", param="events")
        key = request.headers.get("Idempotency-Key")
        sessions.submit(sid, events, key)
        return Response(status=202)

    @bp.get("/sessions/<sid>/events")
    def stream_events(sid: str) -> Any:
        s = sessions.get(sid)
        with world.lock:
            start = len(s.log)  # subscribe now: the stream starts with the next event
        return _sse(sessions.follow(s, start))

    @bp.get("/sessions/<sid>/items")
    def list_items(sid: str) -> Any:
        s = sessions.get(sid)
        with world.lock:
            return jsonify(_page(clone(s.items)))

    @bp.get("/sessions/<sid>/turns")
    def list_turns(sid: str) -> Any:
        s = sessions.get(sid)
        with world.lock:
            return jsonify(_page(clone([t.obj for t in s.turns])))

    @bp.get("/sessions/<sid>/turns/<tid>")
    def get_turn(sid: str, tid: str) -> Any:
        s = sessions.get(sid)
        turn = s.turn(tid)
        if turn is None:
            raise ApiError(404, f"No turn found with id '{tid}'.")
        with world.lock:
            return jsonify(clone(turn.obj))

    @bp.get("/sessions/<sid>/turns/<tid>/items")
    def list_turn_items(sid: str, tid: str) -> Any:
        s = sessions.get(sid)
        if s.turn(tid) is None:
            raise ApiError(404, f"No turn found with id '{tid}'.")
        with world.lock:
            return jsonify(_page(clone([i for i in s.items if i["turn_id"] == tid])))

    @app.post("/_standin/sessions/<sid>/drop_streams")
    def drop_streams(sid: str) -> Any:
        sessions.drop_streams(sid)
        return jsonify({"status": "dropped"})

    app.register_blueprint(bp)
    return sessions


def _sse(frames: Any) -> Response:
    return Response(frames, mimetype="text/event-stream", headers={"cache-control": "no-cache"})
