"""/metrics over real gunicorn with two workers: the counts a driven run caused, summed
across the worker processes (prometheus_client's multiprocess mode)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest

from runhook.events.envelope import Event
from runhook.events.signing import sign_headers
from runhook.standin import StandinServer
from tests.plugins.gunicorn import Gunicorn, wait_until
from tests.plugins.observability import Samples, samples, value

pytestmark = [pytest.mark.gunicorn, pytest.mark.slow]

TOKEN = "metrics-token"
TOOL = {
    "type": "function",
    "function": {
        "name": "work",
        "parameters": {
            "type": "object",
            "properties": {"n": {"type": "integer"}},
            "required": ["n"],
            "additionalProperties": False,
        },
    },
}


def post(server: Gunicorn, secret: str, event: Event, **headers: str) -> int:
    signed = {**sign_headers(secret, event.body, msg_id=event.id), **headers}
    with httpx2.Client(trust_env=False, timeout=30) as client:  # a new connection each time
        return client.post(f"{server.url}/events", content=event.body, headers=signed).status_code


def scrape(server: Gunicorn) -> Samples:
    reply = httpx2.get(
        f"{server.url}/metrics",
        headers={"Authorization": f"Bearer {TOKEN}"},
        trust_env=False,
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    return samples(reply.text)


def test_metrics_count_a_driven_run_across_two_workers(
    gunicorn: Callable[..., Gunicorn],
    standin_factory: Callable[..., StandinServer],
    tmp_path: Path,
    secret: str,
) -> None:
    """Three waits answered, one duplicate, one forged delivery and a burst of lifecycle events
    spread over both workers: every scrape, whichever worker answers it, shows exactly those
    counts, and both workers wrote metrics."""
    standin = standin_factory(latency_ms=0)
    metrics_dir = tmp_path / "metrics"
    server = gunicorn(
        RUNHOOK_APP="tests.scenarios.apps.operated:app",
        RUNHOOK_STORE=f"sqlite:///{tmp_path / 'runhook.db'}",
        RUNHOOK_WEBHOOK_SECRET=secret,
        OPENAI_API_KEY="sk-standin",
        OPENAI_BASE_URL=standin.base_url,
        RUNHOOK_WORKERS=2,
        RUNHOOK_METRICS=1,
        RUNHOOK_ADMIN_TOKEN=TOKEN,
        RUNHOOK_SWEEP_INTERVAL_S=0.2,
        RUNHOOK_FIXED_FILE=tmp_path / "fixed",
        PROMETHEUS_MULTIPROC_DIR=metrics_dir,
    )
    assert httpx2.get(f"{server.url}/metrics", trust_env=False).status_code == 401
    client = standin.client(max_retries=3)
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[TOOL])  # type: ignore[list-item]

    def wait(n: int) -> Any:
        thread = client.beta.threads.create(
            messages=[{"role": "user", "content": f'call work {{"n": {n}}}'}]
        )
        return client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=20
        )

    waits = [wait(n) for n in range(3)]
    events = [Event.create("thread.run.requires_action", w.model_dump(mode="json")) for w in waits]
    assert [post(server, secret, e) for e in events] == [202, 202, 202]
    assert post(server, secret, events[0]) == 200  # a duplicate
    forged = Event.create("thread.run.queued", {"id": "run_x"})
    assert post(server, secret, forged, **{"webhook-signature": "v1,AAAA"}) == 401

    def submitted() -> bool:
        stats = standin.stats()["runs"]
        return all(stats.get(w.id, {}).get("submits") == 1 for w in waits)

    wait_until(submitted, what="the three submits")
    # Spread events of a type the metrics label "other" over both workers, in parallel.
    burst = [Event.create("test.ping", {"id": f"p{i}"}) for i in range(40)]
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(lambda e: post(server, secret, e), burst)) == {202}

    def counted() -> bool:
        return (
            value(scrape(server), "runhook_handler_duration_seconds_count", event_type="other")
            == 40
        )

    wait_until(counted, what="the burst to be processed")
    pids = {p.stem.rpartition("_")[2] for p in metrics_dir.glob("*.db")}
    assert len(pids) == 2, f"metrics from {pids}; workers {server.worker_pids()}"
    for _ in range(6):  # each scrape may land on either worker: all agree
        scraped = scrape(server)
        assert value(scraped, "runhook_deliveries_total", status="202", result="accepted") == 43
        assert value(scraped, "runhook_deliveries_total", status="200", result="duplicate") == 1
        assert (
            value(scraped, "runhook_deliveries_total", status="401", result="invalid_signature")
            == 1
        )
        assert (
            value(
                scraped,
                "runhook_handler_duration_seconds_count",
                event_type="thread.run.requires_action",
                outcome="done",
            )
            == 3
        )
        assert value(scraped, "runhook_tool_duration_seconds_count", tool="work", outcome="ok") == 3
        assert value(scraped, "runhook_submits_total", api="assistants", outcome="submitted") == 3
        assert value(scraped, "runhook_inbox_entries", state="due") == 0
        assert value(scraped, "runhook_lease_takeovers_total") == 0
    assert server.terminate() == 0
