"""Agents API sessions: runhook answers each wait once, per call, with deterministic keys."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from openai.types.beta.agent_session import AgentSession

from runhook.backends.base import RunMovedOn, ToolOutput
from runhook.backends.sessions import (
    SessionsBackend,
    idempotency_key,
    pending_of,
    qualify,
    runner_error,
)
from runhook.events import keys
from runhook.events.envelope import Event
from runhook.lifecycle import RunOutcome
from runhook.tools.runner import ToolError, error_output
from tests.handlers.test_requires_action import lookup_tools
from tests.plugins.handlers import Rig

Build = Callable[..., Rig]
TWO_CALLS = 'call lookup {"q": "a"}\ncall lookup {"q": "b"}'


def start(rig: Rig, text: str) -> str:
    """A session whose first turn is ``text``; returned once it waits (or ends)."""
    agent = rig.client.beta.agents.create(
        model="gpt-4o",
        tools=rig.app.tools.definitions("agents"),  # type: ignore[arg-type]
    )
    session = rig.client.beta.agents.sessions.create(
        environment={"type": "none"}, agent_id=agent.id, input=text
    )
    settle(rig, session.id, ("requires_action", "idle", "failed"))
    return str(session.id)


def settle(rig: Rig, sid: str, statuses: tuple[str, ...], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while (s := rig.client.beta.agents.sessions.retrieve(sid)).status not in statuses:
        assert time.monotonic() < deadline, f"session stuck in {s.status}"
        time.sleep(0.02)
    return s


def thin(sid: str) -> dict[str, Any]:
    return {"id": sid, "required_action": {"type": "function_call"}}


def rig_event(sid: str) -> Event:
    return Event.create("agent.session.action_required", thin(sid))


def stats(rig: Rig, sid: str) -> dict[str, Any]:
    return dict(rig.server.stats()["sessions"][sid])


def outputs(rig: Rig, sid: str) -> list[Any]:
    items = rig.client.beta.agents.sessions.items.list(sid, order="asc").data
    return [i for i in items if i.type == "function_call_output"]


class TestAnswering:
    def test_thin_webhook_answers_every_call_and_the_turn_completes(self, make_rig: Build) -> None:
        """agent.session.action_required (thin) loads required_actions, runs both tools and
        posts one result per call; the turn completes quoting both."""
        rig = make_rig()
        lookup_tools(rig)
        sid = start(rig, TWO_CALLS)
        ack = rig.deliver("agent.session.action_required", thin(sid))
        assert (ack.status, ack.body["outcome"]) == (200, "done")
        settle(rig, sid, ("idle",))
        assert sorted(q for _, q in rig.calls.log) == ["a", "b"]
        assert sorted(stats(rig, sid)["applied"].values()) == [1, 1]
        items = rig.client.beta.agents.sessions.items.list(sid, order="desc", limit=1).data
        assert items[0].content[0].text == "lookup: found a\nlookup: found b"  # type: ignore[union-attr]

    def test_duplicates_across_event_ids_and_shapes_run_tools_once(self, make_rig: Build) -> None:
        """The thin webhook twice and the stream's full snapshot: one wait, tools run once,
        each call applied once."""
        rig = make_rig()
        lookup_tools(rig)
        sid = start(rig, TWO_CALLS)
        snapshot = rig.client.beta.agents.sessions.retrieve(sid).model_dump(mode="json")
        for type_, data in [
            ("agent.session.action_required", thin(sid)),
            ("agent.session.requires_action", snapshot),
            ("agent.session.action_required", thin(sid)),
        ]:
            assert rig.deliver(type_, data).status == 200
        settle(rig, sid, ("idle",))
        assert rig.calls.names() == ["lookup", "lookup"]
        assert sorted(stats(rig, sid)["applied"].values()) == [1, 1]

    def test_a_repeated_submit_reuses_its_keys_and_applies_nothing_twice(
        self, make_rig: Build
    ) -> None:
        """Submitting the same outputs again (a retry after a lost answer) sends the same
        batch under the same idempotency key: the API replays 202, nothing is applied twice."""
        rig = make_rig()
        lookup_tools(rig)
        sid = start(rig, 'call lookup {"q": "a"}\ncall lookup {"q": "b"}\nsleep 300')
        backend = rig.app.backend("sessions")
        pending = backend.load(backend.ref(rig_event(sid)))
        answers = [ToolOutput(c.id, "x") for c in pending.calls]
        backend.submit(pending, answers)
        backend.submit(pending, answers)
        assert sorted(stats(rig, sid)["applied"].values()) == [1, 1]
        assert stats(rig, sid)["duplicates"] == 1

    def test_a_call_answered_by_someone_else_leaves_the_others_answered(
        self, make_rig: Build
    ) -> None:
        """Another writer answered one call differently: the batch is refused (409), each call
        is then posted alone, and the other call is still answered."""
        rig = make_rig()
        sid = start(rig, TWO_CALLS)
        backend = SessionsBackend(rig.client, rig.app.settings, sleep=lambda _: None)
        pending = backend.load(backend.ref(rig_event(sid)))
        first = rig.client.beta.agents.sessions.retrieve(sid).required_actions[0]
        rig.client.beta.agents.sessions.events.create(
            sid,
            events=[
                {
                    "type": "agent.session.input.tool_result",
                    "turn_id": first.turn_id,
                    "call_id": first.call_id,  # type: ignore[union-attr]
                    "success": True,
                    "output": "from elsewhere",
                }
            ],
        )
        assert backend.submit(pending, [ToolOutput(c.id, "ours") for c in pending.calls]) is None
        settle(rig, sid, ("idle",))
        assert sorted(stats(rig, sid)["applied"].values()) == [1, 1]
        items = rig.client.beta.agents.sessions.items.list(sid, order="desc", limit=1).data
        assert items[0].content[0].text == "lookup: from elsewhere\nlookup: ours"  # type: ignore[union-attr]

    def test_registration_race_is_retried_with_the_same_key(self, make_rig: Build) -> None:
        """Results refused with 'Unknown pending tool call' are retried as the SDK does
        until they are applied."""
        rig = make_rig(standin={"session_results_race": 2})
        lookup_tools(rig)
        sid = start(rig, TWO_CALLS)
        ack = rig.deliver("agent.session.action_required", thin(sid))
        assert ack.body["outcome"] == "done"
        settle(rig, sid, ("idle",))
        assert stats(rig, sid)["rejected"] == 4
        assert sorted(stats(rig, sid)["applied"].values()) == [1, 1]

    def test_a_cancelled_turn_is_moved_on(self, make_rig: Build) -> None:
        """A wait cancelled before the submit: every result is refused, RunMovedOn."""
        rig = make_rig()
        lookup_tools(rig)
        sid = start(rig, TWO_CALLS)
        backend = SessionsBackend(rig.client, rig.app.settings, sleep=lambda _: None)
        pending = backend.load(backend.ref(rig_event(sid)))
        rig.client.beta.agents.sessions.events.create(
            sid, events=[{"type": "agent.session.input.cancel"}]
        )
        with pytest.raises(RunMovedOn):
            backend.submit(pending, [ToolOutput(c.id, "late") for c in pending.calls])
        assert stats(rig, sid)["applied"] == {}


class TestToolErrors:
    def test_errors_go_as_failures_without_exception_text(self, make_rig: Build) -> None:
        """A ToolError's message reaches the model as success: false; an unexpected
        exception's text (maybe a secret) does not."""
        rig = make_rig()

        @rig.app.tool
        def clean(q: str) -> str:
            """Fail cleanly.

            Args:
                q: anything.
            """
            raise ToolError(f"no record for {q}")

        @rig.app.tool
        def leaky(q: str) -> str:
            """Fail badly.

            Args:
                q: anything.
            """
            raise RuntimeError("password=hunter2")

        sid = start(rig, 'call clean {"q": "a"}\ncall leaky {"q": "b"}')
        rig.deliver("agent.session.action_required", thin(sid))
        settle(rig, sid, ("idle",))
        got = {o.status: o.error for o in outputs(rig, sid)}
        assert list(got) == ["failed"]
        errors = [o.error for o in outputs(rig, sid)]
        assert errors[0] == "The tool clean failed (tool_error): no record for a"
        assert "hunter2" not in str(errors[1]) and "leaky" in str(errors[1])

    def test_runner_error_recognises_only_runner_outputs(self) -> None:
        """Plain outputs (even JSON with an error key) stay successes."""
        assert runner_error("fine") is None
        assert runner_error('{"error": "from the tool itself"}') is None
        assert runner_error(error_output("timeout", "t", "too slow")) == (
            "The tool t failed (timeout): too slow"
        )


