"""`runhook demo` end to end, through every source and both APIs, as a user runs it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.plugins.gunicorn import REPO

pytestmark = [pytest.mark.gunicorn, pytest.mark.slow]


@pytest.mark.parametrize(
    "args",
    [["--source", "webhook"], ["--source", "poll"], ["--source", "stream"], ["--api", "responses"]],
    ids=["webhook", "poll", "stream", "responses"],
)
def test_demo_completes(args: list[str]) -> None:
    """The demo exits 0 and shows the tool call, the submit and the final answer."""
    result = subprocess.run(
        [sys.executable, "-m", "handlers.cli", "demo", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "tool   fetch_url(url='http://127.0.0.1:" in out
    assert "final answer" in out and "reactive, webhook-driven pipeline" in out
    assert "run completed" in out
