"""The Agents API sessions backend: sessions that wait in ``requires_action``.

- ``load``: ``beta.agents.sessions.retrieve``; the ``function_call`` entries of the session's
  ``required_actions`` are the pending calls (the ``agent.session.action_required`` webhook is
  thin, and a ``function_call`` item in the history does not say whether it still waits).
- ``submit``: one ``agent.session.input.tool_result`` event per call, all in one
  ``POST …/events`` under an ``Idempotency-Key`` derived from the wait (session, turn, call
  ids): a retried, duplicated or taken-over submit sends the same key and body again, which the
  API answers 202 without applying it twice. One batch, not one post per call: between two
  per-call posts the session would list only the calls still open, and a duplicate delivery
  read in that window would look like a new wait (another wait key) and run those tools
  again. When the batch is refused because a call is answered or gone (409 from another
  writer's result, or a call still unknown after the race retries), each call is posted alone
  under its own key, so the others are still answered.

Call ids repeat across turns, so a ``ToolCall.id`` here is the qualified ``<turn_id>/<call_id>``
(``qualify``/``split``): the wait key the handler builds from the call ids then includes the
turn, and the idempotency keys do too.

Answers:

- 202: applied (or a replay of our own key: applied before);
- 400 ``Unknown pending tool call: <call_id>``: the registration race, retried as the SDK does
  (0.1 s, 0.3 s, 0.6 s, same key); still unknown after that, the call is no longer pending
  (the turn ended or was cancelled);
- 409: a call already has a result (another writer answered it), or ``idempotency_conflict``:
  this wait was answered before with other outputs (moved on);
- 408, 429, 5xx and connection errors: retried with backoff under the same key (safe: the key
  makes the POST idempotent), inside the deadline.

When no call was applied because every one was answered or gone, the submit raises
``RunMovedOn``. A deleted session (404) is ``RunExpired``.

Tool errors (the runner's ``{"error": {"type", "tool", "message"}}`` outputs) are sent as
``success: false`` with an ``error`` the model can act on. The text of an unexpected exception
may carry secrets, so, as the SDK does, it is not sent: such a call reads "the tool failed
unexpectedly" (the exception is in runhook's log).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import openai

from runhook.backends.base import Backend, PendingCalls, RunRef
from runhook.backends.retry import retryable, with_retries
from runhook.calls import ToolCall, ToolOutput
from runhook.errors import RunExpired, RunMovedOn
from runhook.events.config import Settings
from runhook.events.envelope import Event

if TYPE_CHECKING:
    from openai import OpenAI

RACE_DELAYS_S = (0.1, 0.3, 0.6)
"""The SDK's own delays between attempts while a result meets the registration race."""

RUNNER_ERRORS = frozenset(
    {"unknown_tool", "invalid_json", "invalid_arguments", "tool_error", "timeout"}
)
_EXCEPTION_TEXT = re.compile(r"^[A-Z]\w*(Error|Exception|Exit|Interrupt|Warning|Failure): ")


def qualify(turn_id: str, call_id: str) -> str:
    """The ``ToolCall.id`` of a session call: unique across the session's turns."""
    return f"{turn_id}/{call_id}"


def split(tool_call_id: str) -> tuple[str, str]:
    """``(turn_id, call_id)`` of a qualified ``ToolCall.id``."""
    turn_id, _, call_id = tool_call_id.rpartition("/")
    return turn_id, call_id


def idempotency_key(session_id: str, *tool_call_ids: str) -> str:
    """The deterministic ``Idempotency-Key`` of a wait's results: session, turn and the sorted
    call ids (one id: that call's own key; the key of a one-call wait is the same)."""
    ids = ",".join(sorted(tool_call_ids))
    digest = hashlib.sha256(f"{session_id}/{ids}".encode()).hexdigest()[:48]
    return f"runhook-{digest}"


