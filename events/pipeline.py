"""The pipeline: accept a delivery durably, then process it exactly once.

``accept`` is what every source calls. It checks size and content type, verifies the Standard
Webhooks signature over the raw bytes, parses the envelope and puts it in the store's inbox
(keyed by ``webhook-id``, falling back to the envelope id) before anything is acknowledged::

    202 {"status": "accepted"}   new, durably queued (ack-then-process)
    200 {"status": "unhandled"}  verified, but no handler is registered for its type: nothing
                                 would be done with it, so nothing is stored (no durability,
                                 no de-duplication: a redelivery is answered the same way);
                                 ``"type_unrouted": true`` when no route of this server takes
                                 any event of that type (no predicate routes), so a relay may
                                 skip the type for a while (``HttpRelay(skip_unrouted_s=...)``)
    200 {"status": "processed"}  new and processed before replying (sync mode, serverless)
    200 {"status": "duplicate"}  this id was accepted before (sync mode: and its work is
                                 finished; a due retry runs now, else 503 until it is done)
    200 {"status": "parked"}     sync mode: this id ran out of attempts and is parked
    4xx {"error": {...}}         refused: 401 signature, 400 malformed, 409 id reused, 413, 415
    503 {"error": {...}}         the store is unavailable: the sender should retry

A new event is stored already claimed (``Store.enqueue_held``) when this process's worker has
room, and handed to it parsed, so accept-to-processed costs one durable write and one parse.

Sync mode (serverless, buses, the relay poller) answers only after the work, so what keeps an
event safe until then is its sender, which delivers again when it gets no answer or a 5xx: the
insert there is written like a claim (visible to every process at once, surviving a crash of
this one, synced by the next durable write such as a Responses wait's checkpoint), not synced
on its own. An OS crash or power loss can undo it as it can a completion: a redelivery then
runs the event again; a Responses wait's synced checkpoint keeps its follow-up from being sent
twice, and the API refuses a second submit for a run or a session.

``process`` claims an inbox entry (a lease, so a crashed worker's entry is taken over by
another), routes the event to its handlers, and completes the entry; a handler that raises
releases it for a retry with capped, jittered backoff, up to ``max_attempts`` failures (a retry
the handler asks for with ``RetryLater`` is not one), after which the entry is parked
(queue ``parked``: kept in the store with its payload, never dropped silently, replayed with
``runhook inbox replay``).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any, Protocol

from runhook.events import defaults, keys, signing
from runhook.events.config import Settings
from runhook.events.envelope import Event
from runhook.events.errors import (
    ConfigError,
    DeliveryError,
    MalformedEvent,
    PayloadConflict,
    PayloadTooLarge,
    RetryLater,
    StoreError,
    UnsupportedMediaType,
)
from runhook.events.observability.observer import NULL_OBSERVER, Observer
from runhook.events.routing import Router
from runhook.events.sources import Ack, Delivery
from runhook.events.store.base import Store
from runhook.events.store.lease import Lease
from runhook.events.store.records import Enqueued, Record, Status

log = logging.getLogger("runhook.pipeline")

ContextFactory = Callable[[Event], Any]


class Taker(Protocol):
    """What takes accepted events off the pipeline in this process (``runhook.events.worker.Worker``)."""

    def has_room(self) -> bool:
        """True when an event accepted now would be queued at once."""
        ...

    def take(self, lease: Lease, event: Event) -> bool:
        """Queue a held entry; False when it cannot be (the pipeline then releases it)."""
        ...


class Pipeline:
    """Verify, parse, de-duplicate, queue; then claim, route and complete.

    Args:
        router: where events are dispatched.
        store: the inbox and claims.
        settings: secrets, tolerance, limits, lease and retry rules.
        context_factory: builds the ``ctx`` handed to handlers for one event.
        clock: unix seconds; injectable for tests.
        observer: the metrics, tracing and timeline hooks (``runhook.events.observability``).
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
        self._taker: Taker | None = None

    def attach(self, taker: Taker) -> None:
        """Hand newly accepted events, held, to ``taker`` (the process's ``Worker``)."""
        self._taker = taker

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
        if not self.router.match(event):
            # Nothing would be done with it: acknowledged without a write (see module doc).
            log.debug("no handler for this event type; acknowledged, not stored", extra=ids)
            answer: dict[str, Any] = {"status": "unhandled", "id": msg_id}
            if self._routes_by_type_only():
                answer["type_unrouted"] = True
            return Ack(200, answer, event_id=msg_id)
        taker, lease = self._taker, None
        try:
            # The usual delivery (webhook-id = envelope id) checks for an alias left by a
            # delivery of the same envelope under another webhook-id within its insert; only
            # when one exists does it look further (see _seen_envelope).
            unless = keys.envelope_key(event.id) if msg_id == event.id else None
            seen = None if unless else self._seen_envelope(event, msg_id, ids)
            if seen is not None:
                return seen
            result, lease = self._enqueue(key, event, taker, unless)
            if result is Enqueued.SHADOWED:
                seen = self._seen_envelope(event, msg_id, ids)
                if seen is not None:
                    return seen
                result, lease = self._enqueue(key, event, taker, None)
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
        log.debug("event accepted", extra=ids)
        if self.settings.sync:
            return self._process_now(key, msg_id, ids, lease=lease, event=event)
        self.observer.accepted(key)
        if lease is not None and (taker is None or not taker.take(lease, event)):
            lease.release(failed=False)  # the sweeper finds it
        return Ack(202, {"status": "accepted", "id": msg_id}, event_id=msg_id)

    def _enqueue(
        self, key: str, event: Event, taker: Taker | None, unless: str | None
    ) -> tuple[Enqueued, Lease | None]:
        """Into the inbox: held by this process when its worker has room (or in sync mode).

        In sync mode the insert is not synced on its own: the answer comes after the work, so
        the sender still holds the event until then (see the module docstring)."""
        if self.settings.sync or (taker is not None and taker.has_room()):
            return self.store.enqueue_held(
                key,
                event.body,
                queue=keys.INBOX_QUEUE,
                lease_s=self.settings.claim_lease_s,
                unless=unless,
                durable=not self.settings.sync,
            )
        return self.store.enqueue(key, event.body, queue=keys.INBOX_QUEUE, unless=unless), None

    def _routes_by_type_only(self) -> bool:
        """True when every route is a type pattern: an event that none takes means no event of
        its type would be taken (a predicate route could take another one of the same type)."""
        return all(route.predicate is None for route in self.router.routes())

    def _seen_envelope(self, event: Event, msg_id: str, ids: dict[str, str]) -> Ack | None:
        """The same envelope ``id`` under another ``webhook-id`` (a second relay, a bus that
        resends): a duplicate when the body is the same, a 409 when it differs.

        A delivery whose ``webhook-id`` differs from its envelope id leaves an alias record
        (``env:<id>`` holding that ``webhook-id``) and looks for the inbox entry of a delivery
        that used the envelope id as its ``webhook-id``; one that used it looks for the alias,
        within its insert (``enqueue(unless=alias)``), and comes here only when it exists.

        Returns None when the delivery should be enqueued as usual: a new envelope, a plain
        redelivery under the same ``webhook-id`` (the inbox itself answers that), or one whose
        first delivery never reached the inbox (a crash between the two writes).
        """
        digest = keys.payload_hash(event.body)
        alias = keys.envelope_key(event.id)
        if msg_id == event.id:
            record = self.store.get(alias)
            first = record.payload.decode() if record and record.payload else None
            if record is None or first is None or self.store.get(keys.event_key(first)) is None:
                return None
            same = record.payload_hash == digest
        else:
            seen = self.store.remember(
                alias, msg_id.encode(), ttl_s=self.settings.completed_ttl_s, payload_hash=digest
            )
            if seen is Enqueued.DUPLICATE:
                record = self.store.get(alias)
                first = record.payload.decode() if record and record.payload else msg_id
                if first == msg_id or self.store.get(keys.event_key(first)) is None:
                    return None
                same = True
            else:
                existing = self.store.get(keys.event_key(event.id))
                if seen is Enqueued.NEW and existing is None:
                    return None
                same = (
                    seen is Enqueued.NEW
                    and existing is not None
                    and existing.payload_hash == digest
                )
        if not same:
            conflict = PayloadConflict(
                f"event id {event.id} was already accepted with a different body; "
                "use a new id for a new event"
            )
            return Ack.refused(conflict, event_id=msg_id)
        log.info("duplicate delivery of an envelope under another webhook-id", extra=ids)
        return Ack(200, {"status": "duplicate", "id": msg_id}, event_id=msg_id)

    def _process_now(
        self,
        key: str,
        msg_id: str,
        ids: dict[str, str],
        *,
        lease: Lease | None = None,
        event: Event | None = None,
    ) -> Ack:
        """Sync mode: process before replying; 5xx tells the sender to deliver again."""
        try:
            if lease is None:
                outcome = self.process(key)
            else:
                with lease:
                    outcome = self.process_lease(lease, event=event)
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
        lease = self.store.acquire(key, self.settings.claim_lease_s)
        if lease is None:
            return "skipped"
        with lease:
            return self.process_lease(lease)

    def process_lease(self, lease: Lease, *, event: Event | None = None) -> str:
        """Process an inbox entry the caller holds (see ``process``); ends the lease.

        ``event`` is the entry's parsed envelope when the caller has it (accepted in this
        process); otherwise the stored body is parsed.
        """
        with self.observer.processing(lease.claim) as observed:
            return observed.done(self._process_lease(lease, event))

    def _process_lease(self, lease: Lease, event: Event | None) -> str:
        if lease.saved is None:
            # A claim on a key that had no queued payload: nothing to run.
            lease.complete(self.settings.completed_ttl_s, outcome="empty")
            return "skipped"
        try:
            if event is None or event.body != lease.saved:
                event = Event.parse(lease.saved)
        except MalformedEvent:
            log.error("inbox entry is not an envelope; parked", extra={"key": lease.key})
            lease.park(queue=keys.PARKED_QUEUE, outcome="malformed")
            return "failed"
        ids = {"event_id": event.id, "event_type": event.type, "attempt": lease.attempts}
        try:
            ran = self.router.dispatch(event, self.context_factory(event))
        except RetryLater as exc:
            if self._retry_allowed(event, exc):
                log.info("handler asked for a retry in %.1f s: %s", exc.after_s, exc, extra=ids)
                lease.release(retry_in_s=exc.after_s, failed=False)
                return "retry"
            log.warning(
                "handler asked for a retry past its deadline; counted as a failure", extra=ids
            )
            return self._failed(lease, ids)
        except Exception:
            return self._failed(lease, ids)
        outcome = "done" if ran else "unhandled"
        if not ran:
            log.info("no handler for this event type", extra=ids)
        if not lease.complete(self.settings.completed_ttl_s, outcome=outcome):
            log.warning("inbox lease was lost before completion", extra=ids)
        return outcome

    def _retry_allowed(self, event: Event, exc: RetryLater) -> bool:
        """An asked-for retry is free until its deadline (or the event's retry window)."""
        deadline = exc.deadline
        if deadline is None:
            deadline = event.created_at + defaults.RETRY_LATER_WINDOW_S
        return self.clock() + exc.after_s <= deadline

    def _failed(self, lease: Lease, ids: dict[str, Any]) -> str:
        """A handler failed (the exception being handled): retry with backoff, or park."""
        if lease.attempts >= self.settings.max_attempts:
            log.exception("event failed after %d attempts; parked", lease.attempts, extra=ids)
            lease.park(queue=keys.PARKED_QUEUE, outcome="failed")
            return "failed"
        delay = retry_delay(lease.attempts, self.settings.retry_backoff_s)
        log.warning("handler failed; retry in %.1f s", delay, exc_info=True, extra=ids)
        lease.release(retry_in_s=delay)
        return "retry"

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


def retry_delay(
    attempt: int,
    base_s: float,
    *,
    cap_s: float = defaults.RETRY_BACKOFF_MAX_S,
    rand: Callable[[], float] = random.random,
) -> float:
    """Delay before retrying after failed attempt number ``attempt`` (1-based).

    Doubles from ``base_s`` up to ``cap_s``, then takes a random point in its upper half
    ("equal jitter"), so entries that failed together in an outage do not retry together
    while each still waits at least half its step.
    """
    step = min(cap_s, base_s * 2.0 ** min(attempt - 1, 30))
    return step / 2 + rand() * step / 2
