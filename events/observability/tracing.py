"""The tracer seam: spans without a dependency, OpenTelemetry when enabled. No IO.

runhook makes its spans through a ``Tracer``. The base class is a null object: its spans do
nothing and cost a method call, so a process without tracing needs no OpenTelemetry at all.
``runhook.events.observability.otel.OtelTracer`` (the ``runhook[otel]`` extra) makes real spans with
``opentelemetry-api``; the SDK and its exporter are the deployment's choice.

Span contexts cross process boundaries as W3C ``traceparent`` strings: a delivery's span is
saved with its inbox entry, and the worker that processes the entry (maybe on another host)
continues that trace.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any


class Span:
    """A span that records nothing (see ``Tracer``)."""

    def set(self, key: str, value: str | int | float | bool) -> None:
        """Set an attribute."""

    def fail(self, message: str) -> None:
        """Mark the span as failed with a short reason."""

    def end(self) -> None:
        """End the span (idempotent)."""

    def __enter__(self) -> Span:
        return self

    def __exit__(self, *exc: object) -> None:
        self.end()


NULL_SPAN = Span()


class Tracer:
    """Null tracer: every span is ``NULL_SPAN``, no trace context exists."""

    enabled = False

    def current(self, name: str, *, parent: str | None = None, **attributes: Any) -> Span:
        """Start a span that is the current one until it ends (use it with ``with``).

        Args:
            name: the span name.
            parent: a W3C ``traceparent`` to continue; the current context when None.
            **attributes: span attributes (ids and short words only, never payloads).
        """
        return NULL_SPAN

    def capture(self) -> Any:
        """The current context, to start spans from another thread (``start(parent=…)``)."""
        return None

    def start(self, name: str, *, context: Any = None, **attributes: Any) -> Span:
        """Start a span that is not made current, as a child of ``context`` (see ``capture``)."""
        return NULL_SPAN

    def traceparent(self) -> str | None:
        """The current span context as a W3C ``traceparent`` value, or None."""
        return None

    def inject(self, headers: MutableMapping[str, str]) -> None:
        """Add the current context's ``traceparent`` to outgoing ``headers``."""

    def extract(self, headers: Mapping[str, str]) -> str | None:
        """The ``traceparent`` of incoming ``headers`` (case-insensitive), or None."""
        for name, value in headers.items():
            if name.lower() == "traceparent":
                return value
        return None

    def ids(self) -> tuple[str, str] | None:
        """``(trace_id, span_id)`` in hex of the current span, for log lines; None outside."""
        return None


NULL_TRACER = Tracer()
