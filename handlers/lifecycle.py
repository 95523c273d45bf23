"""Lifecycle handlers: record how each run ended, once; never retry a terminal run.

- ``thread.run.completed``: fetch the run's final assistant message and record it;
- ``thread.run.failed|expired|cancelled|incomplete``: record the reason;
- ``response.completed`` without function calls (the end of a chain of responses),
  ``response.failed|cancelled|incomplete``: the same for the Responses API;
- ``agent.session.idle|failed`` (Agents API): each ended turn of the session, keyed by turn id
  (``RunOutcome.run_id`` is the turn, ``thread_id`` the session).

Each outcome is recorded under ``run:<id>:<status>`` in the store (so a duplicate event records
nothing twice) and handed to the app's outcome hooks::

    @app.on_outcome
    def finished(outcome: RunOutcome, ctx: Context) -> None:
        print(outcome.run_id, outcome.status, outcome.message)

Plain ``@app.on("thread.run.completed")`` handlers run as well; outcome hooks fire once per run
and status, after the record is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openai.types.beta.threads import TextContentBlock

from events.envelope import Event
from events.routing import Router
from handlers.context import Context

router = Router()

TERMINAL = ("completed", "failed", "expired", "cancelled", "incomplete")


@dataclass(frozen=True)
class RunOutcome:
    """How one run (or chain of responses) ended.

    Attributes:
        api: ``assistants``, ``responses`` or ``sessions``.
        run_id: the run id, the root response id of a chain, or a session's turn id.
        status: the terminal status.
        message: the final assistant text (completed runs), else None.
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
    if not _first_time(ctx, run_id, status):
        return
    message = reason = None
    if status == "completed" and thread_id:
        message = final_message(ctx, str(thread_id), run_id)
    else:
        reason = _reason(event.data)
    _publish(ctx, RunOutcome("assistants", run_id, status, message, reason, thread_id))


@router.on("response.completed", "response.failed", "response.cancelled", "response.incomplete")
def response_ended(event: Event, ctx: Context) -> None:
    """Record the end of a chain of responses (completed without function calls)."""
    from handlers.backends.responses import function_calls, root_id

    response: Any = event.model() if not event.is_thin else None
    if response is None or not hasattr(response, "output"):
        response = ctx.openai.responses.retrieve(event.object_id)
    status = str(response.status)
    if status == "completed" and function_calls(response.output or []):
        return  # a wait, not an end: the requires_action handler answers it
    root = root_id(response)
    if not _first_time(ctx, root, status):
        return
    message = getattr(response, "output_text", None) if status == "completed" else None
    reason = None if status == "completed" else _reason(response.model_dump())
    _publish(ctx, RunOutcome("responses", root, status, message, reason))


@router.on("agent.session.idle", "agent.session.failed")
def session_turn_ended(event: Event, ctx: Context) -> None:
    """Record each ended turn of an Agents API session once (the turn is the run, the session
    its thread); a failed session also records its failure when no turn carries it."""
    from handlers.backends.sessions import ended_turns, turn_text

    session_id = event.object_id
    turns = ended_turns(ctx.openai, session_id)
    for turn in turns:
        if not _first_time(ctx, turn.id, turn.status):
            continue
        message = turn_text(ctx.openai, session_id, turn.id) if turn.status == "completed" else None
        reason = f"{turn.error.code}: {turn.error.message}" if turn.error else None
        _publish(ctx, RunOutcome("sessions", turn.id, turn.status, message, reason, session_id))
    if event.type == "agent.session.failed" and not any(t.status == "failed" for t in turns):
        if _first_time(ctx, session_id, "failed"):
            session = ctx.openai.beta.agents.sessions.retrieve(session_id)
            _publish(ctx, RunOutcome("sessions", session_id, "failed", None, session.error))


def final_message(ctx: Context, thread_id: str, run_id: str) -> str | None:
    """The text of the run's last assistant message."""
    page = ctx.openai.beta.threads.messages.list(
        thread_id=thread_id, run_id=run_id, order="desc", limit=1
    )
    for message in page.data:
        parts = [c.text.value for c in message.content if isinstance(c, TextContentBlock)]
        return "\n".join(parts)
    return None


def _first_time(ctx: Context, run_id: str, status: str) -> bool:
    claim = ctx.store.claim(f"run:{run_id}:{status}", 60.0)
    if claim is None:
        return False
    ctx.store.complete(claim, ctx.settings.completed_ttl_s, outcome=status)
    return True


def _reason(data: Any) -> str | None:
    error = (data or {}).get("last_error") or (data or {}).get("error")
    if error:
        return f"{error.get('code')}: {error.get('message')}"
    details = (data or {}).get("incomplete_details")
    if details:
        return str(details.get("reason"))
    return None


def _publish(ctx: Context, outcome: RunOutcome) -> None:
    ctx.log.info("run ended: %s", outcome.status, extra={"run_id": outcome.run_id})
    for hook in ctx.app.outcome_hooks:
        hook(outcome, ctx)
