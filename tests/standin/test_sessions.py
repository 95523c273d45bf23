"""The official SDK, unchanged, against the stand-in's Agents API sessions over real HTTP."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from flask import Flask, request
from openai import OpenAI
from werkzeug.serving import make_server

from runhook.standin import StandinServer

TOOL: dict[str, Any] = {
    "type": "function",
    "name": "lookup",
    "description": "Look something up.",
    "parameters": {
        "type": "object",
        "properties": {"q": {"type": "string"}},
        "required": ["q"],
        "additionalProperties": False,
    },
}
TWO_CALLS = 'call lookup {"q": "a"}\ncall lookup {"q": "b"}'
SECRET = "whsec_" + base64.b64encode(b"agents-webhook-secret-0123456789").decode()


def wait_for(predicate: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def new_session(client: OpenAI, text: str) -> Any:
    agent = client.beta.agents.create(model="gpt-4o", tools=[TOOL])  # type: ignore[list-item]
    return client.beta.agents.sessions.create(
        environment={"type": "none"}, agent_id=agent.id, input=text
    )


def settle(client: OpenAI, session_id: str, status: str) -> Any:
    return wait_for(
        lambda: (s := client.beta.agents.sessions.retrieve(session_id)).status == status and s
    )


def idle_session(client: OpenAI) -> str:
    session = new_session(client, "hello")
    return str(settle(client, session.id, "idle").id)


def result(turn_id: str, call_id: str, output: str = "ok", success: bool = True) -> Any:
    event: dict[str, Any] = {
        "type": "agent.session.input.tool_result",
        "turn_id": turn_id,
        "call_id": call_id,
        "success": success,
    }
    if success:
        event["output"] = output
    else:
        event["error"] = output
    return event


def applied(standin: StandinServer, session_id: str) -> dict[str, int]:
    return dict(standin.stats()["sessions"][session_id]["applied"])


class TestSdkHelpers:
    def test_stream_with_tool_handlers_completes_a_two_tool_turn(
        self, standin: StandinServer, openai_client: OpenAI
    ) -> None:
        """sessions.stream(..., tool_handlers=) runs both calls, submits both results and ends
        with the final answer quoting them."""
        sid = idle_session(openai_client)
        seen: list[str] = []
        with openai_client.beta.agents.sessions.stream(
            sid,
            input=TWO_CALLS,
            tool_handlers={"lookup": lambda args: seen.append(args["q"]) or "found " + args["q"]},
        ) as stream:
            final = stream.get_final_result()
        assert seen == ["a", "b"]
        assert final.output_text == "lookup: found a\nlookup: found b"
        assert final.turn.status == "completed"
        assert sorted(applied(standin, sid).values()) == [1, 1]

    def test_create_stream_with_tool_handlers_completes(
        self, standin: StandinServer, openai_client: OpenAI
    ) -> None:
        """sessions.create(stream=True, tool_handlers=) dispatches the first turn's calls and
        its stream closes after the idle event."""
        agent = openai_client.beta.agents.create(model="gpt-4o", tools=[TOOL])  # type: ignore[list-item]
        stream = openai_client.beta.agents.sessions.create(
            environment={"type": "none"},
            agent_id=agent.id,
            input=TWO_CALLS,
            stream=True,
            tool_handlers={"lookup": lambda args: {"q": args["q"]}},
        )
        types = [event.type for event in stream]
        assert types[0] == "agent.session.created"
        assert types[-1] == "agent.session.idle"
        sid = openai_client.beta.agents.sessions.list().data[0].id
        items = openai_client.beta.agents.sessions.items.list(sid, order="asc").data
        final = [i for i in items if i.type == "message" and i.role == "assistant"]
        assert final[-1].content[0].text == 'lookup: {"q":"a"}\nlookup: {"q":"b"}'  # type: ignore[union-attr]

    def test_the_registration_race_is_retried_by_the_sdk(self, standin_factory: Any) -> None:
        """With the race knob on, the first result of each call gets the SDK's race 400; the
        SDK retries with the same key and the turn completes, each call answered once."""
        standin = standin_factory(latency_ms=10, session_results_race=1)
        client = standin.client(max_retries=0)
        sid = idle_session(client)
        with client.beta.agents.sessions.stream(
            sid, input=TWO_CALLS, tool_handlers={"lookup": lambda args: args["q"]}
        ) as stream:
            assert stream.get_final_result().output_text == "lookup: a\nlookup: b"
        stats = standin.stats()["sessions"][sid]
        assert stats["rejected"] == 2
        assert sorted(stats["applied"].values()) == [1, 1]


class TestManualTurn:
    def test_retrieve_requires_action_then_events_create_then_idle(
        self, standin: StandinServer, openai_client: OpenAI
    ) -> None:
        """A waiting session lists its calls in required_actions; one tool_result per call
        (202) resumes the turn to idle, and the items record calls, outputs and the answer."""
        sessions = openai_client.beta.agents.sessions
        created = new_session(openai_client, TWO_CALLS)
        assert created.status == "in_progress" and created.required_actions == []
        waiting = settle(openai_client, created.id, "requires_action")
        actions = waiting.required_actions
        assert [(a.type, a.name, a.arguments) for a in actions] == [
            ("function_call", "lookup", {"q": "a"}),
            ("function_call", "lookup", {"q": "b"}),
        ]
        turn_id = actions[0].turn_id
        assert sessions.turns.retrieve(turn_id, session_id=created.id).status == "waiting"
        assert (
            sessions.events.create(created.id, events=[result(turn_id, actions[0].call_id, "A")])
            is None
        )
        assert len(sessions.retrieve(created.id).required_actions) == 1
        sessions.events.create(
            created.id, events=[result(turn_id, actions[1].call_id, "no such thing", False)]
        )
        settle(openai_client, created.id, "idle")
        turn = sessions.turns.retrieve(turn_id, session_id=created.id)
        assert turn.status == "completed" and turn.completed_at is not None
        items = sessions.items.list(created.id, order="asc").data
        assert [i.type for i in items] == [
            "message",
            "function_call",
            "function_call",
            "function_call_output",
            "function_call_output",
            "message",
        ]
        assert [getattr(i, "status", None) for i in items[3:5]] == ["completed", "failed"]
        assert items[-1].content[0].text == "lookup: A\nlookup: no such thing"  # type: ignore[union-attr]

    def test_stream_events_in_order(self, openai_client: OpenAI) -> None:
        """GET …/events streams a tool-calling turn in the reference order, every event_id
        unique."""
        sessions = openai_client.beta.agents.sessions
        sid = idle_session(openai_client)
        stream = sessions.events.stream(sid)
        sessions.events.create(
            sid,
            events=[
                {
                    "type": "agent.session.input.message",
                    "input": [
                        {
                            "role": "user",
                            "content": [{"type": "input_text", "text": 'call lookup {"q": "x"}'}],
                        }
                    ],
                }
            ],
        )
        events = []
        for event in stream:
            events.append(event)
            if event.type == "agent.session.requires_action":
                (action,) = event.session.required_actions
                sessions.events.create(sid, events=[result(action.turn_id, action.call_id)])  # type: ignore[union-attr]
            if event.type == "agent.session.idle":
                break
        stream.close()
        assert [e.type.removeprefix("agent.session.") for e in events] == [
            "turn.created",
            "turn.item.added",
            "in_progress",
            "turn.in_progress",
            "turn.item.added",
            "requires_action",
            "turn.item.added",
            "turn.item.done",
            "in_progress",
            "turn.item.added",
            "turn.content_part.added",
            "turn.output_text.delta",
            "turn.output_text.done",
            "turn.content_part.done",
            "turn.item.done",
            "turn.completed",
            "idle",
        ]
        assert len({e.event_id for e in events}) == len(events)

    def test_cancel_ends_a_waiting_turn(self, openai_client: OpenAI) -> None:
        """input.cancel on a waiting turn cancels it and leaves the session idle, no actions."""
        sessions = openai_client.beta.agents.sessions
        created = new_session(openai_client, TWO_CALLS)
        waiting = settle(openai_client, created.id, "requires_action")
        sessions.events.create(created.id, events=[{"type": "agent.session.input.cancel"}])
        idle = sessions.retrieve(created.id)
        assert (idle.status, idle.required_actions) == ("idle", [])
        turn = sessions.turns.retrieve(waiting.required_actions[0].turn_id, session_id=created.id)
        assert turn.status == "cancelled"


class TestToolResults:
    def test_duplicates_are_harmless_and_conflicts_refused(
        self, standin: StandinServer, openai_client: OpenAI
    ) -> None:
        """The same key twice applies once; an identical repeat without a key is a no-op; a
        different result for an answered call, or the same key with another body, is 409."""
        events = openai_client.beta.agents.sessions.events
        created = new_session(openai_client, 'call lookup {"q": "a"}\ncall lookup {"q": "b"}')
        actions = settle(openai_client, created.id, "requires_action").required_actions
        first = result(actions[0].turn_id, actions[0].call_id, "A")
        events.create(created.id, events=[first], idempotency_key="k-1")
        events.create(created.id, events=[first], idempotency_key="k-1")
        events.create(created.id, events=[first])
        with pytest.raises(openai.ConflictError) as conflict:
            events.create(created.id, events=[{**first, "output": "other"}])
        assert conflict.value.body["message"] == "The tool call already has a different result."  # type: ignore[index]
        with pytest.raises(openai.ConflictError) as reused:
            events.create(
                created.id,
                events=[result(actions[1].turn_id, actions[1].call_id)],
                idempotency_key="k-1",
            )
        assert reused.value.body["code"] == "idempotency_conflict"  # type: ignore[index]
        assert list(applied(standin, created.id).values()) == [1]
        assert len(openai_client.beta.agents.sessions.retrieve(created.id).required_actions) == 1

    def test_unknown_call_gets_the_race_error(self, openai_client: OpenAI) -> None:
        """A result for a call that is not pending gets 400 'Unknown pending tool call: <id>'
        with code invalid_request_error, and nothing is applied."""
        created = new_session(openai_client, 'call lookup {"q": "a"}')
        (action,) = settle(openai_client, created.id, "requires_action").required_actions
        with pytest.raises(openai.BadRequestError) as unknown:
            openai_client.beta.agents.sessions.events.create(
                created.id, events=[result(action.turn_id, "call_nope")]
            )
        assert unknown.value.body == {  # type: ignore[comparison-overlap]
            "message": "Unknown pending tool call: call_nope",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_request_error",
        }
        assert openai_client.beta.agents.sessions.retrieve(created.id).status == "requires_action"

    def test_missing_beta_header_is_refused(self, standin: StandinServer) -> None:
        """Agents routes without OpenAI-Beta: agents=v1 answer 400 invalid_beta."""
        import httpx2

        answer = httpx2.get(f"{standin.base_url}/agents", trust_env=False)
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "invalid_beta"
        assert answer.headers["x-request-id"].startswith("req_")


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[bytes, dict[str, str]]]]]:
    """A real HTTP endpoint that records each webhook delivery (body, headers)."""
    got: list[tuple[bytes, dict[str, str]]] = []
    app = Flask("receiver")

    @app.post("/hook")
    def hook() -> tuple[str, int]:
        got.append((request.get_data(), dict(request.headers)))
        return "", 204

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", got
    server.shutdown()


class TestWebhooks:
    def test_every_session_webhook_unwraps(self, standin_factory: Any, receiver: Any) -> None:
        """created, in_progress, action_required, idle and failed webhooks are signed so that
        client.webhooks.unwrap returns the SDK's own event types."""
        url, got = receiver
        standin = standin_factory(latency_ms=10, webhook_url=url, webhook_secret=SECRET)
        client = standin.client(max_retries=0)
        created = new_session(client, 'call lookup {"q": "a"}')
        (action,) = settle(client, created.id, "requires_action").required_actions
        client.beta.agents.sessions.events.create(
            created.id, events=[result(action.turn_id, action.call_id)]
        )
        settle(client, created.id, "idle")
        failed = new_session(client, "fail server_error The model broke.")
        assert settle(client, failed.id, "failed").error == "The model broke."
        wait_for(lambda: len(got) >= 7)
        events = [client.webhooks.unwrap(body, headers, secret=SECRET) for body, headers in got]
        kinds = {type(e).__name__: e for e in events}
        assert set(kinds) == {
            "AgentSessionCreatedWebhookEvent",
            "AgentSessionInProgressWebhookEvent",
            "AgentSessionActionRequiredWebhookEvent",
            "AgentSessionIdleWebhookEvent",
            "AgentSessionFailedWebhookEvent",
        }
        required = kinds["AgentSessionActionRequiredWebhookEvent"]
        assert required.data.id == created.id  # type: ignore[union-attr]
        assert required.data.required_action.type == "function_call"  # type: ignore[union-attr]
        assert kinds["AgentSessionFailedWebhookEvent"].data.id == failed.id  # type: ignore[union-attr]
        assert all(e.id.startswith("evt_") for e in events)


