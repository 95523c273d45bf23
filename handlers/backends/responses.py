"""The Responses API backend.

In the Responses API nothing pauses: a background response simply *completes* with one or more
``function_call`` items in its ``output``, and OpenAI announces that with a signed
``response.completed`` webhook (thin payload: ``data.id`` only). That is this world's
``requires_action``:

- ``load``: ``responses.retrieve(id)``; the ``function_call`` items of a completed response are
  the pending calls (a response's own output never holds their outputs, which go into the next
  request);
- ``submit``: ``responses.create(previous_response_id=id, input=[function_call_output…],
  background=True)`` carrying every setting of the answered response over (model, tools,
  instructions, text format, reasoning, … see ``follow_up``: nothing is inherited through
  ``previous_response_id``); a response in a ``conversation`` is continued with
  ``conversation=<id>`` instead. The create is sent through the SDK client's own ``post``
  (its HTTP client, base URL, auth, timeout and error mapping) with the body as JSON, without
  the typed call's parameter transform and without parsing the new Response, of which only the
  id is read: about 10 ms of CPU per follow-up measured in-process (the arguments, every
  carried setting and tool definition, are already plain JSON).

The API does not refuse a second follow-up to the same response (it would fork the
conversation), so exactly-once rests entirely on the wait-key claim the handler takes first,
and the follow-up is retried only after errors that prove nothing was created (429, a
connection never made). After an ambiguous failure (a timeout, a dropped connection, a 5xx)
a retry could fork the chain and run its tools twice, and the API offers no idempotency key
nor a way to find follow-ups, so the submit ends as ``SubmitUnknown``: recorded on the wait
key and logged as an error, never retried.
The chain of responses is one logical run: every follow-up carries
``metadata["runhook_root"]``, the id of the first response of the chain.

Responses have no ``expires_at``. A background response that was not stored is kept "for
roughly 10 minutes"; when the previous response is gone the API answers 404, which ends the
work as ``RunExpired``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import httpx2

from runhook.backends.base import Backend, PendingCalls, RunRef
from runhook.backends.follow_up import carried_settings, conversation_of
from runhook.backends.retry import not_processed, request_timeout, with_retries
from runhook.calls import ToolCall, ToolOutput
from runhook.errors import RunExpired, SubmitUnknown
from runhook.events.config import Settings
from runhook.events.envelope import Event
from runhook.events.errors import StreamDropped
from runhook.events.tokens import is_token

if TYPE_CHECKING:
    from openai import OpenAI
    from openai.types.responses import Response

Continuation = Callable[["OpenAI", dict[str, Any]], str]
"""Creates the follow-up as a stream and relays its events: ``(client, create_kwargs) -> id``."""

ROOT_KEY = "runhook_root"
"""Metadata key carrying the id of the first response of a chain (the logical run)."""


def root_id(response: Any) -> str:
    """The logical run id of a response: its chain's first response id."""
    metadata = getattr(response, "metadata", None) or {}
    return str(metadata.get(ROOT_KEY) or response.id)


