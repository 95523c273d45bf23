"""The ``Context`` every handler receives next to the event.

A context carries the collaborators a handler may use, each given by whoever builds it (the
App, for every event it routes; a test, with its own): settings, store, tools, clock, executor,
the outcome hooks, the observability hooks, and factories for the OpenAI client and the
backends, so nothing is opened before a handler asks for it. It holds no reference to the App:
handlers depend on what they use, not on the object that wired it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runhook.backends.base import Backend
from runhook.events.config import Settings
from runhook.events.envelope import Event
from runhook.events.observability.observer import Observer, RunScope
from runhook.events.store.base import Store
from runhook.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from openai import OpenAI

#: ``hook(outcome, ctx)``, called once when a run ends (``App.on_outcome``)
OutcomeHook = Callable[[Any, "Context"], Any]


@dataclass(frozen=True)
class Context:
    """What a handler may use besides the event.

    Attributes:
        event: the event being handled.
        log: a logger adapter that carries the event's ids (never its payload).
        settings: the process settings.
        store: the store (claims, records).
        tools: the registered tools.
        clock: unix seconds (injectable).
        executor: runs tool calls (the App's ``ToolPool``); None for a bounded pool per wait.
        outcome_hooks: called once when a run ends, in order.
        observability: the process's metrics, tracing and timeline hooks.
        backend_for: the backend of an API (``assistants``, ``responses``, ``sessions``).
        openai_client: the OpenAI client, built on first call.
    """

    event: Event
    log: logging.LoggerAdapter[logging.Logger] = field(repr=False)
    settings: Settings = field(repr=False)
    store: Store = field(repr=False)
    tools: ToolRegistry = field(repr=False)
    backend_for: Callable[[str], Backend] = field(repr=False)
    openai_client: Callable[[], OpenAI] = field(repr=False)
    observability: Observer = field(repr=False)
    clock: Callable[[], float] = field(repr=False)
    executor: Executor | None = field(default=None, repr=False)
    outcome_hooks: Sequence[OutcomeHook] = field(default=(), repr=False)
    #: Objects retrieved while handling this event (by id), so the handlers of one thin
    #: event share a single retrieve. A retry builds a new Context, so it fetches afresh.
    fetched: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def openai(self) -> OpenAI:
        """The OpenAI client."""
        return self.openai_client()

    @property
    def observer(self) -> RunScope:
        """The metrics/tracing/timeline hooks of this event's run."""
        return self.observability.run(self.event)

    def backend(self, api: str | None = None) -> Backend:
        """The backend for ``api`` (default: the API the event belongs to)."""
        return self.backend_for(api or self.event.api)

    def extra(self) -> dict[str, Any]:
        """Log fields that identify the event."""
        return {"event_id": self.event.id, "event_type": self.event.type}
