"""The hook points through which the pipeline and the handlers report what they do. No IO.

The pipeline and the handlers never call prometheus_client or OpenTelemetry themselves: they
call a few methods of one ``Observer``, which fans out to three optional sinks:

- a ``Recorder`` (metrics; the null base class by default, ``PrometheusRecorder`` with
  ``RUNHOOK_METRICS=1``),
- a ``Tracer`` (spans; null by default, OpenTelemetry with ``RUNHOOK_TRACING=1``),
- a ``Timeline`` (per-run entries in the store, for the operator page; ``RUNHOOK_ADMIN_PAGE=1``).

The hook points, in the order an event meets them::

    accepting(delivery)  -> span "runhook.accept"; deliveries by status, delivery lag
    accepted(key)        -> the span's traceparent saved with the inbox entry (a note)
    processing(claim)    -> span "runhook.process", continuing the saved traceparent across
                            the ack-then-process gap; handler duration; lease takeovers;
                            an "event" timeline entry
    run(event).tool(…)   -> span "runhook.tool"; tool duration and outcome; timeline entry
    run(event).submitting(api) -> span "runhook.submit"; submit outcome; timeline entry

``NULL_OBSERVER`` (every sink null) is what a Pipeline has unless the App gives it another; its
hooks return shared do-nothing scopes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from runhook.events.envelope import Event
from runhook.events.errors import MalformedEvent
from runhook.events.observability.timeline import Timeline, run_ref
from runhook.events.observability.tracing import NULL_SPAN, NULL_TRACER, Span, Tracer

if TYPE_CHECKING:
    from runhook.events.sources import Ack, Delivery
    from runhook.events.store.base import Store
    from runhook.events.store.records import Claim

log = logging.getLogger("runhook.observability")

#: event type suffixes kept as a metric label; anything else is counted as "other"
_KNOWN_SUFFIXES = frozenset(
    "created queued in_progress requires_action completed failed cancelling cancelled "
    "expired incomplete".split()
)
_KNOWN_PREFIXES = ("thread.run.step.", "thread.message.", "thread.run.", "response.")


def event_type_label(event_type: str) -> str:
    """A bounded label for an event type: OpenAI's own types as they are, else ``other``."""
    for prefix in _KNOWN_PREFIXES:
        if event_type.startswith(prefix):
            rest = event_type[len(prefix) :]
            return event_type if rest in _KNOWN_SUFFIXES else "other"
    return "other"


def trace_key(inbox_key: str) -> str:
    """Store key of the trace context saved with an inbox entry."""
    return f"trace:{inbox_key}"


class Recorder:
    """Null metrics sink: the base class of ``PrometheusRecorder``; every hook does nothing."""

    def delivery(self, source: str, status: int, result: str, lag_s: float | None) -> None:
        """A delivery was answered (``result``: the answer's status word or error code)."""

    def processed(self, event_type: str, outcome: str, seconds: float) -> None:
        """An inbox entry was processed (``outcome`` as ``Pipeline.process`` returns it)."""

    def tool(self, tool: str, outcome: str, seconds: float) -> None:
        """A tool call finished (``outcome``: ``ok`` or the error output's type)."""

    def submit(self, api: str, outcome: str, seconds: float) -> None:
        """A submit of tool outputs ended."""

    def takeover(self, kind: str) -> None:
        """A claim was taken from a holder whose lease lapsed (``inbox`` or ``wait``)."""

    def poll_lag(self, seconds: float) -> None:
        """The relay poller polled a watched run ``seconds`` after it was due."""


NULL_RECORDER = Recorder()


