"""The stand-in's HTTP surface: OpenAI's Assistants routes under ``/v1`` (Responses in
``handlers.standin.responses``, Agents sessions in ``handlers.standin.sessions``), plus ``/_standin/stats`` and ``/_standin/reset``.

Errors use OpenAI's envelope ``{"error": {"message", "type", "param", "code"}}`` with the real
service's messages; every answer carries ``x-request-id``; Assistants routes require
``OpenAI-Beta: assistants=v2``; streams are ``text/event-stream`` with one-line JSON ``data``
and end with ``event: done`` / ``data: [DONE]``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import BadRequest, HTTPException

from handlers.standin.state import TERMINAL, ApiError, RunState, World, content_blocks, new_id

BETA_MESSAGE = (
    "You must provide the 'OpenAI-Beta' header to access the Assistants API. Please try again "
    "by setting the header 'OpenAI-Beta: assistants=v2'."
)
RUN_KEYS = {
    "assistant_id",
    "model",
    "instructions",
    "additional_instructions",
    "additional_messages",
    "tools",
    "metadata",
    "temperature",
    "top_p",
    "stream",
    "max_prompt_tokens",
    "max_completion_tokens",
    "truncation_strategy",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "reasoning_effort",
    "include",
    "tool_resources",
}
ASSISTANT_KEYS = {
    "model",
    "name",
    "description",
    "instructions",
    "tools",
    "metadata",
    "temperature",
    "top_p",
    "response_format",
    "tool_resources",
    "reasoning_effort",
}
OUTPUT_MAX = 1_048_576
OUTPUTS_TOTAL_MAX = 512 * 1024


def _error(exc: ApiError) -> Response:
    kind = "invalid_request_error" if exc.status < 500 else "server_error"
    if exc.status == 429:
        kind = "requests"
    response = jsonify(
        {"error": {"message": exc.message, "type": kind, "param": exc.param, "code": exc.code}}
    )
    response.status_code = exc.status
    return response


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


def query_int(name: str, default: int) -> int:
    """An integer query parameter; a badly typed one is OpenAI's JSON 400."""
    raw = request.args.get(name)
    try:
        return default if raw is None else int(raw)
    except ValueError:
        raise ApiError(
            400,
            f"Invalid type for '{name}': expected an integer, but got a string instead.",
            param=name,
            code="invalid_type",
        ) from None


def _page(items: list[dict[str, Any]]) -> dict[str, Any]:
    order = request.args.get("order", "desc")
    limit = max(1, min(100, query_int("limit", 20)))
    seq = list(items) if order == "asc" else list(reversed(items))
    ids = [i["id"] for i in seq]
    after, before = request.args.get("after"), request.args.get("before")
    if after in ids:
        seq = seq[ids.index(after) + 1 :]
    if before in ids:
        seq = (
            seq[: [i["id"] for i in seq].index(before)] if before in [i["id"] for i in seq] else seq
        )
    page = seq[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(seq) > limit,
    }


def sse(events: Iterator[tuple[str, Any]]) -> Response:
    """An SSE response over ``(event, data)`` pairs."""

    def frames() -> Iterator[str]:
        for name, data in events:
            text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
            yield f"event: {name}\ndata: {text}\n\n"

    return Response(frames(), mimetype="text/event-stream", headers={"cache-control": "no-cache"})


