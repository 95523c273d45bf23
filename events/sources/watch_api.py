"""``POST /watch`` and ``DELETE /watch/<id>``: fill the relay poller's watch list over HTTP.

Authenticated with ``Authorization: Bearer <RUNHOOK_POLL_TOKEN>``; without a configured token
the endpoint answers 404 (disabled)::

    POST /watch {"run_id", "thread_id"}  202 watching | already_watched; 400 malformed
    POST /watch {"response_id"}          the same for a background response
    DELETE /watch/<id>                   200 unwatched; 503 busy (a poller holds it this
                                         instant: retry after Retry-After)
    401 wrong or missing token; 503 store_unavailable
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, request

from runhook.events import keys
from runhook.events.config import Settings
from runhook.events.errors import StoreError
from runhook.events.sources import Ack
from runhook.events.sources.poller import watch
from runhook.events.sources.poller_responses import watch_response
from runhook.events.sources.webhook import flask_response
from runhook.events.store.base import Store
from runhook.events.store.records import Record, Status


def _watched(record: Record | None) -> bool:
    return record is not None and record.status is not Status.COMPLETED


def watch_blueprint(store: Store, settings: Settings) -> Blueprint:
    """The watch endpoints over ``store``."""
    bp = Blueprint("runhook_watch", __name__)

    def refused() -> Response | None:
        token = settings.poll_token
        if not token:
            return flask_response(
                Ack.error(404, "disabled", "set RUNHOOK_POLL_TOKEN to enable /watch")
            )
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return flask_response(
                Ack.error(
                    401,
                    "unauthorized",
                    "Authorization: Bearer <RUNHOOK_POLL_TOKEN> is missing or wrong",
                )
            )
        return None

    @bp.post("/watch")
    def add() -> Response:
        if (denied := refused()) is not None:
            return denied
        body = request.get_json(silent=True) or {}
        if isinstance(body, dict) and "response_id" in body:
            return add_response(body.get("response_id"))
        run_id, thread_id = body.get("run_id"), body.get("thread_id")
        if not (isinstance(run_id, str) and isinstance(thread_id, str) and run_id and thread_id):
            return flask_response(Ack.error(400, "malformed", 'send {"run_id": …, "thread_id": …}'))
        try:
            new = watch(store, run_id, thread_id)
        except StoreError as exc:
            return flask_response(Ack.store_unavailable(exc))
        status = "watching" if new else "already_watched"
        return flask_response(Ack(202, {"status": status, "run_id": run_id}))

    def add_response(response_id: object) -> Response:
        if not (isinstance(response_id, str) and response_id):
            return flask_response(Ack.error(400, "malformed", 'send {"response_id": …}'))
        try:
            new = watch_response(store, response_id)
        except StoreError as exc:
            return flask_response(Ack.store_unavailable(exc))
        status = "watching" if new else "already_watched"
        return flask_response(Ack(202, {"status": status, "response_id": response_id}))

    @bp.delete("/watch/<run_id>")
    def remove(run_id: str) -> Response:
        if (denied := refused()) is not None:
            return denied
        key = keys.watch_key(run_id)
        try:
            lease = store.acquire(key, 30.0)
            if lease is not None:
                lease.forget()  # forgotten, not completed: it may be watched again
            held = lease is None and _watched(store.get(key))
        except StoreError as exc:
            return flask_response(Ack.store_unavailable(exc))
        if held:
            # A poller holds the run's lease this instant; unwatching now would be undone.
            busy = Ack.error(503, "busy", f"a poller is polling {run_id} right now; retry shortly")
            response = flask_response(busy)
            response.headers["Retry-After"] = "1"
            return response
        return flask_response(Ack(200, {"status": "unwatched", "run_id": run_id}))

    return bp
