"""AWS Lambda adapters: API Gateway (REST v1, HTTP v2), Function URLs, and SQS batches.

Same shape as every adapter: native input → ``Delivery`` → ``pipeline.accept`` → native reply.
Serverless runs in **sync mode** (``Settings(sync=True)``; ``runhook.runtime.lambda_app`` sets
it): each event is processed before the reply, because nothing runs after a Lambda returns.

- HTTP events (API Gateway REST or HTTP API, Function URL) become one delivery: headers are
  matched case-insensitively and a base64 body is decoded. The reply is the proxy dict
  ``{"statusCode", "headers", "body"}`` with the pipeline's status (``runhook.events.pipeline``); a
  method other than POST gets 405.
- SQS records follow the bus convention (``runhook.events.sources.bus``): the body is the envelope (or
  an SNS notification whose ``Message`` is), the signature headers are the String message
  attributes ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``. The reply lists
  in ``batchItemFailures`` exactly the records whose answer is 5xx, so SQS redelivers those
  after the visibility timeout (and moves them to the dead-letter queue after
  ``maxReceiveCount``); a 4xx record is a poison message, logged by id and deleted with the
  batch, never retried. On a FIFO queue the records after the first failure are not processed
  but reported too, to keep each message group's order. Enable ``ReportBatchItemFailures`` on
  the event source mapping (``deploy/template.yaml`` does).

No boto3 is needed: the adapters only read the event dicts. Entry point
(``deploy/lambda_function.py``)::

    handler = aws_lambda.handler(lambda_app())
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from runhook.events.errors import ConfigError, MalformedEvent
from runhook.events.pipeline import Pipeline
from runhook.events.sources import Ack, Delivery
from runhook.events.sources.bus import (
    SIGNATURE_ATTRIBUTES,
    HasPipeline,
    message_delivery,
    pipeline_of,
    settle,
    unwrap_sns,
)

log = logging.getLogger("runhook.lambda")

LambdaHandler = Callable[[Mapping[str, Any], Any], dict[str, Any]]


# -- HTTP: API Gateway and Function URLs ---------------------------------------------------------


def http_method(event: Mapping[str, Any]) -> str:
    """The request method of a REST (v1) or HTTP API / Function URL (v2) event."""
    http = (event.get("requestContext") or {}).get("http") or {}
    return str(event.get("httpMethod") or http.get("method") or "POST").upper()


def http_delivery(event: Mapping[str, Any]) -> Delivery:
    """A delivery from an API Gateway (v1/v2) or Function URL event.

    Raises:
        MalformedEvent: ``isBase64Encoded`` is set but the body is not base64.
    """
    headers = {str(k).lower(): ",".join(map(str, v)) for k, v in _multi(event).items()}
    headers.update({str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()})
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedEvent(
                "the event says isBase64Encoded but its body is not base64"
            ) from None
    else:
        body = str(raw).encode()
    return Delivery(
        body=body,
        headers=headers,
        source="lambda-http",
        content_type=headers.get("content-type", ""),
    )


def _multi(event: Mapping[str, Any]) -> Mapping[str, Sequence[Any]]:
    return event.get("multiValueHeaders") or {}


def http_reply(ack: Ack, *, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The proxy response for an ``Ack``."""
    return {
        "statusCode": ack.status,
        "headers": {"content-type": "application/json", **(headers or {})},
        "body": ack.json().decode(),
    }


def handle_http(pipeline: Pipeline, event: Mapping[str, Any]) -> dict[str, Any]:
    """Accept one HTTP event and build its proxy response."""
    if http_method(event) != "POST":
        refusal = Ack.error(405, "method_not_allowed", "send events with POST")
        return http_reply(refusal, headers={"allow": "POST"})
    try:
        delivery = http_delivery(event)
    except MalformedEvent as exc:
        return http_reply(Ack.refused(exc))
    return http_reply(pipeline.accept(delivery))


# -- SQS batches ---------------------------------------------------------------------------------


def sqs_delivery(record: Mapping[str, Any]) -> Delivery:
    """A delivery from one SQS record (its body optionally an SNS notification)."""
    attributes = record.get("messageAttributes") or {}
    strings = {
        name: str(value.get("stringValue", ""))
        for name, value in attributes.items()
        if isinstance(value, Mapping) and name.lower() in SIGNATURE_ATTRIBUTES
    }
    body, strings = unwrap_sns(str(record.get("body") or "").encode(), strings)
    return message_delivery(body, strings, source="sqs")


def handle_sqs(pipeline: Pipeline, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Accept every record; report the retryable (5xx) ones as batch item failures."""
    failures: list[dict[str, Any]] = []
    for record in records:
        message_id = record.get("messageId")
        if failures and _is_fifo(record):
            failures.append({"itemIdentifier": message_id})  # keep the group's order
            continue
        ack = pipeline.accept(sqs_delivery(record))
        if not settle(ack, {"message_id": message_id, "source": "sqs"}):
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


def _is_fifo(record: Mapping[str, Any]) -> bool:
    return "MessageGroupId" in (record.get("attributes") or {})


def _is_sqs(event: Mapping[str, Any]) -> bool:
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and isinstance(records[0], Mapping)
        and records[0].get("eventSource") == "aws:sqs"
    )


def _is_http(event: Mapping[str, Any]) -> bool:
    return "requestContext" in event or "httpMethod" in event or "headers" in event


# -- entry point ---------------------------------------------------------------------------------


def handler(target: Pipeline | HasPipeline) -> LambdaHandler:
    """A Lambda handler for HTTP events and SQS batches (the shape is detected per event).

    Args:
        target: an App (``handlers.App``, already started) or its pipeline; its settings
            should have ``sync=True`` (see the module docstring).

    Returns:
        ``handle(event, context) -> dict``, which raises ``ConfigError`` for an event of
        another shape (the function is wired to a trigger it does not serve).
    """
    pipeline = pipeline_of(target)
    if not pipeline.settings.sync:
        log.warning(
            "the Lambda handler runs without sync mode: events are stored but processed only "
            "if a worker elsewhere sweeps the same store (set RUNHOOK_SYNC=true otherwise)"
        )

    def handle(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        if _is_sqs(event):
            return handle_sqs(pipeline, event["Records"])
        if _is_http(event):
            return handle_http(pipeline, event)
        raise ConfigError(
            "this Lambda serves API Gateway, Function URL and SQS events; got an event with "
            f"keys {sorted(event)[:8]}: check the function's triggers"
        )

    return handle
