"""Operating runhook: metrics, traces and run timelines behind one ``Observer``.

Everything here is off by default and costs nothing then (``NULL_OBSERVER``). Each sink is
switched on by a setting and brings its own extra:

- ``RUNHOOK_METRICS=1``: Prometheus metrics (``runhook[metrics]``), served on ``GET /metrics``;
- ``RUNHOOK_TRACING=1``: OpenTelemetry spans (``runhook[otel]``);
- ``RUNHOOK_ADMIN_PAGE=1``: per-run timelines in the store, shown on ``GET /admin``.

``RUNHOOK_ADMIN_TOKEN`` protects ``/metrics`` and ``/admin`` with a bearer token.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from runhook.events.config import Settings
from runhook.events.observability.observer import NULL_OBSERVER, NULL_RECORDER, Observer, Recorder
from runhook.events.observability.timeline import Timeline
from runhook.events.observability.tracing import NULL_TRACER, Tracer
from runhook.events.store.base import Store

__all__ = ["NULL_OBSERVER", "Observer", "Recorder", "Tracer", "build_observer", "wanted"]


def wanted(settings: Settings) -> bool:
    """True when the settings switch on any of metrics, tracing or the page."""
    return settings.metrics or settings.tracing or settings.admin_page


def build_observer(
    settings: Settings, store: Store, *, clock: Callable[[], float] = time.time
) -> Observer:
    """The observer the settings ask for (``NULL_OBSERVER`` when nothing is enabled).

    Raises:
        ConfigError: a feature is enabled but its extra is not installed (the message names
            the extra).
    """
    if not wanted(settings):
        return NULL_OBSERVER
    recorder = NULL_RECORDER
    if settings.metrics:
        from runhook.events.observability.metrics import PrometheusRecorder

        recorder = PrometheusRecorder()
    tracer: Tracer = NULL_TRACER
    if settings.tracing:
        from runhook.events.observability.otel import OtelTracer

        tracer = OtelTracer()
    timeline = None
    if settings.admin_page:
        timeline = Timeline(store, ttl_s=settings.timeline_ttl_s, clock=clock)
    return Observer(
        recorder=recorder,
        tracer=tracer,
        timeline=timeline,
        store=store,
        ttl_s=settings.timeline_ttl_s,
        clock=clock,
    )
