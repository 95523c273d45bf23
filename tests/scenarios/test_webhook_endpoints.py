"""Webhook endpoints managed from the CLI, end to end: `runhook webhooks register` on the
stand-in, then a real `runhook serve` verifying and answering what the stand-in delivers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from runhook.cli import main
from runhook.standin import StandinServer
from tests.plugins.gunicorn import REPO, free_port, wait_until
from tests.scenarios.test_responses_webhooks import TOOL, lines

pytestmark = [pytest.mark.gunicorn, pytest.mark.slow]

Cli = Callable[..., tuple[int, str]]


@pytest.fixture
def cli(
    standin: StandinServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Cli:
    """Run ``runhook …`` in this process against the stand-in; return (exit code, stdout)."""
    monkeypatch.setenv("OPENAI_BASE_URL", standin.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-standin")

    def run(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(list(argv))
        return code, capsys.readouterr().out

    return run


@pytest.fixture
def serve(tmp_path: Path, standin: StandinServer) -> Iterator[Callable[..., str]]:
    """Start ``runhook serve`` (a subprocess) with extra environment; return its /events URL."""
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Any] = []

    def start(port: int, **env: str) -> str:
        full = {k: v for k, v in os.environ.items() if not k.startswith(("RUNHOOK_", "OPENAI_"))}
        full.update(
            PYTHONPATH=str(REPO),
            RUNHOOK_APP="tests.scenarios.apps.responses_app:app",
            RUNHOOK_STORE=f"sqlite:///{tmp_path / 'runhook.db'}",
            RUNHOOK_COUNT_FILE=str(tmp_path / "count.txt"),
            RUNHOOK_WORKERS="1",
            OPENAI_API_KEY="sk-standin",
            OPENAI_BASE_URL=standin.base_url,
            **env,
        )
        log = (tmp_path / f"serve-{len(procs)}.log").open("wb")
        logs.append(log)
        proc = subprocess.Popen(
            [sys.executable, "-m", "runhook.cli", "serve", "--bind", f"127.0.0.1:{port}"],
            cwd=REPO,
            env=full,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        procs.append(proc)

        def ready() -> bool:
            try:
                return httpx2.get(f"http://127.0.0.1:{port}/readyz", trust_env=False).is_success
            except httpx2.HTTPError:
                return False

        wait_until(ready, what="runhook serve")
        return f"http://127.0.0.1:{port}/events"

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(30)
    for log in logs:
        log.close()


def secret_in(output: str) -> str:
    match = re.search(r"export OPENAI_WEBHOOK_SECRET=(whsec_\S+)", output)
    assert match, output
    return match.group(1)


def test_register_then_serve_receives_verified_deliveries(
    cli: Cli, serve: Callable[..., str], standin: StandinServer, tmp_path: Path
) -> None:
    """The two-command path: the secret `register` prints is all `runhook serve` needs; the
    stand-in's delivery of a background response's end is verified and answered, tools once."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/events"
    code, out = cli("webhooks", "register", url)
    assert code == 0, out
    endpoint = re.search(r"registered (we_\w+)", out)
    assert endpoint, out
    serve(port, OPENAI_WEBHOOK_SECRET=secret_in(out))
    code, out = cli("webhooks", "test", endpoint.group(1))
    assert (code, out.split(" answered ")[1].strip()) == (0, "202")
    first = standin.client().responses.create(
        model="gpt-4o",
        background=True,
        tools=[TOOL],  # type: ignore[list-item]
        input='call lookup {"q": "e2e"}',
    )
    count = tmp_path / "count.txt"
    wait_until(lambda: any(x.startswith("outcome") for x in lines(count)), what="the outcome")
    assert [x for x in lines(count) if x.startswith("lookup")] == ["lookup e2e"]
    assert f"outcome {first.id} completed 'lookup: found e2e'" in lines(count)
    statuses = standin.stats()["responses"][first.id]["webhook_statuses"]
    assert set(statuses) == {202}


def test_rotation_overlap_keeps_the_running_server_verifying(
    cli: Cli, serve: Callable[..., str]
) -> None:
    """After `rotate` the old secret still signs for 24 h, so the server that only knows the
    old one keeps accepting; `rotate --no-overlap` ends that, and the test event gets a 401.
    The rotate output names the two-secret setting."""
    port = free_port()
    code, out = cli("webhooks", "register", f"http://127.0.0.1:{port}/events")
    endpoint = re.search(r"registered (we_\w+)", out)
    assert code == 0 and endpoint, out
    serve(port, OPENAI_WEBHOOK_SECRET=secret_in(out))
    code, out = cli("webhooks", "rotate", endpoint.group(1))
    assert code == 0
    assert "RUNHOOK_WEBHOOK_SECRET" in out and "OPENAI_WEBHOOK_SECRET" in out
    assert cli("webhooks", "test", endpoint.group(1))[0] == 0
    code, out = cli("webhooks", "rotate", endpoint.group(1), "--no-overlap")
    assert code == 0
    code, out = cli("webhooks", "test", endpoint.group(1))
    assert (code, "answered 401" in out) == (1, True)


def test_list_and_delete(cli: Cli) -> None:
    """`list` shows a registered endpoint with its events and secret hint; `delete` removes it."""
    code, out = cli(
        "webhooks", "register", "https://hooks.example/events", "--events", "response.completed"
    )
    endpoint = re.search(r"registered (we_\w+)", out)
    assert code == 0 and endpoint, out
    code, out = cli("webhooks", "list")
    assert endpoint.group(1) in out and "response.completed" in out and "whsec_…" in out
    assert cli("webhooks", "delete", endpoint.group(1)) == (0, f"deleted {endpoint.group(1)}\n")
    assert cli("webhooks", "list")[1] == "no webhook endpoints\n"


def test_unknown_event_type_is_refused(cli: Cli, capsys: Any) -> None:
    """An event type the API does not know is its 400, reported in one line."""
    cli("webhooks", "list")  # the fixture points the CLI at the stand-in
    code = main(["webhooks", "register", "https://x.example/events", "--events", "thread.run.x"])
    assert code == 1
    assert "is not a webhook event type" in capsys.readouterr().err


def test_registration_needs_an_api_key(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    """Without OPENAI_API_KEY the command says which variable is missing."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["webhooks", "list"]) == 1
    assert "OPENAI_API_KEY is not set" in capsys.readouterr().err
