"""Operator endpoints: ``GET /metrics`` and the page ``GET /admin`` (with replay).

Both are off unless enabled (``RUNHOOK_METRICS=1``, ``RUNHOOK_ADMIN_PAGE=1``); when they are
absent they answer 404 like any unknown path. With ``RUNHOOK_ADMIN_TOKEN`` set they need
``Authorization: Bearer <token>``; a browser opens ``/admin?token=<token>`` once, which sets a
same-site, HTTP-only cookie carrying it and redirects to ``/admin``. ``POST
/admin/replay/<webhook id>`` replays a parked event (``Pipeline.replay``); it needs the header
``X-Runhook-Replay: 1``, which a cross-site form cannot send.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, redirect, request

from runhook.events import keys
from runhook.events.observability.observer import Observer
from runhook.events.observability.page import render
from runhook.events.pipeline import Pipeline
from runhook.events.sources import Ack
from runhook.events.sources.webhook import flask_response

COOKIE = "runhook_admin"


def _authorised(token: str | None) -> bool:
    if not token:
        return True
    header = request.headers.get("Authorization", "")
    given = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
    given = given or request.cookies.get(COOKIE, "")
    return hmac.compare_digest(given.encode(), token.encode())


def _refused() -> Response:
    response = flask_response(
        Ack.error(401, "unauthorized", "send Authorization: Bearer $RUNHOOK_ADMIN_TOKEN")
    )
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def admin_blueprint(pipeline: Pipeline, observer: Observer) -> Blueprint:
    """The blueprint serving what ``pipeline.settings`` enables of ``/metrics`` and ``/admin``."""
    bp = Blueprint("runhook_admin", __name__)
    settings, store = pipeline.settings, pipeline.store
    token = settings.admin_token

    if settings.metrics:

        @bp.get("/metrics")
        def metrics() -> Response:
            if not _authorised(token):
                return _refused()
            from runhook.events.observability.metrics import exposition

            body, content_type = exposition(store, settings.metrics_dir)
            return Response(body, status=200, content_type=content_type)

    if settings.admin_page and observer.timeline is not None:
        timeline = observer.timeline

        @bp.get("/admin/")
        @bp.get("/admin")
        def page() -> Response:
            given = request.args.get("token")
            if token and given and hmac.compare_digest(given.encode(), token.encode()):
                response = redirect("/admin/", code=303)
                response.set_cookie(COOKIE, given, httponly=True, samesite="Strict", path="/admin")
                return response  # type: ignore[return-value]
            if not _authorised(token):
                return _refused()
            if request.path == "/admin":
                return redirect("/admin/", code=308)  # type: ignore[return-value]
            run_id = request.args.get("run")
            html = render(
                inbox=store.census(keys.INBOX_QUEUE),
                parked=pipeline.parked(limit=200),
                runs=timeline.recent(limit=50),
                selected=timeline.get(run_id) if run_id else None,
                now=pipeline.clock(),
            )
            return Response(html, status=200, mimetype="text/html")

        @bp.post("/admin/replay/<event_id>")
        def replay(event_id: str) -> Response:
            if not _authorised(token):
                return _refused()
            if request.headers.get("X-Runhook-Replay") != "1":
                return flask_response(Ack.error(400, "missing_header", "send X-Runhook-Replay: 1"))
            outcome = pipeline.replay(event_id)
            status = 404 if outcome == "not_parked" else 200
            return flask_response(Ack(status, {"id": event_id, "outcome": outcome}))

    return bp