def create_app(world: World) -> Flask:
    """The stand-in's Flask app over ``world``."""
    app = Flask("runhook-standin")

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return _error(exc)

    @app.errorhandler(BadRequest)
    def bad_request(exc: BadRequest) -> Response:
        return _error(ApiError(400, f"We could not parse the JSON body of your request. ({exc})"))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        if isinstance(exc, HTTPException):
            return exc
        if isinstance(exc, TypeError | ValueError):
            # a body value of the wrong type reached the model: the client's error, as OpenAI
            # answers it (a JSON 400), never an HTML 500
            return _error(ApiError(400, f"Invalid request: {exc}", code="invalid_type"))
        app.logger.exception("stand-in error")
        return _error(ApiError(500, f"The server had an error processing your request ({exc})."))

    @app.errorhandler(404)
    def not_found(_: Exception) -> Response:
        return _error(ApiError(404, f"Invalid URL ({request.method} {request.path})"))

    @app.errorhandler(405)
    def not_allowed(_: Exception) -> Response:
        return _error(ApiError(405, f"Invalid method for URL ({request.method} {request.path})"))

    @app.before_request
    def gate() -> Response | None:
        g.request_id = "req_" + uuid.uuid4().hex
        if not request.path.startswith("/v1/"):
            return None
        rule = (
            request.url_rule.rule.replace("<", "{").replace(">", "}")
            if request.url_rule
            else request.path
        )
        world.count(f"{request.method} {rule}")
        cfg = world.config
        with world.lock:
            roll = world.rng.random()
        if roll < cfg.fault_429:
            response = _error(
                ApiError(
                    429,
                    "You've exceeded the rate limit, please slow down and try again later.",
                    code="rate_limit_exceeded",
                )
            )
            response.headers["retry-after"] = str(cfg.retry_after_s)
            return response
        if roll < cfg.fault_429 + cfg.fault_500:
            return _error(
                ApiError(
                    500, "The server had an error while processing your request. Sorry about that!"
                )
            )
        if (
            request.path.startswith(("/v1/assistants", "/v1/threads"))
            and request.headers.get("OpenAI-Beta") != "assistants=v2"
        ):
            return _error(ApiError(400, BETA_MESSAGE, code="invalid_beta"))
        return None

    @app.after_request
    def stamp(response: Response) -> Response:
        response.headers["x-request-id"] = getattr(g, "request_id", "req_" + uuid.uuid4().hex)
        if (
            world.config.poll_after_ms is not None
            and request.method == "GET"
            and "/runs/" in request.path
        ):
            response.headers["openai-poll-after-ms"] = str(world.config.poll_after_ms)
        return response

    def assistant(aid: str) -> dict[str, Any]:
        if aid not in world.assistants:
            raise ApiError(404, f"No assistant found with id '{aid}'.")
        return world.assistants[aid]

    def thread(tid: str) -> dict[str, Any]:
        if tid not in world.threads:
            raise ApiError(404, f"No thread found with id '{tid}'.")
        return world.threads[tid]

    def run_of(tid: str, rid: str) -> RunState:
        thread(tid)
        run = world.runs.get(rid)
        if run is None or run.obj["thread_id"] != tid:
            raise ApiError(404, f"No run found with id '{rid}'.")
        world.advance(run)
        return run

    # -- assistants ---------------------------------------------------------------------------

    @app.post("/v1/assistants")
    def create_assistant() -> Any:
        body = _body(ASSISTANT_KEYS)
        if not body.get("model"):
            raise ApiError(
                400,
                "Missing required parameter: 'model'.",
                param="model",
                code="missing_required_parameter",
            )
        obj = {
            "id": new_id("asst_"),
            "object": "assistant",
            "created_at": int(world.clock()),
            "name": body.get("name"),
            "description": body.get("description"),
            "model": body["model"],
            "instructions": body.get("instructions"),
            "tools": body.get("tools") or [],
            "tool_resources": body.get("tool_resources") or {},
            "metadata": body.get("metadata") or {},
            "temperature": body.get("temperature", 1.0),
            "top_p": body.get("top_p", 1.0),
            "response_format": body.get("response_format") or "auto",
            "reasoning_effort": None,
        }
        with world.lock:
            world.assistants[obj["id"]] = obj
        return jsonify(obj)

    @app.get("/v1/assistants")
    def list_assistants() -> Any:
        return jsonify(_page(list(world.assistants.values())))

    @app.get("/v1/assistants/<aid>")
    def get_assistant(aid: str) -> Any:
        return jsonify(assistant(aid))

    @app.post("/v1/assistants/<aid>")
    def update_assistant(aid: str) -> Any:
        obj = assistant(aid)
        body = _body(ASSISTANT_KEYS)
        with world.lock:
            obj.update(body)
        return jsonify(obj)

    @app.delete("/v1/assistants/<aid>")
    def delete_assistant(aid: str) -> Any:
        assistant(aid)
        with world.lock:
            del world.assistants[aid]
        return jsonify({"id": aid, "object": "assistant.deleted", "deleted": True})

    # -- threads and messages -----------------------------------------------------------------

    def make_thread(body: dict[str, Any]) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": new_id("thread_"),
            "object": "thread",
            "created_at": int(world.clock()),
            "metadata": body.get("metadata") or {},
            "tool_resources": {},
        }
        with world.lock:
            world.threads[obj["id"]] = obj
            world.messages[obj["id"]] = []
            for message in body.get("messages") or []:
                add_message(obj["id"], message)
        return obj

    def add_message(tid: str, body: dict[str, Any]) -> dict[str, Any]:
        role = body.get("role")
        if role not in ("user", "assistant"):
            raise ApiError(
                400, f"Invalid value: '{role}'. Value must be 'user' or 'assistant'.", param="role"
            )
        obj = {
            "id": new_id("msg_"),
            "object": "thread.message",
            "created_at": int(world.clock()),
            "thread_id": tid,
            "status": "completed",
            "incomplete_details": None,
            "completed_at": int(world.clock()),
            "incomplete_at": None,
            "role": role,
            "content": content_blocks(body.get("content")),
            "assistant_id": None,
            "run_id": None,
            "attachments": body.get("attachments") or [],
            "metadata": body.get("metadata") or {},
        }
        world.messages[tid].append(obj)
        return obj

    @app.post("/v1/threads")
    def create_thread() -> Any:
        return jsonify(make_thread(_body({"messages", "metadata", "tool_resources"})))

    @app.get("/v1/threads/<tid>")
    def get_thread(tid: str) -> Any:
        return jsonify(thread(tid))

    @app.post("/v1/threads/<tid>")
    def update_thread(tid: str) -> Any:
        obj = thread(tid)
        obj.update(_body({"metadata", "tool_resources"}))
        return jsonify(obj)

    @app.delete("/v1/threads/<tid>")
    def delete_thread(tid: str) -> Any:
        thread(tid)
        with world.lock:
            del world.threads[tid]
        return jsonify({"id": tid, "object": "thread.deleted", "deleted": True})

    @app.post("/v1/threads/<tid>/messages")
    def create_message(tid: str) -> Any:
        thread(tid)
        body = _body({"role", "content", "attachments", "metadata"})
        with world.lock:
            active = world.active_run(tid)
            if active is not None:
                raise ApiError(
                    400, f"Can't add messages to {tid} while a run {active.obj['id']} is active."
                )
            return jsonify(add_message(tid, body))

    @app.get("/v1/threads/<tid>/messages")
    def list_messages(tid: str) -> Any:
        thread(tid)
        items = world.messages[tid]
        if request.args.get("run_id"):
            items = [m for m in items if m["run_id"] == request.args["run_id"]]
        return jsonify(_page(items))

    @app.get("/v1/threads/<tid>/messages/<mid>")
    def get_message(tid: str, mid: str) -> Any:
        thread(tid)
        for message in world.messages[tid]:
            if message["id"] == mid:
                return jsonify(message)
        raise ApiError(404, f"No message found with id '{mid}'.")

    # -- runs ---------------------------------------------------------------------------------

    def start_run(
        tid: str, body: dict[str, Any], *, first: list[tuple[str, Any]] | None = None
    ) -> Any:
        aid = body.get("assistant_id")
        if not aid:
            raise ApiError(
                400,
                "Missing required parameter: 'assistant_id'.",
                param="assistant_id",
                code="missing_required_parameter",
            )
        asst = assistant(aid)
        with world.lock:
            active = world.active_run(tid)
            if active is not None:
                raise ApiError(400, f"Thread {tid} already has an active run {active.obj['id']}.")
            for extra in body.get("additional_messages") or []:
                add_message(tid, extra)
            run = world.create_run(tid, asst, body)
            snapshot = dict(run.obj)
        if body.get("stream"):
            return sse(world.follow(run, 0, first=first or []))
        return jsonify(snapshot)

    @app.post("/v1/threads/<tid>/runs")
    def create_run(tid: str) -> Any:
        thread(tid)
        return start_run(tid, _body(RUN_KEYS))

    @app.post("/v1/threads/runs")
    def create_thread_and_run() -> Any:
        body = _body(RUN_KEYS | {"thread"})
        obj = make_thread(body.pop("thread", None) or {})
        first = [("thread.created", obj)] if body.get("stream") else None
        return start_run(obj["id"], body, first=first)

    @app.get("/v1/threads/<tid>/runs")
    def list_runs(tid: str) -> Any:
        thread(tid)
        runs = [r for r in world.runs.values() if r.obj["thread_id"] == tid]
        for run in runs:
            world.advance(run)
        return jsonify(_page([r.obj for r in runs]))

    @app.get("/v1/threads/<tid>/runs/<rid>")
    def get_run(tid: str, rid: str) -> Any:
        return jsonify(run_of(tid, rid).obj)

    @app.post("/v1/threads/<tid>/runs/<rid>")
    def update_run(tid: str, rid: str) -> Any:
        run = run_of(tid, rid)
        run.obj["metadata"] = _body({"metadata"}).get("metadata") or {}
        return jsonify(run.obj)

    @app.post("/v1/threads/<tid>/runs/<rid>/cancel")
    def cancel_run(tid: str, rid: str) -> Any:
        run = run_of(tid, rid)
        world.cancel(run)
        return jsonify(run.obj)

    @app.post("/v1/threads/<tid>/runs/<rid>/submit_tool_outputs")
    def submit(tid: str, rid: str) -> Any:
        run = run_of(tid, rid)
        body = _body({"tool_outputs", "stream"})
        outputs = body.get("tool_outputs")
        if not isinstance(outputs, list):
            raise ApiError(
                400,
                "Missing required parameter: 'tool_outputs'.",
                param="tool_outputs",
                code="missing_required_parameter",
            )
        total = 0
        for i, item in enumerate(outputs):
            text = str(item.get("output") or "")
            total += len(text.encode())
            if len(text) > OUTPUT_MAX:
                raise ApiError(
                    400,
                    f"Invalid 'tool_outputs[{i}].output': string too long. Expected a string with maximum length {OUTPUT_MAX}, but got a string with length {len(text)} instead.",
                    param=f"tool_outputs[{i}].output",
                    code="string_above_max_length",
                )
        if total >= OUTPUTS_TOTAL_MAX:
            raise ApiError(
                400,
                "'tool_outputs' too large: the combined tool outputs must be less than 512kb.",
                param="tool_outputs",
                code="invalid_value",
            )
        mark = world.submit(run, outputs)
        if body.get("stream"):
            return sse(world.follow(run, mark))
        return jsonify(run.obj)

    @app.get("/v1/threads/<tid>/runs/<rid>/steps")
    def list_steps(tid: str, rid: str) -> Any:
        run_of(tid, rid)
        return jsonify(_page(world.steps[rid]))

    @app.get("/v1/threads/<tid>/runs/<rid>/steps/<sid>")
    def get_step(tid: str, rid: str, sid: str) -> Any:
        run_of(tid, rid)
        for step in world.steps[rid]:
            if step["id"] == sid:
                return jsonify(step)
        raise ApiError(404, f"No run step found with id '{sid}'.")

    # -- observability ------------------------------------------------------------------------

    @app.get("/_standin/stats")
    def stats() -> Any:
        with world.lock:
            return jsonify(json.loads(json.dumps(world.stats)))

    @app.post("/_standin/reset")
    def reset() -> Any:
        world.reset_stats()
        return jsonify({"status": "reset"})

    @app.get("/_standin/runs/<rid>/events")
    def run_events(rid: str) -> Any:
        run = world.runs.get(rid)
        if run is None:
            raise ApiError(404, f"No run found with id '{rid}'.")
        world.advance(run)
        return jsonify([name for name, _ in run.events])

    @app.post("/_standin/wait")
    def wait_runs() -> Any:
        """Block until every run in ``{"runs": [...]}`` is terminal or ``timeout`` s pass;
        answer ``{"pending": [...]}``. Benchmarks wait here instead of polling the API."""
        body = request.get_json(force=True, silent=True) or {}
        pending = [str(r) for r in body.get("runs", [])]
        interval = float(body.get("interval", 0.02))
        deadline = time.monotonic() + float(body.get("timeout", 60))
        while True:
            with world.lock:
                pending = [
                    r for r in pending if r in world.runs and world.runs[r].status not in TERMINAL
                ]
            if not pending or time.monotonic() >= deadline:
                return jsonify({"pending": pending})
            time.sleep(interval)

    from handlers.standin.responses import register_responses
    from handlers.standin.sessions import register_sessions
    from handlers.standin.webhooks import register_webhooks

    hooks = register_webhooks(app, world)  # delivers the Responses and the sessions webhooks
    register_responses(app, world, hooks)
    register_sessions(app, world, hooks)
    return app
