"""A span per OpenAI request: an httpx2 transport wrapper for the SDK's client.

``App`` builds its OpenAI client with it when tracing is on; for a client of your own, pass
``http_client=traced_http_client(tracer)`` to ``OpenAI(...)``. Span names stay low-cardinality
(``openai POST``); the path and the status are attributes.
"""

from __future__ import annotations

from typing import Any

import httpx2

from runhook.events.observability.tracing import Tracer


class TracingTransport(httpx2.BaseTransport):
    """Wraps ``inner`` so that each request is one span (a child of the current one)."""

    def __init__(self, inner: httpx2.BaseTransport, tracer: Tracer) -> None:
        self.inner = inner
        self.tracer = tracer

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        attributes = {"http.request.method": request.method, "url.path": request.url.path}
        with self.tracer.current(f"openai {request.method}", **attributes) as span:
            response = self.inner.handle_request(request)
            span.set("http.response.status_code", response.status_code)
            if response.status_code >= 400:
                span.fail(f"HTTP {response.status_code}")
            return response

    def close(self) -> None:
        self.inner.close()


def traced_http_client(tracer: Tracer, **options: Any) -> httpx2.Client:
    """An httpx2 client for ``OpenAI(http_client=…)`` whose requests are spans."""
    from openai import DefaultHttpxClient

    return DefaultHttpxClient(transport=TracingTransport(httpx2.HTTPTransport(), tracer), **options)
