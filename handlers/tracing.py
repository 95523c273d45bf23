"""A span per handler, when tracing is on (``App.match`` wraps each matched handler)."""

from __future__ import annotations

import functools
from typing import Any

from runhook.events.envelope import Event
from runhook.events.observability.tracing import Tracer


def traced_handler(handler: Any, tracer: Tracer) -> Any:
    """``handler``, run inside a ``runhook.handler`` span named by its qualified name."""
    name = getattr(handler, "__qualname__", type(handler).__name__)

    @functools.wraps(handler)
    def traced(event: Event, ctx: Any) -> None:
        with tracer.current(
            "runhook.handler", **{"runhook.handler": name, "runhook.event_type": event.type}
        ):
            handler(event, ctx)

    return traced
