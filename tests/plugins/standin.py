"""Fixtures: the OpenAI stand-in over real HTTP, and the official SDK pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from openai import OpenAI

from runhook.standin import StandinConfig, StandinServer


@pytest.fixture
def standin_factory() -> Iterator[Callable[..., StandinServer]]:
    """Start stand-ins with custom knobs; all are stopped at teardown."""
    servers: list[StandinServer] = []

    def start(**knobs: Any) -> StandinServer:
        server = StandinServer(StandinConfig(**knobs)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def standin(standin_factory: Callable[..., StandinServer]) -> StandinServer:
    """A running stand-in with a short model latency."""
    return standin_factory(latency_ms=10)


@pytest.fixture
def openai_client(standin: StandinServer) -> OpenAI:
    """The official SDK client talking to ``standin`` (no SDK retries, for exact counts)."""
    return standin.client(max_retries=0)


FN_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "lookup",
        "parameters": {
            "type": "object",
            "properties": {"q": {"type": "string"}},
            "required": ["q"],
            "additionalProperties": False,
        },
    },
}
