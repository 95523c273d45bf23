"""Exactly once under stalls and takeovers: a wait's tools run once, its outputs are
submitted once, and an outcome reaches each hook once (issue 11)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from runhook.app import App
from runhook.backends.base import ToolOutput
from runhook.events import keys
from runhook.events.sources import Ack
from runhook.lifecycle import RunOutcome
from runhook.requires_action import Checkpoint
from tests.events.test_lease import StallingStore
from tests.plugins.handlers import Rig

Build = Callable[..., Rig]


class TestStalledHolder:
    def test_a_stalled_holder_is_taken_over_and_does_not_submit(
        self, make_rig: Build, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Worker A's renewals stall while its tool runs; its lease lapses and worker B takes
        the wait over, runs the tool and submits. When A resumes, its checkpoint is refused:
        it discards its output (logged with the tool's name) and does not submit."""
        store = StallingStore()
        rig = make_rig(store=store, claim_lease_s=1.0)
        b_done, calls = threading.Event(), []

        @rig.app.tool
        def charge(amount: int) -> str:
            """Charge a card.

            Args:
                amount: cents.
            """
            calls.append(threading.current_thread().name)
            if len(calls) == 1:  # worker A: stall until B has answered
                store.stalled.set()
                b_done.wait(30)
            return f"charged {amount}"

        other = App(settings=rig.app.settings, store=store, openai=rig.client, tools=rig.app.tools)
        run = rig.wait_for('call charge {"amount": 5}')
        acks: list[Ack] = []
        worker_a = threading.Thread(target=lambda: acks.append(rig.deliver_run(run)))
        worker_a.start()
        deadline = time.monotonic() + 10
        while not store.stalled.is_set():
            assert time.monotonic() < deadline, "worker A never started its tool"
            time.sleep(0.01)
        time.sleep(1.3)  # A's lease lapses: its renewals are stalled
        with caplog.at_level(logging.INFO, logger="runhook"):
            assert rig.deliver_run(run, app=other).body["outcome"] == "done"
            assert rig.settle(run).status == "completed"
            b_done.set()
            store.stalled.clear()
            store.resume.set()
            worker_a.join(30)
        assert acks and acks[0].ok
        assert len(calls) == 2 and rig.submits(run.id) == 1
        discarded = [r for r in caplog.records if "outputs discarded" in r.getMessage()]
        assert [getattr(r, "tools", None) for r in discarded] == ["charge"]


class TestCheckpointTakeover:
    def test_a_failed_submit_is_retried_with_the_saved_outputs(self, make_rig: Build) -> None:
        """The submit fails (429 with a retry-after past the deadline); the retry takes the
        wait over and submits the saved outputs: the tool ran once, one submit."""
        rig = make_rig(standin={"expires_after_s": 5})
        ran: list[str] = []

        @rig.app.tool
        def book(slot: str) -> str:
            """Book a slot.

            Args:
                slot: which slot.
            """
            ran.append(slot)
            return f"booked {slot}"

        run = rig.wait_for('call book {"slot": "9am"}')
        world = rig.server.world
        world.config.fault_429, world.config.retry_after_s = 1.0, 3600
        first = rig.deliver_run(run)
        world.config.fault_429 = 0.0
        assert (first.status, first.body["outcome"]) == (500, "retry")
        again = rig.deliver_run(run)
        assert again.ok
        assert rig.settle(run).status == "completed"
        assert ran == ["9am"] and rig.submits(run.id) == 1
        assert rig.final_message(run) == "book: booked 9am"

    def test_a_dead_workers_checkpoint_is_submitted_without_running_the_tool(
        self, make_rig: Build
    ) -> None:
        """A worker saved its outputs and died before submitting; the worker that takes the
        wait over submits them and runs no tool."""
        rig = make_rig(claim_lease_s=1.0)
        ran: list[str] = []

        @rig.app.tool
        def send(to: str) -> str:
            """Send an e-mail.

            Args:
                to: recipient.
            """
            ran.append(to)
            return f"sent to {to}"

        run = rig.wait_for('call send {"to": "ada"}')
        [call] = run.required_action.submit_tool_outputs.tool_calls
        dead = rig.app.store.acquire(keys.wait_key(run.id, [call.id]), 1.0)
        assert dead is not None
        saved = Checkpoint((ToolOutput(call.id, "sent to ada (by the dead worker)"),), True)
        dead.checkpoint(saved.encode())
        dead.stop()
        time.sleep(1.1)
        assert rig.deliver_run(run).ok
        assert rig.settle(run).status == "completed"
        assert ran == [] and rig.submits(run.id) == 1
        assert rig.final_message(run) == "send: sent to ada (by the dead worker)"


class TestOutcomeHooks:
    def test_a_hook_that_fails_once_is_called_again_and_one_outcome_is_recorded(
        self, make_rig: Build
    ) -> None:
        """The second hook raises once: the event retries, the retry calls the second hook
        again but not the first, and a later duplicate calls neither."""
        rig = make_rig()
        first: list[RunOutcome] = []
        second: list[RunOutcome] = []
        failures = [RuntimeError("crm down")]

        @rig.app.on_outcome
        def archive(outcome: RunOutcome, ctx: Any) -> None:
            first.append(outcome)

        @rig.app.on_outcome
        def notify(outcome: RunOutcome, ctx: Any) -> None:
            if failures:
                raise failures.pop()
            second.append(outcome)

        run = rig.wait_for("say hello")
        final = rig.settle(run)
        assert final.status == "completed"
        fail = rig.deliver_run(final)
        assert (fail.status, fail.body["outcome"]) == (500, "retry")
        assert rig.deliver_run(final).body["outcome"] == "done"
        assert rig.deliver_run(final).body["outcome"] == "done"
        assert [o.status for o in first] == ["completed"]
        assert [o.status for o in second] == ["completed"]
        assert first[0].message == second[0].message and first[0].message

    def test_a_failed_final_message_fetch_retries_instead_of_losing_the_outcome(
        self, make_rig: Build
    ) -> None:
        """Fetching the final message fails (500s): nothing is recorded, and the retry
        records the outcome with its message."""
        rig = make_rig()
        outcomes: list[RunOutcome] = []
        rig.app.on_outcome(lambda outcome, ctx: outcomes.append(outcome))
        final = rig.settle(rig.wait_for("say hello"))
        world = rig.server.world
        world.config.fault_500 = 1.0
        assert rig.deliver_run(final).status == 500
        world.config.fault_500 = 0.0
        assert outcomes == []
        assert rig.deliver_run(final).ok
        assert [(o.status, bool(o.message)) for o in outcomes] == [("completed", True)]


class TestWrappedBackends:
    def test_wrappers_keep_whether_a_resubmit_is_safe(self, make_rig: Build) -> None:
        """The observer's and the demo's backend wrappers report the wrapped backend's
        resubmit_is_safe: wrapped Responses stays unsafe (a takeover must not fork the
        chain), wrapped Assistants stays safe."""
        from runhook.backends.observed import ObservedBackend
        from runhook.cli.demo_app import _SubmitTrace
        from runhook.events.observability.observer import NULL_RUN

        rig = make_rig()
        responses, assistants = rig.app.backend("responses"), rig.app.backend("assistants")
        for inner, safe in ((responses, False), (assistants, True)):
            assert ObservedBackend(inner, NULL_RUN).resubmit_is_safe is safe
            assert _SubmitTrace(inner, print).resubmit_is_safe is safe
