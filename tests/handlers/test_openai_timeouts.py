"""Every OpenAI request carries a timeout: the run's remaining deadline, at most the ceiling."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx2
from openai import OpenAI

from runhook.app import App
from runhook.backends.assistants import AssistantsBackend
from runhook.backends.base import RunRef, ToolOutput
from runhook.backends.responses import ResponsesBackend
from runhook.events.config import Settings
from tests.handlers.test_requires_action import lookup_tools
from tests.handlers.test_responses_submit import completed_response
from tests.plugins.handlers import Rig

Build = Callable[..., Rig]


def recording_client(rig: Rig, seen: list[float]) -> OpenAI:
    """A client of the rig's stand-in that records each request's read timeout."""

    def record(request: httpx2.Request) -> None:
        seen.append(float(request.extensions["timeout"]["read"]))

    http = httpx2.Client(event_hooks={"request": [record]}, trust_env=False)
    return OpenAI(base_url=rig.server.base_url, api_key="sk-standin", http_client=http)


def test_default_client_has_the_ceiling() -> None:
    """The App's own client times out after RUNHOOK_OPENAI_TIMEOUT_S, not the SDK's 600 s."""
    app = App(settings=Settings(openai_api_key="sk-x", openai_timeout_s=7.0, store_url="memory:"))
    assert app.openai.timeout == 7.0
    assert App(settings=Settings(openai_api_key="sk-x", store_url="memory:")).openai.timeout == 30


def test_assistants_requests_are_bounded_by_the_deadline(make_rig: Build) -> None:
    """load and submit each pass the time left before the deadline as their timeout."""
    rig = make_rig()
    lookup_tools(rig)
    run = rig.wait_for('call lookup {"q": "cats"}')
    seen: list[float] = []
    backend = AssistantsBackend(recording_client(rig, seen), Settings(openai_timeout_s=30.0))
    pending = backend.load(RunRef(api="assistants", id=run.id, thread_id=run.thread_id))
    assert seen == [30.0]  # no deadline: the ceiling
    deadline = time.time() + 5
    pending = backend.load(pending.ref, deadline=deadline)
    outputs = [ToolOutput(tool_call_id=c.id, output="found cats") for c in pending.calls]
    backend.submit(pending, outputs, deadline=deadline)
    assert len(seen) == 3 and all(0 < t <= 5 for t in seen[1:])


def test_responses_requests_are_bounded_by_the_deadline(make_rig: Build) -> None:
    """retrieve and the follow-up create each pass the time left before the deadline."""
    rig = make_rig()
    lookup_tools(rig)
    first = completed_response(rig, 'call lookup {"q": "cats"}')
    seen: list[float] = []
    backend = ResponsesBackend(recording_client(rig, seen), Settings(openai_timeout_s=30.0))
    deadline = time.time() + 4
    pending = backend.load(RunRef(api="responses", id=first.id), deadline=deadline)
    assert pending.calls
    outputs = [ToolOutput(tool_call_id=c.id, output="found cats") for c in pending.calls]
    backend.submit(pending, outputs, deadline=deadline)
    assert len(seen) >= 2 and all(0 < t <= 4 for t in seen)
