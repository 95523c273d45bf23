"""The stand-in's runs and run steps: ``POST /v1/threads/{id}/runs``, ``POST
/v1/threads/runs`` (create thread and run), ``GET /v1/threads/{id}/runs[/{id}]``, update,
``cancel``, ``submit_tool_outputs`` and ``GET .../runs/{id}/steps[/{id}]``.

A create or a submit with ``stream: true`` answers with the run's events up to its next wait
or end (``World.follow``); ``submit_tool_outputs`` checks each output's length and their total
as the real service does. The state machine itself is ``runhook.standin.state.World``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify

from runhook.standin.assistants import find_assistant
from runhook.standin.state import ApiError, RunState, World
from runhook.standin.threads import add_message, find_thread, new_thread
from runhook.standin.wire import body, missing, page, sse_bursts

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
OUTPUT_MAX = 1_048_576
OUTPUTS_TOTAL_MAX = 512 * 1024


def find_run(world: World, tid: str, rid: str) -> RunState:
    """Run ``rid`` of thread ``tid``, advanced to now, or OpenAI's 404."""
    find_thread(world, tid)
    run = world.runs.get(rid)
    if run is None or run.obj["thread_id"] != tid:
        raise ApiError(404, f"No run found with id '{rid}'.")
    world.advance(run)
    return run


def start_run(
    world: World, tid: str, fields: dict[str, Any], *, first: list[tuple[str, Any]] | None = None
) -> Any:
    """Start a run on thread ``tid``: its JSON, or its stream (after ``first``) if asked."""
    aid = fields.get("assistant_id")
    if not aid:
        raise missing("assistant_id")
    asst = find_assistant(world, aid)
    with world.lock:
        active = world.active_run(tid)
        if active is not None:
            raise ApiError(400, f"Thread {tid} already has an active run {active.obj['id']}.")
        for extra in fields.get("additional_messages") or []:
            add_message(world, tid, extra)
        run = world.create_run(tid, asst, fields)
        snapshot = dict(run.obj)
    if fields.get("stream"):
        return sse_bursts(world.follow(run, 0, first=first or []))
    return jsonify(snapshot)


def check_outputs(outputs: Any) -> list[dict[str, Any]]:
    """``tool_outputs`` if a list within the service's limits, else OpenAI's 400."""
    if not isinstance(outputs, list):
        raise missing("tool_outputs")
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
    return outputs


def find_step(world: World, rid: str, sid: str) -> dict[str, Any]:
    """Step ``sid`` of run ``rid``, or OpenAI's 404."""
    for step in world.steps[rid]:
        if step["id"] == sid:
            return step
    raise ApiError(404, f"No run step found with id '{sid}'.")


def register_runs(app: Flask, world: World) -> None:
    """Add the runs and run steps routes over ``world`` to ``app``."""

    @app.post("/v1/threads/<tid>/runs")
    def create_run(tid: str) -> Any:
        find_thread(world, tid)
        return start_run(world, tid, body(RUN_KEYS))

    @app.post("/v1/threads/runs")
    def create_thread_and_run() -> Any:
        fields = body(RUN_KEYS | {"thread"})
        obj = new_thread(world, fields.pop("thread", None) or {})
        first = [("thread.created", obj)] if fields.get("stream") else None
        return start_run(world, obj["id"], fields, first=first)

    @app.get("/v1/threads/<tid>/runs")
    def list_runs(tid: str) -> Any:
        find_thread(world, tid)
        runs = list(world.thread_runs.get(tid, ()))
        for run in runs:
            world.advance(run)
        return jsonify(page([r.obj for r in runs]))

    @app.get("/v1/threads/<tid>/runs/<rid>")
    def get_run(tid: str, rid: str) -> Any:
        return jsonify(find_run(world, tid, rid).obj)

    @app.post("/v1/threads/<tid>/runs/<rid>")
    def update_run(tid: str, rid: str) -> Any:
        run = find_run(world, tid, rid)
        run.obj["metadata"] = body({"metadata"}).get("metadata") or {}
        return jsonify(run.obj)

    @app.post("/v1/threads/<tid>/runs/<rid>/cancel")
    def cancel_run(tid: str, rid: str) -> Any:
        run = find_run(world, tid, rid)
        world.cancel(run)
        return jsonify(run.obj)

    @app.post("/v1/threads/<tid>/runs/<rid>/submit_tool_outputs")
    def submit(tid: str, rid: str) -> Any:
        run = find_run(world, tid, rid)
        fields = body({"tool_outputs", "stream"})
        mark = world.submit(run, check_outputs(fields.get("tool_outputs")))
        if fields.get("stream"):
            return sse_bursts(world.follow(run, mark))
        return jsonify(run.obj)

    @app.get("/v1/threads/<tid>/runs/<rid>/steps")
    def list_steps(tid: str, rid: str) -> Any:
        find_run(world, tid, rid)
        return jsonify(page(world.steps[rid]))

    @app.get("/v1/threads/<tid>/runs/<rid>/steps/<sid>")
    def get_step(tid: str, rid: str, sid: str) -> Any:
        find_run(world, tid, rid)
        return jsonify(find_step(world, rid, sid))
