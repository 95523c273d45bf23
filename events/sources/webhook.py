"""The HTTP source: ``POST /events``, ``GET /healthz``, ``GET /readyz``.

An adapter only: it turns a ``flask.Request`` into a ``Delivery``, calls ``pipeline.accept`` and
turns the ``Ack`` into a JSON response. The status codes are the pipeline's (see
``runhook.events.pipeline``); the body is read once, as raw bytes, because the signature covers exactly
those bytes. The body is read a piece at a time within ``RUNHOOK_MAX_BODY_BYTES`` and
``RUNHOOK_BODY_TIMEOUT_S`` (``runhook.events.sources.body``): an oversized body gets 413, a slow one
408, broken framing or a short body 400, all as JSON. Logs carry ids and reasons only, never
the payload.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from flask import Blueprint, Flask, Response, request

from runhook.events.errors import DeliveryError, StoreError
from runhook.events.pipeline import Pipeline
from runhook.events.sources import Ack, Delivery
from runhook.events.sources.body import Watchdog, read_body

log = logging.getLogger("runhook.webhook")


def flask_response(ack: Ack) -> Response:
    """An ``Ack`` as a Flask JSON response (shared by the Flask-based sources)."""
    return Response(ack.json(), status=ack.status, mimetype="application/json")


def events_blueprint(pipeline: Pipeline, *, draining: Draining | None = None) -> Blueprint:
    """The blueprint serving ``POST /events`` and the health probes.

    Args:
        pipeline: where deliveries go.
        draining: tells ``/readyz`` when the process is shutting down.
    """
    bp = Blueprint("runhook_events", __name__)
    limit = pipeline.settings.max_body_bytes
    timeout_s = pipeline.settings.body_timeout_s
    watchdog = Watchdog()

    @bp.post("/events")
    def receive() -> Response:
        sock = request.environ.get("gunicorn.socket")
        watch = watchdog.arm(sock, timeout_s) if sock is not None else None
        try:
            body = read_body(
                request.stream,
                limit=limit,
                declared=request.content_length,
                watch=watch,
                timeout_s=timeout_s,
            )
        except DeliveryError as exc:
            log.warning(
                "delivery refused",
                extra={"source": "webhook", "status": exc.status, "reason": exc.reason},
            )
            return flask_response(Ack.refused(exc))
        finally:
            if watch is not None:
                watchdog.disarm(watch)
        delivery = Delivery(
            body=body,
            headers=dict(request.headers.items()),
            source="webhook",
            content_type=request.content_type or "",
        )
        return flask_response(pipeline.accept(delivery))

    @bp.get("/healthz")
    def healthz() -> Response:
        return flask_response(Ack(200, {"status": "ok"}))

    @bp.get("/readyz")
    def readyz() -> Response:
        if draining is not None and draining():
            return flask_response(Ack(503, {"status": "draining"}))
        try:
            pipeline.store.ping()
        except StoreError as exc:
            return flask_response(Ack(503, {"status": "store_unavailable", "reason": str(exc)}))
        return flask_response(Ack(200, {"status": "ready"}))

    return bp


class Draining:
    """A callable that reports whether the process is draining (for ``/readyz``)."""

    def __init__(self, is_draining: object = None) -> None:
        self._source = is_draining

    def __call__(self) -> bool:
        source = self._source
        if source is None:
            return False
        value = getattr(source, "draining", source)
        return bool(value() if callable(value) else value)


def create_app(
    pipeline: Pipeline,
    *,
    worker: object | None = None,
    blueprints: Iterable[Blueprint] = (),
) -> Flask:
    """Build the Flask app of the HTTP source.

    Args:
        pipeline: where deliveries go.
        worker: the process's ``runhook.events.worker.Worker`` (its ``draining`` flag feeds
            ``/readyz``); None in sync mode or tests.
        blueprints: more blueprints to mount (e.g. the poller's ``/watch`` endpoint).
    """
    app = Flask("runhook")
    app.config["MAX_CONTENT_LENGTH"] = None  # we answer 413 ourselves, with a JSON reason
    app.register_blueprint(events_blueprint(pipeline, draining=Draining(worker)))
    for bp in blueprints:
        app.register_blueprint(bp)
    return app