def pending_of(session: Any) -> PendingCalls:
    """``PendingCalls`` of an SDK ``AgentSession`` (or a constructed one)."""
    calls: tuple[ToolCall, ...] = ()
    if session.status == "requires_action":
        calls = tuple(
            ToolCall(id=qualify(a.turn_id, a.call_id), name=a.name, arguments=_json(a.arguments))
            for a in (session.required_actions or [])
            if getattr(a, "type", None) == "function_call"
        )
    agent = getattr(session, "agent", None)
    tools = getattr(agent, "tools", None) or []
    return PendingCalls(
        ref=RunRef(api="sessions", id=str(session.id)),
        status=str(session.status),
        calls=calls,
        expires_at=None,  # no deadline is documented for a pending function call
        tools=[t.model_dump() if hasattr(t, "model_dump") else t for t in tools],
        raw=session,
    )


def tool_result(tool_call_id: str, output: str) -> dict[str, Any]:
    """The ``agent.session.input.tool_result`` event for one output."""
    turn_id, call_id = split(tool_call_id)
    event: dict[str, Any] = {
        "type": "agent.session.input.tool_result",
        "turn_id": turn_id,
        "call_id": call_id,
    }
    error = runner_error(output)
    if error is None:
        event.update(success=True, output=output)
    else:
        event.update(success=False, error=error)
    return event


def runner_error(output: str) -> str | None:
    """The model-facing error text when ``output`` is one of the runner's error outputs."""
    try:
        value = json.loads(output)
    except (TypeError, ValueError):
        return None
    if not isinstance(value, dict) or set(value) != {"error"}:
        return None
    error = value["error"]
    if not isinstance(error, dict) or error.get("type") not in RUNNER_ERRORS:
        return None
    kind, tool, message = error["type"], error.get("tool"), str(error.get("message", ""))
    if kind == "tool_error" and _EXCEPTION_TEXT.match(message):
        return f"The tool {tool} failed unexpectedly. Try again later or continue without it."
    return f"The tool {tool} failed ({kind}): {message}"


