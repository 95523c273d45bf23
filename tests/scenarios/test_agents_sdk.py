"""A real third-party client, the OpenAI Agents SDK, completes a tool turn on the stand-in in
its three ways of talking to the Responses API."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from runhook.standin import StandinServer

agents = pytest.importorskip("agents")


def run_agent(standin: StandinServer, text: str, mode: str) -> tuple[Any, list[str]]:
    """Run one agent turn against ``standin``; return its final output and the tool calls."""
    from openai import AsyncOpenAI

    agents.set_tracing_disabled(True)
    calls: list[str] = []

    @agents.function_tool
    def lookup(q: str) -> str:
        """Look something up.

        Args:
            q: what to look up.
        """
        calls.append(q)
        return f"found {q}"

    client = AsyncOpenAI(base_url=standin.base_url, api_key="sk-standin", max_retries=0)
    agent = agents.Agent(
        name="runhook",
        instructions="Answer briefly.",
        tools=[lookup],
        model=agents.OpenAIResponsesModel(model="gpt-4o", openai_client=client),
    )

    async def turn() -> Any:
        try:
            if mode == "streamed":
                streamed = agents.Runner.run_streamed(agent, text, max_turns=4)
                async for _ in streamed.stream_events():
                    pass
                return streamed.final_output
            result = await agents.Runner.run(
                agent, text, max_turns=4, auto_previous_response_id=mode == "auto"
            )
            return result.final_output
        finally:
            await client.close()

    return asyncio.run(turn()), calls


@pytest.mark.parametrize("mode", ["default", "auto", "streamed"])
def test_agents_sdk_completes_a_tool_turn(standin: StandinServer, mode: str) -> None:
    """Default mode (whole input re-sent), auto_previous_response_id and run_streamed each
    call the tool once and end with the model's answer quoting its output."""
    output, calls = run_agent(standin, 'call lookup {"q": "a"}', mode)
    assert (output, calls) == ("lookup: found a", ["a"])
    requests = [r["request"] for r in standin.stats()["responses"].values()]
    assert len(requests) == 2
    (follow_up,) = [
        r
        for r in requests
        if any(i.get("type") == "function_call_output" for i in r["input"] if isinstance(i, dict))
    ]
    assert (follow_up.get("previous_response_id") is not None) is (mode == "auto")
