"""The operator page in headless Chromium (issue 17): served by real gunicorn, it shows a run
the test drove on a time axis, and its replay button replays a parked event."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest

from runhook.events import keys
from runhook.events.envelope import Event
from runhook.events.signing import sign_headers
from runhook.events.store.sqlite import SQLiteStore
from runhook.standin import StandinServer
from tests.plugins.gunicorn import Gunicorn, wait_until
from tests.scenarios.test_metrics_gunicorn import TOOL

pytestmark = [pytest.mark.gunicorn, pytest.mark.browser, pytest.mark.slow]

TOKEN = "page-token"


def post(server: Gunicorn, secret: str, event: Event) -> int:
    headers = sign_headers(secret, event.body, msg_id=event.id)
    reply = httpx2.post(
        f"{server.url}/events", content=event.body, headers=headers, trust_env=False
    )
    return reply.status_code


def test_the_page_shows_a_driven_run_and_replays_a_parked_event(
    gunicorn: Callable[..., Gunicorn],
    standin_factory: Callable[..., StandinServer],
    browser_page: Any,
    tmp_path: Path,
    secret: str,
) -> None:
    """The inbox shows one parked event and the run's timeline its event, two tool calls and
    the submit; clicking replay (after the cause was fixed) processes the parked event and the
    page then shows no parked events."""
    standin = standin_factory(latency_ms=0)
    db = tmp_path / "runhook.db"
    fixed = tmp_path / "fixed"
    server = gunicorn(
        RUNHOOK_APP="tests.scenarios.apps.operated:app",
        RUNHOOK_STORE=f"sqlite:///{db}",
        RUNHOOK_WEBHOOK_SECRET=secret,
        OPENAI_API_KEY="sk-standin",
        OPENAI_BASE_URL=standin.base_url,
        RUNHOOK_WORKERS=1,
        RUNHOOK_ADMIN_PAGE=1,
        RUNHOOK_ADMIN_TOKEN=TOKEN,
        RUNHOOK_MAX_ATTEMPTS=1,
        RUNHOOK_SWEEP_INTERVAL_S=0.2,
        RUNHOOK_FIXED_FILE=fixed,
    )
    client = standin.client(max_retries=3)
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[TOOL])  # type: ignore[list-item]
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": 'call work {"n": 1}\ncall work {"n": 2}'}]
    )
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=20
    )
    assert (
        post(
            server, secret, Event.create("thread.run.requires_action", run.model_dump(mode="json"))
        )
        == 202
    )
    wait_until(
        lambda: standin.stats()["runs"].get(run.id, {}).get("submits") == 1, what="the submit"
    )
    done = client.beta.threads.runs.poll(run.id, thread_id=thread.id, poll_interval_ms=20)
    assert (
        post(server, secret, Event.create("thread.run.completed", done.model_dump(mode="json")))
        == 202
    )
    broken = Event.create("boom.now", {"id": "obj_1"})
    assert post(server, secret, broken) == 202
    store = SQLiteStore(db)
    wait_until(lambda: len(store.parked(keys.PARKED_QUEUE)) == 1, what="the event to be parked")

    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})
    assert page.goto(f"{server.url}/admin?token={TOKEN}").ok
    assert page.url == f"{server.url}/admin/"
    assert page.inner_text("#inbox-parked b") == "1"
    assert broken.id in page.inner_text("#parked")
    page.click(f"#runs a:has-text('{run.id}')")
    entries = page.locator("#timeline tr.entry")
    kinds = [entries.nth(i).locator("td").nth(1).inner_text() for i in range(entries.count())]
    assert kinds.count("tool") == 2 and kinds.count("submit") == 1 and "event" in kinds
    assert "submitted" in page.inner_text("#timeline")
    assert page.locator("#timeline .bar").count() == len(kinds)
    shots = Path(os.environ.get("RUNHOOK_SCREENSHOTS", tmp_path))
    page.screenshot(path=str(shots / "admin-page.png"), full_page=True)

    fixed.write_text("")
    page.click(f"button.replay[data-id='{broken.id}']")
    page.wait_for_selector("#status:has-text('done')")
    page.wait_for_selector("#no-parked")
    assert page.inner_text("#inbox-parked b") == "0"
    assert store.parked(keys.PARKED_QUEUE) == []
    page.screenshot(path=str(shots / "admin-page-replayed.png"), full_page=True)
    store.close()
    assert server.terminate() == 0
