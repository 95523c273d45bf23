"""The live API is the CLI's default: `runhook run` and `runhook tools` speak Responses unless
told (or given an assistant) otherwise."""

from __future__ import annotations

import json
from typing import Any

from tests.test_cli import cli


def test_run_streams_a_response_and_answers_its_tool_call(standin: Any) -> None:
    """`runhook run MESSAGE` creates a streamed background response, relays its events, runs
    the tool here and streams the follow-up, which completes the chain."""
    result = cli(
        "run",
        'call fetch_url {"url": "http://127.0.0.1:9/private"}',
        OPENAI_API_KEY="k",
        OPENAI_BASE_URL=standin.base_url,
    )
    assert result.returncode == 0, result.stderr
    printed = [line.split()[3] for line in result.stdout.splitlines()]
    assert printed == [
        "response.created",
        "response.queued",
        "response.in_progress",
        "response.completed",
    ]
    responses = standin.stats()["responses"].values()
    follow_up = [r for r in responses if r["request"].get("previous_response_id")]
    assert len(follow_up) == 1 and follow_up[0]["request"]["stream"] is True
    output = follow_up[0]["request"]["input"][0]["output"]
    assert "refused" in output or "not allowed" in output or "RUNHOOK_FETCH_ALLOW" in output


def test_run_with_assistant_options_for_responses_is_refused() -> None:
    """A thread with the Responses API is a mistake the command names."""
    result = cli("run", "hi", "--api", "responses", "--thread", "thread_1", OPENAI_API_KEY="k")
    assert result.returncode == 1
    assert "--assistant and --thread are Assistants options" in result.stderr


def test_tools_prints_responses_definitions_by_default() -> None:
    """`runhook tools` prints the flat Responses shape; --api assistants the nested one."""
    flat = json.loads(cli("tools").stdout)
    nested = json.loads(cli("tools", "--api", "assistants").stdout)
    assert flat[0]["name"] == "fetch_url" and flat[0]["type"] == "function"
    assert nested[0]["function"]["name"] == "fetch_url"


def test_tools_sync_for_responses_explains_there_is_nothing_to_sync() -> None:
    """The Responses API stores no tools; `tools sync --api responses` says what to do."""
    result = cli("tools", "sync", "--api", "responses")
    assert result.returncode == 1
    assert "the Responses API stores no tools to sync" in result.stderr


def test_poll_watches_a_response_chain_to_its_end(standin: Any, tmp_path: Any) -> None:
    """`runhook poll --watch resp_… --burst` relays the response's events, answers its tool
    call, follows the follow-up and returns once the chain has ended."""
    first = standin.client().responses.create(
        model="gpt-4o",
        background=True,
        tools=[
            {
                "type": "function",
                "name": "fetch_url",
                "parameters": {
                    "type": "object",
                    "properties": {"url": {"type": "string"}},
                    "required": ["url"],
                    "additionalProperties": False,
                },
            }
        ],
        input='call fetch_url {"url": "http://127.0.0.1:9/private"}',
    )
    result = cli(
        "poll",
        "--watch",
        first.id,
        "--burst",
        OPENAI_API_KEY="k",
        OPENAI_BASE_URL=standin.base_url,
        RUNHOOK_STORE=f"sqlite:///{tmp_path / 'poll.db'}",
        RUNHOOK_POLL_INTERVAL_S="0.05",
    )
    assert result.returncode == 0, result.stderr
    completed = [line for line in result.stdout.splitlines() if "response.completed" in line]
    follow_ups = [
        rid
        for rid, r in standin.stats()["responses"].items()
        if r["request"].get("previous_response_id") == first.id
    ]
    assert len(follow_ups) == 1
    assert any(first.id in line for line in completed)
    assert any(follow_ups[0] in line for line in completed)


def test_poll_refuses_a_thread_for_a_response() -> None:
    """A response has no thread: `--watch resp_… --thread` is refused in one line."""
    result = cli("poll", "--watch", "resp_1", "--thread", "thread_1")
    assert result.returncode == 1
    assert "a response (resp_…) has no --thread" in result.stderr
