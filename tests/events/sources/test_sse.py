"""The stream relay reads server-sent events off the wire (no SDK models): the relaying of
decoded events, and ``stream_run`` over HTTP against the stand-in and a server that sends an
``error`` event."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from runhook.events.envelope import Event
from runhook.events.sources import Ack
from runhook.events.sources.stream import relay_sse, stream_run
from runhook.standin import StandinServer

#: the request a stream's error names (the SDK's APIError reads its headers)
REQUEST = httpx2.Request("POST", "http://127.0.0.1/v1/threads/thread_1/runs")


class Collect:
    """A relay that keeps what it is handed (the receiving end of a relay, not runhook code)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> Ack:
        self.events.append(event)
        return Ack(202, {"status": "accepted", "id": event.id}, event.id)


def _block(name: str, data: str) -> list[httpx2.ServerSentEvent]:
    return [httpx2.ServerSentEvent(event=name, data=data)]


class TestRelaySse:
    def test_relays_each_object_as_it_came_and_skips_deltas_unparsed(self) -> None:
        relay = Collect()
        run = '{"id":"run_1","object":"thread.run","status":"queued","extra":{"k":[1,2]}}'
        lines = [
            *_block("thread.run.queued", run),
            *_block("thread.message.delta", "not json at all"),
            *_block("thread.run.step.delta", "{"),
            *_block("thread.message.created", '{"object":"thread.message"}'),  # no id
            *_block("done", "[DONE]"),
        ]
        relay_sse(lines, relay, request=REQUEST)
        assert [(e.type, dict(e.data)) for e in relay.events] == [
            (
                "thread.run.queued",
                {"id": "run_1", "object": "thread.run", "status": "queued", "extra": {"k": [1, 2]}},
            )
        ]

    def test_deltas_are_relayed_when_asked_for(self) -> None:
        relay = Collect()
        relay_sse(
            _block("thread.message.delta", '{"id":"msg_1","delta":{}}'),
            relay,
            request=REQUEST,
            include_deltas=True,
        )
        assert [e.type for e in relay.events] == ["thread.message.delta"]

    def test_nothing_after_done_is_relayed_but_the_stream_is_read_to_the_end(self) -> None:
        relay = Collect()
        read: list[httpx2.ServerSentEvent] = []

        def events() -> Iterator[httpx2.ServerSentEvent]:
            for sse in [*_block("done", "[DONE]"), *_block("thread.run.queued", '{"id":"r"}')]:
                read.append(sse)
                yield sse

        relay_sse(events(), relay, request=REQUEST)
        assert relay.events == [] and len(read) == 2

    def test_an_event_without_data_is_skipped(self) -> None:
        relay = Collect()
        relay_sse(
            [*_block("thread.run.queued", ""), *_block("thread.run.queued", '{"id":"r"}')],
            relay,
            request=REQUEST,
        )
        assert [e.object_id for e in relay.events] == ["r"]

    def test_an_error_event_raises_the_sdks_api_error(self) -> None:
        body = '{"error":{"message":"The server had an error","type":"server_error"}}'
        with pytest.raises(openai.APIError, match="The server had an error") as caught:
            relay_sse(
                [*_block("thread.run.queued", '{"id":"r"}'), *_block("error", body)],
                Collect(),
                request=REQUEST,
            )
        assert caught.value.body == {"message": "The server had an error", "type": "server_error"}

    def test_an_error_without_a_message_still_raises(self) -> None:
        with pytest.raises(openai.APIError, match="An error occurred during streaming"):
            relay_sse(_block("error", '{"error":{"code":"x"}}'), Collect(), request=REQUEST)

    def test_data_that_is_not_json_raises(self) -> None:
        with pytest.raises(ValueError):
            relay_sse(_block("thread.run.queued", "{nope"), Collect(), request=REQUEST)


class TestStreamRunOverHttp:
    def test_relays_the_stand_ins_events_as_it_sent_them(self, standin: StandinServer) -> None:
        client = standin.client(max_retries=0)
        assistant = client.beta.assistants.create(
            model="gpt-4o",
            tools=[{"type": "function", "function": {"name": "lookup", "parameters": {}}}],
        )
        thread = client.beta.threads.create(
            messages=[{"role": "user", "content": 'call lookup {"q": "a"}'}]
        )
        relay = Collect()
        stream_run(client, relay, thread_id=thread.id, assistant_id=assistant.id)
        run_id = relay.events[0].object_id
        sent = list(standin.world.runs[run_id].events)  # (name, JSON text as sent)
        wanted = [(n, json.loads(d)) for n, d in sent if not n.endswith(".delta")]
        assert [(e.type, dict(e.data)) for e in relay.events] == wanted
        assert relay.events[-1].type == "thread.run.requires_action"

    def test_a_refused_run_raises_the_status_error(self, standin: StandinServer) -> None:
        client = standin.client(max_retries=0)
        assistant = client.beta.assistants.create(model="gpt-4o")
        with pytest.raises(openai.NotFoundError):
            stream_run(client, Collect(), thread_id="thread_missing", assistant_id=assistant.id)

    def test_an_error_event_on_the_wire_raises(self) -> None:
        """A server that streams one run event and then an ``error`` event, over HTTP."""
        stream = (
            "event: thread.run.created\ndata: "
            '{"id":"run_e","object":"thread.run","status":"queued"}\n\n'
            'event: error\ndata: {"error":{"message":"overloaded","type":"server_error"}}\n\n'
        )

        @Request.application  # type: ignore[arg-type]
        def app(request: Request) -> Response:
            return Response(stream, content_type="text/event-stream")

        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            client = openai.OpenAI(
                base_url=f"http://127.0.0.1:{server.server_port}/v1",
                api_key="sk-test",
                max_retries=0,
            )
            relay = Collect()
            with pytest.raises(openai.APIError, match="overloaded") as caught:
                stream_run(client, relay, thread_id="thread_1", assistant_id="asst_1")
            assert [e.type for e in relay.events] == ["thread.run.created"]
            request: Any = caught.value.request
            assert request.url.path == "/v1/threads/thread_1/runs"
        finally:
            server.shutdown()
            server.server_close()
