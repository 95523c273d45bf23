"""The Responses stand-in is faithful: spec-valid objects, the API's params and errors, streams
in the real event order, and a scripted model that continues from the outputs it is given."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx2
import openai
import pytest
from openai import OpenAI

from runhook.standin import StandinServer

Validate = Callable[[str, Any], list[str]]
TOOL: dict[str, Any] = {
    "type": "function",
    "name": "lookup",
    "parameters": {
        "type": "object",
        "properties": {"q": {"type": "string"}},
        "required": ["q"],
        "additionalProperties": False,
    },
}


def settle(client: OpenAI, rid: str) -> Any:
    deadline = time.monotonic() + 10
    while (r := client.responses.retrieve(rid)).status in ("queued", "in_progress"):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return r


def raw_create(client: OpenAI, **body: Any) -> dict[str, Any]:
    data: dict[str, Any] = client.responses.with_raw_response.create(**body).http_response.json()
    return data


def raw_get(client: OpenAI, rid: str) -> dict[str, Any]:
    settle(client, rid)
    data: dict[str, Any] = client.responses.with_raw_response.retrieve(rid).http_response.json()
    return data


def wire_events(client: OpenAI, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of a streamed create exactly as sent (the SDK's models add nulls)."""
    import json

    found = []
    with httpx2.stream(
        "POST",
        f"{client.base_url}responses",
        json={**body, "stream": True},
        headers={"authorization": "Bearer sk-standin"},
    ) as answer:
        for line in answer.iter_lines():
            if line.startswith("data: "):
                found.append(json.loads(line[6:]))
    return found


class TestSchema:
    def test_every_kind_of_response_validates_against_the_spec(
        self, openai_client: OpenAI, spec_errors: Validate
    ) -> None:
        """Queued, tool-calling, reasoning, logprobs, failed, cancelled, conversation and
        fully configured responses all match the spec's ``Response`` schema."""
        c = openai_client
        conv = c.conversations.create()
        objects = [
            raw_create(c, model="gpt-4o", input="hello"),
            raw_create(c, model="gpt-4o", input="hello", background=True),
            raw_create(c, model="gpt-4o", input='call lookup {"q": "a"}', tools=[TOOL]),
            raw_create(
                c,
                model="o4-mini",
                input='call lookup {"q": "a"}',
                tools=[TOOL],
                reasoning={"effort": "low", "summary": "auto"},
                include=["reasoning.encrypted_content"],
            ),
            raw_create(c, model="gpt-4o", input="hi", include=["message.output_text.logprobs"]),
            raw_create(c, model="gpt-4o", input="fail server_error boom"),
            raw_create(c, model="gpt-4o", input="hi", conversation=conv.id),
            raw_create(
                c,
                model="gpt-4o",
                input="hi",
                user="u-1",
                safety_identifier="s-1",
                prompt_cache_key="k",
                prompt_cache_retention="24h",
                max_tool_calls=2,
                top_logprobs=3,
                service_tier="flex",
                truncation="auto",
                max_output_tokens=100,
                prompt={"id": "pmpt_1", "variables": {"a": "b"}},
                text={"format": {"type": "json_object"}},
                tool_choice="none",
                tools=[TOOL],
                extra_body={
                    "image": {"context_compression": "auto"},
                    "access_programs": {"cyber": "standard"},
                    "prompt_cache_options": {"mode": "explicit"},
                },
            ),
        ]
        background = c.responses.create(model="gpt-4o", input="sleep 5000", background=True)
        c.responses.cancel(background.id)
        objects.append(raw_get(c, background.id))
        for obj in objects:
            assert spec_errors("Response", obj) == [], obj
        assert spec_errors("ConversationResource", conv.model_dump(mode="json")) == []

    def test_the_validator_catches_what_the_old_stand_in_returned(
        self, spec_errors: Validate
    ) -> None:
        """A null ``usage`` and ``user`` (the old shape) fail validation: the check has teeth."""
        broken = {
            "id": "resp_1",
            "object": "response",
            "created_at": 1,
            "status": "completed",
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "model": "gpt-4o",
            "tools": [],
            "output": [],
            "parallel_tool_calls": True,
            "metadata": {},
            "tool_choice": "auto",
            "temperature": 1.0,
            "top_p": 1.0,
            "usage": None,
            "user": None,
        }
        assert len(spec_errors("Response", broken)) == 2


