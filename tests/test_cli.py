"""Every `runhook` command explains itself, and bad configuration is one clear line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest

from runhook.app import App
from runhook.cli import COMMANDS, main
from runhook.events.config import Settings
from runhook.events.keys import event_key
from runhook.events.signing import sign_headers
from runhook.events.sources.bus import stream_fields
from runhook.events.store import open_store
from runhook.events.testing import make_event, signed_delivery
from tests.plugins.gunicorn import REPO, free_port, wait_until

OTHER = "whsec_b3RoZXItc2VjcmV0LW9mLTMyLWJ5dGVzLi4uLi4="


def cli(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `runhook ARGS` in a clean environment holding only ``env``."""
    return subprocess.run(
        [sys.executable, "-m", "runhook.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        input=stdin,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), **env},
    )


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`runhook <command> --help` prints a description and exits 0."""
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert f"runhook {command}" in out and len(out.splitlines()) > 3


def test_serve_without_secret_is_one_line() -> None:
    """`runhook serve` without a secret exits 1 with a one-line reason."""
    result = cli("serve")
    assert result.returncode == 1
    assert result.stderr.strip().startswith(
        "runhook serve: no webhook secret: set RUNHOOK_WEBHOOK_SECRET"
    )
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_store_url_is_one_line() -> None:
    """A store URL of an unknown kind is named, with the forms that work."""
    result = cli("serve", RUNHOOK_WEBHOOK_SECRET="whsec_YWJj", RUNHOOK_STORE="postgres://x")
    assert result.returncode == 1
    assert "RUNHOOK_STORE='postgres://x' is not a store URL" in result.stderr


def test_send_to_an_unreachable_url_is_one_line() -> None:
    """`runhook send` to an unreachable URL says so in one line."""
    envelope = '{"id":"evt_1","object":"event","type":"x.y","created_at":1,"data":{"id":"a"}}'
    result = cli("send", "http://127.0.0.1:9/events", "--secret", "whsec_YWJj", stdin=envelope)
    assert result.returncode == 1
    assert "cannot reach http://127.0.0.1:9/events" in result.stderr


def test_unreachable_api_is_one_line() -> None:
    """`runhook tools sync` against an API nobody serves says so in one line."""
    result = cli(
        "tools",
        "sync",
        "--assistant",
        "asst_x",
        OPENAI_API_KEY="k",
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",
    )
    assert result.returncode == 1
    assert result.stderr.startswith(
        "runhook tools: cannot reach the OpenAI API at http://127.0.0.1:9/v1/"
    )
    assert len(result.stderr.strip().splitlines()) == 1


def test_tools_sync_sets_the_assistants_tools(standin: Any) -> None:
    """`runhook tools sync` replaces an assistant's tools with the app's definitions."""
    client = standin.client()
    assistant = client.beta.assistants.create(model="gpt-4o")
    result = cli(
        "tools",
        "sync",
        "--assistant",
        assistant.id,
        OPENAI_API_KEY="k",
        OPENAI_BASE_URL=standin.base_url,
    )
    assert result.returncode == 0, result.stderr
    tools = client.beta.assistants.retrieve(assistant.id).tools
    assert [t.function.name for t in tools] == ["fetch_url"]  # type: ignore[union-attr]


@pytest.mark.redis
def test_consume_processes_a_redis_stream(redis_url: str, secret: str, tmp_path: Path) -> None:
    """`runhook consume --burst` processes each signed entry once, acknowledges it, and moves a
    poison entry to the dead-letter stream."""
    import redis

    client = redis.Redis.from_url(redis_url)
    good = [make_event("thread.run.failed", id=f"run_cli_{n}") for n in range(2)]
    for event in good:
        client.xadd(
            "cli:events",
            stream_fields(event.body, sign_headers(secret, event.body, msg_id=event.id)),
        )
    forged = make_event("bus.cli.forged")
    client.xadd("cli:events", stream_fields(forged.body, sign_headers(OTHER, forged.body)))
    db = tmp_path / "consume.db"
    env = {"RUNHOOK_WEBHOOK_SECRET": secret, "RUNHOOK_STORE": f"sqlite:///{db}"}
    args = ["consume", "--redis", redis_url, "--stream", "cli:events", "--burst"]
    result = cli(*args, "--dead-letter", "cli:dead", **env)
    assert result.returncode == 0, result.stderr
    assert "3 entries handled from 'cli:events'" in result.stdout
    assert client.xpending("cli:events", "runhook")["pending"] == 0
    dead = client.xrange("cli:dead")
    assert [fields[b"body"] for _id, fields in dead] == [forged.body]
    store = open_store(f"sqlite:///{db}")
    try:
        for event in good:
            record = store.get(event_key(event.id))
            assert record is not None and record.outcome == "done"
    finally:
        store.close()
    # run again: nothing new, nothing handled twice
    again = cli(*args, **env)
    assert again.returncode == 0 and "0 entries handled" in again.stdout


def test_consume_without_redis_is_one_line(secret: str) -> None:
    """`runhook consume` with no Redis URL anywhere names the flag to pass."""
    result = cli("consume", "--burst", RUNHOOK_WEBHOOK_SECRET=secret, RUNHOOK_STORE="memory://")
    assert result.returncode == 1
    assert result.stderr.startswith("runhook consume: no Redis to consume from: pass --redis")


def test_inbox_lists_shows_and_replays_parked_events(secret: str, tmp_path: Path) -> None:
    """An event parked after its last failed attempt is listed, shown, and, once the handler
    works again, replayed to completion; unknown ids are one clear line and exit 1."""
    db, log = tmp_path / "inbox.db", tmp_path / "handled.txt"
    env = {
        "RUNHOOK_STORE": f"sqlite:///{db}",
        "RUNHOOK_APP": "tests.scenarios.apps.flaky:app",
        "RUNHOOK_FLAKY_LOG": str(log),
        "RUNHOOK_MAX_ATTEMPTS": "1",
    }
    settings = Settings(webhook_secrets=(secret,), max_attempts=1, store_url=env["RUNHOOK_STORE"])
    app = App(settings=settings, include_defaults=False)

    @app.on("boom.*")
    def broken(event: Any, ctx: Any) -> None:
        raise RuntimeError("broken")

    event = make_event("boom.cli")
    ack = app.pipeline().accept(signed_delivery(event, secret))
    assert ack.status == 202 and app.pipeline().process(event_key(event.id)) == "failed"
    app.close()

    listed = cli("inbox", "list", **env)
    assert listed.returncode == 0, listed.stderr
    assert f"{event.id}  boom.cli" in listed.stdout and "failed after 1 attempts" in listed.stdout
    shown = cli("inbox", "show", event.id, **env)
    assert json.loads(shown.stdout) == json.loads(event.body)

    log.touch()  # the handler is fixed
    replayed = cli("inbox", "replay", event.id, "evt_nope", **env)
    assert replayed.returncode == 1
    assert f"{event.id}: done" in replayed.stdout and "evt_nope: not_parked" in replayed.stdout
    assert log.read_text().split() == [event.id]
    assert "0 parked" in cli("inbox", "list", **env).stdout
    missing = cli("inbox", "show", event.id, **env)
    assert (missing.returncode, missing.stderr.strip()) == (
        1,
        f"runhook inbox: {event.id} is not parked",
    )


@pytest.mark.gunicorn
def test_serve_flags_win_over_the_environment_for_your_app(secret: str, tmp_path: Path) -> None:
    """`runhook serve --sync --store …` applies to an App imported from --app, in every
    gunicorn worker, over what the environment says."""
    flag_db, env_db, log = tmp_path / "flag.db", tmp_path / "env.db", tmp_path / "handled.txt"
    log.touch()
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO),
        "RUNHOOK_WEBHOOK_SECRET": secret,
        "RUNHOOK_STORE": f"sqlite:///{env_db}",
        "RUNHOOK_FLAKY_LOG": str(log),
    }
    args = ["--bind", f"127.0.0.1:{port}", "--workers", "1", "--sync", "--store"]
    server = subprocess.Popen(
        [sys.executable, "-m", "runhook.cli", "serve", *args, f"sqlite:///{flag_db}"]
        + ["--app", "tests.scenarios.apps.flaky:app"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _ready(f"http://127.0.0.1:{port}/readyz"), what="runhook serve")
        event = make_event("boom.flags")
        reply = httpx2.post(
            f"http://127.0.0.1:{port}/events",
            content=event.body,
            headers={
                **sign_headers(secret, event.body, msg_id=event.id),
                "content-type": "application/json",
            },
            trust_env=False,
        )
        assert (reply.status_code, reply.json()["status"]) == (200, "processed")
        assert log.read_text().split() == [event.id]
    finally:
        server.terminate()
        server.wait(30)
    store = open_store(f"sqlite:///{flag_db}")
    try:
        record = store.get(event_key(event.id))
        assert record is not None and record.outcome == "done"
    finally:
        store.close()
    assert not env_db.exists()


def _ready(url: str) -> bool:
    try:
        return httpx2.get(url, timeout=1, trust_env=False).status_code == 200
    except httpx2.HTTPError:
        return False


class TestSessionsCommands:
    def test_tools_sync_sets_an_agents_tools(self, standin: Any) -> None:
        """`runhook tools sync --agent` replaces an agent's function tools (flat shape)."""
        client = standin.client()
        agent = client.beta.agents.create(model="gpt-4o")
        env = {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": standin.base_url}
        result = cli("tools", "sync", "--agent", agent.id, **env)
        assert result.returncode == 0, result.stderr
        (tool,) = client.beta.agents.retrieve(agent.id).tools
        assert (tool.type, tool.name) == ("function", "fetch_url")  # type: ignore[union-attr]

    def test_run_relays_a_new_session_turn(self, standin: Any, tmp_path: Path) -> None:
        """`runhook run --api sessions --agent` relays the creation stream, answers the call
        in-process (fetch_url refuses loopback: a failed result) and exits 0 at idle."""
        client = standin.client()
        agent = client.beta.agents.create(
            model="gpt-4o",
            tools=App().tools.definitions("agents"),  # type: ignore[arg-type]
        )
        env = {
            "OPENAI_API_KEY": "k",
            "OPENAI_BASE_URL": standin.base_url,
            "RUNHOOK_STORE": f"sqlite:///{tmp_path / 'run.db'}",
        }
        message = 'call fetch_url {"url": "http://127.0.0.1:9/"}'
        result = cli("run", "--api", "sessions", "--agent", agent.id, message, **env)
        assert result.returncode == 0, result.stderr
        assert "agent.session.requires_action" in result.stdout
        assert "agent.session.idle" in result.stdout
        sid = result.stdout.strip().splitlines()[-1].split()[-1]
        outputs = [
            i
            for i in client.beta.agents.sessions.items.list(sid).data
            if i.type == "function_call_output"
        ]
        assert [o.status for o in outputs] == ["failed"]

    def test_poll_answers_a_watched_session(self, standin: Any, tmp_path: Path) -> None:
        """`runhook poll --session --burst` answers the waiting session and returns."""
        client = standin.client()
        agent = client.beta.agents.create(
            model="gpt-4o",
            tools=App().tools.definitions("agents"),  # type: ignore[arg-type]
        )
        session = client.beta.agents.sessions.create(
            environment={"type": "none"},
            agent_id=agent.id,
            input='call fetch_url {"url": "http://127.0.0.1:9/"}',
        )
        env = {
            "OPENAI_API_KEY": "k",
            "OPENAI_BASE_URL": standin.base_url,
            "RUNHOOK_STORE": f"sqlite:///{tmp_path / 'poll.db'}",
            "RUNHOOK_POLL_INTERVAL_S": "0.05",
        }
        result = cli("poll", "--session", session.id, "--burst", **env)
        assert result.returncode == 0, result.stderr
        assert "agent.session.idle" in result.stdout
        assert client.beta.agents.sessions.retrieve(session.id).status == "idle"
