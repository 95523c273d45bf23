"""Message buses: one message → one ``Delivery``; and a Redis Streams consumer.

The convention every bus adapter follows (SQS, SNS, Pub/Sub, Redis Streams, your own): the
message **body is the envelope**, byte for byte as it was signed, and the three Standard
Webhooks headers travel as message **attributes** (SQS message attributes, SNS message
attributes, Pub/Sub attributes, stream fields)::

    body:        {"id": "evt_…", "object": "event", "type": "thread.run.completed", …}
    attributes:  webhook-id=msg_…  webhook-timestamp=1763800000  webhook-signature=v1,…

A producer makes them with ``runhook.events.signing.sign_headers(secret, body)``. A queue delivers a
message when it is consumed, not when it was signed, so give the consumer a
``RUNHOOK_SIGNATURE_TOLERANCE_S`` at least as long as a message can wait in the queue (its
retention); keep it below ``RUNHOOK_COMPLETED_TTL_S`` so that a replay inside the window is
still recognised as a duplicate.

What the consumer does with the ``Ack`` is the same on every bus:

- 2xx: done (processed, or a duplicate of a finished event): acknowledge the message;
- 4xx: a poison message (bad signature, not an envelope): it can never succeed, so it is
  acknowledged and logged by id, never retried (``RedisStreamSource`` can also copy it to a
  dead-letter stream);
- 5xx: retryable (the store is down, a handler failed and waits for its retry): leave the
  message unacknowledged so the bus delivers it again.

Consumers run the pipeline in sync mode (``Settings(sync=True)``): the event is processed
before the message is acknowledged, so the bus's own redelivery is the retry mechanism and no
worker process is needed.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from runhook.events.errors import StoreError
from runhook.events.pipeline import Pipeline
from runhook.events.signing import HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP
from runhook.events.sources import Ack, Delivery
from runhook.events.sources.backoff import OutageBackoff
from runhook.events.store.redis import import_redis

if TYPE_CHECKING:
    import redis

log = logging.getLogger("runhook.bus")

SIGNATURE_ATTRIBUTES = (HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE)
"""Message attributes that carry the signature headers, by the bus convention."""

BODY_FIELD = "body"
"""The Redis stream entry field that holds the envelope."""


class HasPipeline(Protocol):
    """Anything with a ``pipeline()`` method, such as ``handlers.App``."""

    def pipeline(self) -> Pipeline: ...


def pipeline_of(target: Pipeline | HasPipeline) -> Pipeline:
    """The pipeline itself, or the one an App feeds."""
    return target if isinstance(target, Pipeline) else target.pipeline()


def message_delivery(
    body: bytes, attributes: Mapping[str, str], *, source: str = "bus"
) -> Delivery:
    """The delivery for one bus message (see the module docstring for the convention).

    Attribute names are matched case-insensitively; attributes other than the three
    signature headers are ignored.
    """
    headers = {
        name.lower(): str(value)
        for name, value in attributes.items()
        if name.lower() in SIGNATURE_ATTRIBUTES
    }
    return Delivery(body=body, headers=headers, source=source, content_type="application/json")


def accept_message(
    pipeline: Pipeline, body: bytes, attributes: Mapping[str, str], *, source: str = "bus"
) -> Ack:
    """Accept one bus message; the caller acts on the ``Ack`` as the module docstring says."""
    return pipeline.accept(message_delivery(body, attributes, source=source))


def unwrap_sns(body: bytes, attributes: Mapping[str, str]) -> tuple[bytes, dict[str, str]]:
    """Unwrap an SNS notification delivered to a queue without raw message delivery.

    SNS then wraps the published message in a JSON notification whose ``Message`` is the
    envelope and whose ``MessageAttributes`` (``{"Type", "Value"}``) carry the signature
    headers. Anything else is returned unchanged.
    """
    try:
        wrapped = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, too deep, a number too long: not SNS
        return body, dict(attributes)
    if not (
        isinstance(wrapped, dict)
        and wrapped.get("Type") == "Notification"
        and isinstance(wrapped.get("Message"), str)
    ):
        return body, dict(attributes)
    merged = dict(attributes)
    extra = wrapped.get("MessageAttributes")
    for name, attribute in (extra if isinstance(extra, dict) else {}).items():
        if isinstance(attribute, dict) and "Value" in attribute:
            merged[name] = str(attribute["Value"])
    return wrapped["Message"].encode(), merged


def stream_fields(body: bytes, headers: Mapping[str, str]) -> dict[str, bytes]:
    """The fields of a Redis stream entry carrying ``body`` signed with ``headers``."""
    lower = {k.lower(): v for k, v in headers.items()}
    fields = {BODY_FIELD: body}
    fields.update({name: lower[name].encode() for name in SIGNATURE_ATTRIBUTES if name in lower})
    return fields


def settle(ack: Ack, ids: Mapping[str, object]) -> bool:
    """True when the message is settled (acknowledge it): 2xx, or 4xx poison, logged by id."""
    if ack.status >= 500:
        return False
    if not ack.ok:
        error = ack.body.get("error")
        code = error.get("code") if isinstance(error, Mapping) else None
        log.warning(
            "poison message dropped",
            extra={**ids, "webhook_id": ack.event_id, "status": ack.status, "code": code},
        )
    return True


class RedisStreamSource:
    """Consume a Redis stream with a consumer group and feed each entry to the pipeline.

    Each entry's fields are ``body`` (the envelope) and the three signature headers
    (``stream_fields`` builds them; ``add`` publishes one). Entries are read with
    ``XREADGROUP``; an entry is ``XACK``-ed when its answer is 2xx or 4xx (a 4xx is also
    copied to ``dead_letter`` when set) and left pending on 5xx. Pending entries idle longer
    than ``lease_s`` (their consumer died, or their retry is due) are taken over with
    ``XAUTOCLAIM``, by this consumer or any other of the group. A consumer that restarts
    under the same name first re-reads its own pending entries.

    Args:
        pipeline: where entries go; give it ``Settings(sync=True)`` so an entry is processed
            before it is acknowledged (otherwise run a ``Worker`` on the same store).
        url: the Redis holding the stream (``redis://host:6379/0``); it may differ from the
            store's.
        stream: the stream key.
        group: the consumer group (created at the stream's start if missing).
        consumer: this consumer's name, stable across restarts (e.g. the host name).
        lease_s: idle time after which a pending entry is taken over; defaults to the
            pipeline's ``claim_lease_s``.
        batch: entries read per call.
        block_s: how long one read waits for new entries (also how often ``stop`` is checked).
        dead_letter: a stream that receives a copy of each poison entry, or None.
        client: a ``redis.Redis`` client (``decode_responses=False``) instead of ``url``.

    Raises:
        ConfigError: the redis package is missing.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        url: str,
        stream: str,
        group: str,
        consumer: str,
        *,
        lease_s: float | None = None,
        batch: int = 10,
        block_s: float = 5.0,
        dead_letter: str | None = None,
        client: redis.Redis | None = None,
    ) -> None:
        module = import_redis("the Redis stream source")
        self.pipeline = pipeline
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.lease_s = pipeline.settings.claim_lease_s if lease_s is None else lease_s
        self.batch = batch
        self.block_s = block_s
        self.dead_letter = dead_letter
        self._error: type[Exception] = module.RedisError
        self._owned = client is None
        self._client: redis.Redis = client or module.Redis.from_url(
            url, socket_timeout=block_s + 10.0, socket_connect_timeout=5.0
        )
        self._group_ready = False

    def add(self, body: bytes, headers: Mapping[str, str]) -> str:
        """Publish one signed envelope to the stream; return the entry id."""
        entry_id = self._client.xadd(self.stream, stream_fields(body, headers))  # type: ignore[arg-type]
        return _text(entry_id)

    def run(self, *, burst: bool = False, stop: threading.Event | None = None) -> int:
        """Consume until ``stop`` is set, or with ``burst`` until nothing is left to do now.

        Returns:
            How many entries were handed to the pipeline.

        Raises:
            StoreError: in burst mode, when Redis cannot be reached (otherwise the consumer
                logs, waits and tries again).
        """
        stop = stop or threading.Event()
        handled = 0
        backlog = True  # first, this consumer's own pending entries (a restart)
        backoff = OutageBackoff()
        while not stop.is_set():
            try:
                self._ensure_group()
                entries = self._reclaim()
                if backlog:
                    entries += self._read("0", block=False)
                    backlog = False
                if not entries:
                    entries = self._read(">", block=not burst)
                # an entry both reclaimed and in this consumer's backlog is handled once
                for entry_id, fields in dict(entries).items():
                    handled += self._handle(entry_id, fields)
            except self._error as exc:
                self._group_ready = False  # the stream or group may have been deleted
                if burst:
                    raise StoreError(
                        f"Redis stream {self.stream!r} unreachable ({exc}); check the URL and "
                        "that Redis is running"
                    ) from exc
                log.warning("stream read failed; retrying in %.1f s", backoff.delay, exc_info=True)
                backoff.wait(stop)
                continue
            backoff.reset()
            if burst and not entries:
                break
        return handled

    def close(self) -> None:
        """Close the connection this source opened."""
        if self._owned:
            self._client.close()

    # -- steps ----------------------------------------------------------------------------------

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            self._client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except self._error as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def _reclaim(self) -> list[tuple[bytes, dict[bytes, bytes] | None]]:
        reply: Any = self._client.xautoclaim(
            self.stream,
            self.group,
            self.consumer,
            min_idle_time=int(self.lease_s * 1000),
            start_id="0-0",
            count=self.batch,
        )
        return list(reply[1])

    def _read(self, start: str, *, block: bool) -> list[tuple[bytes, dict[bytes, bytes] | None]]:
        reply: Any = self._client.xreadgroup(
            self.group,
            self.consumer,
            {self.stream: start},
            count=self.batch,
            block=int(self.block_s * 1000) if block else None,
        )
        entries: list[tuple[bytes, dict[bytes, bytes] | None]] = []
        for _stream, items in reply or []:
            entries.extend(items)
        return entries

    def _handle(self, entry_id: bytes, fields: Mapping[bytes, bytes] | None) -> int:
        ids = {"entry_id": _text(entry_id), "stream": self.stream}
        if not fields:  # deleted or trimmed while pending: nothing left to deliver
            self._client.xack(self.stream, self.group, entry_id)
            return 0
        decoded = {_text(k): v for k, v in fields.items()}
        body = decoded.pop(BODY_FIELD, b"")
        attributes = {k: _text(v) for k, v in decoded.items()}
        try:
            ack = accept_message(self.pipeline, body, attributes, source="redis-stream")
        except Exception:  # a bug must not stop the consumer; the entry will come back
            log.exception("entry failed; left pending", extra=ids)
            return 1
        if not settle(ack, ids):
            return 1  # 5xx: stays pending; reclaimed once idle longer than the lease
        if not ack.ok and self.dead_letter:
            self._client.xadd(self.dead_letter, dict(fields))  # type: ignore[arg-type]
        self._client.xack(self.stream, self.group, entry_id)
        return 1


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
