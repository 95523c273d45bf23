"""The pipeline: accept a delivery durably, then process it exactly once.

``accept`` is what every source calls. It checks size and content type, verifies the Standard
Webhooks signature over the raw bytes, parses the envelope and puts it in the store's inbox
(keyed by ``webhook-id``, falling back to the envelope id) before anything is acknowledged::

    202 {"status": "accepted"}   new, durably queued (ack-then-process)
    200 {"status": "processed"}  new and processed before replying (sync mode, serverless)
    200 {"status": "duplicate"}  this id was accepted before (sync mode: and its work is
                                 finished; a due retry runs now, else 503 until it is done)
    200 {"status": "parked"}     sync mode: this id ran out of attempts and is parked
    4xx {"error": {...}}         refused: 401 signature, 400 malformed, 409 id reused, 413, 415
    503 {"error": {...}}         the store is unavailable: the sender should retry

``process`` claims an inbox entry (a lease, so a crashed worker's entry is taken over by
another), routes the event to its handlers, and completes the entry; a handler that raises
releases it for a retry with backoff, up to ``max_attempts``, after which the entry is parked
(queue ``parked``: kept in the store with its payload, never dropped silently, replayed with
``runhook inbox replay``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from events import keys, signing
from events.config import Settings
from events.envelope import Event
from events.errors import (
    ConfigError,
    DeliveryError,
    MalformedEvent,
    PayloadConflict,
    PayloadTooLarge,
    RetryLater,
    StoreError,
    UnsupportedMediaType,
)
from events.observability.observer import NULL_OBSERVER, Observer
from events.routing import Router
from events.sources import Ack, Delivery
from events.store.base import Store
from events.store.records import Claim, Enqueued, Record, Status

log = logging.getLogger("runhook.pipeline")

ContextFactory = Callable[[Event], Any]


class Pipeline:
    """Verify, parse, de-duplicate, queue; then claim, route and complete.

    Args:
        router: where events are dispatched.
        store: the inbox and claims.
        settings: secrets, tolerance, limits, lease and retry rules.
        context_factory: builds the ``ctx`` handed to handlers for one event.
        clock: unix seconds; injectable for tests.
        observer: the metrics, tracing and timeline hooks (``events.observability``).
    """

    def __init__(
        self,
        router: Router,
        store: Store,
        settings: Settings,
        *,
        context_factory: ContextFactory = lambda event: None,
        clock: Callable[[], float] = time.time,
        observer: Observer = NULL_OBSERVER,
    ) -> None:
        self.observer = observer
        self.router = router
        self.store = store
        self.settings = settings
        self.context_factory = context_factory
        self.clock = clock
        self._listeners: list[Callable[[str], object]] = []

    def on_enqueued(self, listener: Callable[[str], object]) -> None:
        """Call ``listener(key)`` whenever a new event is queued (the worker subscribes)."""
        self._listeners.append(listener)

    # -- accept -------------------------------------------------------------------------------

    def accept(self, delivery: Delivery) -> Ack:
        """Verify and durably queue one delivery; never raises for bad input (see module doc)."""
        with self.observer.accepting(delivery) as observed:
            return observed.done(self._accept(delivery))

    def _accept(self, delivery: Delivery) -> Ack:
        try:
            event, msg_id = self.verify_and_parse(delivery)
        except DeliveryError as exc:
            log.warning(
                "delivery refused",
                extra={"source": delivery.source, "status": exc.status, "reason": exc.reason},
            )
            return Ack.refused(exc)
        except ConfigError as exc:
            log.error("delivery cannot be verified: %s", exc)
            return Ack.error(500, "misconfigured", str(exc))
        key = keys.event_key(msg_id)
        ids = {"webhook_id": msg_id, "event_type": event.type, "source": delivery.source}
        try:
            result = self.store.enqueue(key, event.body, queue=keys.INBOX_QUEUE)
        except StoreError as exc:
            log.error("store unavailable, delivery not accepted", extra=ids)
            return Ack.store_unavailable(exc)
        if result is Enqueued.DUPLICATE:
            if self.settings.sync:
                return self._redelivered(key, msg_id, ids)
            log.info("duplicate delivery", extra=ids)
            return Ack(200, {"status": "duplicate", "id": msg_id}, event_id=msg_id)
        if result is Enqueued.CONFLICT:
            conflict = PayloadConflict(
                f"webhook-id {msg_id} was already accepted with a different body; "
                "use a new id for a new event"
            )
            return Ack.refused(conflict, event_id=msg_id)
        log.info("event accepted", extra=ids)
        if self.settings.sync:
            return self._process_now(key, msg_id, ids)
        self.observer.accepted(key)
        for listener in self._listeners:
            listener(key)
        return Ack(202, {"status": "accepted", "id": msg_id}, event_id=msg_id)

    def _process_now(self, key: str, msg_id: str, ids: dict[str, str]) -> Ack:
        """Sync mode: process before replying; 5xx tells the sender to deliver again."""
        try:
            outcome = self.process(key)
        except StoreError as exc:
            log.error("store unavailable while processing", extra=ids)
            return Ack.store_unavailable(exc)
        status = 500 if outcome == "retry" else 200
        body = {"status": "processed" if status == 200 else "failed", "id": msg_id}
        return Ack(status, {**body, "outcome": outcome}, event_id=msg_id)

    def _redelivered(self, key: str, msg_id: str, ids: dict[str, str]) -> Ack:
        """Sync mode: a redelivery is how a serverless sender retries (SQS, Pub/Sub, a bus).

        No worker sweeps the inbox there, so an entry released for a retry runs now if it is
        due; 2xx means its work is finished, 503 that it is not yet (pending its backoff, or
        held by another invocation), so the sender delivers it again later.
        """
        ack = self._process_now(key, msg_id, ids)
        if ack.body.get("outcome") != "skipped":
            return ack
        try:
            record = self.store.get(key)
        except StoreError as exc:
            return Ack.store_unavailable(exc)
        if record is None or record.status is Status.COMPLETED:
            log.info("duplicate delivery", extra=ids)
            return Ack(200, {"status": "duplicate", "id": msg_id}, event_id=msg_id)
        if record.queue == keys.PARKED_QUEUE:
            # Out of attempts and kept here: another delivery cannot help, a replay can.
            log.info("redelivered event is parked", extra=ids)
            return Ack(200, {"status": "parked", "id": msg_id}, event_id=msg_id)
        log.info("redelivered event is not finished yet", extra=ids)
        return Ack.error(
            503,
            "not_finished",
            f"event {msg_id} is waiting for a retry or being processed elsewhere; "
            "deliver it again later",
            event_id=msg_id,
        )

    def verify_and_parse(self, delivery: Delivery) -> tuple[Event, str]:
        """Check size, media type and signature, then parse; return the event and its id.

        Raises:
            DeliveryError: the subclass that says what is wrong.
            ConfigError: no secret is configured.
        """
        if len(delivery.body) > self.settings.max_body_bytes:
            raise PayloadTooLarge(
                f"body is {len(delivery.body)} bytes; the limit is "
                f"{self.settings.max_body_bytes} (RUNHOOK_MAX_BODY_BYTES)"
            )
        if delivery.content_type is not None:
            media = delivery.content_type.split(";")[0].strip().lower()
            if media != "application/json" and not media.endswith("+json"):
                raise UnsupportedMediaType(
                    f"content-type {media or '(none)'!r} is not supported; send application/json"
                )
        msg_id = signing.verify(
            self.settings.all_webhook_secrets,
            delivery.headers,
            delivery.body,
            tolerance_s=self.settings.signature_tolerance_s,
            now=self.clock,
        )
        event = Event.parse(delivery.body)
        return event, msg_id or event.id

    # -- process ------------------------------------------------------------------------------

    def process(self, key: str) -> str:
        """Claim and process one inbox entry.

        Returns:
            ``"skipped"`` (someone else holds it, or it is done), ``"done"``, ``"unhandled"``
            (no handler matched), ``"retry"`` (released for another attempt) or ``"failed"``
            (out of attempts; parked).
        """
        claim = self.store.claim(key, self.settings.claim_lease_s)
        if claim is None:
            return "skipped"
        return self.process_claim(claim)

    def process_claim(self, claim: Claim) -> str:
        """Process an inbox entry the caller has already claimed (see ``process``)."""
        with self.observer.processing(claim) as observed:
            return observed.done(self._process_claim(claim))

    def _process_claim(self, claim: Claim) -> str:
        if claim.payload is None:
            # A claim on a key that had no queued payload: nothing to run.
            self.store.complete(claim, self.settings.completed_ttl_s, outcome="empty")
            return "skipped"
        try:
            event = Event.parse(claim.payload)
        except MalformedEvent:
            log.error("inbox entry is not an envelope; parked", extra={"key": claim.key})
            self.store.park(claim, queue=keys.PARKED_QUEUE, outcome="malformed")
            return "failed"
        ids = {"event_id": event.id, "event_type": event.type, "attempt": claim.attempts}
        try:
            ran = self.router.dispatch(event, self.context_factory(event))
        except RetryLater as exc:
            log.info("handler asked for a retry in %.1f s: %s", exc.after_s, exc, extra=ids)
            self.store.release(claim, retry_in_s=exc.after_s)
            return "retry"
        except Exception:
            if claim.attempts >= self.settings.max_attempts:
                log.exception("event failed after %d attempts; parked", claim.attempts, extra=ids)
                self.store.park(claim, queue=keys.PARKED_QUEUE, outcome="failed")
                return "failed"
            delay = self.settings.retry_backoff_s * 2 ** (claim.attempts - 1)
            log.warning("handler failed; retry in %.1f s", delay, exc_info=True, extra=ids)
            self.store.release(claim, retry_in_s=delay)
            return "retry"
        outcome = "done" if ran else "unhandled"
        if not ran:
            log.info("no handler for this event type", extra=ids)
        if not self.store.complete(claim, self.settings.completed_ttl_s, outcome=outcome):
            log.warning("inbox lease was lost before completion", extra=ids)
        return outcome

    def due(self, limit: int = 100) -> list[str]:
        """Inbox keys that are due now (new, retries, and entries of crashed workers)."""
        return self.store.due(keys.INBOX_QUEUE, limit=limit)

    def parked(self, limit: int = 100) -> list[Record]:
        """Inbox entries that ran out of attempts, with their payloads."""
        return self.store.parked(keys.PARKED_QUEUE, limit=limit)

    def replay(self, event_id: str) -> str:
        """Put the parked event ``event_id`` (its ``webhook-id``) back in the inbox with fresh
        attempts and process it now.

        Returns:
            ``"not_parked"`` when no such event is parked, else what ``process`` returns
            (``"skipped"`` when a worker took it first, which is fine: it runs there).
        """
        key = keys.event_key(event_id)
        if not self.store.requeue(key, from_queue=keys.PARKED_QUEUE, to_queue=keys.INBOX_QUEUE):
            return "not_parked"
        log.info("parked event replayed", extra={"webhook_id": event_id})
        return self.process(key)