class Observer:
    """Fans the hook points out to a recorder, a tracer and a timeline (all optional).

    Args:
        recorder: the metrics sink.
        tracer: the span maker.
        timeline: where per-run entries go; None records none.
        store: where trace contexts are saved with inbox entries (needed with a tracer).
        ttl_s: how long a saved trace context is kept.
        clock: unix seconds (timestamps of timeline entries and lags).
    """

    def __init__(
        self,
        *,
        recorder: Recorder = NULL_RECORDER,
        tracer: Tracer = NULL_TRACER,
        timeline: Timeline | None = None,
        store: Store | None = None,
        ttl_s: float = 24 * 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.recorder = recorder
        self.tracer = tracer
        self.timeline = timeline
        self.store = store
        self.ttl_s = ttl_s
        self.clock = clock
        self.enabled = recorder is not NULL_RECORDER or tracer.enabled or timeline is not None

    # -- the pipeline's hooks -----------------------------------------------------------------

    def accepting(self, delivery: Delivery) -> AcceptScope:
        """Enter around ``Pipeline.accept``; ``scope.done(ack)`` reports the answer."""
        if not self.enabled:
            return NULL_ACCEPT
        return AcceptScope(self, delivery)

    def accepted(self, key: str) -> None:
        """A new inbox entry ``key`` was stored: save the current trace context with it."""
        if not self.tracer.enabled or self.store is None:
            return
        parent = self.tracer.traceparent()
        if not parent:
            return
        try:
            self.store.put_note(trace_key(key), lambda _: parent.encode(), ttl_s=self.ttl_s)
        except Exception:  # observing never fails the work: the trace just starts anew later
            log.warning("trace context not saved", exc_info=True, extra={"key": key})

    def saved_context(self, key: str) -> str | None:
        """The traceparent saved with inbox entry ``key`` (see ``accepted``), or None."""
        if self.store is None:
            return None
        try:
            note = self.store.get(trace_key(key))
        except Exception:  # observing never fails the work: this span starts a new trace
            log.warning("trace context not read", exc_info=True, extra={"key": key})
            return None
        return note.payload.decode() if note is not None and note.payload else None

    def processing(self, claim: Claim) -> ProcessScope:
        """Enter around ``Pipeline.process_claim``; ``scope.done(outcome)`` reports it."""
        if not self.enabled:
            return NULL_PROCESS
        return ProcessScope(self, claim)

    def claimed(self, claim: Claim, kind: str) -> None:
        """A claim of ``kind`` (``inbox``, ``wait``) was made: count it if it was a takeover
        from a lapsed lease."""
        if claim.taken_over:
            self.recorder.takeover(kind)

    # -- the handlers' hooks ------------------------------------------------------------------

    def run(self, event: Event) -> RunScope:
        """The hooks of the handlers working on ``event``'s run (tools, submits)."""
        if not self.enabled:
            return NULL_RUN
        return RunScope(self, run_ref(event))

    def add(
        self, run_id: str | None, kind: str, name: str, start: float, seconds: float, **more: Any
    ) -> None:
        """Append a timeline entry, when timelines are kept and the run is known."""
        if self.timeline is not None and run_id:
            ids = self.tracer.ids()
            if ids is not None:
                more["trace_id"] = ids[0]
            try:
                self.timeline.add(run_id, kind, name, start, seconds, **more)
            except Exception:  # observing never fails the work
                log.warning("timeline entry not recorded", exc_info=True, extra={"run_id": run_id})


NULL_OBSERVER: Observer  # set below, once the scopes exist


class AcceptScope:
    """The span and measurements of one ``accept``."""

    def __init__(self, observer: Observer | None, delivery: Delivery | None) -> None:
        self.observer = observer
        self.delivery = delivery
        self.span: Span = NULL_SPAN

    def __enter__(self) -> AcceptScope:
        if self.observer is not None and self.delivery is not None:
            tracer = self.observer.tracer
            parent = tracer.extract(self.delivery.headers) if tracer.enabled else None
            self.span = tracer.current("runhook.accept", parent=parent, source=self.delivery.source)
        return self

    def done(self, ack: Ack) -> Ack:
        """Report ``ack`` and return it."""
        if self.observer is None or self.delivery is None:
            return ack
        error = ack.body.get("error") or {}
        result = str(ack.body.get("status") or error.get("code") or "error")
        self.span.set("http.response.status_code", ack.status)
        self.span.set("runhook.result", result)
        if ack.event_id:
            self.span.set("runhook.webhook_id", ack.event_id)
        if ack.status >= 400:
            self.span.fail(result)
        self.observer.recorder.delivery(self.delivery.source, ack.status, result, self._lag())
        return ack

    def _lag(self) -> float | None:
        assert self.observer is not None and self.delivery is not None
        for name, value in self.delivery.headers.items():
            if name.lower() == "webhook-timestamp":
                try:
                    return self.observer.clock() - float(value)
                except ValueError:
                    return None
        return None

    def __exit__(self, *exc: object) -> None:
        self.span.__exit__(*exc)


class ProcessScope:
    """The span and measurements of processing one inbox entry."""

    def __init__(self, observer: Observer | None, claim: Claim | None) -> None:
        self.observer = observer
        self.claim = claim
        self.span: Span = NULL_SPAN
        self.event: Event | None = None
        self.start = 0.0
        self.t0 = 0.0

    def __enter__(self) -> ProcessScope:
        observer, claim = self.observer, self.claim
        if observer is None or claim is None:
            return self
        try:
            self.event = Event.parse(claim.payload) if claim.payload is not None else None
        except MalformedEvent:
            self.event = None
        parent = None
        if observer.tracer.enabled and observer.store is not None:
            parent = observer.saved_context(claim.key)
        attributes: dict[str, Any] = {"runhook.attempt": claim.attempts}
        if self.event is not None:
            attributes.update(
                {"runhook.event_type": self.event.type, "runhook.event_id": self.event.id}
            )
        self.span = observer.tracer.current("runhook.process", parent=parent, **attributes)
        observer.claimed(claim, "inbox")
        self.start, self.t0 = observer.clock(), time.perf_counter()
        return self

    def done(self, outcome: str) -> str:
        """Report the outcome and return it."""
        observer = self.observer
        if observer is None:
            return outcome
        seconds = time.perf_counter() - self.t0
        event_type = self.event.type if self.event is not None else "other"
        self.span.set("runhook.outcome", outcome)
        if outcome in ("retry", "failed"):
            self.span.fail(outcome)
        observer.recorder.processed(event_type_label(event_type), outcome, seconds)
        if self.event is not None:
            observer.add(
                run_ref(self.event),
                "event",
                event_type,
                self.start,
                seconds,
                outcome=outcome,
                id=self.event.id,
            )
        return outcome

    def __exit__(self, *exc: object) -> None:
        self.span.__exit__(*exc)


class RunScope:
    """The hooks of one run's handlers: tool calls and submits."""

    def __init__(self, observer: Observer | None, run_id: str | None) -> None:
        self.observer = observer
        self.run_id = run_id

    def tool(self, name: str, call_id: str) -> ToolScope:
        """A tool call is about to run on a pool thread; finish the scope once, when it ends.

        Made on the handler's thread, so the span is a child of the handler's span.
        """
        if self.observer is None:
            return NULL_TOOL
        return ToolScope(self, name, call_id)

    def submitting(self, api: str) -> SubmitScope:
        """Enter around a submit; ``scope.done(outcome)`` reports how it ended."""
        if self.observer is None:
            return NULL_SUBMIT
        return SubmitScope(self, api)


class ToolScope:
    """One tool call, finished exactly once (by its thread, or by the timeout)."""

    def __init__(self, run: RunScope | None, name: str, call_id: str) -> None:
        self.run = run
        self.name = name
        self.call_id = call_id
        self._lock = threading.Lock()
        self._finished = False
        self.span: Span = NULL_SPAN
        self.start = 0.0
        self.t0 = 0.0
        if run is not None and run.observer is not None:
            tracer = run.observer.tracer
            self._context = tracer.capture()
            self.start, self.t0 = run.observer.clock(), time.perf_counter()

    def begin(self) -> None:
        """The call starts running (on its pool thread)."""
        if self.run is None or self.run.observer is None:
            return
        self.start, self.t0 = self.run.observer.clock(), time.perf_counter()
        self.span = self.run.observer.tracer.start(
            "runhook.tool",
            context=self._context,
            **{"runhook.tool": self.name, "runhook.tool_call_id": self.call_id},
        )

    def finish(self, outcome: str) -> None:
        """The call ended with ``outcome`` (``ok`` or an error type); later calls are ignored."""
        run = self.run
        if run is None or run.observer is None:
            return
        with self._lock:
            if self._finished:
                return
            self._finished = True
        seconds = time.perf_counter() - self.t0
        self.span.set("runhook.outcome", outcome)
        if outcome != "ok":
            self.span.fail(outcome)
        self.span.end()
        run.observer.recorder.tool(self.name, outcome, seconds)
        run.observer.add(
            run.run_id, "tool", self.name, self.start, seconds, outcome=outcome, id=self.call_id
        )


class SubmitScope:
    """One submit of tool outputs."""

    def __init__(self, run: RunScope | None, api: str) -> None:
        self.run = run
        self.api = api
        self.span: Span = NULL_SPAN
        self.start = 0.0
        self.t0 = 0.0

    def __enter__(self) -> SubmitScope:
        if self.run is not None and self.run.observer is not None:
            observer = self.run.observer
            self.span = observer.tracer.current("runhook.submit", **{"runhook.api": self.api})
            self.start, self.t0 = observer.clock(), time.perf_counter()
        return self

    def done(self, outcome: str) -> None:
        """The submit ended with ``outcome`` (``submitted``, ``moved_on``, ``expired``,
        ``submit_unknown``, ``error``)."""
        run = self.run
        if run is None or run.observer is None:
            return
        seconds = time.perf_counter() - self.t0
        self.span.set("runhook.outcome", outcome)
        if outcome == "error":
            self.span.fail(outcome)
        run.observer.recorder.submit(self.api, outcome, seconds)
        run.observer.add(run.run_id, "submit", self.api, self.start, seconds, outcome=outcome)

    def __exit__(self, *exc: object) -> None:
        self.span.__exit__(*exc)


NULL_ACCEPT = AcceptScope(None, None)
NULL_PROCESS = ProcessScope(None, None)
NULL_RUN = RunScope(None, None)
NULL_TOOL = ToolScope(None, "", "")
NULL_SUBMIT = SubmitScope(None, "")
NULL_OBSERVER = Observer()
