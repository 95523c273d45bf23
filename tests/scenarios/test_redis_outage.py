"""Readiness follows Redis; events accepted before an outage are processed after it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest

from runhook.events.envelope import Event
from runhook.events.signing import sign_headers
from runhook.events.testing import make_event
from tests.plugins.gunicorn import Gunicorn, wait_until
from tests.plugins.redis import RedisServer

pytestmark = [pytest.mark.gunicorn, pytest.mark.redis, pytest.mark.slow, pytest.mark.exactly_once]


def test_readiness_and_recovery(
    gunicorn: Callable[..., Gunicorn], own_redis_server: RedisServer, tmp_path: Path, secret: str
) -> None:
    """/readyz is 503 while Redis is down and 200 once it is back; an event accepted but not
    yet processed when Redis went away is processed after it returns."""
    block = tmp_path / "block"
    block.write_text("")
    server = gunicorn(
        RUNHOOK_APP="tests.scenarios.apps.counting:app",
        RUNHOOK_STORE=own_redis_server.url,
        RUNHOOK_WEBHOOK_SECRET=secret,
        RUNHOOK_WORKERS=1,
        RUNHOOK_WORKER_THREADS=1,
        RUNHOOK_CLAIM_LEASE_S=2,
        RUNHOOK_SWEEP_INTERVAL_S=0.2,
        RUNHOOK_COUNT_FILE=tmp_path / "count.txt",
        RUNHOOK_BLOCK_FILE=block,
    )

    def post(event: Event) -> int:
        headers = sign_headers(secret, event.body, msg_id=event.id)
        return httpx2.post(
            f"{server.url}/events", content=event.body, headers=headers, trust_env=False
        ).status_code

    def ready() -> int:
        return httpx2.get(f"{server.url}/readyz", timeout=5, trust_env=False).status_code

    blocking, queued = make_event("test.first"), make_event("test.queued")
    assert post(blocking) == 202
    wait_until(Path(str(block) + ".pid").exists, what="the only handler thread to be busy")
    assert post(queued) == 202  # durably queued; no thread free to run it yet
    own_redis_server.stop()
    wait_until(lambda: ready() == 503, what="readiness to turn false")
    assert post(make_event("test.during")) == 503
    block.unlink()
    own_redis_server.start()
    wait_until(lambda: ready() == 200, what="readiness to return")
    count = tmp_path / "count.txt"
    wait_until(
        lambda: count.exists() and queued.id in count.read_text(),
        timeout=60,
        what="the queued event",
    )
