"""A Responses follow-up keeps the request: every setting of the answered response reaches the
stand-in on the follow-up create, over real HTTP; a response in a conversation continues in it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import openai
import pytest

from tests.handlers.test_requires_action import lookup_tools
from tests.plugins.handlers import Rig

Build = Callable[..., Rig]

SCHEMA_FORMAT = {
    "type": "json_schema",
    "name": "answer",
    "schema": {
        "type": "object",
        "properties": {"summary": {"type": "string"}},
        "required": ["summary"],
        "additionalProperties": False,
    },
    "strict": True,
}

# (create argument, value, what the follow-up create must carry for it)
SETTINGS: list[tuple[str, Any, Any]] = [
    ("text", {"format": SCHEMA_FORMAT}, {"format": SCHEMA_FORMAT, "verbosity": "medium"}),
    ("reasoning", {"effort": "high", "summary": "auto"}, {"effort": "high", "summary": "auto"}),
    ("tool_choice", "required", "required"),
    ("tool_choice", {"type": "function", "name": "lookup"}, {"type": "function", "name": "lookup"}),
    ("parallel_tool_calls", False, False),
    ("max_output_tokens", 512, 512),
    ("max_tool_calls", 3, 3),
    ("truncation", "auto", "auto"),
    ("service_tier", "flex", "flex"),
    (
        "prompt",
        {"id": "pmpt_abc", "version": "2", "variables": {"city": "Paris"}},
        {"id": "pmpt_abc", "version": "2", "variables": {"city": "Paris"}},
    ),
    ("user", "user-1234", "user-1234"),
    ("store", False, False),
    ("safety_identifier", "sid-42", "sid-42"),
    ("prompt_cache_key", "cache-key-7", "cache-key-7"),
    ("prompt_cache_retention", "24h", "24h"),
    ("top_logprobs", 5, 5),
    ("temperature", 0.3, 0.3),
    ("top_p", 0.5, 0.5),
    ("instructions", "Answer like a pirate.", "Answer like a pirate."),
    ("model", "gpt-5.5-mini", "gpt-5.5-mini"),
    ("image", {"context_compression": "disabled"}, {"context_compression": "disabled"}),
    ("access_programs", {"cyber": "standard"}, {"cyber": "standard"}),
    (
        "prompt_cache_options",
        {"mode": "explicit", "ttl": "12h"},
        {"mode": "explicit", "ttl": "12h"},
    ),
]


def settle(rig: Rig, response_id: str) -> Any:
    deadline = time.monotonic() + 15
    while (current := rig.client.responses.retrieve(response_id)).status in (
        "queued",
        "in_progress",
    ):
        assert time.monotonic() < deadline, f"response stuck in {current.status}"
        time.sleep(0.02)
    return current


def requests_by_id(rig: Rig) -> dict[str, dict[str, Any]]:
    return {rid: r["request"] for rid, r in rig.server.stats()["responses"].items()}


def follow_up_of(rig: Rig, response: Any) -> tuple[str, dict[str, Any]]:
    """The follow-up create that answered ``response`` (found by its call ids)."""
    calls = {i.call_id for i in response.output if i.type == "function_call"}
    for rid, request in requests_by_id(rig).items():
        outputs = {i.get("call_id") for i in request.get("input") or [] if isinstance(i, dict)}
        if calls and calls <= outputs:
            return rid, request
    raise AssertionError(f"no follow-up answered {response.id}")


def answer(rig: Rig, **create: Any) -> tuple[Any, dict[str, Any]]:
    """Create a background response that calls ``lookup``, deliver its thin webhook, and
    return it with the follow-up request the stand-in received."""
    create.setdefault("model", "gpt-4o")
    first = rig.client.responses.create(
        background=True,
        tools=rig.app.tools.definitions("responses"),  # type: ignore[arg-type]
        input='call lookup {"q": "a"}',
        **create,
    )
    done = settle(rig, first.id)
    ack = rig.deliver("response.completed", {"id": done.id})
    assert (ack.status, ack.body["outcome"]) == (200, "done"), ack.body
    return done, follow_up_of(rig, done)[1]


@pytest.mark.parametrize(("key", "value", "carried"), SETTINGS, ids=[s[0] for s in SETTINGS])
def test_follow_up_carries_the_setting(make_rig: Build, key: str, value: Any, carried: Any) -> None:
    """The follow-up create repeats the answered response's setting, unchanged."""
    rig = make_rig()
    lookup_tools(rig)
    _, request = answer(rig, **{key: value})
    assert request[key] == carried
    assert request["background"] is True


def test_follow_up_asks_again_for_encrypted_reasoning(make_rig: Build) -> None:
    """``include`` is not echoed; encrypted reasoning in the output makes the follow-up ask
    for it again, so a stateless (store=false) chain keeps its reasoning."""
    rig = make_rig()
    lookup_tools(rig)
    _, request = answer(
        rig, reasoning={"effort": "low"}, include=["reasoning.encrypted_content"], store=False
    )
    assert request["include"] == ["reasoning.encrypted_content"]
    assert request["store"] is False


def test_settings_survive_every_round_of_a_chain(make_rig: Build) -> None:
    """A two-round chain (serial calls) keeps the text format and metadata on both follow-ups."""
    rig = make_rig()
    lookup_tools(rig)
    first = rig.client.responses.create(
        model="gpt-4o",
        background=True,
        parallel_tool_calls=False,
        text={"format": SCHEMA_FORMAT},  # type: ignore[typeddict-item]
        metadata={"ticket": "T-1"},
        tools=rig.app.tools.definitions("responses"),  # type: ignore[arg-type]
        input='call lookup {"q": "a"}\ncall lookup {"q": "b"}',
    )
    response = settle(rig, first.id)
    for _ in range(2):
        assert rig.deliver("response.completed", {"id": response.id}).body["outcome"] == "done"
        rid, request = follow_up_of(rig, response)
        assert request["text"]["format"] == SCHEMA_FORMAT
        assert request["metadata"] == {"ticket": "T-1", "runhook_root": first.id}
        assert request["parallel_tool_calls"] is False
        response = settle(rig, rid)
    assert response.output_text == "lookup: found a\nlookup: found b"
    assert rig.calls.names() == ["lookup", "lookup"]


def test_a_conversation_continues_in_the_conversation(make_rig: Build) -> None:
    """A response in a conversation is followed up with ``conversation``, not
    ``previous_response_id``; the chain completes and the conversation holds every item."""
    rig = make_rig()
    lookup_tools(rig)
    conversation = rig.client.conversations.create()
    done, request = answer(rig, conversation=conversation.id)
    assert request["conversation"] == conversation.id
    assert "previous_response_id" not in request
    rid, _ = follow_up_of(rig, done)
    final = settle(rig, rid)
    assert final.conversation is not None and final.conversation.id == conversation.id
    assert final.output_text == "lookup: found a"
    items = rig.client.conversations.items.list(conversation.id)
    types = [item.type for item in items.data]
    assert types == ["message", "function_call", "function_call_output", "message"]


def test_previous_response_id_beside_conversation_is_refused(make_rig: Build) -> None:
    """The stand-in refuses both continuations at once, as the API does, with a JSON 400."""
    rig = make_rig()
    conversation = rig.client.conversations.create()
    first = rig.client.responses.create(model="gpt-4o", input="hi")
    with pytest.raises(openai.BadRequestError, match="Mutually exclusive parameters"):
        rig.client.responses.create(
            model="gpt-4o",
            input="again",
            previous_response_id=first.id,
            conversation=conversation.id,
        )
