"""Lifecycle handlers: record how each run ended, once; never retry a terminal run.

- ``thread.run.completed``: record it, with the run's final assistant message;
- ``thread.run.failed|expired|cancelled|incomplete``: record the reason;
- ``response.completed`` without function calls (the end of a chain of responses),
  ``response.failed|cancelled|incomplete``: the same for the Responses API;
- ``agent.session.idle|failed`` (Agents API): each ended turn of the session, keyed by turn id
  (``RunOutcome.run_id`` is the turn, ``thread_id`` the session).

Each outcome is recorded under ``run:<id>:<status>`` in the store, held as a lease while its
work is done (the final message fetched, the hooks called) and completed only after it, so a
duplicate event records nothing twice and a failure retries. The outcome is handed to the
app's outcome hooks, the only readers of its message: with no hook registered the message is
not fetched (a completed run then costs no API request here; a session's turns are still
listed, to know which ended)::

    @app.on_outcome
    def finished(outcome: RunOutcome, ctx: Context) -> None:
        print(outcome.run_id, outcome.status, outcome.message)

Plain ``@app.on("thread.run.completed")`` handlers run as well. Outcome hooks fire once per run
and status: a hook that raises makes the event retry, and the retry calls that hook and those
after it again, not those that already succeeded (the outcome and how many hooks ran are saved
on the record). Only a worker that dies in the middle of the hooks leaves them to be called
again from the first.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from openai.types.beta.threads import TextContentBlock

from runhook.backends.responses import function_calls, root_id
from runhook.backends.sessions import ended_turns, turn_text
from runhook.context import Context
from runhook.events.envelope import Event
from runhook.events.errors import RetryLater
from runhook.events.routing import Router
from runhook.events.store.records import Status
from runhook.events.tokens import shown

router = Router()

TERMINAL = ("completed", "failed", "expired", "cancelled", "incomplete")


@dataclass(frozen=True)
class RunOutcome:
    """How one run (or chain of responses) ended.

    Attributes:
        api: ``assistants``, ``responses`` or ``sessions``.
        run_id: the run id, the root response id of a chain, or a session's turn id.
        status: the terminal status.
        message: the final assistant text (completed runs and turns; fetched for the outcome
            hooks, so None where there are none), else None.
        reason: ``last_error``/``incomplete_details`` summary, else None.
        thread_id: the thread (Assistants) or the session (sessions).
    """

    api: str
    run_id: str
    status: str
    message: str | None = None
    reason: str | None = None
    thread_id: str | None = None


@router.on(*(f"thread.run.{s}" for s in TERMINAL))
def run_ended(event: Event, ctx: Context) -> None:
    """Record a terminal Assistants run once."""
    status = event.type.rsplit(".", 1)[1]
    run_id = str(event.data.get("id"))
    thread_id = event.data.get("thread_id")

    def outcome() -> RunOutcome:
        message = reason = None
        if status != "completed":
            reason = _reason(event.data)
        elif thread_id and ctx.outcome_hooks:
            message = final_message(ctx, str(thread_id), run_id)
        return RunOutcome("assistants", run_id, status, message, reason, thread_id)

    record_once(ctx, run_id, status, outcome)


@router.on("response.completed", "response.failed", "response.cancelled", "response.incomplete")
def response_ended(event: Event, ctx: Context) -> None:
    """Record the end of a chain of responses (completed without function calls)."""
    response: Any = event.model() if not event.is_thin else None
    if response is None or not hasattr(response, "output"):
        response = ctx.fetched.get(event.object_id)
        if response is None:
            response = ctx.openai.responses.retrieve(event.object_id)
            ctx.fetched[event.object_id] = response
    status = str(response.status)
    if status == "completed" and function_calls(response.output or []):
        return  # a wait, not an end: the requires_action handler answers it
    root = root_id(response)
    message = getattr(response, "output_text", None) if status == "completed" else None
    reason = None if status == "completed" else _reason(response.model_dump())
    record_once(ctx, root, status, lambda: RunOutcome("responses", root, status, message, reason))


def record_once(ctx: Context, run_id: str, status: str, build: Callable[[], RunOutcome]) -> bool:
    """Build the outcome of ``run_id`` ending in ``status`` and hand it to the hooks, once.

    Returns False when it was recorded before. Raises ``RetryLater`` while another worker is
    recording it, and whatever ``build`` or a hook raised (the event is then retried).
    """
    key = f"run:{run_id}:{status}"
    lease = ctx.store.acquire(key, ctx.settings.claim_lease_s, likely_new=True)
    if lease is None:
        record = ctx.store.get(key)
        if record is None or record.status is Status.COMPLETED:
            return False
        raise RetryLater(f"another worker is recording {run_id} {status}", after_s=1.0)
    with lease:
        saved = json.loads(lease.saved) if lease.saved else None
        if saved is None:
            outcome, done = build(), 0
        else:
            outcome, done = RunOutcome(**saved["outcome"]), int(saved["hooks"])
        ctx.log.info(
            "run ended: %s", shown(outcome.status), extra={"run_id": shown(outcome.run_id, 256)}
        )
        hooks = ctx.outcome_hooks
        for i in range(done, len(hooks)):
            try:
                hooks[i](outcome, ctx)
            except BaseException:
                state = {"outcome": asdict(outcome), "hooks": i}
                lease.release(payload=json.dumps(state).encode())
                raise
        lease.complete(ctx.settings.completed_ttl_s, outcome=status)
    return True


@router.on("agent.session.idle", "agent.session.failed")
def session_turn_ended(event: Event, ctx: Context) -> None:
    """Record each ended turn of an Agents API session once (the turn is the run, the session
    its thread); a failed session also records its failure when no turn carries it."""
    session_id = event.object_id
    turns = ended_turns(ctx.openai, session_id)
    for turn in turns:

        def outcome(turn: Any = turn) -> RunOutcome:
            completed = turn.status == "completed"
            wanted = completed and bool(ctx.outcome_hooks)
            message = turn_text(ctx.openai, session_id, turn.id) if wanted else None
            reason = f"{turn.error.code}: {turn.error.message}" if turn.error else None
            return RunOutcome("sessions", turn.id, turn.status, message, reason, session_id)

        record_once(ctx, turn.id, turn.status, outcome)
    if event.type == "agent.session.failed" and not any(t.status == "failed" for t in turns):

        def failure() -> RunOutcome:
            session = ctx.openai.beta.agents.sessions.retrieve(session_id)
            return RunOutcome("sessions", session_id, "failed", None, session.error)

        record_once(ctx, session_id, "failed", failure)


def final_message(ctx: Context, thread_id: str, run_id: str) -> str | None:
    """The text of the run's last assistant message."""
    page = ctx.openai.beta.threads.messages.list(
        thread_id=thread_id, run_id=run_id, order="desc", limit=1
    )
    for message in page.data:
        parts = [c.text.value for c in message.content if isinstance(c, TextContentBlock)]
        return "\n".join(parts)
    return None


def _reason(data: Any) -> str | None:
    error = (data or {}).get("last_error") or (data or {}).get("error")
    if error:
        return f"{error.get('code')}: {error.get('message')}"
    details = (data or {}).get("incomplete_details")
    if details:
        return str(details.get("reason"))
    return None
