"""The HTTP source: ``POST /events``, ``GET /healthz``, ``GET /readyz``.

An adapter only: it turns a ``flask.Request`` into a ``Delivery``, calls ``pipeline.accept`` and
turns the ``Ack`` into a JSON response. The status codes are the pipeline's (see
``runhook.events.pipeline``); the body is read once, as raw bytes, because the signature covers exactly
those bytes. The body is read a piece at a time within ``RUNHOOK_MAX_BODY_BYTES`` and
``RUNHOOK_BODY_TIMEOUT_S`` (``runhook.events.sources.body``): an oversized body gets 413, a slow one
408, broken framing or a short body 400, all as JSON. Logs carry ids and reasons only, never
the payload.

``create_app`` answers ``POST /events`` in a thin WSGI layer in front of Flask
(``EventsFastPath``): the same reading, the same ``Delivery`` and the same JSON answer as the
blueprint's view, without building Flask's request context, URL matching and response objects
for the one route that takes every event (about half of a relayed event's CPU in the server
went to that machinery). Everything else, and ``events_blueprint`` mounted in another Flask
app, goes through Flask.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from flask import Blueprint, Flask, Response, request
from werkzeug.datastructures import EnvironHeaders
from werkzeug.wsgi import get_content_length, get_input_stream

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
    receive_environ = events_receiver(pipeline)

    @bp.post("/events")
    def receive() -> Response:
        return flask_response(receive_environ(request.environ))

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


def events_receiver(pipeline: Pipeline) -> Callable[[dict[str, Any]], Ack]:
    """What ``POST /events`` does with one WSGI environ: read the body within its bounds, make
    the ``Delivery`` and hand it to ``pipeline.accept`` (one ``Watchdog`` per receiver)."""
    limit = pipeline.settings.max_body_bytes
    timeout_s = pipeline.settings.body_timeout_s
    watchdog = Watchdog()

    def receive(environ: dict[str, Any]) -> Ack:
        sock = environ.get("gunicorn.socket")
        watch = watchdog.arm(sock, timeout_s) if sock is not None else None
        try:
            body = read_body(
                get_input_stream(environ, max_content_length=None),
                limit=limit,
                declared=get_content_length(environ),
                watch=watch,
                timeout_s=timeout_s,
            )
        except DeliveryError as exc:
            log.warning(
                "delivery refused",
                extra={"source": "webhook", "status": exc.status, "reason": exc.reason},
            )
            return Ack.refused(exc)
        finally:
            if watch is not None:
                watchdog.disarm(watch)
        delivery = Delivery(
            body=body,
            headers=dict(EnvironHeaders(environ).items()),
            source="webhook",
            content_type=environ.get("CONTENT_TYPE") or "",
        )
        return pipeline.accept(delivery)

    return receive


class EventsFastPath:
    """WSGI middleware: ``POST /events`` answered by ``events_receiver`` directly, every other
    request passed to the Flask app (see the module docstring).

    Args:
        app: the wrapped WSGI callable (the Flask app's ``wsgi_app``).
        receive: ``events_receiver(pipeline)``.
    """

    def __init__(self, app: Callable[..., Any], receive: Callable[[dict[str, Any]], Ack]) -> None:
        self.app = app
        self.receive = receive

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") != "/events" or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        ack = self.receive(environ)
        body = ack.json()
        start_response(
            f"{ack.status} {_phrase(ack.status)}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "UNKNOWN"


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
    app.wsgi_app = EventsFastPath(app.wsgi_app, events_receiver(pipeline))  # type: ignore[method-assign]
    return app
