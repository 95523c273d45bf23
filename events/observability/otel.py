"""OpenTelemetry spans (the ``runhook[otel]`` extra). No IO of its own.

Imported only when tracing is enabled (``RUNHOOK_TRACING=1``). It uses ``opentelemetry-api``
alone: which SDK, sampler and exporter turn the spans into data is the deployment's choice
(``opentelemetry-instrument``, or ``trace.set_tracer_provider`` in the App's module). Without
an SDK the spans are non-recording and nearly free.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from runhook.events.errors import ConfigError
from runhook.events.observability.tracing import Span, Tracer

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ConfigError("RUNHOOK_TRACING=1 needs OpenTelemetry: pip install 'runhook[otel]'") from exc

_PROPAGATOR = TraceContextTextMapPropagator()


class OtelSpan(Span):
    """An OpenTelemetry span; ``end`` also detaches it when it was made current."""

    def __init__(self, span: Any, token: object | None = None) -> None:
        self._span = span
        self._token = token
        self._ended = False

    def set(self, key: str, value: str | int | float | bool) -> None:
        self._span.set_attribute(key, value)

    def fail(self, message: str) -> None:
        self._span.set_status(Status(StatusCode.ERROR, message))

    def end(self) -> None:
        if self._ended:
            return
        self._ended = True
        self._span.end()
        if self._token is not None:
            otel_context.detach(self._token)  # type: ignore[arg-type]

    def __exit__(self, *exc: object) -> None:
        if exc and isinstance(exc[1], BaseException):
            self._span.record_exception(exc[1])
            self.fail(type(exc[1]).__name__)
        self.end()


class OtelTracer(Tracer):
    """Spans from ``opentelemetry.trace.get_tracer("runhook")``."""

    enabled = True

    def __init__(self, provider: Any = None) -> None:
        self._tracer = trace.get_tracer("runhook", tracer_provider=provider)

    def current(self, name: str, *, parent: str | None = None, **attributes: Any) -> Span:
        context = _PROPAGATOR.extract({"traceparent": parent}) if parent else None
        span = self._tracer.start_span(name, context=context, attributes=attributes)
        token = otel_context.attach(trace.set_span_in_context(span))
        return OtelSpan(span, token)

    def capture(self) -> Any:
        return otel_context.get_current()

    def start(self, name: str, *, context: Any = None, **attributes: Any) -> Span:
        return OtelSpan(self._tracer.start_span(name, context=context, attributes=attributes))

    def traceparent(self) -> str | None:
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        return carrier.get("traceparent")

    def inject(self, headers: MutableMapping[str, str]) -> None:
        _PROPAGATOR.inject(headers)

    def ids(self) -> tuple[str, str] | None:
        context = trace.get_current_span().get_span_context()
        if not context.is_valid:
            return None
        return f"{context.trace_id:032x}", f"{context.span_id:016x}"
