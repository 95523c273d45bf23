"""OpenTelemetry spans (issue 17): one connected trace per run, from the caller's POST across
the ack-then-process gap to the submit, collected with the SDK's in-memory exporter."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import httpx2
from openai import OpenAI
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from runhook.app import App
from runhook.backends.tracing import traced_http_client
from runhook.events import logs
from runhook.events.config import Settings
from runhook.events.envelope import Event
from runhook.events.observability.observer import Observer
from runhook.events.observability.otel import OtelTracer
from runhook.events.sources.relay import HttpRelay
from runhook.events.sources.webhook import create_app
from runhook.events.store.sqlite import SQLiteStore
from runhook.events.testing import signed_delivery
from runhook.events.worker import Worker
from runhook.standin import StandinServer

EXPECTED = {
    "caller",
    "runhook.accept",
    "runhook.process",
    "runhook.handler",
    "runhook.tool",
    "runhook.submit",
    "openai POST",
}


def test_one_connected_trace_per_run(
    standin_factory: Callable[..., StandinServer], tmp_path: Path, secret: str
) -> None:
    """Two runs, each delivered inside its caller's span and processed later by the worker
    (outside any span): each run is one trace whose every span hangs off the caller's, holding
    the accept, the processing, the handler, its tool calls, the submit and the OpenAI request;
    and the log lines written while handling carry that trace's id."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = OtelTracer(provider)
    standin = standin_factory(latency_ms=10)
    store = SQLiteStore(tmp_path / "runhook.db")
    traced = OpenAI(
        base_url=standin.base_url,
        api_key="sk-standin",
        max_retries=0,
        http_client=traced_http_client(tracer),
    )
    settings = Settings(webhook_secrets=(secret,), tracing=True, deadline_margin_s=0.2)
    app = App(
        settings=settings, store=store, openai=traced, observer=Observer(tracer=tracer, store=store)
    )

    @app.tool
    def lookup(q: str) -> str:
        """Look something up.

        Args:
            q: what to look up.
        """
        return f"found {q}"

    lines = io.StringIO()
    logs.configure("info", "json", stream=lines, trace_ids=tracer.ids)
    plain = standin.client(max_retries=0)
    assistant = plain.beta.assistants.create(
        model="gpt-4o", tools=app.tools.definitions("assistants")
    )  # type: ignore[arg-type]
    caller = provider.get_tracer("test")
    runs = {}
    for n in range(2):
        thread = plain.beta.threads.create(
            messages=[
                {
                    "role": "user",
                    "content": f'call lookup {{"q": "{n}"}}\ncall lookup {{"q": "x{n}"}}',
                }
            ]
        )
        run = plain.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=10
        )
        event = Event.create("thread.run.requires_action", run.model_dump(mode="json"))
        with caller.start_as_current_span("caller") as span:
            ack = app.pipeline().accept(signed_delivery(event, secret))
            assert ack.status == 202
            runs[run.id] = f"{span.get_span_context().trace_id:032x}"
    assert Worker(app.pipeline()).drain(timeout=20)  # the gap: no span is current here

    traces: dict[str, list[ReadableSpan]] = defaultdict(list)
    for finished in exporter.get_finished_spans():
        assert finished.context is not None
        traces[f"{finished.context.trace_id:032x}"].append(finished)
    assert set(traces) == set(runs.values())
    for spans in traces.values():
        names = [s.name for s in spans]
        assert EXPECTED <= set(names), _tree(spans)
        assert names.count("runhook.tool") == 2
        ids = {s.context.span_id for s in spans if s.context is not None}
        roots = [s for s in spans if s.parent is None]
        assert [r.name for r in roots] == ["caller"]
        assert all(s.parent.span_id in ids for s in spans if s.parent is not None)
    submitted = [line for line in lines.getvalue().splitlines() if "outputs submitted" in line]
    assert len(submitted) == 2
    assert {json.loads(line)["trace_id"] for line in submitted} == set(runs.values())
    app.close()


def _tree(spans: list[ReadableSpan]) -> str:
    """The spans as an indented tree, for the assertion message."""
    by_parent: dict[int | None, list[ReadableSpan]] = defaultdict(list)
    for s in spans:
        by_parent[s.parent.span_id if s.parent else None].append(s)

    def walk(parent: int | None, depth: int) -> list[str]:
        out = []
        for s in by_parent[parent]:
            assert s.context is not None
            out.append("  " * depth + s.name)
            out += walk(s.context.span_id, depth + 1)
        return out

    return "\n".join(walk(None, 0))


def test_a_relayed_post_continues_the_senders_trace(tmp_path: Path, secret: str) -> None:
    """An HttpRelay with a tracer sends ``traceparent``; the server's accept span is its child."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = OtelTracer(provider)
    store = SQLiteStore(tmp_path / "runhook.db")
    app = App(
        settings=Settings(webhook_secrets=(secret,), tracing=True),
        store=store,
        observer=Observer(tracer=tracer, store=store),
        include_defaults=False,
    )
    app.on("test.*")(lambda event, ctx: None)  # handled, so it is stored and processed
    server = create_app(app.pipeline())
    client = httpx2.Client(transport=httpx2.WSGITransport(app=server), base_url="http://runhook")
    relay = HttpRelay("http://runhook/events", secret, client=client, tracer=tracer)
    with provider.get_tracer("test").start_as_current_span("relay") as span:
        assert relay.emit(Event.create("test.relayed", {"id": "x"})).status == 202
        sender = span.get_span_context()
    (accept,) = [s for s in exporter.get_finished_spans() if s.name == "runhook.accept"]
    assert accept.parent is not None and accept.parent.span_id == sender.span_id
    assert accept.context is not None and accept.context.trace_id == sender.trace_id
    app.close()
