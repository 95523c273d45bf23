"""The Responses follow-up is created at most once: retried only when nothing was created."""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runhook.app import App
from runhook.events import keys
from runhook.events.store.sqlite import SQLiteStore
from tests.handlers.test_requires_action import lookup_tools
from tests.plugins.handlers import Rig

Build = Callable[..., Rig]


def completed_response(rig: Rig, text: str) -> Any:
    """A background response that ended with function calls (the Responses wait)."""
    first = rig.client.responses.create(
        model="gpt-4o",
        background=True,
        tools=rig.app.tools.definitions("responses"),  # type: ignore[arg-type]
        input=text,
    )
    deadline = time.monotonic() + 15
    while (current := rig.client.responses.retrieve(first.id)).status != "completed":
        assert time.monotonic() < deadline, f"response stuck in {current.status}"
        time.sleep(0.02)
    return current


def follow_ups(rig: Rig, response_id: str) -> int:
    return int(rig.server.stats()["responses"][response_id]["follow_ups"])


def wait_outcome(app: App, response: Any) -> str | None:
    calls = [item.call_id for item in response.output if item.type == "function_call"]
    record = app.store.get(keys.wait_key(response.id, calls))
    return None if record is None else record.outcome


def test_rate_limited_follow_up_is_retried_and_created_once(make_rig: Build) -> None:
    """429s prove nothing was created: the create is retried and one follow-up exists."""
    rig = make_rig()
    lookup_tools(rig)
    response = completed_response(rig, 'call lookup {"q": "a"}')
    world = rig.server.world
    with world.lock:  # seed 7 rolls 429, 429, ok
        world.rng = random.Random(7)
        world.config.fault_429, world.config.retry_after_s = 0.5, 0.01
    before = rig.server.stats()["total"]
    ack = rig.deliver("response.completed", response.model_dump(mode="json"))
    world.config.fault_429 = 0.0
    assert (ack.status, ack.body["outcome"]) == (200, "done")
    assert rig.server.stats()["total"] - before == 3  # the full payload needs no retrieve
    assert follow_ups(rig, response.id) == 1
    assert wait_outcome(rig.app, response) == "submitted"


def test_ambiguous_failure_is_recorded_never_retried(make_rig: Build) -> None:
    """A 500 on the create does not say whether the follow-up exists: the wait ends as
    submit_unknown, nothing is created twice, and a redelivery does not try again."""
    rig = make_rig()
    lookup_tools(rig)
    response = completed_response(rig, 'call lookup {"q": "b"}')
    world = rig.server.world
    world.config.fault_500 = 1.0
    before = rig.server.stats()["total"]
    ack = rig.deliver("response.completed", response.model_dump(mode="json"))
    again = rig.deliver("response.completed", response.model_dump(mode="json"))
    world.config.fault_500 = 0.0
    assert (ack.status, ack.body["outcome"]) == (200, "done")
    assert again.body["outcome"] == "done"
    assert rig.server.stats()["total"] - before == 1  # one create, no retry, no second try
    assert wait_outcome(rig.app, response) == "submit_unknown"
    assert rig.calls.names() == ["lookup"]


def test_thin_webhook_retrieves_the_response_once(make_rig: Build) -> None:
    """A thin ``response.completed`` has two handlers (the wait and the chain's end); they share
    one retrieve, so the API sees one GET and one follow-up per webhook."""
    rig = make_rig()
    lookup_tools(rig)
    response = completed_response(rig, 'call lookup {"q": "a"}')
    before = rig.server.stats()["total"]
    ack = rig.deliver("response.completed", {"id": response.id, "object": "response"})
    assert (ack.status, ack.body["outcome"]) == (200, "done")
    assert rig.server.stats()["total"] - before == 2  # GET /responses/{id}, POST /responses
    assert follow_ups(rig, response.id) == 1
    assert wait_outcome(rig.app, response) == "submitted"
    follow_up = rig.server.stats()["responses"][response.id]["follow_up_ids"][0]
    deadline = time.monotonic() + 15
    while rig.client.responses.retrieve(follow_up).status != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    before = rig.server.stats()["total"]
    ack = rig.deliver("response.completed", {"id": follow_up, "object": "response"})
    assert (ack.status, ack.body["outcome"]) == (200, "done")
    assert rig.server.stats()["total"] - before == 1  # the chain's end: one GET, no follow-up


class CheckpointSyncStore(SQLiteStore):
    """A SQLite store that notes, for each checkpoint of a wait, whether it was synced."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.checkpoints: list[tuple[str, bool]] = []

    def save(self, claim: Any, payload: bytes, lease_s: float, *, durable: bool = True) -> Any:
        if claim.key.startswith("wait:"):
            self.checkpoints.append((claim.key, durable))
        return super().save(claim, payload, lease_s, durable=durable)


class TestCheckpointDurability:
    def test_only_a_responses_checkpoint_is_synced(self, make_rig: Build, tmp_path: Path) -> None:
        """Assistants refuses a second submit, so its wait's checkpoint is written like a claim
        (a power cut that undoes it runs the tool again, the API takes one submit); a second
        Responses follow-up would fork the chain, so that checkpoint is synced. Both waits end
        submitted in the file, as another connection reads it; the tool ran once for each."""
        store = CheckpointSyncStore(tmp_path / "runhook.db")
        try:
            self._answer_both(make_rig, store, tmp_path)
        finally:
            store.close()

    def _answer_both(self, make_rig: Build, store: CheckpointSyncStore, tmp_path: Path) -> None:
        rig = make_rig(store=store)
        lookup_tools(rig)
        run = rig.wait_for('call lookup {"q": "run"}')
        assert rig.deliver_run(run).body["outcome"] == "done"
        response = completed_response(rig, 'call lookup {"q": "response"}')
        ack = rig.deliver("response.completed", response.model_dump(mode="json"))
        assert ack.body["outcome"] == "done"
        run_key = keys.wait_key(
            run.id, [c.id for c in run.required_action.submit_tool_outputs.tool_calls]
        )
        calls = [item.call_id for item in response.output if item.type == "function_call"]
        response_key = keys.wait_key(response.id, calls)
        assert store.checkpoints == [(run_key, False), (response_key, True)]
        with sqlite3.connect(tmp_path / "runhook.db") as outside:
            rows = dict(
                outside.execute(
                    "SELECT key, outcome FROM records WHERE key IN (?, ?)", (run_key, response_key)
                ).fetchall()
            )
        assert rows == {run_key: "submitted", response_key: "submitted"}
        assert rig.calls.names() == ["lookup", "lookup"]
        assert rig.submits(run.id) == 1
