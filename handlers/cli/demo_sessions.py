"""``runhook demo --api sessions``: start an Agents API session through the chosen source."""

from __future__ import annotations

import threading
from typing import Any

from openai import OpenAI

from runhook.app import App
from runhook.events.config import Settings
from runhook.events.sources.poller import Poller
from runhook.events.sources.relay import HttpRelay, PipelineRelay
from runhook.events.sources.session_stream import create_and_relay
from runhook.events.store.memory import MemoryStore


def start_session(
    source: str,
    client: OpenAI,
    app: App,
    settings: Settings,
    *,
    secret: str,
    events_url: str,
    message: str,
) -> None:
    """Create an agent with the app's tools and a session whose first turn is ``message``.

    Args:
        source: ``webhook``: the stand-in's signed ``agent.session.*`` webhooks reach the
            server; ``stream``: the creation stream is relayed into ``app`` (returns at idle);
            ``poll``: the relay poller watches the session and posts to the server.
        client: the SDK client on the stand-in.
        app: the in-process App (for ``stream``).
        settings: the demo's settings.
        secret: the relay's signing secret.
        events_url: the server's ``/events``.
        message: the user's message.
    """
    tools: Any = app.tools.definitions("agents")
    agent = client.beta.agents.create(model="gpt-4o", name="runhook demo", tools=tools)
    if source == "stream":
        create_and_relay(
            client, PipelineRelay(app.pipeline(), secret), agent_id=agent.id, message=message
        )
        return
    session = client.beta.agents.sessions.create(
        environment={"type": "none"}, agent_id=agent.id, input=message
    )
    if source == "poll":
        relay = HttpRelay(events_url, secret)
        poller = Poller(MemoryStore(), client, relay, settings.replace(poll_interval_s=0.1))
        poller.watch_session(session.id)
        threading.Thread(target=poller.run, kwargs={"burst": True}, daemon=True).start()