class TestParams:
    @pytest.mark.parametrize(
        ("key", "value"),
        [
            ("safety_identifier", "sid"),
            ("prompt_cache_key", "key"),
            ("prompt_cache_retention", "in_memory"),
            ("prompt_cache_options", {"mode": "implicit", "ttl": "30m"}),
            ("max_tool_calls", 4),
            ("top_logprobs", 2),
            ("context_management", [{"type": "compaction", "compact_threshold": 1000}]),
            ("background_options", {"completion_window": "soonest"}),
            ("access_programs", {"cyber": "standard"}),
            ("moderation", {"model": "omni-moderation-latest"}),
            ("image", {}),
        ],
    )
    def test_valid_create_params_are_accepted(
        self, openai_client: OpenAI, key: str, value: Any
    ) -> None:
        """Every create parameter of the SDK's ResponseCreateParams is accepted."""
        response = openai_client.responses.create(
            model="gpt-4o",
            input="hi",
            extra_body={key: value},
        )
        assert response.status == "completed"

    def test_stream_options_with_stream_are_accepted(self, openai_client: OpenAI) -> None:
        """``stream_options`` is accepted beside ``stream=True`` and refused without it."""
        with openai_client.responses.create(
            model="gpt-4o", input="hi", stream=True, stream_options={"include_obfuscation": False}
        ) as stream:
            assert [e.type for e in stream][-1] == "response.completed"
        with pytest.raises(openai.BadRequestError, match="stream_options"):
            openai_client.responses.create(
                model="gpt-4o", input="hi", stream_options={"include_obfuscation": False}
            )

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ({"max_output_tokens": "many"}, "Invalid type for 'max_output_tokens': expected an"),
            ({"truncation": "sometimes"}, "Invalid value: 'sometimes'."),
            ({"temperature": 3}, "Invalid 'temperature': number above maximum value"),
            ({"store": "yes"}, "Invalid type for 'store': expected a boolean"),
            ({"frobnicate": 1}, "Unrecognized request argument supplied: frobnicate"),
            ({"model": None}, "Missing required parameter: 'model'."),
        ],
    )
    def test_badly_typed_body_values_get_openais_json_400(
        self, standin: StandinServer, body: dict[str, Any], message: str
    ) -> None:
        """A wrong type, value or name is a JSON 400 naming the parameter, never a 500."""
        answer = httpx2.post(
            f"{standin.base_url}/responses",
            json={"model": "gpt-4o", "input": "hi", **body},
            headers={"authorization": "Bearer sk-standin"},
        )
        assert answer.status_code == 400
        assert answer.json()["error"]["message"].startswith(message)
        assert answer.json()["error"]["type"] == "invalid_request_error"

    def test_a_body_that_is_not_json_is_a_json_400(self, standin: StandinServer) -> None:
        """A body that does not parse is refused, not read as an empty request."""
        answer = httpx2.post(
            f"{standin.base_url}/responses",
            content=b"{not json",
            headers={"authorization": "Bearer sk-standin", "content-type": "application/json"},
        )
        assert answer.status_code == 400
        assert answer.json()["error"]["message"].startswith("We could not parse the JSON body")

    def test_badly_typed_query_values_get_openais_json_400(self, standin: StandinServer) -> None:
        """``?limit=abc`` and ``?starting_after=x`` are JSON 400s, not HTML 500s."""
        headers = {"authorization": "Bearer sk-standin", "OpenAI-Beta": "assistants=v2"}
        listed = httpx2.get(f"{standin.base_url}/assistants?limit=abc", headers=headers)
        resumed = httpx2.get(
            f"{standin.base_url}/responses/resp_x?stream=true&starting_after=x", headers=headers
        )
        for answer in (listed, resumed):
            assert answer.status_code == 400
            assert answer.headers["content-type"].startswith("application/json")
            assert "expected an integer" in answer.json()["error"]["message"]