class ResponsesBackend(Backend):
    """Load and continue background responses.

    Args:
        client: the OpenAI client.
        settings: process settings.
        continuation: optional stream relay the follow-up is created through (stream
            continuation: the follow-up's events are relayed as it runs).
        on_follow_up: told ``(previous_id, follow_up_id)`` once a follow-up exists (the app
            uses it to keep a watched chain watched).
        clock: unix seconds, injectable for tests.
    """

    api = "responses"
    # A follow-up create has no idempotency key: submitting saved outputs again after a
    # takeover could fork the chain, so a takeover after the checkpoint records
    # submit_unknown (see runhook.requires_action).
    resubmit_is_safe = False

    def __init__(
        self,
        client: OpenAI,
        settings: Settings,
        *,
        continuation: Continuation | None = None,
        on_follow_up: Callable[[str, str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.on_follow_up = on_follow_up
        self.client = client.with_options(max_retries=0)  # retries here know the rules below
        # The SDK imports its resources on first use: here, while the process warms up
        # (``runtime.warm_up`` builds the backends), not at the first event.
        self._responses = self.client.responses
        self.settings = settings
        self.continuation = continuation
        self.clock = clock

    def _timeout(self, deadline: float | None) -> float:
        return request_timeout(deadline, self.settings.openai_timeout_s, self.clock)

    def ref(self, event: Event) -> RunRef:
        """The response an event is about."""
        return RunRef(api="responses", id=event.object_id)

    def from_event(self, event: Event) -> PendingCalls | None:
        """Pending calls from a full ``response.*`` payload; None for a thin one."""
        if event.is_thin:
            return None
        return self.pending_of(event.model())

    def load(self, ref: RunRef, *, deadline: float | None = None) -> PendingCalls:
        """Retrieve the response and list its function calls."""
        from openai import NotFoundError

        try:
            response = with_retries(
                lambda: self._responses.retrieve(ref.id, timeout=self._timeout(deadline)),
                deadline=deadline,
                what=f"retrieve {ref.id}",
                clock=self.clock,
            )
        except NotFoundError as exc:
            raise RunExpired(f"response {ref.id} is no longer available: {exc.message}") from exc
        return self.pending_of(response)

    def pending_of(self, response: Response) -> PendingCalls:
        """Build ``PendingCalls`` from a Response object."""
        calls: tuple[ToolCall, ...] = ()
        if response.status == "completed":
            calls = function_calls(response.output or [])
        tools = [_plain(tool) for tool in (response.tools or [])]
        return PendingCalls(
            ref=RunRef(api="responses", id=response.id),
            status=str(response.status) if is_token(response.status) else "invalid",
            calls=calls,
            expires_at=None,
            tools=tools,
            raw=response,
        )

    def submit(
        self,
        pending: PendingCalls,
        outputs: Sequence[ToolOutput],
        *,
        deadline: float | None = None,
    ) -> str | None:
        """Create the follow-up background response; return its id.

        Raises:
            RunExpired: the previous response is gone (not stored, retention passed).
            SubmitUnknown: the create failed without saying whether a follow-up exists.
        """
        from openai import APIConnectionError, APIStatusError, NotFoundError

        previous = pending.raw
        metadata = dict(getattr(previous, "metadata", None) or {})
        metadata[ROOT_KEY] = root_id(previous) if previous is not None else pending.ref.id
        kwargs: dict[str, Any] = carried_settings(previous) if previous is not None else {}
        if pending.tools:
            kwargs["tools"] = list(pending.tools)
        conversation = conversation_of(previous)
        kwargs.update(
            input=[
                {"type": "function_call_output", "call_id": o.tool_call_id, "output": o.output}
                for o in outputs
            ],
            background=True,
            metadata=metadata,
        )
        if conversation is not None:
            kwargs["conversation"] = conversation  # continued in it, as the API continues there
        else:
            kwargs["previous_response_id"] = pending.ref.id
        continuation = self.continuation

        def create() -> str:
            if continuation is not None:
                return continuation(self.client, kwargs)
            created = self.client.post(
                "/responses",
                body=kwargs,
                cast_to=httpx2.Response,  # only the id is read: no Response model built
                options={"timeout": self._timeout(deadline), "security": {"bearer_auth": True}},
            )
            return str(created.json()["id"])

        try:
            follow_up = with_retries(
                create,
                deadline=deadline,
                what=f"follow-up of {pending.ref.id}",
                retry_if=not_processed,
                clock=self.clock,
            )
        except NotFoundError as exc:
            raise RunExpired(
                f"response {pending.ref.id} is no longer available: {exc.message}"
            ) from exc
        except (APIStatusError, APIConnectionError) as exc:
            if not_processed(exc) or (
                isinstance(exc, APIStatusError) and exc.status_code < 500 and exc.status_code != 408
            ):
                raise  # refused: nothing was created, a later retry is safe
            raise SubmitUnknown(
                f"creating the follow-up of {pending.ref.id} failed ({type(exc).__name__}: "
                f"{exc}); it may or may not exist, so it is not retried"
            ) from exc
        except StreamDropped as exc:
            raise SubmitUnknown(
                f"the streamed follow-up of {pending.ref.id} dropped ({exc}); it may or may not "
                "exist, so it is not retried"
            ) from exc
        if self.on_follow_up is not None:
            self.on_follow_up(pending.ref.id, follow_up)
        return follow_up


def function_calls(output: Sequence[Any]) -> tuple[ToolCall, ...]:
    """The ``function_call`` items of a response's output, as ``ToolCall``s."""
    return tuple(
        ToolCall(id=str(item.call_id), name=str(item.name), arguments=str(item.arguments))
        for item in output
        if getattr(item, "type", None) == "function_call"
    )


def _plain(tool: Any) -> Any:
    dump = getattr(tool, "model_dump", None)
    return dump(exclude_none=True) if callable(dump) else tool
