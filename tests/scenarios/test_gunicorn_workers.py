"""Real gunicorn, 4 worker processes, one SQLite store: exactly-once, crash recovery, drain."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest

from runhook.events.signing import sign_headers
from runhook.events.testing import make_event
from tests.plugins.gunicorn import Gunicorn, wait_until

pytestmark = [pytest.mark.gunicorn, pytest.mark.slow, pytest.mark.exactly_once]

Start = Callable[..., Gunicorn]


def env(tmp_path: Path, secret: str, **extra: object) -> dict[str, object]:
    return {
        "RUNHOOK_APP": "tests.scenarios.apps.counting:app",
        "RUNHOOK_STORE": f"sqlite:///{tmp_path / 'runhook.db'}",
        "RUNHOOK_WEBHOOK_SECRET": secret,
        "RUNHOOK_WORKERS": 4,
        "RUNHOOK_COUNT_FILE": tmp_path / "count.txt",
        "RUNHOOK_SWEEP_INTERVAL_S": 0.2,
        **extra,
    }


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_fifty_concurrent_duplicates_run_once(gunicorn: Start, tmp_path: Path, secret: str) -> None:
    """50 concurrent deliveries of one event to 4 workers: one 202, 49 duplicates, one run."""
    server = gunicorn(**env(tmp_path, secret))
    event = make_event("test.dup")
    headers = sign_headers(secret, event.body, msg_id=event.id)

    def post(_: int) -> int:
        return httpx2.post(
            f"{server.url}/events", content=event.body, headers=headers, timeout=30, trust_env=False
        ).status_code

    with ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(post, range(50)))
    assert sorted(statuses) == [200] * 49 + [202]
    wait_until(lambda: len(lines(tmp_path / "count.txt")) >= 1, what="the handler")
    assert server.terminate() == 0
    assert [line.split()[0] for line in lines(tmp_path / "count.txt")] == [event.id]


def test_killed_worker_is_taken_over_after_the_lease(
    gunicorn: Start, tmp_path: Path, secret: str
) -> None:
    """SIGKILL of the worker running a handler: another worker processes the event once the
    lease lapses."""
    block = tmp_path / "block"
    block.write_text("")
    server = gunicorn(**env(tmp_path, secret, RUNHOOK_BLOCK_FILE=block, RUNHOOK_CLAIM_LEASE_S=2))
    event = make_event("test.crash")
    response = httpx2.post(
        f"{server.url}/events",
        content=event.body,
        headers=sign_headers(secret, event.body, msg_id=event.id),
        trust_env=False,
    )
    assert response.status_code == 202
    pid_file = Path(str(block) + ".pid")
    wait_until(pid_file.exists, what="the handler to start")
    victim = int(pid_file.read_text())
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: len(lines(tmp_path / "count.txt")) == 1, timeout=60, what="the takeover")
    (done,) = lines(tmp_path / "count.txt")
    assert done.split()[0] == event.id and int(done.split()[1]) != victim
    block.unlink()


def test_sigterm_finishes_in_flight_handlers(gunicorn: Start, tmp_path: Path, secret: str) -> None:
    """SIGTERM right after an accepted event: the master exits 0 after the handler finished."""
    server = gunicorn(**env(tmp_path, secret, RUNHOOK_SLEEP_S=1.5, RUNHOOK_WORKERS=1))
    event = make_event("test.drain")
    response = httpx2.post(
        f"{server.url}/events",
        content=event.body,
        headers=sign_headers(secret, event.body, msg_id=event.id),
        trust_env=False,
    )
    assert response.status_code == 202
    assert server.terminate(timeout=60) == 0
    assert [line.split()[0] for line in lines(tmp_path / "count.txt")] == [event.id]


def test_refuses_to_start_without_a_secret(gunicorn: Start, tmp_path: Path) -> None:
    """Without a webhook secret the server does not come up, and says why."""
    with pytest.raises(AssertionError, match="gunicorn exited"):
        gunicorn(**{k: v for k, v in env(tmp_path, "x").items() if k != "RUNHOOK_WEBHOOK_SECRET"})
    assert (
        "no webhook secret: set RUNHOOK_WEBHOOK_SECRET" in (tmp_path / "gunicorn-0.log").read_text()
    )


def test_refused_delivery_is_logged_with_its_reason_never_its_body(
    gunicorn: Start, tmp_path: Path, secret: str
) -> None:
    """A forged delivery's 401 shows up in the server's log as one line with the reason;
    neither the body nor the signature is written anywhere in the log."""
    server = gunicorn(**env(tmp_path, secret, RUNHOOK_LOG_FORMAT="json"))
    event = make_event("test.forged", marker="TOP-SECRET-BODY")
    headers = sign_headers("whsec_" + "b3RoZXItc2VjcmV0LW9mLTMyLWJ5dGVzLi4uLi4=", event.body)
    reply = httpx2.post(
        f"{server.url}/events", content=event.body, headers=headers, trust_env=False
    )
    assert reply.status_code == 401
    assert server.terminate() == 0
    text = server.log_path.read_text()
    refused = [
        json.loads(line)
        for line in text.splitlines()
        if line.startswith("{") and "delivery refused" in line
    ]
    assert [(r["level"], r["status"], r["source"]) for r in refused] == [
        ("WARNING", 401, "webhook")
    ]
    assert "signature" in refused[0]["reason"]
    assert "TOP-SECRET-BODY" not in text and headers["webhook-signature"] not in text
    assert "Control socket" not in text  # gunicorn's control socket stays off (runtime.py)
