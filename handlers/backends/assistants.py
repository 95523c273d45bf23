"""The Assistants API backend: runs that stop in ``requires_action``.

- ``load``: ``beta.threads.runs.retrieve``; the run's
  ``required_action.submit_tool_outputs.tool_calls`` are the pending calls.
- ``submit``: ``POST /threads/{thread_id}/runs/{run_id}/submit_tool_outputs`` with every output in
  one request, sent through the SDK client's own ``post`` (its HTTP client, base URL, auth,
  timeout and error mapping: a 4xx/5xx raises the same ``openai.APIStatusError`` subclasses as
  ``beta.threads.runs.submit_tool_outputs``) but without the typed call's parameter transform
  and without parsing the answered Run into SDK models, which nothing here reads (about a third
  of a wait's CPU in the server). When a stream relay is attached (``continuation``),
  ``submit_tool_outputs_stream`` instead, so the continuation's events flow into the pipeline
  like the first segment's.

A 400 ``Runs in status "<s>" do not accept tool outputs.`` means the run moved on: the SDK may
have retried a submit whose first response was lost, someone else submitted, or the run was
cancelled or expired. The run is re-read to tell those apart; nothing is retried.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx2
import openai

from runhook.backends.base import Backend, PendingCalls, RunRef
from runhook.backends.retry import request_timeout, with_retries
from runhook.calls import ToolCall, ToolOutput
from runhook.errors import RunExpired, RunMovedOn
from runhook.events.config import Settings
from runhook.events.envelope import Event
from runhook.events.tokens import is_token

if TYPE_CHECKING:
    from openai import OpenAI

Continuation = Callable[["OpenAI", PendingCalls, list[dict[str, str]]], None]
"""Submits through a stream and relays its events: ``(client, pending, tool_outputs)``."""

NOT_ACCEPTING = "do not accept tool outputs"

#: what ``beta.threads.runs.submit_tool_outputs`` sends besides the body (Assistants v2)
BETA_HEADERS = {"OpenAI-Beta": "assistants=v2"}


def pending_of(run: Any) -> PendingCalls:
    """``PendingCalls`` of an SDK Run object (or a constructed one), or of a Run's JSON payload
    (a mapping, as a full event carries it: read as it is, without building SDK models)."""
    if isinstance(run, Mapping):
        return _pending_of_payload(run)
    calls: tuple[ToolCall, ...] = ()
    action = getattr(run, "required_action", None)
    if run.status == "requires_action" and action is not None:
        calls = tuple(
            ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments)
            for c in action.submit_tool_outputs.tool_calls
        )
    return PendingCalls(
        ref=RunRef(api="assistants", id=run.id, thread_id=run.thread_id),
        status=run.status if is_token(run.status) else "invalid",
        calls=calls,
        expires_at=_unix(run.expires_at),
        tools=[t.model_dump() if hasattr(t, "model_dump") else t for t in (run.tools or [])],
        raw=run,
    )


def _pending_of_payload(run: Mapping[str, Any]) -> PendingCalls:
    """``pending_of`` for a Run as JSON; ``raw`` is the mapping itself."""
    thread = run.get("thread_id")
    status = str(run.get("status")) if is_token(run.get("status")) else "invalid"
    calls: tuple[ToolCall, ...] = ()
    action = run.get("required_action")
    if status == "requires_action" and action is not None:
        calls = tuple(
            ToolCall(id=c["id"], name=c["function"]["name"], arguments=c["function"]["arguments"])
            for c in action["submit_tool_outputs"]["tool_calls"]
        )
    return PendingCalls(
        ref=RunRef(
            api="assistants", id=str(run["id"]), thread_id=None if thread is None else str(thread)
        ),
        status=status,
        calls=calls,
        expires_at=_unix(run.get("expires_at")),
        tools=list(run.get("tools") or []),
        raw=run,
    )


def _unix(value: object) -> float | None:
    """``expires_at`` as unix seconds; None when absent or not a finite number (a hostile
    payload's value is never echoed, not even in a traceback)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value:
        return None
    return float(value) if math.isfinite(value) else None


class AssistantsBackend(Backend):
    """Load and answer Assistants runs.

    Args:
        client: the OpenAI client (its own retries are bypassed; ours know the deadline).
        settings: process settings.
        continuation: optional stream relay used to submit (see module docstring).
        clock: unix seconds.
    """

    api = "assistants"

    def __init__(
        self,
        client: OpenAI,
        settings: Settings,
        *,
        continuation: Continuation | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client.with_options(max_retries=0)
        # The SDK imports its beta resources on first use (0.2-0.5 s of CPU): here, while the
        # process warms up (``runtime.warm_up`` builds the backends), not at the first event.
        self._runs = self.client.beta.threads.runs
        self.settings = settings
        self.continuation = continuation
        self.clock = clock

    def ref(self, event: Event) -> RunRef:
        """The run an event is about (``thread.run.*``: the run; steps: their ``run_id``)."""
        data = event.data
        run_id = (
            str(data.get("run_id") or data["id"])
            if event.type.startswith("thread.run.step")
            else event.object_id
        )
        return RunRef(api="assistants", id=run_id, thread_id=data.get("thread_id"))

    def from_event(self, event: Event) -> PendingCalls | None:
        """Pending calls of a full ``thread.run.*`` payload (read from the JSON, no SDK models
        built; ``raw`` is the payload's mapping); None for a thin one."""
        if event.is_thin or not event.type.startswith("thread.run.") or "status" not in event.data:
            return None
        return pending_of(event.data)

    def load(self, ref: RunRef, *, deadline: float | None = None) -> PendingCalls:
        """Retrieve the run (retrying transient errors inside the deadline)."""
        if ref.thread_id is None:
            raise ValueError(f"run {ref.id}: a thread id is needed to retrieve it")
        thread_id = ref.thread_id
        run = with_retries(
            lambda: self._runs.retrieve(
                ref.id, thread_id=thread_id, timeout=self._timeout(deadline)
            ),
            deadline=deadline,
            what=f"retrieve {ref.id}",
            clock=self.clock,
        )
        return pending_of(run)

    def _timeout(self, deadline: float | None) -> float:
        return request_timeout(deadline, self.settings.openai_timeout_s, self.clock)

    def submit(
        self,
        pending: PendingCalls,
        outputs: Sequence[ToolOutput],
        *,
        deadline: float | None = None,
    ) -> str | None:
        """Submit every output in one request.

        Raises:
            RunExpired: the run expired before the outputs were accepted.
            RunMovedOn: the run no longer waits for these calls.
        """
        ref = pending.ref
        assert ref.thread_id is not None
        thread_id = ref.thread_id
        tool_outputs = [{"tool_call_id": o.tool_call_id, "output": o.output} for o in outputs]

        def send() -> None:
            if self.continuation is not None:
                self.continuation(self.client, pending, tool_outputs)
            else:
                self.client.post(
                    f"/threads/{quote(thread_id, safe='')}/runs/{quote(ref.id, safe='')}"
                    "/submit_tool_outputs",
                    body={"tool_outputs": tool_outputs},
                    cast_to=httpx2.Response,  # not parsed: nothing reads the answered Run
                    options={
                        "headers": BETA_HEADERS,
                        "timeout": self._timeout(deadline),
                        "security": {"bearer_auth": True},
                    },
                )

        try:
            with_retries(send, deadline=deadline, what=f"submit {ref.id}", clock=self.clock)
        except openai.BadRequestError as exc:
            if NOT_ACCEPTING not in str(exc.message):
                raise
            self._explain_refusal(pending, str(exc.message), deadline)
        except openai.APIError:
            # The response may have been lost after the server took the outputs: re-read,
            # inside the same deadline (past it, one attempt and no sleep).
            current = self.load(ref, deadline=deadline)
            if current.calls == pending.calls:
                raise
            if current.status == "expired":
                raise RunExpired(f"run {ref.id} expired") from None
        return None

    def _explain_refusal(self, pending: PendingCalls, message: str, deadline: float | None) -> None:
        current = self.load(pending.ref, deadline=deadline)
        if current.status == "expired":
            raise RunExpired(f"run {pending.ref.id} expired: {message}")
        if current.status == "requires_action" and current.calls == pending.calls:
            raise RunMovedOn(f"run {pending.ref.id} refused the outputs: {message}")
        raise RunMovedOn(f"run {pending.ref.id} moved on ({current.status}): {message}")
