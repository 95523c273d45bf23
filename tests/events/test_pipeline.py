"""Pipeline retries end in a park that loses nothing, and a parked event can be replayed;
asked-for retries are not failures; envelope ids de-duplicate across webhook-ids."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runhook.app import App
from runhook.events.config import Settings
from runhook.events.errors import RetryLater
from runhook.events.keys import envelope_key, event_key, payload_hash
from runhook.events.pipeline import retry_delay
from runhook.events.store.records import Record
from runhook.events.store.sqlite import SQLiteStore
from runhook.events.testing import make_event, signed_delivery
from runhook.events.worker import Worker
from tests.plugins.events import Recorder

Build = Callable[..., tuple[App, Recorder]]


def failing(app: App, errors: list[Exception]) -> None:
    """A ``boom.*`` handler that raises the next error while any is left."""

    @app.on("boom.*")
    def boom(event: Any, ctx: Any) -> None:
        if errors:
            raise errors.pop()


class TestRetries:
    def test_out_of_attempts_parks_the_event_with_its_body(
        self, make_app: Build, secret: str
    ) -> None:
        """After max_attempts failures the entry is parked, body and attempts kept, and is
        not due again by itself."""
        app, recorder = make_app(max_attempts=3, retry_backoff_s=0.0)
        failing(app, [RuntimeError("down")] * 5)
        pipeline = app.pipeline()
        event = make_event("boom.once")
        assert pipeline.accept(signed_delivery(event, secret)).status == 202
        key = event_key(event.id)
        assert [pipeline.process(key) for _ in range(3)] == ["retry", "retry", "failed"]
        assert pipeline.due() == []
        [parked] = pipeline.parked()
        assert (parked.key, parked.payload, parked.attempts) == (key, event.body, 3)
        assert parked.outcome == "failed"
        assert recorder.types() == ["boom.once"] * 3

    def test_replay_runs_it_again_with_fresh_attempts(self, make_app: Build, secret: str) -> None:
        """Once the handler is fixed, a replay processes the parked event and it is done."""
        app, recorder = make_app(max_attempts=1)
        failing(app, [RuntimeError("down")])
        pipeline = app.pipeline()
        event = make_event("boom.fixed")
        pipeline.accept(signed_delivery(event, secret))
        assert pipeline.process(event_key(event.id)) == "failed"
        assert pipeline.replay("evt_unknown") == "not_parked"
        assert pipeline.replay(event.id) == "done"
        assert pipeline.replay(event.id) == "not_parked"
        assert pipeline.parked() == []
        assert recorder.types() == ["boom.fixed", "boom.fixed"]

    def test_sync_redelivery_of_a_parked_event_is_acknowledged(
        self, make_app: Build, secret: str
    ) -> None:
        """In sync mode a parked event's redelivery answers 200 parked (a bus stops retrying;
        the event waits for a replay) and runs nothing."""
        app, recorder = make_app(sync=True, max_attempts=1)
        failing(app, [RuntimeError("down")] * 3)
        pipeline = app.pipeline()
        delivery = signed_delivery(make_event("boom.sync"), secret)
        first = pipeline.accept(delivery)
        assert (first.status, first.body["outcome"]) == (200, "failed")
        again = pipeline.accept(delivery)
        assert (again.status, again.body["status"]) == (200, "parked")
        assert recorder.types() == ["boom.sync"]

    def test_sync_redelivery_before_the_retry_is_due_is_503(
        self, make_app: Build, secret: str
    ) -> None:
        """A redelivery while the retry waits for its backoff answers 503 not_finished."""
        app, recorder = make_app(sync=True, retry_backoff_s=3600.0)
        failing(app, [RuntimeError("down")])
        pipeline = app.pipeline()
        delivery = signed_delivery(make_event("boom.wait"), secret)
        assert pipeline.accept(delivery).status == 500
        again = pipeline.accept(delivery)
        assert (again.status, again.body["error"]["code"]) == (503, "not_finished")
        assert recorder.types() == ["boom.wait"]


class TestAskedForRetries:
    def test_asked_for_retries_do_not_count_as_attempts(self, make_app: Build, secret: str) -> None:
        """With max_attempts=5, four retries asked for with RetryLater and then one real
        failure leave the event due for a retry, not parked; it then succeeds."""
        app, recorder = make_app(max_attempts=5, retry_backoff_s=0.0)
        asks = [RetryLater("busy", after_s=0.0) for _ in range(4)]
        failures: list[Exception] = [RuntimeError("down")]

        @app.on("job.*")
        def job(event: Any, ctx: Any) -> None:
            if asks:
                raise asks.pop()
            if failures:
                raise failures.pop()

        pipeline = app.pipeline()
        event = make_event("job.run")
        pipeline.accept(signed_delivery(event, secret))
        outcomes = [pipeline.process(event_key(event.id)) for _ in range(6)]
        assert outcomes == ["retry"] * 5 + ["done"]
        assert pipeline.parked() == []

    def test_a_retry_asked_for_past_its_deadline_counts(self, make_app: Build, secret: str) -> None:
        """A RetryLater whose deadline has passed counts as a failed attempt: with
        max_attempts=1 the event is parked."""
        app, recorder = make_app(max_attempts=1)

        @app.on("job.*")
        def job(event: Any, ctx: Any) -> None:
            raise RetryLater("busy", after_s=5.0, deadline=time.time() + 1.0)

        pipeline = app.pipeline()
        event = make_event("job.late")
        pipeline.accept(signed_delivery(event, secret))
        assert pipeline.process(event_key(event.id)) == "failed"
        [parked] = pipeline.parked()
        assert parked.key == event_key(event.id)


class TestBackoff:
    def test_delays_double_up_to_the_cap_with_jitter(self) -> None:
        """Each delay lies in the upper half of its doubling step, and the step stops at the
        cap; the extremes of the jitter give the step's bounds."""
        assert [retry_delay(n, 2.0, rand=lambda: 1.0) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
        assert [retry_delay(n, 2.0, rand=lambda: 0.0) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
        assert retry_delay(40, 2.0, cap_s=300.0, rand=lambda: 1.0) == 300.0
        spread = {round(retry_delay(5, 2.0), 6) for _ in range(50)}
        assert len(spread) > 40 and all(16.0 <= d <= 32.0 for d in spread)


class TestEnvelopeIds:
    def test_same_envelope_under_a_new_webhook_id_is_a_duplicate(
        self, make_app: Build, secret: str
    ) -> None:
        """An OpenAI-style delivery (webhook-id ≠ envelope id) resent under another
        webhook-id is a duplicate; so is the same envelope relayed under its own id."""
        app, recorder = make_app()
        pipeline = app.pipeline()
        event = make_event("job.dup")
        first = pipeline.accept(signed_delivery(event, secret, msg_id="wh_1"))
        again = pipeline.accept(signed_delivery(event, secret, msg_id="wh_2"))
        relayed = pipeline.accept(signed_delivery(event, secret))
        assert (first.status, again.status, relayed.status) == (202, 200, 200)
        assert again.body["status"] == relayed.body["status"] == "duplicate"
        assert pipeline.due() == [event_key("wh_1")]

    def test_relayed_first_then_resent_under_another_webhook_id(
        self, make_app: Build, secret: str
    ) -> None:
        """An envelope first relayed under its own id and then resent under a new
        webhook-id is a duplicate."""
        app, recorder = make_app()
        pipeline = app.pipeline()
        event = make_event("job.relayed")
        assert pipeline.accept(signed_delivery(event, secret)).status == 202
        again = pipeline.accept(signed_delivery(event, secret, msg_id="wh_9"))
        assert (again.status, again.body["status"]) == (200, "duplicate")

    def test_an_alias_whose_first_delivery_never_reached_the_inbox_does_not_block(
        self, make_app: Build, secret: str
    ) -> None:
        """A crash between a delivery's alias and its inbox entry leaves the alias alone: the
        envelope relayed under its own id later is accepted, not answered as a duplicate."""
        app, recorder = make_app()
        pipeline = app.pipeline()
        event = make_event("job.orphan")
        app.store.remember(
            envelope_key(event.id), b"wh_lost", ttl_s=3600, payload_hash=payload_hash(event.body)
        )
        relayed = pipeline.accept(signed_delivery(event, secret))
        assert (relayed.status, relayed.body["status"]) == (202, "accepted")
        assert pipeline.due() == [event_key(event.id)]

    def test_a_reused_envelope_id_with_another_body_is_409(
        self, make_app: Build, secret: str
    ) -> None:
        """A different body under an envelope id already accepted is refused with 409,
        whichever webhook-id it comes under."""
        app, recorder = make_app()
        pipeline = app.pipeline()
        event = make_event("job.one", event_id="evt_same")
        other = make_event("job.two", event_id="evt_same")
        assert pipeline.accept(signed_delivery(event, secret, msg_id="wh_1")).status == 202
        conflict = pipeline.accept(signed_delivery(other, secret, msg_id="wh_2"))
        assert (conflict.status, conflict.body["error"]["code"]) == (409, "payload_conflict")
        relayed = pipeline.accept(signed_delivery(other, secret))
        assert relayed.status == 409


class SyncRecordingStore(SQLiteStore):
    """A SQLite store that notes, for each insert, its key and whether it was synced."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.inserts: list[tuple[str, bool]] = []

    def _put_if_absent(
        self, record: Record, *, durable: bool = True, unless: str | None = None
    ) -> bool | None:
        self.inserts.append((record.key, durable))
        return super()._put_if_absent(record, durable=durable, unless=unless)


class TestDurability:
    @pytest.mark.parametrize(("sync", "synced"), [(False, True), (True, False)])
    def test_an_insert_is_synced_unless_the_answer_waits_for_the_work(
        self, tmp_path: Path, secret: str, sync: bool, synced: bool
    ) -> None:
        """A 202 promises the stored event, so its insert is synced (the worker holding it or
        not); in sync mode the answer comes after the work and the sender keeps the event
        until then, so the insert is not synced on its own. Either way it is in the file, and
        a redelivery is a duplicate."""
        store = SyncRecordingStore(tmp_path / "runhook.db")
        app = App(
            settings=Settings(webhook_secrets=(secret,), sync=sync),
            store=store,
            include_defaults=False,
        )
        handled: list[str] = []
        app.on("test.*")(lambda event, ctx: handled.append(event.id))
        pipeline = app.pipeline()
        worker = None if sync else Worker(pipeline, threads=1).start()
        try:
            event = make_event("test.stored")
            first = pipeline.accept(signed_delivery(event, secret))
            assert first.status == (200 if sync else 202)
            again = pipeline.accept(signed_delivery(event, secret))
            assert again.body["status"] == "duplicate"
            if worker is not None:
                assert worker.drain(10)
        finally:
            if worker is not None:
                worker.stop(5)
            store.close()
        assert handled == [event.id]
        assert store.inserts[0] == (event_key(event.id), synced)
        with sqlite3.connect(tmp_path / "runhook.db") as outside:
            [(status,)] = outside.execute(
                "SELECT status FROM records WHERE key = ?", (event_key(event.id),)
            ).fetchall()
        assert status == "completed"
