"""gunicorn target for B2's tracing variant: an OpenTelemetry SDK whose spans are batched and
discarded (what a deployment pays to make them, without an exporter's network cost), then
runhook's WSGI app."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult


class Discard(SpanExporter):
    """Drops every span."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(Discard()))
trace.set_tracer_provider(provider)

from deploy.wsgi import app  # noqa: E402 - after the provider, so runhook's tracer uses it

__all__ = ["app"]
