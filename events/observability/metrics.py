"""Prometheus metrics (the ``runhook[metrics]`` extra). No IO of its own.

Imported only when metrics are enabled (``RUNHOOK_METRICS=1``). Under gunicorn each worker is a
process of its own, so the counters and histograms use prometheus_client's multiprocess mode:
``runhook serve`` and ``deploy/gunicorn.conf.py`` point ``PROMETHEUS_MULTIPROC_DIR`` at a fresh
directory before the workers fork, and a scrape of any worker sums every worker's files
(``MultiProcessCollector``). Without that variable (a single process, tests) the default
in-process registry is used. The inbox gauges are not per process: they are counted from the
shared store at scrape time.

Metrics (labels are bounded sets; never a run or event id):

====================================  =========  ========================================
``runhook_deliveries_total``          counter    ``source``, ``status`` (HTTP), ``result``
``runhook_delivery_lag_seconds``      histogram  ``source``: accept time − ``webhook-timestamp``
``runhook_events_processed_total``    counter    via the histogram's ``_count``
``runhook_handler_duration_seconds``  histogram  ``event_type``, ``outcome``
``runhook_tool_duration_seconds``     histogram  ``tool``, ``outcome``
``runhook_submits_total``             counter    ``api``, ``outcome``
``runhook_submit_duration_seconds``   histogram  ``api``
``runhook_lease_takeovers_total``     counter    ``kind`` (``inbox``, ``wait``)
``runhook_poller_lag_seconds``        histogram  how late the relay poller polled a due run
``runhook_inbox_entries``             gauge      ``state`` (``due``, ``in_flight``, ``waiting``, ``parked``)
====================================  =========  ========================================
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from runhook.events import keys
from runhook.events.errors import ConfigError
from runhook.events.observability.observer import Recorder
from runhook.events.store.base import Store

try:
    import prometheus_client
    from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
    from prometheus_client.core import GaugeMetricFamily
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ConfigError(
        "RUNHOOK_METRICS=1 needs prometheus_client: pip install 'runhook[metrics]'"
    ) from exc

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
"""The variable prometheus_client reads to share metrics between processes."""

#: seconds; from a fast in-process tool to the API's 10-minute run window
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class PrometheusRecorder(Recorder):
    """Counts and times what the observer reports into prometheus_client metrics.

    Metric objects live in the module-level default registry, as prometheus_client expects in
    multiprocess mode (one set per process); building a second recorder in one process reuses
    them.
    """

    def __init__(self) -> None:
        m = _metrics()
        self._deliveries, self._lag = m["deliveries"], m["lag"]
        self._handled, self._tools = m["handled"], m["tools"]
        self._submits, self._submit_s, self._takeovers = m["submits"], m["submit_s"], m["takeovers"]
        self._poll_lag = m["poll_lag"]

    def delivery(self, source: str, status: int, result: str, lag_s: float | None) -> None:
        self._deliveries.labels(source, str(status), result).inc()
        if lag_s is not None:
            self._lag.labels(source).observe(max(0.0, lag_s))

    def processed(self, event_type: str, outcome: str, seconds: float) -> None:
        self._handled.labels(event_type, outcome).observe(seconds)

    def tool(self, tool: str, outcome: str, seconds: float) -> None:
        self._tools.labels(tool, outcome).observe(seconds)

    def submit(self, api: str, outcome: str, seconds: float) -> None:
        self._submits.labels(api, outcome).inc()
        self._submit_s.labels(api).observe(seconds)

    def takeover(self, kind: str) -> None:
        self._takeovers.labels(kind).inc()

    def poll_lag(self, seconds: float) -> None:
        self._poll_lag.observe(max(0.0, seconds))


_METRICS: dict[str, Any] = {}


def _metrics() -> dict[str, Any]:
    if not _METRICS:
        _METRICS.update(
            deliveries=Counter(
                "runhook_deliveries",
                "Deliveries answered by the pipeline, by source, HTTP status and result.",
                ["source", "status", "result"],
            ),
            lag=Histogram(
                "runhook_delivery_lag_seconds",
                "Time from the sender signing a delivery (webhook-timestamp) to its accept.",
                ["source"],
                buckets=_BUCKETS,
            ),
            handled=Histogram(
                "runhook_handler_duration_seconds",
                "Time to process one inbox entry (its handlers), by event type and outcome.",
                ["event_type", "outcome"],
                buckets=_BUCKETS,
            ),
            tools=Histogram(
                "runhook_tool_duration_seconds",
                "Time of one tool call, by tool and outcome.",
                ["tool", "outcome"],
                buckets=_BUCKETS,
            ),
            submits=Counter(
                "runhook_submits",
                "Submits of tool outputs, by API and outcome.",
                ["api", "outcome"],
            ),
            submit_s=Histogram(
                "runhook_submit_duration_seconds",
                "Time of one submit call to the OpenAI API.",
                ["api"],
                buckets=_BUCKETS,
            ),
            takeovers=Counter(
                "runhook_lease_takeovers",
                "Claims taken over from a holder whose lease lapsed (a dead or stuck worker).",
                ["kind"],
            ),
            poll_lag=Histogram(
                "runhook_poller_lag_seconds",
                "How long after a watched run was due the relay poller polled it.",
                buckets=_BUCKETS,
            ),
        )
    return _METRICS


class InboxCollector:
    """Inbox gauges counted from the shared store at scrape time."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "runhook_inbox_entries",
            "Inbox entries by state, counted at scrape time.",
            labels=["state"],
        )
        census = self.store.census(keys.INBOX_QUEUE)
        gauge.add_metric(["due"], census.due)
        gauge.add_metric(["in_flight"], census.in_flight)
        gauge.add_metric(["waiting"], census.waiting)
        gauge.add_metric(["parked"], self.store.count(keys.PARKED_QUEUE))
        yield gauge


def exposition(store: Store, multiprocess_dir: str | None) -> tuple[bytes, str]:
    """The text a scrape returns, and its content type.

    Args:
        store: the inbox gauges are counted there.
        multiprocess_dir: ``PROMETHEUS_MULTIPROC_DIR`` (``Settings.metrics_dir``): sum every
            process's files there; None: this process's metrics only.
    """
    registry = CollectorRegistry()
    if multiprocess_dir:
        multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)  # type: ignore[no-untyped-call]
    else:
        for collector in _metrics().values():
            registry.register(collector)
    registry.register(InboxCollector(store))
    return prometheus_client.generate_latest(registry), prometheus_client.CONTENT_TYPE_LATEST


def serve_http(port: int, addr: str = "127.0.0.1") -> None:
    """Serve this process's metrics on ``http://addr:port/metrics`` from a thread (for
    processes without runhook's HTTP server: ``runhook poll --metrics-port``)."""
    registry = CollectorRegistry()
    for collector in _metrics().values():
        registry.register(collector)
    prometheus_client.start_http_server(port, addr=addr, registry=registry)


def mark_process_dead(pid: int, multiprocess_dir: str) -> None:
    """gunicorn ``child_exit``: drop a dead worker's live-gauge files (counters stay summed)."""
    multiprocess.mark_process_dead(pid, path=multiprocess_dir)  # type: ignore[no-untyped-call]