class TestStreaming:
    def test_a_streamed_tool_call_comes_in_the_real_order(
        self, openai_client: OpenAI, spec_errors: Validate
    ) -> None:
        """stream=True gives created → in_progress → item added → argument delta/done → item
        done → completed, numbered from 0, each event valid per the spec."""
        with openai_client.responses.create(
            model="gpt-4o", input='call lookup {"q": "a"}', tools=[TOOL], stream=True
        ) as stream:
            events = list(stream)
        assert [e.type for e in events] == [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
        assert [e.sequence_number for e in events] == list(range(len(events)))
        wire = wire_events(
            openai_client, {"model": "gpt-4o", "input": 'call lookup {"q": "a"}', "tools": [TOOL]}
        )
        assert [e["type"] for e in wire] == [e.type for e in events]
        for event in wire:
            assert spec_errors("ResponseStreamEvent", event) == [], event
        final = events[-1].response  # type: ignore[union-attr]
        assert final.output[0].arguments == '{"q": "a"}'

    def test_a_streamed_message_has_its_text_parts(
        self, openai_client: OpenAI, spec_errors: Validate
    ) -> None:
        """A message streams content_part.added, output_text.delta/.done, content_part.done,
        each event valid per the spec."""
        with openai_client.responses.stream(model="gpt-4o", input="hello") as stream:
            types = [e.type for e in stream]
            final = stream.get_final_response()
        assert types[2:9] == [
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
        assert final.output_text.startswith("Hello from the runhook stand-in")
        for event in wire_events(openai_client, {"model": "gpt-4o", "input": "hello"}):
            assert spec_errors("ResponseStreamEvent", event) == [], event

    def test_a_background_stream_resumes_after_a_sequence_number(
        self, standin_factory: Callable[..., StandinServer]
    ) -> None:
        """A dropped background stream resumes with starting_after and misses nothing."""
        client = standin_factory(latency_ms=150).client(max_retries=0)
        with client.responses.create(
            model="gpt-4o", input="hi", background=True, stream=True
        ) as stream:
            first = [next(iter(stream)) for _ in range(2)]
        assert [e.type for e in first] == ["response.created", "response.queued"]
        rest = client.responses.retrieve(
            first[0].response.id,  # type: ignore[union-attr]
            stream=True,
            starting_after=first[-1].sequence_number,
        )
        with rest:
            later = list(rest)
        assert later[0].sequence_number == 2
        assert later[-1].type == "response.completed"


class TestContinuation:
    def first_round(self, client: OpenAI) -> Any:
        return settle(
            client,
            client.responses.create(
                model="gpt-4o", input='call lookup {"q": "a"}', tools=[TOOL], background=True
            ).id,
        )

    def test_the_whole_input_resent_without_previous_response_id_continues(
        self, openai_client: OpenAI
    ) -> None:
        """Agents SDK default mode: user turn + call + output, no previous_response_id: the
        model answers from the output instead of calling the tool again."""
        first = self.first_round(openai_client)
        call = first.output[0]
        reply = openai_client.responses.create(
            model="gpt-4o",
            tools=[TOOL],
            input=[
                {"role": "user", "content": 'call lookup {"q": "a"}'},
                call.model_dump(mode="json"),
                {"type": "function_call_output", "call_id": call.call_id, "output": "found a"},
            ],
        )
        assert reply.output_text == "lookup: found a"

    def test_user_text_beside_previous_response_id_and_outputs_continues(
        self, openai_client: OpenAI
    ) -> None:
        """Semantic Kernel style: the user turn re-sent beside previous_response_id and the
        outputs still continues the pending calls."""
        first = self.first_round(openai_client)
        reply = openai_client.responses.create(
            model="gpt-4o",
            tools=[TOOL],
            previous_response_id=first.id,
            input=[
                {"role": "user", "content": 'call lookup {"q": "a"}'},
                {"type": "function_call_output", "call_id": first.output[0].call_id, "output": "x"},
            ],
        )
        assert reply.output_text == "lookup: x"

    def test_an_output_for_a_call_nobody_made_is_refused(self, openai_client: OpenAI) -> None:
        """An output whose call_id matches no function call is the API's 400."""
        with pytest.raises(openai.BadRequestError, match="No tool call found"):
            openai_client.responses.create(
                model="gpt-4o",
                input=[{"type": "function_call_output", "call_id": "call_nope", "output": "x"}],
            )
