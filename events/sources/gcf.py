"""Google Cloud Functions adapters: an HTTP function and a Pub/Sub CloudEvent function.

Same shape as every adapter: native input → ``Delivery`` → ``pipeline.accept`` → native reply.
Cloud Functions run the pipeline in **sync mode** (``Settings(sync=True)``;
``runhook.runtime.lambda_app`` sets it): the event is processed before the reply.
functions-framework is not needed here; ``deploy/gcf_main.py`` uses it only when installed.

- ``http_handler(app)`` takes the ``flask.Request`` the runtime passes and returns a
  ``flask.Response``. A signed POST (the ``webhook-*`` headers) is answered exactly like
  ``POST /events``. A **Pub/Sub push** body (``{"message": {"data", "attributes", …},
  "subscription"}``, no signature headers) follows the bus convention
  (``runhook.events.sources.bus``): ``message.data`` is the base64 envelope and ``message.attributes``
  carry ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``. Push answers 2xx to
  acknowledge: a processed or duplicate event, and also a poison message (4xx from the
  pipeline: logged by id, acknowledged, never retried); a 5xx answer makes Pub/Sub redeliver.
  (With ``--push-no-wrapper --push-no-wrapper-write-metadata`` the attributes arrive as
  headers and the body is the envelope: that is the plain signed POST.)
- ``cloud_event_handler(app)`` takes the CloudEvent of a Pub/Sub trigger (Eventarc), whose
  ``data`` is the same ``{"message": …}``. It returns on 2xx and on poison messages, and
  raises ``RetryDelivery`` on 5xx so that Pub/Sub redelivers (deploy the function with
  ``--retry``; without it a failed event is dropped by the platform).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from flask import Request, Response

from runhook.events.errors import MalformedEvent, PayloadTooLarge
from runhook.events.errors import RetryDelivery as RetryDelivery
from runhook.events.pipeline import Pipeline
from runhook.events.signing import HEADER_SIGNATURE
from runhook.events.sources import Ack, Delivery
from runhook.events.sources.bus import HasPipeline, message_delivery, pipeline_of, settle
from runhook.events.sources.webhook import flask_response

log = logging.getLogger("runhook.gcf")

HttpFunction = Callable[[Request], Response]
CloudEventFunction = Callable[[Any], None]

#: room for the Pub/Sub push wrapper around a base64 envelope (attributes, ids, timestamps)
PUSH_OVERHEAD_BYTES = 64 * 1024


def pubsub_delivery(message: Mapping[str, Any]) -> Delivery:
    """The delivery for one Pub/Sub message (``{"data": base64, "attributes": {…}}``).

    Raises:
        MalformedEvent: ``data`` is not base64.
    """
    try:
        body = base64.b64decode(str(message.get("data") or ""), validate=True)
    except (binascii.Error, ValueError):
        raise MalformedEvent("the Pub/Sub message's data is not base64") from None
    attributes = message.get("attributes") or {}
    return message_delivery(body, attributes, source="pubsub")


def accept_pubsub(pipeline: Pipeline, message: Mapping[str, Any]) -> Ack:
    """Accept one Pub/Sub message; a message that is not one is answered 400 (poison)."""
    try:
        delivery = pubsub_delivery(message)
    except MalformedEvent as exc:
        return Ack.refused(exc)
    return pipeline.accept(delivery)


def push_message(body: bytes) -> Mapping[str, Any] | None:
    """The ``message`` of a Pub/Sub push body, or None when ``body`` is not one."""
    try:
        wrapper = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, too deep, a number too long: not a push
        return None
    if not isinstance(wrapper, dict) or "subscription" not in wrapper:
        return None
    message = wrapper.get("message")
    return message if isinstance(message, dict) else None


def _message_id(message: Mapping[str, Any]) -> Any:
    return message.get("messageId") or message.get("message_id")


def http_handler(target: Pipeline | HasPipeline, *, name: str = "entry") -> HttpFunction:
    """The HTTP function: signed POSTs and Pub/Sub push (see the module docstring).

    Args:
        target: an App (started) or its pipeline, in sync mode.
        name: the function's ``__name__``, which functions-framework's decorators key on;
            make it the ``--entry-point``.
    """
    pipeline = pipeline_of(target)
    limit = pipeline.settings.max_body_bytes

    def handle(request: Request) -> Response:
        if request.method != "POST":
            response = flask_response(Ack.error(405, "method_not_allowed", "send events with POST"))
            response.headers["allow"] = "POST"
            return response
        # A push body wraps the envelope in base64 (4/3 larger); the pipeline then checks the
        # envelope itself against the exact limit.
        cap = limit * 4 // 3 + PUSH_OVERHEAD_BYTES
        if request.content_length is not None and request.content_length > cap:
            exc = PayloadTooLarge(
                f"body is {request.content_length} bytes; the limit is {limit} "
                "(RUNHOOK_MAX_BODY_BYTES)"
            )
            return flask_response(Ack.refused(exc))
        body = request.get_data(cache=False)
        headers = {k.lower(): v for k, v in request.headers.items()}
        message = None if HEADER_SIGNATURE in headers else push_message(body)
        if message is not None:
            ack = accept_pubsub(pipeline, message)
            if settle(ack, {"message_id": _message_id(message), "source": "pubsub"}) and not ack.ok:
                error = ack.body.get("error")
                return flask_response(Ack(200, {"status": "dropped", "error": error}, ack.event_id))
            return flask_response(ack)
        delivery = Delivery(body, headers, source="gcf", content_type=request.content_type or "")
        return flask_response(pipeline.accept(delivery))

    handle.__name__ = handle.__qualname__ = name
    return handle


def cloud_event_handler(
    target: Pipeline | HasPipeline, *, name: str = "pubsub"
) -> CloudEventFunction:
    """The CloudEvent function of a Pub/Sub trigger (see the module docstring).

    Args:
        target: an App (started) or its pipeline, in sync mode.
        name: the function's ``__name__`` (functions-framework's decorators key on it).

    Returns:
        ``handle(cloud_event) -> None``; it accepts a CloudEvent object (``.data``) or a
        structured-mode CloudEvent dict (``["data"]``), and raises ``RetryDelivery`` on 5xx.
    """
    pipeline = pipeline_of(target)

    def handle(cloud_event: Any) -> None:
        data = getattr(cloud_event, "data", None)
        if data is None and isinstance(cloud_event, Mapping):
            data = cloud_event.get("data")
        message = data.get("message") if isinstance(data, Mapping) else None
        if not isinstance(message, Mapping):
            log.warning("CloudEvent without a Pub/Sub message dropped")
            return
        ack = accept_pubsub(pipeline, message)
        if not settle(ack, {"message_id": _message_id(message), "source": "pubsub"}):
            error = ack.body.get("error")
            code = error.get("code") if isinstance(error, Mapping) else None
            raise RetryDelivery(
                f"Pub/Sub message {_message_id(message)} was not processed ({ack.status} "
                f"{code}); raising so that Pub/Sub delivers it again (deploy with --retry)"
            )

    handle.__name__ = handle.__qualname__ = name
    return handle