class TestObjects:
    def test_agent_crud_and_session_snapshot(self, openai_client: OpenAI) -> None:
        """Agents are created, listed, updated and deleted; a session keeps the snapshot it
        was created with, and its inline fields override the saved agent's."""
        agents = openai_client.beta.agents
        agent = agents.create(model="gpt-4o", name="first", tools=[TOOL])  # type: ignore[list-item]
        assert agent.tools[0].defer_loading is False  # type: ignore[union-attr]
        session = agents.sessions.create(
            environment={"type": "none"},
            agent_id=agent.id,
            agent={"model": "gpt-4.1"},
            input="hello",
        )
        agents.update(agent.id, name="renamed")
        assert agents.retrieve(agent.id).name == "renamed"
        snapshot = agents.sessions.retrieve(session.id).agent
        assert (snapshot.id, snapshot.name, snapshot.model) == (agent.id, "first", "gpt-4.1")
        assert [a.id for a in agents.list().data] == [agent.id]
        assert agents.delete(agent.id).deleted is True
        with pytest.raises(openai.NotFoundError):
            agents.retrieve(agent.id)

    def test_unknown_session_and_bad_creates(self, openai_client: OpenAI) -> None:
        """An unknown session is 404; a none-environment session without input is 400; a
        running session cannot be deleted, an idle one can."""
        sessions = openai_client.beta.agents.sessions
        with pytest.raises(openai.NotFoundError) as missing:
            sessions.retrieve("sess_nope")
        assert missing.value.body["message"] == "No session found with id 'sess_nope'."  # type: ignore[index]
        with pytest.raises(openai.BadRequestError):
            sessions.create(environment={"type": "none"}, agent={"model": "gpt-4o"})
        busy = new_session(openai_client, 'call lookup {"q": "a"}')
        settle(openai_client, busy.id, "requires_action")
        with pytest.raises(openai.BadRequestError):
            sessions.delete(busy.id)
        sid = idle_session(openai_client)
        assert sessions.delete(sid).deleted is True
        with pytest.raises(openai.NotFoundError):
            sessions.retrieve(sid)

    def test_turns_list_and_message_while_active(self, openai_client: OpenAI) -> None:
        """Turns list per session; a message while a turn waits is refused with 409."""
        sessions = openai_client.beta.agents.sessions
        created = new_session(openai_client, 'call lookup {"q": "a"}')
        settle(openai_client, created.id, "requires_action")
        message = {
            "type": "agent.session.input.message",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "more"}]}],
        }
        with pytest.raises(openai.ConflictError) as busy:
            sessions.events.create(created.id, events=[message])  # type: ignore[list-item]
        assert busy.value.body["code"] == "active_turn_not_steerable"  # type: ignore[index]
        (turn,) = sessions.turns.list(created.id).data
        assert (turn.status, turn.subagent_id, turn.session_id) == ("waiting", None, created.id)
