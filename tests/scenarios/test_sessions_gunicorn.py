"""Agents API sessions answered by real gunicorn (2 workers), every wait delivered many times."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest

from runhook.events.config import Settings
from runhook.events.envelope import Event
from runhook.events.signing import sign_headers
from runhook.events.sources.poller import Poller
from runhook.events.sources.relay import HttpRelay
from runhook.events.sources.session_stream import create_and_relay
from runhook.events.store.memory import MemoryStore
from runhook.standin import StandinServer
from tests.plugins.gunicorn import Gunicorn, free_port, wait_until

pytestmark = [pytest.mark.gunicorn, pytest.mark.slow, pytest.mark.exactly_once]

OPENAI_SECRET = "whsec_" + base64.b64encode(b"openai-agents-secret-0123456789ab").decode()
TOOL = {
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
SESSIONS = 3


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def chase(url: str, secret: str, client: Any, sid: str, copies: int = 3) -> int:
    """Once ``sid`` waits, post its snapshot ``copies`` times at once, each under a new event
    id (as several relays would); return how many were posted."""
    deadline = time.monotonic() + 10
    while (session := client.beta.agents.sessions.retrieve(sid)).status != "requires_action":
        if session.status in ("idle", "failed") or time.monotonic() > deadline:
            return 0
        time.sleep(0.01)
    data = session.model_dump(mode="json")

    def post(_: int) -> int:
        event = Event.create("agent.session.requires_action", data)
        headers = sign_headers(secret, event.body, msg_id=event.id)
        return httpx2.post(url, content=event.body, headers=headers, trust_env=False).status_code

    with ThreadPoolExecutor(copies) as pool:
        assert all(s in (200, 202) for s in pool.map(post, range(copies)))
    return copies


@pytest.mark.parametrize("source", ["webhook", "stream", "poll"])
def test_each_call_answered_once_through_every_source(
    source: str,
    gunicorn: Callable[..., Gunicorn],
    standin_factory: Callable[..., StandinServer],
    tmp_path: Path,
    secret: str,
) -> None:
    """Three two-call sessions through one source, each wait also chased by three snapshot
    deliveries: each tool runs once, each call is answered once, one outcome per session."""
    port = free_port()
    events_url = f"http://127.0.0.1:{port}/events"
    standin = standin_factory(
        latency_ms=20,
        webhook_url=events_url if source == "webhook" else None,
        webhook_secret=OPENAI_SECRET,
        webhook_duplicate_rate=1.0,
    )
    count = tmp_path / "count.txt"
    gunicorn(
        port=port,
        RUNHOOK_APP="tests.scenarios.apps.sessions_app:app",
        RUNHOOK_STORE=f"sqlite:///{tmp_path / 'runhook.db'}",
        RUNHOOK_WEBHOOK_SECRET=secret,
        OPENAI_WEBHOOK_SECRET=OPENAI_SECRET,
        OPENAI_API_KEY="sk-standin",
        OPENAI_BASE_URL=standin.base_url,
        RUNHOOK_WORKERS=2,
        RUNHOOK_SWEEP_INTERVAL_S=0.2,
        RUNHOOK_COUNT_FILE=count,
        RUNHOOK_SLEEP_S=0.4,
    )
    client = standin.client()
    agent = client.beta.agents.create(model="gpt-4o", tools=[TOOL])  # type: ignore[list-item]
    relay = HttpRelay(events_url, secret)
    texts = [f'call lookup {{"q": "s{n}a"}}\ncall lookup {{"q": "s{n}b"}}' for n in range(SESSIONS)]
    relays: list[threading.Thread] = []
    if source == "stream":
        for text in texts:
            thread = threading.Thread(
                target=create_and_relay,
                args=(client, relay),
                kwargs={"agent_id": agent.id, "message": text},
                daemon=True,
            )
            thread.start()
            relays.append(thread)
        wait_until(
            lambda: len(client.beta.agents.sessions.list().data) == SESSIONS, what="sessions"
        )
        ids = [s.id for s in client.beta.agents.sessions.list().data]
    else:
        ids = [
            client.beta.agents.sessions.create(
                environment={"type": "none"}, agent_id=agent.id, input=text
            ).id
            for text in texts
        ]
    if source == "poll":
        settings = Settings(poll_interval_s=0.05, poll_max_interval_s=0.1)
        poller = Poller(MemoryStore(), client, relay, settings)
        for sid in ids:
            poller.watch_session(sid)
        relays.append(threading.Thread(target=poller.run, kwargs={"burst": True}, daemon=True))
        relays[-1].start()
    with ThreadPoolExecutor(SESSIONS) as pool:
        chased = list(pool.map(lambda sid: chase(events_url, secret, client, sid), ids))
    assert sum(chased) >= 3  # at least one wait was chased while it lasted
    try:
        wait_until(
            lambda: sum(line.startswith("outcome") for line in lines(count)) >= SESSIONS,
            timeout=60,
            what="every outcome",
        )
    except AssertionError:
        raise AssertionError(str(standin.stats()["sessions"]) + str(lines(count))) from None
    for thread in relays:
        thread.join(30)
    relay.close()
    time.sleep(0.5)  # late duplicates would show up now
    queries = sorted(line.split()[1] for line in lines(count) if line.startswith("lookup"))
    assert queries == sorted(f"s{n}{c}" for n in range(SESSIONS) for c in "ab")
    stats = standin.stats()["sessions"]
    for sid in ids:
        assert sorted(stats[sid]["applied"].values()) == [1, 1], stats[sid]
    outcomes = sorted(line for line in lines(count) if line.startswith("outcome"))
    assert len(outcomes) == SESSIONS
    assert all(" completed 'lookup: found s" in line for line in outcomes)
    assert {line.split()[1] for line in outcomes} == set(ids)
    if source == "webhook":
        for sid in ids:
            assert stats[sid]["webhooks"] >= 2 * len(stats[sid]["webhook_types"])
