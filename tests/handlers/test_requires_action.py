"""The requires_action pipeline end to end: event → tools → one submit → completed run."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runhook.app import App
from runhook.events import keys
from runhook.events.store.sqlite import SQLiteStore
from runhook.lifecycle import RunOutcome
from runhook.tools.runner import ToolError
from tests.plugins.handlers import Rig

Build = Callable[..., Rig]


def lookup_tools(rig: Rig, barrier: threading.Barrier | None = None) -> None:
    @rig.app.tool
    def lookup(q: str) -> str:
        """Look something up.

        Args:
            q: what to look up.
        """
        rig.calls.add("lookup", q)
        if barrier is not None:
            barrier.wait()
        return f"found {q}"


class TestHappyPath:
    def test_one_call_is_answered_and_the_run_completes(self, make_rig: Build) -> None:
        """The event runs the tool, submits once, and the run's final message quotes it."""
        rig = make_rig()
        lookup_tools(rig)
        run = rig.wait_for('call lookup {"q": "cats"}')
        ack = rig.deliver_run(run)
        assert ack.status == 200 and ack.body["outcome"] == "done"
        final = rig.settle(run)
        assert final.status == "completed"
        assert rig.final_message(run) == "lookup: found cats"
        assert rig.submits(run.id) == 1

    def test_parallel_calls_overlap(self, make_rig: Build) -> None:
        """Three calls of one wait run at the same time: each waits at a barrier of three,
        which only opens if all three are running at once."""
        rig = make_rig()
        lookup_tools(rig, barrier=threading.Barrier(3, timeout=10))
        run = rig.wait_for("\n".join(f'call lookup {{"q": "{i}"}}' for i in range(3)))
        rig.deliver_run(run)
        rig.settle(run)
        assert rig.final_message(run).count("found") == 3
        assert sorted(q for _, q in rig.calls.log) == ["0", "1", "2"]

    def test_multi_round(self, make_rig: Build) -> None:
        """Serial calls come as successive waits; each wait's event answers it."""
        rig = make_rig()
        lookup_tools(rig)
        run = rig.wait_for(
            'call lookup {"q": "a"}\ncall lookup {"q": "b"}', parallel_tool_calls=False
        )
        rig.deliver_run(run)
        second = rig.settle(run)
        assert second.status == "requires_action"
        rig.deliver_run(second)
        assert rig.settle(run).status == "completed"
        assert rig.final_message(run) == "lookup: found a\nlookup: found b"

    def test_thin_payload_is_retrieved(self, make_rig: Build) -> None:
        """An event carrying only the run and thread ids is answered after retrieving the run."""
        rig = make_rig()
        lookup_tools(rig)
        run = rig.wait_for('call lookup {"q": "thin"}')
        rig.deliver("thread.run.requires_action", {"id": run.id, "thread_id": run.thread_id})
        assert rig.settle(run).status == "completed"


class TestErrorOutputs:
    def test_every_failure_becomes_an_error_output_and_the_run_completes(
        self, make_rig: Build
    ) -> None:
        """Unknown tool, bad JSON, bad arguments, a raising tool and a timeout each give a
        JSON error output the model sees; the run still completes."""
        rig = make_rig(tool_timeout_s=0.5)
        release = threading.Event()

        @rig.app.tool
        def boom(n: int) -> str:
            """Always fails."""
            raise RuntimeError(f"exploded at {n}")

        @rig.app.tool
        def refuse(n: int) -> str:
            """Fails cleanly."""
            raise ToolError("not today")

        @rig.app.tool
        def slow(n: int) -> str:
            """Too slow."""
            release.wait(10)
            return "late"

        lines = [
            'call nope {"n": 1}',
            "call boom {not json",
            'call boom {"n": "one"}',
            'call boom {"n": 1}',
            'call refuse {"n": 1}',
            'call slow {"n": 1}',
        ]
        run = rig.wait_for("\n".join(lines))
        rig.deliver_run(run)
        release.set()
        assert rig.settle(run).status == "completed"
        outputs = [line.split(": ", 1)[1] for line in rig.final_message(run).splitlines()]
        kinds = [json.loads(o)["error"]["type"] for o in outputs]
        assert kinds == [
            "unknown_tool",
            "invalid_json",
            "invalid_arguments",
            "tool_error",
            "tool_error",
            "timeout",
        ]
        assert "exploded at 1" in outputs[3]
        assert json.loads(outputs[4])["error"]["message"] == "not today"


