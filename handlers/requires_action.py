"""The requires_action handler: run the requested tools, submit their outputs once.

For ``thread.run.requires_action`` (Assistants), ``response.completed`` (Responses: a
completed background response whose output holds ``function_call`` items) and
``agent.session.action_required`` / ``agent.session.requires_action`` (Agents API sessions):

1. **Load** the pending calls: from the event's own object when it is a full payload, else by
   retrieving the run or response (thin payloads, as OpenAI's webhooks send).
2. **Deadline**: ``expires_at`` minus ``deadline_margin_s``. A run past it, or already expired,
   is recorded and left alone: no tool runs, nothing is retried.
3. **Claim** the wait key (run id + sorted call ids) with a lease (``claim_lease_s``, never past
   the deadline) that a heartbeat renews while the tools run. If it is completed, this wait was
   answered already (a duplicate, perhaps under another event id): done. If another worker
   holds it, raise ``RetryLater`` so the inbox brings the event back: it then finds the wait
   done, or takes over once the dead worker's lease lapsed; a takeover re-reads the run first,
   so a wait the dead worker already answered is not answered twice.
4. **Run** every call concurrently (see ``handlers.tools.runner``), then **submit** all outputs
   in one call. ``RunMovedOn``/``RunExpired`` complete the claim with that outcome (no retry);
   any other failure releases the claim and re-raises, so the pipeline retries the event.
"""

from __future__ import annotations

import threading

from events import keys
from events.envelope import Event
from events.errors import RetryLater
from events.routing import Router
from events.store.base import Store
from events.store.records import Claim, Status
from handlers.backends.base import PendingCalls, RunExpired, RunMovedOn, SubmitUnknown
from handlers.context import Context
from handlers.tools.runner import run_calls

router = Router()

#: how soon a worker that found the wait held by another asks to see the event again
BUSY_RETRY_S = 5.0


@router.on(
    "thread.run.requires_action",
    "response.completed",
    "agent.session.action_required",  # the Agents API webhook (thin)
    "agent.session.requires_action",  # the same wait on a session's event stream (full)
)
def handle_requires_action(event: Event, ctx: Context) -> None:
    """Run the pending tool calls of one wait and submit their outputs exactly once."""
    backend = ctx.backend()
    pending = backend.from_event(event)
    if pending is None:
        pending = backend.load(backend.ref(event))
    if not pending.waiting:
        # For a response, "completed without function calls" is the end of the chain; the
        # lifecycle handler records it.
        ctx.log.info("nothing to do: %s is %s", pending.ref.id, pending.status)
        return
    answer(pending, ctx)


def answer(pending: PendingCalls, ctx: Context) -> str:
    """Run and submit one wait; return the outcome recorded on its wait key."""
    settings, store, now = ctx.settings, ctx.store, ctx.clock()
    ids = {"run_id": pending.ref.id, "calls": len(pending.calls)}
    key = keys.wait_key(pending.ref.id, [c.id for c in pending.calls])
    deadline = None
    if pending.expires_at is not None:
        deadline = pending.expires_at - settings.deadline_margin_s
        if now >= deadline:
            # Recorded on the wait key, never retried; the run's own expired event (from a
            # stream or the poller) reaches the lifecycle handler.
            ctx.log.warning("run is past its deadline; no tool runs", extra=ids)
            late = store.claim(key, 60.0)
            if late is not None:
                store.complete(late, settings.completed_ttl_s, outcome="expired")
            return "expired"
    lease = settings.claim_lease_s
    if deadline is not None:
        lease = max(1.0, min(lease, deadline - now))
    claim = store.claim(key, lease)
    if claim is None:
        record = store.get(key)
        if record is None or record.status is Status.COMPLETED:
            ctx.log.info("wait already answered", extra=ids)
            return "duplicate"
        retry_in = min(BUSY_RETRY_S, max(0.5, record.lease_until - now))
        raise RetryLater(f"another worker is answering {pending.ref.id}", after_s=retry_in)
    if claim.attempts > 1:
        current = ctx.backend(pending.ref.api).load(pending.ref, deadline=deadline)
        if current.calls != pending.calls:
            store.complete(claim, settings.completed_ttl_s, outcome="answered_before")
            return "duplicate"
    heartbeat = Heartbeat(store, claim, lease)
    try:
        outputs = run_calls(
            pending.calls,
            ctx.tools,
            deadline=deadline,
            timeout_s=settings.tool_timeout_s,
            concurrency=settings.tool_concurrency,
            executor=ctx.app.executor,
            clock=ctx.clock,
        )
        continuation = ctx.backend(pending.ref.api).submit(pending, outputs, deadline=deadline)
    except RunExpired:
        store.complete(claim, settings.completed_ttl_s, outcome="expired")
        return "expired"
    except RunMovedOn as exc:
        ctx.log.info("outputs not accepted: %s", exc, extra=ids)
        store.complete(claim, settings.completed_ttl_s, outcome="moved_on")
        return "moved_on"
    except SubmitUnknown as exc:
        ctx.log.error("submit outcome unknown, not retried: %s", exc, extra=ids)
        store.complete(claim, settings.completed_ttl_s, outcome="submit_unknown")
        return "submit_unknown"
    except BaseException:
        heartbeat.stop()
        store.release(claim)
        raise
    finally:
        heartbeat.stop()
    store.complete(claim, settings.completed_ttl_s, outcome="submitted")
    ctx.log.info("outputs submitted", extra={**ids, "continuation": continuation})
    return "submitted"


class Heartbeat:
    """Renews a wait claim every third of its lease while its tools run, so a live worker
    keeps the wait and a dead one loses it within one lease (then a retry takes over)."""

    def __init__(self, store: Store, claim: Claim, lease_s: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat,
            args=(store, claim, lease_s),
            name="runhook-wait-heartbeat",
            daemon=True,
        )
        self._thread.start()

    def _beat(self, store: Store, claim: Claim, lease_s: float) -> None:
        while not self._stop.wait(lease_s / 3):
            if store.extend(claim, lease_s) is None:
                return

    def stop(self) -> None:
        self._stop.set()
