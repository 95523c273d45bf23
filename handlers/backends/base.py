"""The backend seam: what the requires_action handler needs from an OpenAI API.

Two verbs: ``load`` the pending tool calls of a run, and ``submit`` their outputs. The
Assistants backend reads a Run in ``requires_action``; the Responses backend reads a completed
background response whose ``function_call`` items have no output yet.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from runhook.calls import ToolCall as ToolCall
from runhook.calls import ToolOutput as ToolOutput
from runhook.errors import RunExpired as RunExpired
from runhook.errors import RunMovedOn as RunMovedOn
from runhook.errors import SubmitUnknown as SubmitUnknown
from runhook.events.envelope import Event

Api = Literal["assistants", "responses", "sessions"]


@dataclass(frozen=True)
class RunRef:
    """Names one run (Assistants) or one response (Responses)."""

    api: Api
    id: str
    thread_id: str | None = None


@dataclass(frozen=True)
class PendingCalls:
    """What a run is waiting for.

    Attributes:
        ref: the run or response.
        status: the API's status string (``requires_action``, ``completed``, ``expired``…).
        calls: the tool calls still without output (empty when nothing is pending).
        expires_at: unix seconds when the window closes, or None when the API gives none.
        tools: the tool definitions the run or response was created with (Responses needs
            them again on the follow-up request).
        raw: what it was read from, for handlers that want more: the SDK object, or (for
            an Assistants run taken from a full event) the run's JSON mapping.
    """

    ref: RunRef
    status: str
    calls: tuple[ToolCall, ...] = ()
    expires_at: float | None = None
    tools: Sequence[Any] = field(default=(), repr=False)
    raw: Any = field(default=None, repr=False, compare=False)

    @property
    def waiting(self) -> bool:
        """True when the run is waiting for outputs of ``calls``."""
        return bool(self.calls)


class Backend(ABC):
    """Load pending calls and submit outputs for one OpenAI API."""

    api: Api

    #: Whether outputs saved by a worker that died may be submitted again by the worker that
    #: takes its wait over, although the dead worker may have submitted them already. True
    #: where the API itself refuses or ignores a second answer (Assistants answers 400 once
    #: the run moved on); False where a second submit would continue the run twice (the
    #: Responses API forks the chain): such a takeover records ``submit_unknown`` instead.
    resubmit_is_safe: bool = True

    @abstractmethod
    def ref(self, event: Event) -> RunRef:
        """The run or response an event is about."""

    @abstractmethod
    def from_event(self, event: Event) -> PendingCalls | None:
        """Pending calls read from a full event payload without IO; None for a thin payload."""

    @abstractmethod
    def load(self, ref: RunRef, *, deadline: float | None = None) -> PendingCalls:
        """Read the run's current state from the API."""

    @abstractmethod
    def submit(
        self,
        pending: PendingCalls,
        outputs: Sequence[ToolOutput],
        *,
        deadline: float | None = None,
    ) -> str | None:
        """Hand the outputs back in one call.

        Returns:
            The id of the continuation when the API creates a new object for it (the
            follow-up response of the Responses API), else None.

        Raises:
            RunExpired: the window closed.
            RunMovedOn: the API no longer accepts outputs for these calls.
        """


class WrappedBackend(Backend):
    """A backend that passes everything to ``inner``; subclasses override what they add to
    (the observer's submit spans, the demo's submit lines). ``resubmit_is_safe`` is the inner
    backend's: a wrapper must never make a takeover resubmit where the API would fork."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.api = inner.api
        self.resubmit_is_safe = inner.resubmit_is_safe

    def ref(self, event: Event) -> RunRef:
        return self.inner.ref(event)

    def from_event(self, event: Event) -> PendingCalls | None:
        return self.inner.from_event(event)

    def load(self, ref: RunRef, *, deadline: float | None = None) -> PendingCalls:
        return self.inner.load(ref, deadline=deadline)

    def submit(
        self,
        pending: PendingCalls,
        outputs: Sequence[ToolOutput],
        *,
        deadline: float | None = None,
    ) -> str | None:
        return self.inner.submit(pending, outputs, deadline=deadline)
