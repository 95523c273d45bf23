"""The worker: accepted events arrive held, waits go first, unhandled events cost nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from runhook.app import App
from runhook.events.config import Settings
from runhook.events.keys import event_key
from runhook.events.store.memory import MemoryStore
from runhook.events.testing import make_event, signed_delivery
from runhook.events.worker import Worker
from tests.plugins.events import Recorder

Build = Callable[..., tuple[App, Recorder]]


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class TestOrder:
    def test_a_wait_runs_before_queued_lifecycle_events(self, make_app: Build, secret: str) -> None:
        """With the only handler thread busy, three lifecycle events and then a
        requires_action are queued: the requires_action runs first."""
        app, recorder = make_app()
        release = threading.Event()

        @app.on("x.block")
        def block(event: Any, ctx: Any) -> None:
            release.wait(10)

        pipeline = app.pipeline()
        worker = Worker(pipeline, threads=1).start()
        try:
            pipeline.accept(signed_delivery(make_event("x.block"), secret))
            wait_for(lambda: recorder.types() == ["x.block"])
            for _ in range(3):
                pipeline.accept(signed_delivery(make_event("thread.run.completed"), secret))
            pipeline.accept(signed_delivery(make_event("thread.run.requires_action"), secret))
            release.set()
            wait_for(lambda: len(recorder.types()) == 5)
        finally:
            worker.stop(5)
        assert recorder.types()[1:] == ["thread.run.requires_action"] + ["thread.run.completed"] * 3

    def test_an_accepted_event_is_processed_from_its_held_entry(
        self, make_app: Build, secret: str
    ) -> None:
        """An event accepted with a worker attached is processed once and its entry is
        completed: nothing is left due, and a redelivery is a duplicate."""
        app, recorder = make_app()
        pipeline = app.pipeline()
        worker = Worker(pipeline, threads=2).start()
        event = make_event("thread.run.completed")
        try:
            assert pipeline.accept(signed_delivery(event, secret)).status == 202
            wait_for(lambda: recorder.types() == ["thread.run.completed"])
            wait_for(
                lambda: (
                    (r := app.store.get(event_key(event.id))) is not None
                    and r.status.value == "completed"
                )
            )
        finally:
            worker.stop(5)
        again = pipeline.accept(signed_delivery(event, secret))
        assert (again.status, again.body["status"]) == (200, "duplicate")
        assert pipeline.due() == []


class TestStop:
    def test_stop_finishes_entries_accepted_here_before_their_handler_started(
        self, make_app: Build, secret: str
    ) -> None:
        """An event accepted (202) while the only handler thread is busy is still processed
        by a warm stop: its sender was told it is in flight here."""
        app, recorder = make_app()
        release = threading.Event()

        @app.on("x.block")
        def block(event: Any, ctx: Any) -> None:
            release.wait(10)

        pipeline = app.pipeline()
        worker = Worker(pipeline, threads=1).start()
        pipeline.accept(signed_delivery(make_event("x.block"), secret))
        wait_for(lambda: recorder.types() == ["x.block"])
        queued = make_event("thread.run.completed")
        assert pipeline.accept(signed_delivery(queued, secret)).status == 202
        result: list[bool] = []
        stopper = threading.Thread(target=lambda: result.append(worker.stop(10)))
        stopper.start()
        time.sleep(0.3)  # stop() is waiting; the queued entry has not started yet
        release.set()
        stopper.join(15)
        assert result == [True]
        assert recorder.types() == ["x.block", "thread.run.completed"]
        record = app.store.get(event_key(queued.id))
        assert record is not None and record.status.value == "completed"


class TestUnhandled:
    def test_an_event_no_handler_wants_is_acknowledged_and_not_stored(self, secret: str) -> None:
        """With no handler for its type, a delivery is verified and answered 200 unhandled,
        and nothing is written to the store."""
        store = MemoryStore()
        app = App(settings=Settings(webhook_secrets=(secret,)), store=store, include_defaults=False)
        app.on("thread.run.completed")(lambda event, ctx: None)
        event = make_event("thread.run.step.created")
        ack = app.pipeline().accept(signed_delivery(event, secret))
        assert (ack.status, ack.body["status"]) == (200, "unhandled")
        assert store.get(event_key(event.id)) is None and store._records == {}

    def test_a_forged_unhandled_event_is_still_refused(self, secret: str) -> None:
        """Skipping the store does not skip verification: a bad signature is a 401."""
        app = App(
            settings=Settings(webhook_secrets=(secret,)),
            store=MemoryStore(),
            include_defaults=False,
        )
        app.on("thread.run.completed")(lambda event, ctx: None)
        other = "whsec_" + "A" * 43 + "="
        ack = app.pipeline().accept(signed_delivery(make_event("x.y"), other))
        assert ack.status == 401
