"""The stand-in's assistants: ``POST/GET /v1/assistants``, ``GET/POST/DELETE
/v1/assistants/{id}``, with OpenAI's unknown-argument and missing-``model`` 400s and its 404
``No assistant found with id '<id>'.``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify

from runhook.standin.state import ApiError, World, new_id
from runhook.standin.wire import body, missing, page

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


def find_assistant(world: World, aid: str) -> dict[str, Any]:
    """The assistant ``aid``, or OpenAI's 404."""
    if aid not in world.assistants:
        raise ApiError(404, f"No assistant found with id '{aid}'.")
    return world.assistants[aid]


def new_assistant(world: World, fields: dict[str, Any]) -> dict[str, Any]:
    """Create and keep an assistant from a create body (``model`` required)."""
    if not fields.get("model"):
        raise missing("model")
    obj = {
        "id": new_id("asst_"),
        "object": "assistant",
        "created_at": int(world.clock()),
        "name": fields.get("name"),
        "description": fields.get("description"),
        "model": fields["model"],
        "instructions": fields.get("instructions"),
        "tools": fields.get("tools") or [],
        "tool_resources": fields.get("tool_resources") or {},
        "metadata": fields.get("metadata") or {},
        "temperature": fields.get("temperature", 1.0),
        "top_p": fields.get("top_p", 1.0),
        "response_format": fields.get("response_format") or "auto",
        "reasoning_effort": None,
    }
    with world.lock:
        world.assistants[obj["id"]] = obj
    return obj


def register_assistants(app: Flask, world: World) -> None:
    """Add the assistants routes over ``world`` to ``app``."""

    @app.post("/v1/assistants")
    def create_assistant() -> Any:
        return jsonify(new_assistant(world, body(ASSISTANT_KEYS)))

    @app.get("/v1/assistants")
    def list_assistants() -> Any:
        return jsonify(page(list(world.assistants.values())))

    @app.get("/v1/assistants/<aid>")
    def get_assistant(aid: str) -> Any:
        return jsonify(find_assistant(world, aid))

    @app.post("/v1/assistants/<aid>")
    def update_assistant(aid: str) -> Any:
        obj = find_assistant(world, aid)
        fields = body(ASSISTANT_KEYS)
        with world.lock:
            obj.update(fields)
        return jsonify(obj)

    @app.delete("/v1/assistants/<aid>")
    def delete_assistant(aid: str) -> Any:
        find_assistant(world, aid)
        with world.lock:
            del world.assistants[aid]
        return jsonify({"id": aid, "object": "assistant.deleted", "deleted": True})
