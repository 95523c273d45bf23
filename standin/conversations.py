"""The stand-in's Conversations API, as far as responses need it: ``POST /v1/conversations``,
``GET /v1/conversations/{id}`` and ``GET /v1/conversations/{id}/items``.

A response created with ``conversation`` appends its input and output items to it when it
ends; the conversation remembers its latest response, which is what a follow-up in the same
conversation continues (the pending function calls it answers are that response's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Flask, jsonify, request

from runhook.standin.objects import clone
from runhook.standin.state import ApiError, World, new_id


@dataclass
class Conversation:
    obj: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)
    latest: str | None = None


class Conversations:
    """Conversations by id, on the shared ``World`` lock."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.items: dict[str, Conversation] = {}

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        cid = new_id("conv_")
        obj: dict[str, Any] = {
            "id": cid,
            "object": "conversation",
            "created_at": int(self.world.clock()),
            "metadata": body.get("metadata") or {},
        }
        with self.world.lock:
            conv = Conversation(obj=obj, items=clone(list(body.get("items") or [])))
            self.items[cid] = conv
            return clone(obj)

    def get(self, cid: str) -> Conversation:
        conv = self.items.get(cid)
        if conv is None:
            raise ApiError(404, f"Conversation with id '{cid}' not found.", param="conversation")
        return conv


def register_conversations(app: Flask, conversations: Conversations) -> None:
    """Mount the conversation routes."""

    @app.post("/v1/conversations")
    def create_conversation() -> Any:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            body = {}
        return jsonify(conversations.create(body))

    @app.get("/v1/conversations/<cid>")
    def get_conversation(cid: str) -> Any:
        return jsonify(clone(conversations.get(cid).obj))

    @app.get("/v1/conversations/<cid>/items")
    def conversation_items(cid: str) -> Any:
        items = clone(conversations.get(cid).items)
        return jsonify(
            {
                "object": "list",
                "data": items,
                "first_id": items[0].get("id") if items else None,
                "last_id": items[-1].get("id") if items else None,
                "has_more": False,
            }
        )
