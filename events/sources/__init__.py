"""Event sources: adapters that turn a native input into a ``Delivery`` and an ``Ack`` back.

Every adapter has the same shape (Bolt's ``adapter/<platform>/handler.py``)::

    delivery = Delivery(body=raw_bytes, headers=headers, source="webhook")
    ack = pipeline.accept(delivery)
    return <native reply built from ack.status and ack.body>

Adapters hold no routing, no store logic and no OpenAI calls. Relays without HTTP (stream,
poller) build the same signed envelope a webhook would carry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runhook.events.errors import DeliveryError, StoreError


@dataclass(frozen=True)
class Delivery:
    """One inbound delivery, whatever carried it.

    Attributes:
        body: the raw bytes (what the signature covers).
        headers: transport headers, any case (``webhook-id``, ``webhook-signature``, …).
        source: a short name for logs only (``webhook``, ``stream``, ``poller``, ``sqs``…);
            nothing branches on it.
        content_type: the declared media type, when the transport has one.
    """

    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    source: str = "webhook"
    content_type: str | None = None


@dataclass(frozen=True)
class Ack:
    """The pipeline's answer to a delivery.

    Attributes:
        status: HTTP-style status: 202 accepted, 200 duplicate or processed, 4xx refused,
            5xx failed (the sender should retry).
        body: a small JSON-able dict (``{"status": "accepted", "id": …}`` or an error).
        event_id: the delivery's id when known (for logs and batch failure reports).
    """

    status: int
    body: Mapping[str, Any]
    event_id: str | None = None

    @property
    def ok(self) -> bool:
        """True for 2xx: the sender must not retry."""
        return 200 <= self.status < 300

    def json(self) -> bytes:
        """``body`` as compact JSON bytes."""
        return json.dumps(dict(self.body), separators=(",", ":")).encode()

    @classmethod
    def error(cls, status: int, code: str, message: str, *, event_id: str | None = None) -> Ack:
        """A refusal or failure: ``{"error": {"code", "message"}}``, the one error shape."""
        return cls(status, {"error": {"code": code, "message": message}}, event_id=event_id)

    @classmethod
    def refused(cls, exc: DeliveryError, *, event_id: str | None = None) -> Ack:
        """The answer to a bad delivery: the error's own status, code and reason."""
        return cls.error(exc.status, exc.code, exc.reason, event_id=event_id)

    @classmethod
    def store_unavailable(cls, exc: StoreError, *, event_id: str | None = None) -> Ack:
        """503: the store cannot be reached, so the sender should deliver again later."""
        return cls.error(
            503, "store_unavailable", f"the store is unavailable: {exc}", event_id=event_id
        )


__all__ = ["Ack", "Delivery"]
