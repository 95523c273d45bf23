"""The requires_action handler: run the requested tools, submit their outputs once.

For ``thread.run.requires_action`` (Assistants), ``response.completed`` (Responses: a
completed background response whose output holds ``function_call`` items) and
``agent.session.action_required`` / ``agent.session.requires_action`` (Agents API sessions):

1. **Load** the pending calls: from the event's own object when it is a full payload, else by
   retrieving the run or response (thin payloads, as OpenAI's webhooks send).
2. **Deadline**: ``expires_at`` minus ``deadline_margin_s``. A run past it, or already expired,
   is recorded and left alone: no tool runs, nothing is retried.
3. **Lease** the wait key (run id + sorted call ids) with ``Store.acquire`` (``claim_lease_s``,
   never past the deadline); it renews itself from that moment until the wait ends. If the wait
   is completed, it was answered already (a duplicate, perhaps under another event id): done.
   If another worker holds it, raise ``RetryLater`` (not a failure) so the inbox brings the
   event back: it then finds the wait done, or takes over once the holder's lease lapsed.
4. **Takeover**: a lease that took over an unfinished wait re-reads the run first (under
   renewal), so a wait the previous holder answered is not answered twice.
5. **Run** every call concurrently (``runhook.tools.runner``), then **checkpoint**: save the
   outputs on the wait's record in one compare-and-set (synced to disk only for Responses,
   where a resubmit is unsafe; see ``Store.save``). A worker that lost its lease before
   the checkpoint discards its outputs (logged with the tool names) and leaves the wait to the
   new holder; a worker that takes over a checkpointed wait submits the saved outputs and runs
   no tool again (where resubmitting is unsafe, Responses, it records ``submit_unknown``).
6. **Submit** all outputs in one call. ``RunMovedOn``/``RunExpired``/``SubmitUnknown`` complete
   the wait with that outcome (no retry); any other failure releases it with the checkpoint
   kept (marked not submitted) and re-raises, so the pipeline retries the event.

Where a tool can still run twice: only when the worker running it dies, or stalls without
renewing for the whole lease, after the tool started and before the checkpoint. Where saved
outputs can be submitted twice: when the holder dies or stalls for a whole lease between the
checkpoint and the completion of its submit; the API then refuses the second (Assistants) or
runhook does not resubmit (Responses).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from runhook.backends.base import PendingCalls
from runhook.calls import ToolOutput
from runhook.context import Context
from runhook.errors import RunExpired, RunMovedOn, SubmitUnknown
from runhook.events import keys
from runhook.events.envelope import Event
from runhook.events.errors import LeaseLost, RetryLater
from runhook.events.routing import Router
from runhook.events.store.lease import Lease
from runhook.events.store.records import Status
from runhook.tools.runner import run_calls

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
        ref = backend.ref(event)
        pending = backend.load(ref)
        ctx.fetched[ref.id] = pending.raw  # the lifecycle handler of this event reads it
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
            late = store.acquire(key, settings.claim_lease_s)
            if late is not None:
                late.complete(settings.completed_ttl_s, outcome="expired")
            return "expired"
    lease_s = settings.claim_lease_s
    if deadline is not None:
        lease_s = max(1.0, min(lease_s, deadline - now))
    lease = store.acquire(key, lease_s, likely_new=True)  # a redelivery is the exception
    if lease is None:
        record = store.get(key)
        if record is None or record.status is Status.COMPLETED:
            ctx.log.info("wait already answered", extra=ids)
            return "duplicate"
        retry_in = min(BUSY_RETRY_S, max(0.5, record.lease_until - now))
        raise RetryLater(
            f"another worker is answering {pending.ref.id}", after_s=retry_in, deadline=deadline
        )
    ctx.observability.claimed(lease.claim, "wait")
    with lease:
        return _answer(pending, lease, ctx, deadline, ids)


def _answer(
    pending: PendingCalls, lease: Lease, ctx: Context, deadline: float | None, ids: dict[str, Any]
) -> str:
    settings = ctx.settings
    backend = ctx.backend(pending.ref.api)
    ttl = settings.completed_ttl_s
    saved = Checkpoint.decode(lease.saved) if lease.saved else None
    if lease.taken_over:
        current = backend.load(pending.ref, deadline=deadline)
        if current.calls != pending.calls:
            lease.complete(ttl, outcome="answered_before")
            return "duplicate"
    if saved is not None and saved.submitting and not backend.resubmit_is_safe:
        ctx.log.error(
            "a worker died while submitting these outputs; not submitted again", extra=ids
        )
        lease.complete(ttl, outcome="submit_unknown")
        return "submit_unknown"
    # Synced only where a second submit after a power cut would do harm (see Store.save).
    synced = not backend.resubmit_is_safe
    if saved is None:
        outputs = run_calls(
            pending.calls,
            ctx.tools,
            deadline=deadline,
            timeout_s=settings.tool_timeout_s,
            concurrency=settings.tool_concurrency,
            executor=ctx.executor,
            clock=ctx.clock,
            observer=ctx.observer,
        )
        try:
            lease.checkpoint(Checkpoint(tuple(outputs), submitting=True).encode(), durable=synced)
        except LeaseLost:
            tools = sorted({c.name for c in pending.calls})
            ctx.log.warning(
                "lease lost before the checkpoint; outputs discarded",
                extra={**ids, "tools": ",".join(tools)},
            )
            return "lease_lost"
    else:
        ctx.log.info("submitting the outputs a previous worker saved", extra=ids)
        outputs = list(saved.outputs)
        lease.checkpoint(Checkpoint(saved.outputs, submitting=True).encode(), durable=synced)
    try:
        continuation = backend.submit(pending, outputs, deadline=deadline)
    except RunExpired:
        lease.complete(ttl, outcome="expired")
        return "expired"
    except RunMovedOn as exc:
        ctx.log.info("outputs not accepted: %s", exc, extra=ids)
        lease.complete(ttl, outcome="moved_on")
        return "moved_on"
    except SubmitUnknown as exc:
        ctx.log.error("submit outcome unknown, not retried: %s", exc, extra=ids)
        lease.complete(ttl, outcome="submit_unknown")
        return "submit_unknown"
    except BaseException:
        # The backend raises these only when the outputs were not taken: keep them for the
        # retry, marked as safe to submit again.
        lease.release(payload=Checkpoint(tuple(outputs), submitting=False).encode())
        raise
    lease.complete(ttl, outcome="submitted")
    ctx.log.info("outputs submitted", extra={**ids, "continuation": continuation})
    return "submitted"


@dataclass(frozen=True)
class Checkpoint:
    """The outputs of a wait, saved on its record before the submit.

    Attributes:
        outputs: one output per call, in the calls' order.
        submitting: True from the moment the submit may have started; False when the last
            holder knows its submit did not reach the API.
    """

    outputs: tuple[ToolOutput, ...]
    submitting: bool

    def encode(self) -> bytes:
        """JSON bytes for the wait's record."""
        body = {"outputs": [asdict(o) for o in self.outputs], "submitting": self.submitting}
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Checkpoint:
        """Read what ``encode`` wrote."""
        body = json.loads(raw)
        outputs = tuple(ToolOutput(**o) for o in body["outputs"])
        return cls(outputs, bool(body["submitting"]))
