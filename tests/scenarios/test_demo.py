"""`runhook demo` end to end, through every source and both APIs, as a user runs it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.plugins.gunicorn import REPO

pytestmark = [pytest.mark.gunicorn, pytest.mark.slow]


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--source", "poll"],
        ["--source", "stream"],
        ["--api", "assistants"],
        ["--api", "assistants", "--source", "poll"],
        ["--api", "assistants", "--source", "stream"],
        ["--api", "sessions"],
        ["--api", "sessions", "--source", "poll"],
        ["--api", "sessions", "--source", "stream"],
    ],
    ids=[
        "responses-webhook",
        "responses-poll",
        "responses-stream",
        "assistants-webhook",
        "assistants-poll",
        "assistants-stream",
        "sessions-webhook",
        "sessions-poll",
        "sessions-stream",
    ],
)
def test_demo_completes(args: list[str]) -> None:
    """The demo exits 0 and shows the tool call, the submit and the final answer."""
    result = subprocess.run(
        [sys.executable, "-m", "runhook.cli", "demo", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    api = next((a for a in ("assistants", "sessions") if a in args), "responses")
    assert out.startswith(f"runhook demo: api={api} ")
    assert "tool   fetch_url(url='http://127.0.0.1:" in out
    assert "final answer" in out and "reactive, webhook-driven pipeline" in out
    lines = out.splitlines()

    def first(text: str) -> int:
        return next(i for i, line in enumerate(lines) if text in line)

    # as it happens: the tool, then the submit, then what followed the submit, then the end
    submit = first("submit 1 output(s) for ")
    assert first("tool   fetch_url(") < submit < first("run completed")
    assert [line for line in lines if " ms  submit " in line] == [lines[submit]]
    ends = ("thread.run.completed", "response.completed", "agent.session.idle")
    assert any(end in line for line in lines[submit + 1 :] for end in ends)
