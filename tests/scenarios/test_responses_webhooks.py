"""The Responses path: OpenAI-style signed webhooks from the stand-in into real gunicorn."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runhook.standin import StandinServer
from tests.plugins.gunicorn import Gunicorn, free_port, wait_until

pytestmark = [pytest.mark.gunicorn, pytest.mark.slow, pytest.mark.exactly_once]

OPENAI_SECRET = "whsec_" + base64.b64encode(b"openai-webhook-secret-0123456789").decode()
TOOL = {
    "type": "function",
    "name": "lookup",
    "strict": True,
    "parameters": {
        "type": "object",
        "properties": {"q": {"type": "string"}},
        "required": ["q"],
        "additionalProperties": False,
    },
}


def server_env(
    tmp_path: Path, standin: StandinServer, secret: str, openai_secret: str
) -> dict[str, Any]:
    return {
        "RUNHOOK_APP": "tests.scenarios.apps.responses_app:app",
        "RUNHOOK_STORE": f"sqlite:///{tmp_path / 'runhook.db'}",
        "RUNHOOK_WEBHOOK_SECRET": secret,
        "OPENAI_WEBHOOK_SECRET": openai_secret,
        "OPENAI_API_KEY": "sk-standin",
        "OPENAI_BASE_URL": standin.base_url,
        "RUNHOOK_WORKERS": 2,
        "RUNHOOK_SWEEP_INTERVAL_S": 0.2,
        "RUNHOOK_COUNT_FILE": tmp_path / "count.txt",
    }


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_background_response_answered_once_despite_duplicates(
    gunicorn: Callable[..., Gunicorn],
    standin_factory: Callable[..., StandinServer],
    tmp_path: Path,
    secret: str,
) -> None:
    """Every webhook delivered twice: tools run once per call, one follow-up, one outcome."""
    port = free_port()
    standin = standin_factory(
        latency_ms=20,
        webhook_url=f"http://127.0.0.1:{port}/events",
        webhook_secret=OPENAI_SECRET,
        webhook_duplicate_rate=1.0,
    )
    gunicorn(port=port, **server_env(tmp_path, standin, secret, OPENAI_SECRET))
    first = standin.client().responses.create(
        model="gpt-4o",
        background=True,
        tools=[TOOL],  # type: ignore[list-item]
        input='call lookup {"q": "a"}\ncall lookup {"q": "b"}',
    )
    count = tmp_path / "count.txt"
    try:
        wait_until(
            lambda: any(line.startswith("outcome") for line in lines(count)), what="the outcome"
        )
    except AssertionError:
        raise AssertionError(str(standin.stats()["responses"]) + str(lines(count))) from None
    wait_until(lambda: standin.stats()["responses"][first.id]["webhooks"] >= 2, what="duplicates")
    tool_lines = sorted(line for line in lines(count) if line.startswith("lookup"))
    assert tool_lines == ["lookup a", "lookup b"]
    (outcome,) = [line for line in lines(count) if line.startswith("outcome")]
    assert outcome == f"outcome {first.id} completed 'lookup: found a\\nlookup: found b'"
    assert standin.stats()["responses"][first.id]["follow_ups"] == 1


def test_wrong_secret_is_401_then_the_retry_succeeds(
    gunicorn: Callable[..., Gunicorn],
    standin_factory: Callable[..., StandinServer],
    tmp_path: Path,
    secret: str,
) -> None:
    """A server with the wrong OpenAI secret answers 401; after it restarts with the right one,
    the stand-in's retry of the same webhook is accepted and the work is done."""
    port = free_port()
    standin = standin_factory(
        latency_ms=20, webhook_url=f"http://127.0.0.1:{port}/events", webhook_secret=OPENAI_SECRET
    )
    wrong = "whsec_" + base64.b64encode(b"not-the-openai-secret-0123456789").decode()
    bad = gunicorn(port=port, **server_env(tmp_path, standin, secret, wrong))
    first = standin.client().responses.create(
        model="gpt-4o",
        background=True,
        tools=[TOOL],  # type: ignore[list-item]
        input='call lookup {"q": "z"}',
    )
    wait_until(
        lambda: 401 in standin.stats()["responses"].get(first.id, {}).get("webhook_statuses", []),
        what="a 401",
    )
    assert bad.terminate() == 0
    gunicorn(port=port, **server_env(tmp_path, standin, secret, OPENAI_SECRET))
    wait_until(
        lambda: any(line.startswith("outcome") for line in lines(tmp_path / "count.txt")),
        timeout=60,
        what="the retry",
    )
    assert [line for line in lines(tmp_path / "count.txt") if line.startswith("lookup")] == [
        "lookup z"
    ]