class TestExactlyOnce:
    def test_expired_run_runs_no_tool(self, make_rig: Build) -> None:
        """A requires_action event that arrives after the window closed runs no tool."""
        rig = make_rig(standin={"expires_after_s": 1})
        lookup_tools(rig)
        run = rig.wait_for('call lookup {"q": "late"}')
        time.sleep(max(0.0, run.expires_at - time.time()) + 0.2)
        ack = rig.deliver_run(run)
        assert ack.ok
        assert rig.calls.log == []
        assert rig.settle(run).status == "expired"

    def test_rate_limited_and_failing_api_is_retried_within_the_deadline(
        self, make_rig: Build
    ) -> None:
        """With API requests answered 429 (retry-after honoured) and 500, the handler retries
        its own calls (the SDK's retries are off) and the outputs are accepted once."""
        rig = make_rig()
        lookup_tools(rig)
        thin = rig.wait_for('call lookup {"q": "busy"}')
        world = rig.server.world
        with world.lock:  # seed 89 rolls 429, 500, ok (the retrieve), then 429, ok (the submit)
            world.rng = random.Random(89)
            world.config.fault_429, world.config.fault_500 = 0.4, 0.3
            world.config.retry_after_s = 0.05
        before = rig.server.stats()["total"]
        # a thin payload, so loading the run goes through the faults too
        ack = rig.deliver(
            "thread.run.requires_action", {"id": thin.id, "thread_id": thin.thread_id}
        )
        world.config.fault_429 = world.config.fault_500 = 0.0
        assert ack.status == 200 and ack.body["outcome"] == "done"
        assert rig.server.stats()["total"] - before == 5
        assert rig.settle(thin).status == "completed"
        assert rig.calls.names() == ["lookup"] and rig.submits(thin.id) == 1

    def test_no_retry_sleeps_past_the_deadline(self, make_rig: Build) -> None:
        """When the API asks for a retry-after beyond the run's deadline, the handler neither
        waits for it at the submit nor at the re-read that follows: each is tried once, and
        the event goes back to the pipeline for a later retry."""
        rig = make_rig(standin={"expires_after_s": 5})
        lookup_tools(rig)
        run = rig.wait_for('call lookup {"q": "late"}')
        world = rig.server.world
        world.config.fault_429, world.config.retry_after_s = 1.0, 3600
        before = rig.server.stats()["total"]
        ack = rig.deliver_run(run)  # full payload: no load before the tools
        world.config.fault_429 = 0.0
        assert (ack.status, ack.body["outcome"]) == (500, "retry")
        assert rig.server.stats()["total"] - before == 2  # one submit, one re-read
        assert rig.calls.names() == ["lookup"] and rig.submits(run.id) == 0

    def test_same_wait_under_many_event_ids_submits_once(self, make_rig: Build) -> None:
        """Five relays describing the same wait with different event ids: one execution,
        one submit."""
        rig = make_rig()
        lookup_tools(rig)
        run = rig.wait_for('call lookup {"q": "once"}')
        for _ in range(5):
            assert rig.deliver_run(run).ok
        rig.settle(run)
        assert rig.calls.names() == ["lookup"]
        assert rig.submits(run.id) == 1

    def test_two_workers_race_on_one_store(self, make_rig: Build, tmp_path: Path) -> None:
        """Two apps sharing a SQLite store get the same wait at the same moment: one of them
        runs the tool and submits, the other backs off."""
        db = tmp_path / "race.db"
        rig = make_rig(store=SQLiteStore(db))
        gate = threading.Barrier(2, timeout=10)
        lookup_tools(rig)
        other = App(settings=rig.app.settings, store=SQLiteStore(db), openai=rig.client)
        other.tools = rig.app.tools
        run = rig.wait_for('call lookup {"q": "race"}')
        acks: list[Any] = []

        def deliver(app: App) -> None:
            gate.wait()
            acks.append(rig.deliver_run(run, app=app))

        threads = [threading.Thread(target=deliver, args=(a,)) for a in (rig.app, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        rig.settle(run)
        assert rig.calls.names() == ["lookup"]
        assert rig.submits(run.id) == 1
        assert all(a.status in (200, 500) for a in acks)


class TestLifecycle:
    def test_outcome_hook_fires_once_with_the_final_message(self, make_rig: Build) -> None:
        """thread.run.completed, delivered twice under different ids, calls the outcome hook
        once with the run's final message."""
        rig = make_rig()
        lookup_tools(rig)
        outcomes: list[RunOutcome] = []
        rig.app.on_outcome(lambda outcome, ctx: outcomes.append(outcome))
        run = rig.wait_for('call lookup {"q": "end"}')
        rig.deliver_run(run)
        final = rig.settle(run)
        rig.deliver_run(final)
        rig.deliver_run(final)
        assert [(o.status, o.message) for o in outcomes] == [("completed", "lookup: found end")]

    def test_with_no_outcome_hook_the_final_message_is_not_fetched(self, make_rig: Build) -> None:
        """No hook reads the message, so recording a completed run asks the API nothing; the
        outcome is still recorded once (a second delivery is a no-op)."""
        rig = make_rig()
        lookup_tools(rig)
        run = rig.wait_for('call lookup {"q": "quiet"}')
        rig.deliver_run(run)
        final = rig.settle(run)
        assert final.status == "completed"
        lists = "GET /v1/threads/{tid}/messages"
        before = rig.server.stats()["requests"].get(lists, 0)
        assert rig.deliver_run(final).body["outcome"] == "done"
        assert rig.deliver_run(final).body["outcome"] == "done"
        assert rig.server.stats()["requests"].get(lists, 0) == before
        record = rig.app.store.get(f"run:{run.id}:completed")
        assert record is not None and record.outcome == "completed"
        outcomes: list[RunOutcome] = []
        rig.app.on_outcome(lambda outcome, ctx: outcomes.append(outcome))  # now one reads it
        second = rig.wait_for('call lookup {"q": "loud"}')
        rig.deliver_run(second)
        rig.deliver_run(rig.settle(second))
        assert rig.server.stats()["requests"].get(lists, 0) == before + 1
        assert [o.message for o in outcomes] == ["lookup: found loud"]

    def test_failed_run_records_its_reason(self, make_rig: Build) -> None:
        """A failed run's outcome carries last_error; nothing retries it."""
        rig = make_rig()
        outcomes: list[RunOutcome] = []
        rig.app.on_outcome(lambda outcome, ctx: outcomes.append(outcome))
        run = rig.wait_for("fail server_error it broke")
        assert rig.deliver_run(run).body["outcome"] == "done"
        assert [(o.status, o.reason) for o in outcomes] == [("failed", "server_error: it broke")]


class TestStaleWaits:
    def test_wait_answered_elsewhere_ends_as_moved_on(self, make_rig: Build) -> None:
        """A stale requires_action (someone else already submitted) runs the tools, gets the
        API's 400, re-reads the run and records moved_on: no retry, no second submit."""
        rig = make_rig()
        lookup_tools(rig)
        run = rig.wait_for('call lookup {"q": "stale"}')
        calls = run.required_action.submit_tool_outputs.tool_calls
        rig.client.beta.threads.runs.submit_tool_outputs(
            run.id,
            thread_id=run.thread_id,
            tool_outputs=[{"tool_call_id": c.id, "output": "by hand"} for c in calls],
        )
        ack = rig.deliver_run(run)  # the old payload still says requires_action
        assert (ack.status, ack.body["outcome"]) == (200, "done")
        record = rig.app.store.get(keys.wait_key(run.id, [c.id for c in calls]))
        assert record is not None and record.outcome == "moved_on"
        assert rig.submits(run.id) == 1
        assert rig.server.stats()["runs"][run.id]["rejected_submits"] == 1
        assert rig.settle(run).status == "completed"