def _json(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def is_race(exc: BaseException, call_id: str) -> bool:
    """True for the registration-race 400 of ``call_id`` (the SDK's exact test)."""
    if not isinstance(exc, openai.BadRequestError):
        return False
    body = exc.body if isinstance(exc.body, dict) else {}
    return bool(
        body.get("code") == "invalid_request_error"
        and body.get("message") == f"Unknown pending tool call: {call_id}"
    )


def _transient(exc: BaseException) -> bool:
    # 409 means the call already has another result: final, not worth another attempt.
    return retryable(exc) and not isinstance(exc, openai.ConflictError)


class SessionsBackend(Backend):
    """Load and answer Agents API sessions.

    Args:
        client: the OpenAI client.
        settings: process settings.
        clock: unix seconds, injectable for tests.
        sleep: the pause between race retries, injectable for tests.
    """

    api = "sessions"

    def __init__(
        self,
        client: OpenAI,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client.with_options(max_retries=0)  # retries here know the rules above
        self.settings = settings
        self.clock = clock
        self.sleep = sleep

    def ref(self, event: Event) -> RunRef:
        """The session an event is about."""
        return RunRef(api="sessions", id=event.object_id)

    def from_event(self, event: Event) -> PendingCalls | None:
        """Pending calls from a full session snapshot (the stream's
        ``agent.session.requires_action``); None for the thin webhook."""
        if "required_actions" not in event.data or "status" not in event.data:
            return None
        return pending_of(event.model())

    def load(self, ref: RunRef, *, deadline: float | None = None) -> PendingCalls:
        """Retrieve the session and list its pending function calls.

        Raises:
            RunExpired: the session is gone (deleted).
        """
        try:
            session = with_retries(
                lambda: self.client.beta.agents.sessions.retrieve(ref.id),
                deadline=deadline,
                what=f"retrieve {ref.id}",
                clock=self.clock,
            )
        except openai.NotFoundError as exc:
            raise RunExpired(f"session {ref.id} is gone: {exc.message}") from exc
        return pending_of(session)

    def submit(
        self,
        pending: PendingCalls,
        outputs: Sequence[ToolOutput],
        *,
        deadline: float | None = None,
    ) -> str | None:
        """Post every result in one batch under the wait's key; fall back to one post per
        call when the batch is refused because some call is answered or gone.

        Raises:
            RunMovedOn: no output was applied: every call was answered already or is gone.
            RunExpired: the session is gone.
        """
        session_id = pending.ref.id
        if not outputs:
            return None
        events = [tool_result(o.tool_call_id, o.output) for o in outputs]
        key = idempotency_key(session_id, *(o.tool_call_id for o in outputs))
        try:
            if self._post(session_id, events, key, deadline):
                return None
            # a call stayed unknown through the race retries: it is answered or gone
        except openai.ConflictError as exc:
            if _code(exc) == "idempotency_conflict":
                raise RunMovedOn(f"session {session_id} answered this wait before") from exc
            # a call already has another result (someone else answered it)
        if len(outputs) == 1:
            raise RunMovedOn(f"session {session_id} no longer waits for {events[0]['call_id']}")
        refused = [
            event["call_id"]
            for event, output in zip(events, outputs, strict=True)
            if not self._post_one(session_id, event, output.tool_call_id, deadline)
        ]
        if len(refused) == len(outputs):
            raise RunMovedOn(f"session {session_id} no longer waits for {', '.join(refused)}")
        return None

    def _post_one(
        self, session_id: str, event: dict[str, Any], tool_call_id: str, deadline: float | None
    ) -> bool:
        """Post one call's result under its own key; False when it is answered or gone."""
        try:
            return self._post(
                session_id, [event], idempotency_key(session_id, tool_call_id), deadline
            )
        except openai.ConflictError:
            return False

    def _post(
        self, session_id: str, events: list[dict[str, Any]], key: str, deadline: float | None
    ) -> bool:
        """Post ``events`` under ``key``; True when taken, False when a call stayed unknown
        through the race retries.

        Raises:
            openai.ConflictError: a call already has another result, or the key was used with
                other outputs.
            RunExpired: the session is gone.
        """
        call_ids = [str(e["call_id"]) for e in events]
        for delay in (*RACE_DELAYS_S, None):
            try:
                with_retries(
                    lambda: self.client.beta.agents.sessions.events.create(
                        session_id,
                        events=events,  # type: ignore[arg-type]
                        idempotency_key=key,
                    ),
                    deadline=deadline,
                    what=f"{len(events)} tool_result(s) of {session_id}",
                    retry_if=_transient,
                    clock=self.clock,
                )
                return True
            except openai.NotFoundError as exc:
                raise RunExpired(f"session {session_id} is gone: {exc.message}") from exc
            except openai.BadRequestError as exc:
                if not any(is_race(exc, call_id) for call_id in call_ids):
                    raise
                if delay is None:
                    return False
                self.sleep(delay)
        return False  # pragma: no cover - the loop always returns


def _code(exc: openai.APIStatusError) -> str | None:
    body = exc.body if isinstance(exc.body, dict) else {}
    code = body.get("code")
    return None if code is None else str(code)


TURN_TERMINAL = ("completed", "failed", "cancelled")
"""Turn statuses that end a turn (the session itself only ends ``failed``)."""


def ended_turns(client: OpenAI, session_id: str, *, recent: int = 5) -> list[Any]:
    """The session's most recent root turns that have ended, oldest first."""
    page = client.beta.agents.sessions.turns.list(session_id, order="desc", limit=recent)
    return [t for t in reversed(page.data) if t.status in TURN_TERMINAL]


def turn_text(client: OpenAI, session_id: str, turn_id: str) -> str | None:
    """The final assistant text of one turn (its last non-commentary assistant message)."""
    page = client.beta.agents.sessions.turns.items.list(
        turn_id, session_id=session_id, order="desc", limit=20
    )
    for item in page.data:
        if getattr(item, "type", None) != "message" or getattr(item, "role", None) != "assistant":
            continue
        if getattr(item, "phase", None) == "commentary":
            continue
        parts = [getattr(c, "text", None) for c in item.content or []]  # type: ignore[union-attr]
        return "".join(p for p in parts if isinstance(p, str))
    return None
