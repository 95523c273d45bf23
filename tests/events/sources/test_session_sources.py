"""Agents API sessions through the stream relay and the relay poller, into a real App."""

from __future__ import annotations

from collections.abc import Callable

import httpx2

from runhook.events.sources.poller import Poller
from runhook.events.sources.relay import PipelineRelay
from runhook.events.sources.session_stream import SessionRelay, create_and_relay, start_turn
from runhook.lifecycle import RunOutcome
from tests.handlers.test_requires_action import lookup_tools
from tests.handlers.test_sessions_backend import TWO_CALLS, settle, start, stats
from tests.plugins.handlers import Rig

Build = Callable[..., Rig]


def agent_of(rig: Rig) -> str:
    return rig.client.beta.agents.create(
        model="gpt-4o",
        tools=rig.app.tools.definitions("agents"),  # type: ignore[arg-type]
    ).id


def outcomes(rig: Rig) -> list[RunOutcome]:
    seen: list[RunOutcome] = []
    rig.app.on_outcome(lambda outcome, ctx: seen.append(outcome))
    return seen


class TestStreamRelay:
    def test_creation_stream_is_relayed_and_the_turn_answered(self, make_rig: Build) -> None:
        """The creation stream's requires_action snapshot runs the tools in-process; the relay
        ends at idle and the turn's outcome is recorded once."""
        rig = make_rig()
        lookup_tools(rig)
        seen = outcomes(rig)
        relayed: list[str] = []
        relay = PipelineRelay(rig.app.pipeline(), rig.secret, source="stream")
        sid, status = create_and_relay(
            rig.client,
            relay,
            agent_id=agent_of(rig),
            message=TWO_CALLS,
            on_relayed=lambda event, ack: relayed.append(event.type),
        )
        assert status == "idle"
        assert relayed == [
            "agent.session.created",
            "agent.session.in_progress",
            "agent.session.requires_action",
            "agent.session.in_progress",
            "agent.session.idle",
        ]
        assert sorted(stats(rig, sid)["applied"].values()) == [1, 1]
        assert [(o.status, o.message) for o in seen] == [
            ("completed", "lookup: found a\nlookup: found b")
        ]

    def test_a_dropped_stream_is_reopened_and_resynced(self, make_rig: Build) -> None:
        """The stream dies while the tool runs: the relay subscribes again, reads the session
        and relays what it missed, so the turn still ends and is recorded."""
        rig = make_rig()
        seen = outcomes(rig)
        drop = f"{rig.server.root_url}/_standin/sessions/{{}}/drop_streams"
        current: dict[str, str] = {}

        @rig.app.tool
        def lookup(q: str) -> str:
            """Look something up (and drop the session's streams).

            Args:
                q: what to look up.
            """
            httpx2.post(drop.format(current["sid"]), trust_env=False)
            return f"found {q}"

        sid = start(rig, "hello")
        current["sid"] = sid
        relay = PipelineRelay(rig.app.pipeline(), rig.secret, source="stream")
        follower = SessionRelay(rig.client, relay, sid, sleep=lambda _: None)
        stream = follower.open()
        rig.client.beta.agents.sessions.events.create(
            sid,
            events=[
                {
                    "type": "agent.session.input.message",
                    "input": [
                        {
                            "role": "user",
                            "content": [{"type": "input_text", "text": 'call lookup {"q": "a"}'}],
                        }
                    ],
                }
            ],
        )
        assert follower.follow(stream) == "idle"
        assert follower.reconnected >= 1
        settle(rig, sid, ("idle",))
        assert [o.message for o in seen if o.status == "completed"][-1] == "lookup: found a"
        assert list(stats(rig, sid)["applied"].values()) == [1]

    def test_start_turn_relays_a_new_turn(self, make_rig: Build) -> None:
        """start_turn subscribes first, posts the message, and relays the turn to idle."""
        rig = make_rig()
        lookup_tools(rig)
        sid = start(rig, "hello")
        relay = PipelineRelay(rig.app.pipeline(), rig.secret, source="stream")
        assert start_turn(rig.client, relay, sid, 'call lookup {"q": "b"}') == "idle"
        assert rig.calls.names() == ["lookup"]


class TestPoller:
    def test_poller_answers_a_waiting_session_and_ends_the_watch(self, make_rig: Build) -> None:
        """A watched session in requires_action is emitted (re-emitted while it waits), its
        calls answered once; idle ends the watch and records the outcome."""
        rig = make_rig(poll_interval_s=0.02, poll_max_interval_s=0.05)
        lookup_tools(rig)
        seen = outcomes(rig)
        sid = start(rig, TWO_CALLS)
        relay = PipelineRelay(rig.app.pipeline(), rig.secret, source="poller")
        emitted: list[str] = []
        poller = Poller(
            rig.app.store,
            rig.client,
            relay,
            rig.app.settings,
            on_event=lambda event, ack: emitted.append(event.type),
        )
        assert poller.watch_session(sid) is True
        assert poller.watch_session(sid) is False
        poller.run(burst=True)
        assert emitted[0] == "agent.session.requires_action"
        assert emitted[-1] == "agent.session.idle"
        assert sorted(stats(rig, sid)["applied"].values()) == [1, 1]
        assert rig.calls.names() == ["lookup", "lookup"]
        assert [o.status for o in seen] == ["completed"]
