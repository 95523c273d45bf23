"""The relay poller fed over HTTP: POST /watch on a real server, `runhook poll` relays to it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest

from runhook.standin import StandinServer
from tests.plugins.gunicorn import REPO, Gunicorn
from tests.scenarios.test_multi_host import TOOL

pytestmark = [pytest.mark.gunicorn, pytest.mark.slow]

TOKEN = "poll-token-0123456789"


def test_watched_over_http_then_polled_to_completion(
    gunicorn: Callable[..., Gunicorn],
    standin: StandinServer,
    tmp_path: Path,
    secret: str,
) -> None:
    """A run waiting in requires_action is put on the watch list with POST /watch; `runhook
    poll --burst --url` relays its events to the server, the tool runs once, the run
    completes and the poller returns."""
    count = tmp_path / "count.txt"
    env: dict[str, Any] = {
        "RUNHOOK_APP": "tests.scenarios.apps.multi:app",
        "RUNHOOK_STORE": f"sqlite:///{tmp_path / 'runhook.db'}",
        "RUNHOOK_WEBHOOK_SECRET": secret,
        "RUNHOOK_POLL_TOKEN": TOKEN,
        "RUNHOOK_POLL_INTERVAL_S": "0.2",
        "OPENAI_API_KEY": "sk-standin",
        "OPENAI_BASE_URL": standin.base_url,
        "RUNHOOK_COUNT_FILE": count,
    }
    server = gunicorn(**env)
    client = standin.client(max_retries=2)
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[TOOL])  # type: ignore[list-item]
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": 'call work {"n": 7}'}]
    )
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=20
    )
    assert run.status == "requires_action"

    reply = httpx2.post(
        f"{server.url}/watch",
        json={"run_id": run.id, "thread_id": thread.id},
        headers={"Authorization": f"Bearer {TOKEN}"},
        trust_env=False,
    )
    assert (reply.status_code, reply.json()["status"]) == (202, "watching")

    poll = subprocess.run(
        [sys.executable, "-m", "runhook.cli", "poll", "--burst", "--url", f"{server.url}/events"],
        cwd=REPO,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(REPO),
            **{k: str(v) for k, v in env.items()},
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert poll.returncode == 0, poll.stdout + poll.stderr
    assert "thread.run.requires_action" in poll.stdout
    assert "thread.run.completed" in poll.stdout
    final = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert final.status == "completed"
    assert standin.stats()["runs"][run.id]["submits"] == 1
    assert [line.split()[:2] for line in count.read_text().splitlines()] == [
        ["start", "7"],
        ["done", "7"],
    ]
