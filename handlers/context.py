"""The ``Context`` every handler receives next to the event."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runhook.events.config import Settings
from runhook.events.envelope import Event
from runhook.events.observability.observer import RunScope
from runhook.events.store.base import Store

if TYPE_CHECKING:
    from openai import OpenAI

    from runhook.app import App
    from runhook.backends.base import Backend
    from runhook.tools.registry import ToolRegistry


@dataclass
class Context:
    """What a handler may use besides the event.

    Attributes:
        app: the App that routed the event.
        event: the event being handled.
        log: a logger adapter that carries the event's ids (never its payload).
    """

    app: App
    event: Event
    log: logging.LoggerAdapter[logging.Logger] = field(repr=False)

    @property
    def settings(self) -> Settings:
        """The process settings."""
        return self.app.settings

    @property
    def store(self) -> Store:
        """The store (claims, records)."""
        return self.app.store

    @property
    def tools(self) -> ToolRegistry:
        """The app's registered tools."""
        return self.app.tools

    @property
    def openai(self) -> OpenAI:
        """The app's OpenAI client."""
        return self.app.openai

    @property
    def clock(self) -> Callable[[], float]:
        """Unix seconds (injectable on the App)."""
        return self.app.clock

    @property
    def observer(self) -> RunScope:
        """The metrics/tracing/timeline hooks of this event's run (``runhook.events.observability``)."""
        return self.app.observer.run(self.event)

    def backend(self, api: str | None = None) -> Backend:
        """The backend for ``api`` (default: the API the event belongs to); its submits are
        observed when observability is on."""
        backend = self.app.backend(api or self.event.api)
        if not self.app.observer.enabled:
            return backend
        from runhook.backends.observed import ObservedBackend

        return ObservedBackend(backend, self.observer)

    def extra(self) -> dict[str, Any]:
        """Log fields that identify the event."""
        return {"event_id": self.event.id, "event_type": self.event.type}