class TestKeys:
    def test_call_ids_reused_by_a_later_turn_get_new_keys(self) -> None:
        """The same call id in two turns gives two wait keys and two idempotency keys."""

        def session(turn: str) -> Any:
            action = {
                "type": "function_call",
                "call_id": "call_1",
                "name": "lookup",
                "arguments": {"q": "a"},
                "turn_id": turn,
            }
            return AgentSession.construct(
                id="sess_1", status="requires_action", required_actions=[action]
            )

        first, second = pending_of(session("turn_1")), pending_of(session("turn_2"))
        assert first.calls[0].arguments == '{"q": "a"}'
        assert keys.wait_key(first.ref.id, [c.id for c in first.calls]) != keys.wait_key(
            second.ref.id, [c.id for c in second.calls]
        )
        assert idempotency_key("sess_1", qualify("turn_1", "call_1")) != idempotency_key(
            "sess_1", qualify("turn_2", "call_1")
        )
        assert idempotency_key("s", "t/a", "t/b") == idempotency_key("s", "t/b", "t/a")


class TestOutcomes:
    def test_idle_records_each_turn_once(self, make_rig: Build) -> None:
        """agent.session.idle (twice) hands the ended turn to on_outcome once, with its final
        text."""
        rig = make_rig()
        lookup_tools(rig)
        seen: list[RunOutcome] = []
        rig.app.on_outcome(lambda outcome, ctx: seen.append(outcome))
        sid = start(rig, 'call lookup {"q": "z"}')
        rig.deliver("agent.session.action_required", thin(sid))
        settle(rig, sid, ("idle",))
        for _ in range(2):
            rig.deliver("agent.session.idle", {"id": sid, "environment_type": "none"})
        (outcome,) = seen
        assert (outcome.api, outcome.status, outcome.thread_id) == ("sessions", "completed", sid)
        assert outcome.message == "lookup: found z"
        assert outcome.run_id.startswith("turn_")

    def test_with_no_outcome_hook_the_turn_text_is_not_fetched(self, make_rig: Build) -> None:
        """No hook reads a turn's text, so recording an ended turn lists the turns but not the
        turn's items; the turn is still recorded. With a hook, the next session's is fetched."""
        rig = make_rig()
        lookup_tools(rig)

        def item_lists() -> int:
            requests = rig.server.stats()["requests"]
            return sum(n for route, n in requests.items() if route.endswith("/turns/{tid}/items"))

        def end_session(text: str) -> str:
            sid = start(rig, text)
            rig.deliver("agent.session.action_required", thin(sid))
            settle(rig, sid, ("idle",))
            rig.deliver("agent.session.idle", {"id": sid, "environment_type": "none"})
            return sid

        before = item_lists()
        sid = end_session('call lookup {"q": "quiet"}')
        assert item_lists() == before
        (turn,) = rig.client.beta.agents.sessions.turns.list(sid).data
        record = rig.app.store.get(f"run:{turn.id}:{turn.status}")
        assert record is not None and record.outcome == "completed"
        seen: list[RunOutcome] = []
        rig.app.on_outcome(lambda outcome, ctx: seen.append(outcome))
        end_session('call lookup {"q": "loud"}')
        assert item_lists() == before + 1
        assert [o.message for o in seen] == ["lookup: found loud"]

    def test_failed_session_is_an_outcome(self, make_rig: Build) -> None:
        """agent.session.failed records the failed turn with its error."""
        rig = make_rig()
        seen: list[RunOutcome] = []
        rig.app.on_outcome(lambda outcome, ctx: seen.append(outcome))
        sid = start(rig, "fail server_error The model broke.")
        rig.deliver("agent.session.failed", {"id": sid, "environment_type": "none"})
        (outcome,) = seen
        assert (outcome.status, outcome.reason) == ("failed", "server_error: The model broke.")
