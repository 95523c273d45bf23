"""Pipeline retries end in a park that loses nothing, and a parked event can be replayed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from events.keys import event_key
from events.testing import make_event, signed_delivery
from handlers.app import App
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
