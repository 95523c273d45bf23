"""The Responses stream relay: streamed background responses relayed as the webhook path's
envelopes, resumed after a dropped connection, driving a tool chain to its end."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from runhook.events.envelope import Event
from runhook.events.sources.relay import PipelineRelay
from runhook.events.sources.stream_responses import resume_response, stream_response
from runhook.lifecycle import RunOutcome
from tests.handlers.test_requires_action import lookup_tools
from tests.plugins.handlers import Rig

Build = Callable[..., Rig]
TWO_ROUNDS = 'call lookup {"q": "a"}\ncall lookup {"q": "b"}'


def streaming_rig(make_rig: Build, **standin: Any) -> tuple[Rig, list[RunOutcome]]:
    rig = make_rig(stream_continuation=True, standin=standin)
    lookup_tools(rig)
    outcomes: list[RunOutcome] = []
    rig.app.on_outcome(lambda outcome, ctx: outcomes.append(outcome))
    return rig, outcomes


def relay_of(rig: Rig) -> PipelineRelay:
    return PipelineRelay(rig.app.pipeline(), rig.secret, source="stream")


def start(rig: Rig, relayed: list[str]) -> str:
    return stream_response(
        rig.client,
        relay_of(rig),
        on_relayed=lambda event, ack: relayed.append(event.type),
        model="gpt-4o",
        parallel_tool_calls=False,
        tools=rig.app.tools.definitions("responses"),
        input=TWO_ROUNDS,
    )


def test_a_streamed_two_round_chain_runs_each_tool_once(make_rig: Build) -> None:
    """The first stream's lifecycle events are relayed (no deltas); its function calls are
    answered through streamed follow-ups, and the chain completes with each tool run once."""
    rig, outcomes = streaming_rig(make_rig)
    relayed: list[str] = []
    first = start(rig, relayed)
    assert relayed == [
        "response.created",
        "response.queued",
        "response.in_progress",
        "response.completed",
    ]
    assert rig.calls.names() == ["lookup", "lookup"]
    assert [(o.run_id, o.status, o.message) for o in outcomes] == [
        (first, "completed", "lookup: found a\nlookup: found b")
    ]
    follow_ups = [r for r in rig.server.stats()["responses"].values() if r["request"].get("stream")]
    assert len(follow_ups) == 3  # the first response and its two follow-ups, all streamed


def test_dropped_streams_are_resumed_and_nothing_is_lost(make_rig: Build) -> None:
    """Every stream is cut after two events; each is resumed with starting_after, and the
    chain still completes with each tool run once and each event relayed once."""
    rig, outcomes = streaming_rig(make_rig, stream_drop_after=2, latency_ms=30)
    relayed: list[str] = []
    start(rig, relayed)
    assert relayed == [
        "response.created",
        "response.queued",
        "response.in_progress",
        "response.completed",
    ]
    assert rig.calls.names() == ["lookup", "lookup"]
    assert [o.status for o in outcomes] == ["completed"]
    resumes = rig.server.stats()["requests"]["GET /v1/responses/{rid}"]
    assert resumes >= 3


def test_a_relay_restarted_after_a_crash_resumes_from_its_last_event(make_rig: Build) -> None:
    """A stream read up to event 0 by a relay that died is resumed by ``resume_response``
    from there: the remaining events are relayed and the wait is answered."""
    rig, outcomes = streaming_rig(make_rig, latency_ms=50)
    stream = rig.client.responses.create(
        model="gpt-4o",
        background=True,
        stream=True,
        tools=rig.app.tools.definitions("responses"),  # type: ignore[arg-type]
        input='call lookup {"q": "z"}',
    )
    with stream:
        created = next(iter(stream))
    relayed: list[Event] = []
    resume_response(
        rig.client,
        relay_of(rig),
        created.response.id,  # type: ignore[union-attr]
        starting_after=created.sequence_number,
        on_relayed=lambda event, ack: relayed.append(event),
    )
    assert [e.type for e in relayed] == [
        "response.queued",
        "response.in_progress",
        "response.completed",
    ]
    assert rig.calls.names() == ["lookup"]
    assert [o.message for o in outcomes] == ["lookup: found z"]


def test_a_cancelled_stream_ends_with_a_cancelled_envelope(make_rig: Build) -> None:
    """A cancelled response has no stream event; the relay reads it and relays
    ``response.cancelled`` so the chain's outcome is recorded."""
    rig, outcomes = streaming_rig(make_rig, stream_drop_after=2)
    relayed: list[str] = []

    def cancel_when_created(event: Event, ack: Any) -> None:
        relayed.append(event.type)
        if event.type == "response.queued":
            rig.client.responses.cancel(event.object_id)

    stream_response(
        rig.client,
        relay_of(rig),
        on_relayed=cancel_when_created,
        model="gpt-4o",
        input="sleep 2000",
    )
    deadline = time.monotonic() + 5
    while not outcomes and time.monotonic() < deadline:
        time.sleep(0.02)
    assert relayed == ["response.created", "response.queued", "response.cancelled"]
    assert [o.status for o in outcomes] == ["cancelled"]


def test_streamed_follow_ups_carry_the_request(make_rig: Build) -> None:
    """A wait that arrives as a full streamed Response (no retrieve) still carries every
    setting: the streamed follow-ups repeat the text format, store and metadata."""
    rig, outcomes = streaming_rig(make_rig)
    first = stream_response(
        rig.client,
        relay_of(rig),
        model="gpt-4o",
        parallel_tool_calls=False,
        text={"format": {"type": "json_object"}},
        store=False,
        metadata={"ticket": "T-9"},
        tools=rig.app.tools.definitions("responses"),
        input=TWO_ROUNDS,
    )
    follow_ups = [
        r["request"]
        for r in rig.server.stats()["responses"].values()
        if r["request"].get("previous_response_id")
    ]
    assert len(follow_ups) == 2
    for request in follow_ups:
        assert request["text"]["format"] == {"type": "json_object"}
        assert request["store"] is False
        assert request["metadata"] == {"ticket": "T-9", "runhook_root": first}
    assert [o.status for o in outcomes] == ["completed"]
