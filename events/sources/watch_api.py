"""``POST /watch`` and ``DELETE /watch/<run_id>``: fill the relay poller's watch list over HTTP.

Authenticated with ``Authorization: Bearer <RUNHOOK_POLL_TOKEN>``; without a configured token
the endpoint answers 404 (disabled).
"""

from __future__ import annotations

import hmac
import json

from flask import Blueprint, Response, request

from events import keys
from events.config import Settings
from events.sources.poller import watch
from events.store.base import Store


def _reply(status: int, body: dict[str, object]) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def watch_blueprint(store: Store, settings: Settings) -> Blueprint:
    """The watch endpoints over ``store``."""
    bp = Blueprint("runhook_watch", __name__)

    def refused() -> Response | None:
        token = settings.poll_token
        if not token:
            return _reply(
                404,
                {
                    "error": {
                        "code": "disabled",
                        "message": "set RUNHOOK_POLL_TOKEN to enable /watch",
                    }
                },
            )
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return _reply(
                401,
                {
                    "error": {
                        "code": "unauthorized",
                        "message": "Authorization: Bearer <RUNHOOK_POLL_TOKEN> is missing or wrong",
                    }
                },
            )
        return None

    @bp.post("/watch")
    def add() -> Response:
        if (denied := refused()) is not None:
            return denied
        body = request.get_json(silent=True) or {}
        run_id, thread_id = body.get("run_id"), body.get("thread_id")
        if not (isinstance(run_id, str) and isinstance(thread_id, str) and run_id and thread_id):
            return _reply(
                400,
                {"error": {"code": "malformed", "message": 'send {"run_id": …, "thread_id": …}'}},
            )
        new = watch(store, run_id, thread_id)
        return _reply(202, {"status": "watching" if new else "already_watched", "run_id": run_id})

    @bp.delete("/watch/<run_id>")
    def remove(run_id: str) -> Response:
        if (denied := refused()) is not None:
            return denied
        claim = store.claim(keys.watch_key(run_id), 30.0)
        if claim is not None:
            store.complete(claim, settings.completed_ttl_s, outcome="unwatched")
        return _reply(200, {"status": "unwatched", "run_id": run_id})

    return bp
