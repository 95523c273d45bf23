"""`runhook run --url`: a streamed response relayed as signed webhooks to real gunicorn, whose
own stream continuation carries the chain to its end."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from runhook.standin import StandinServer
from tests.plugins.gunicorn import REPO, Gunicorn, wait_until
from tests.scenarios.test_responses_webhooks import OPENAI_SECRET, lines, server_env

pytestmark = [pytest.mark.gunicorn, pytest.mark.slow]


def test_run_relays_to_a_server_that_finishes_the_chain(
    gunicorn: Callable[..., Gunicorn],
    standin: StandinServer,
    tmp_path: Path,
    secret: str,
) -> None:
    """The first stream goes over HTTP; the server runs the tools once each and streams its
    follow-ups (RUNHOOK_STREAM_CONTINUATION), and the chain's outcome is recorded once."""
    env = server_env(tmp_path, standin, secret, OPENAI_SECRET)
    server = gunicorn(RUNHOOK_STREAM_CONTINUATION="true", **env)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "runhook.cli",
            "run",
            'call lookup {"q": "a"}\ncall lookup {"q": "b"}',
            "--url",
            f"{server.url}/events",
            "--secret",
            secret,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(REPO),
            "RUNHOOK_APP": "tests.scenarios.apps.responses_app:app",
            "RUNHOOK_COUNT_FILE": str(tmp_path / "client-count.txt"),
            "OPENAI_API_KEY": "sk-standin",
            "OPENAI_BASE_URL": standin.base_url,
        },
    )
    assert result.returncode == 0, result.stderr
    printed = [line.split() for line in result.stdout.splitlines()]
    assert [(p[3], p[-1]) for p in printed][-1] == ("response.completed", "[202]")
    count = tmp_path / "count.txt"
    wait_until(lambda: any(x.startswith("outcome") for x in lines(count)), what="the outcome")
    assert sorted(x for x in lines(count) if x.startswith("lookup")) == ["lookup a", "lookup b"]
    (outcome,) = [x for x in lines(count) if x.startswith("outcome")]
    assert outcome.endswith("completed 'lookup: found a\\nlookup: found b'")
    assert not (tmp_path / "client-count.txt").exists()  # the tools ran in the server
