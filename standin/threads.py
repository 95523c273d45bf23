"""The stand-in's threads and their messages: ``POST /v1/threads``, ``GET/POST/DELETE
/v1/threads/{id}``, ``POST/GET /v1/threads/{id}/messages`` (``?run_id=`` filters) and
``GET /v1/threads/{id}/messages/{id}``.

A message cannot be added while a run of its thread is active (OpenAI's 400); a message's
role is ``user`` or ``assistant``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request

from runhook.standin.state import ApiError, World, content_blocks, new_id
from runhook.standin.wire import body, page

THREAD_KEYS = {"messages", "metadata", "tool_resources"}
MESSAGE_KEYS = {"role", "content", "attachments", "metadata"}


def find_thread(world: World, tid: str) -> dict[str, Any]:
    """The thread ``tid``, or OpenAI's 404."""
    if tid not in world.threads:
        raise ApiError(404, f"No thread found with id '{tid}'.")
    return world.threads[tid]


def new_thread(world: World, fields: dict[str, Any]) -> dict[str, Any]:
    """Create and keep a thread, with the body's ``messages`` added in order."""
    obj: dict[str, Any] = {
        "id": new_id("thread_"),
        "object": "thread",
        "created_at": int(world.clock()),
        "metadata": fields.get("metadata") or {},
        "tool_resources": {},
    }
    with world.lock:
        world.threads[obj["id"]] = obj
        world.messages[obj["id"]] = []
        for message in fields.get("messages") or []:
            add_message(world, obj["id"], message)
    return obj


def add_message(world: World, tid: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Append a completed message to thread ``tid`` (the caller holds the lock)."""
    role = fields.get("role")
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
        "content": content_blocks(fields.get("content")),
        "assistant_id": None,
        "run_id": None,
        "attachments": fields.get("attachments") or [],
        "metadata": fields.get("metadata") or {},
    }
    world.messages[tid].append(obj)
    return obj


def post_message(world: World, tid: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Add a message to thread ``tid`` unless one of its runs is active (OpenAI's 400)."""
    with world.lock:
        active = world.active_run(tid)
        if active is not None:
            raise ApiError(
                400, f"Can't add messages to {tid} while a run {active.obj['id']} is active."
            )
        return add_message(world, tid, fields)


def find_message(world: World, tid: str, mid: str) -> dict[str, Any]:
    """The message ``mid`` of thread ``tid``, or OpenAI's 404."""
    for message in world.messages[tid]:
        if message["id"] == mid:
            return message
    raise ApiError(404, f"No message found with id '{mid}'.")


def register_threads(app: Flask, world: World) -> None:
    """Add the threads and messages routes over ``world`` to ``app``."""

    @app.post("/v1/threads")
    def create_thread() -> Any:
        return jsonify(new_thread(world, body(THREAD_KEYS)))

    @app.get("/v1/threads/<tid>")
    def get_thread(tid: str) -> Any:
        return jsonify(find_thread(world, tid))

    @app.post("/v1/threads/<tid>")
    def update_thread(tid: str) -> Any:
        obj = find_thread(world, tid)
        obj.update(body({"metadata", "tool_resources"}))
        return jsonify(obj)

    @app.delete("/v1/threads/<tid>")
    def delete_thread(tid: str) -> Any:
        find_thread(world, tid)
        with world.lock:
            del world.threads[tid]
        return jsonify({"id": tid, "object": "thread.deleted", "deleted": True})

    @app.post("/v1/threads/<tid>/messages")
    def create_message(tid: str) -> Any:
        find_thread(world, tid)
        return jsonify(post_message(world, tid, body(MESSAGE_KEYS)))

    @app.get("/v1/threads/<tid>/messages")
    def list_messages(tid: str) -> Any:
        find_thread(world, tid)
        items = world.messages[tid]
        if request.args.get("run_id"):
            items = [m for m in items if m["run_id"] == request.args["run_id"]]
        return jsonify(page(items))

    @app.get("/v1/threads/<tid>/messages/<mid>")
    def get_message(tid: str, mid: str) -> Any:
        find_thread(world, tid)
        return jsonify(find_message(world, tid, mid))
