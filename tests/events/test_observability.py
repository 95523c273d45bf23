"""Metrics, timelines and the operator endpoints, in one process (issue 17)."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runhook.app import App
from runhook.events.config import Settings
from runhook.events.envelope import Event
from runhook.events.observability import NULL_OBSERVER, build_observer
from runhook.events.observability.metrics import exposition
from runhook.events.observability.observer import Observer, event_type_label
from runhook.events.observability.timeline import Timeline
from runhook.events.sources.admin import admin_blueprint
from runhook.events.sources.poller import Poller
from runhook.events.sources.relay import PipelineRelay
from runhook.events.sources.webhook import create_app
from runhook.events.store.memory import MemoryStore
from runhook.events.store.sqlite import SQLiteStore
from runhook.events.testing import signed_delivery
from runhook.events.worker import Worker
from tests.plugins.gunicorn import REPO
from tests.plugins.handlers import Rig
from tests.plugins.observability import Samples, samples, value
from tests.plugins.stores import FakeClock

Build = Callable[..., Rig]


def scrape(app: App) -> Samples:
    return samples(exposition(app.store, None)[0].decode())


def add_lookup(rig: Rig) -> None:
    @rig.app.tool
    def lookup(q: str) -> str:
        """Look something up.

        Args:
            q: what to look up.
        """
        return f"found {q}"


def drive(rig: Rig, text: str = 'call lookup {"q": "cats"}') -> Any:
    run = rig.wait_for(text)
    ack = rig.deliver_run(run)
    assert ack.status == 200, ack.body
    return run


class TestMetrics:
    def test_a_driven_run_is_counted(self, make_rig: Build) -> None:
        """One answered wait adds one delivery, one handled requires_action, one tool call
        per call and one submit to the counters."""
        rig = make_rig(metrics=True)
        add_lookup(rig)
        before = scrape(rig.app)
        drive(rig, 'call lookup {"q": "a"}\ncall lookup {"q": "b"}\ncall nosuch {}')
        after = scrape(rig.app)

        def delta(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        assert (
            delta("runhook_deliveries_total", source="test", status="200", result="processed") == 1
        )
        assert (
            delta(
                "runhook_handler_duration_seconds_count",
                event_type="thread.run.requires_action",
                outcome="done",
            )
            == 1
        )
        assert delta("runhook_tool_duration_seconds_count", tool="lookup", outcome="ok") == 2
        assert (
            delta("runhook_tool_duration_seconds_count", tool="(unknown)", outcome="unknown_tool")
            == 1
        )
        assert delta("runhook_submits_total", api="assistants", outcome="submitted") == 1
        assert delta("runhook_delivery_lag_seconds_count", source="test") == 1

    def test_inbox_gauges_count_due_and_parked(self, make_app: Callable[..., Any]) -> None:
        """Accepted-but-unprocessed entries are due; an entry out of attempts is parked."""
        app, _ = make_app(metrics=True, max_attempts=1)
        secret = app.settings.webhook_secrets[0]

        @app.on("boom.*")
        def boom(event: Event, ctx: Any) -> None:
            raise RuntimeError("broken")

        pipeline = app.pipeline()
        for i in range(3):
            pipeline.accept(signed_delivery(Event.create("test.ok", {"id": f"x{i}"}), secret))
        pipeline.accept(signed_delivery(Event.create("boom.now", {"id": "b"}), secret))
        due = scrape(app)
        assert value(due, "runhook_inbox_entries", state="due") == 4
        assert value(due, "runhook_inbox_entries", state="parked") == 0
        assert Worker(pipeline).drain(timeout=10)
        done = scrape(app)
        assert value(done, "runhook_inbox_entries", state="due") == 0
        assert value(done, "runhook_inbox_entries", state="parked") == 1

    def test_event_type_labels_are_bounded(self) -> None:
        """OpenAI's event types are labels as they are; anything else is ``other``."""
        assert event_type_label("thread.run.requires_action") == "thread.run.requires_action"
        assert event_type_label("response.completed") == "response.completed"
        assert event_type_label("thread.run.step.created") == "thread.run.step.created"
        assert event_type_label("thread.run.evt_123") == "other"
        assert event_type_label("my.custom") == "other"

    def test_nothing_enabled_is_the_null_observer(self) -> None:
        """With metrics, tracing and the page off, the pipeline gets the do-nothing observer."""
        assert build_observer(Settings(), MemoryStore()) is NULL_OBSERVER

    def test_a_missing_extra_is_named(self) -> None:
        """RUNHOOK_METRICS=1 without prometheus_client fails naming the extra to install."""
        code = (
            "import sys; sys.modules['prometheus_client'] = None\n"
            "from runhook.events.config import Settings\nfrom runhook.events.store.memory import MemoryStore\n"
            "from runhook.events.observability import build_observer\n"
            "build_observer(Settings(metrics=True), MemoryStore())\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True
        )
        assert result.returncode != 0
        assert "pip install 'runhook[metrics]'" in result.stderr

    def test_a_missing_otel_extra_is_named(self) -> None:
        """RUNHOOK_TRACING=1 without opentelemetry fails naming the extra to install."""
        code = (
            "import sys; sys.modules['opentelemetry'] = None\n"
            "from runhook.events.config import Settings\nfrom runhook.events.store.memory import MemoryStore\n"
            "from runhook.events.observability import build_observer\n"
            "build_observer(Settings(tracing=True), MemoryStore())\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True
        )
        assert result.returncode != 0
        assert "pip install 'runhook[otel]'" in result.stderr


class TestEndpoints:
    def client(self, app: App) -> Any:
        pipeline = app.pipeline()
        return create_app(
            pipeline, blueprints=[admin_blueprint(pipeline, app.observer)]
        ).test_client()

    def test_metrics_are_off_unless_enabled(self, make_app: Callable[..., Any]) -> None:
        """Without RUNHOOK_METRICS, GET /metrics is an unknown path (404)."""
        app, _ = make_app()
        assert self.client(app).get("/metrics").status_code == 404
        assert self.client(app).get("/admin/").status_code == 404

    def test_the_token_protects_metrics(self, make_app: Callable[..., Any]) -> None:
        """With RUNHOOK_ADMIN_TOKEN, /metrics needs it as a bearer token."""
        app, _ = make_app(metrics=True, admin_token="s3cret")
        client = self.client(app)
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
        ok = client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert "runhook_inbox_entries" in ok.get_data(as_text=True)

    def test_the_page_takes_the_token_once_and_keeps_it_in_a_cookie(
        self, make_app: Callable[..., Any]
    ) -> None:
        """/admin?token=… sets an HTTP-only cookie and redirects; the page then loads."""
        app, _ = make_app(admin_page=True, admin_token="s3cret")
        client = self.client(app)
        assert client.get("/admin/").status_code == 401
        login = client.get("/admin?token=s3cret")
        assert login.status_code == 303 and "HttpOnly" in login.headers["Set-Cookie"]
        page = client.get("/admin/")
        assert page.status_code == 200 and "runhook operator page" in page.get_data(as_text=True)

    def test_replay_needs_its_header(self, make_app: Callable[..., Any]) -> None:
        """A replay POST without X-Runhook-Replay (a cross-site form) is refused."""
        app, _ = make_app(admin_page=True)
        client = self.client(app)
        assert client.post("/admin/replay/evt_1").status_code == 400
        reply = client.post("/admin/replay/evt_1", headers={"X-Runhook-Replay": "1"})
        assert reply.status_code == 404 and reply.get_json()["outcome"] == "not_parked"


class TestTimeline:
    def test_a_run_has_its_event_tool_and_submit_on_its_timeline(self, make_rig: Build) -> None:
        """The handled wait, each tool call and the submit are recorded for the run, with
        durations and outcomes."""
        rig = make_rig(admin_page=True)
        add_lookup(rig)
        run = drive(rig)
        timeline = rig.app.observer.timeline
        assert timeline is not None
        recorded = timeline.get(run.id)
        assert recorded is not None
        kinds = [(e["kind"], e["name"], e["outcome"]) for e in recorded.entries]
        assert ("event", "thread.run.requires_action", "done") in kinds
        assert ("tool", "lookup", "ok") in kinds
        assert ("submit", "assistants", "submitted") in kinds
        assert all(e["seconds"] >= 0 for e in recorded.entries)
        assert [r.run_id for r in timeline.recent()] == [run.id]


class TestPollerLag:
    def test_the_poller_reports_how_late_it_polled(self, make_rig: Build) -> None:
        """A run watched to its end is polled more than once; each re-poll's lateness is
        observed, and the poller's deliveries are counted under their source."""
        # 1 s of model time: the run cannot end before the first poll, however loaded the
        # machine (with 60 ms a first poll delayed by load found it already completed)
        rig = make_rig(metrics=True, standin={"latency_ms": 1000})
        before = scrape(rig.app)
        relay = PipelineRelay(rig.app.pipeline(), rig.secret, source="poller")
        settings = rig.app.settings.replace(poll_interval_s=0.02, poll_max_interval_s=0.05)
        poller = Poller(rig.app.store, rig.client, relay, settings, observer=rig.app.observer)
        thread = rig.client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
        run = rig.client.beta.threads.runs.create(thread_id=thread.id, assistant_id=rig.assistant())
        poller.watch(run.id, thread.id)
        assert poller.poll_once() == 1  # the first poll: nothing was due before it, no lag
        time.sleep(0.05)  # past the 20 ms interval: the next poll is late
        poller.run(burst=True)
        after = scrape(rig.app)
        polls = value(after, "runhook_poller_lag_seconds_count") - value(
            before, "runhook_poller_lag_seconds_count"
        )
        assert polls >= 1  # every poll after the first
        accepted = value(after, "runhook_deliveries_total", source="poller") - value(
            before, "runhook_deliveries_total", source="poller"
        )
        assert accepted >= 2  # at least in_progress and completed


class TestObservingNeverFailsTheWork:
    def test_a_timeline_store_that_fails_only_logs(
        self, secret: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """When the timeline's store is unusable, events are still processed; a warning says
        the entry was not recorded."""
        broken = SQLiteStore(tmp_path / "broken.db")
        broken.close()
        seen: list[str] = []
        app = App(
            settings=Settings(webhook_secrets=(secret,)),
            store=MemoryStore(),  # the App's own store stays healthy
            include_defaults=False,
            observer=Observer(timeline=Timeline(broken, ttl_s=60), store=broken),
        )
        app.on("*")(lambda event, ctx: seen.append(event.type))
        event = Event.create("thread.run.queued", {"id": "run_1"})
        assert app.pipeline().accept(signed_delivery(event, secret)).status == 202
        with caplog.at_level(logging.WARNING, logger="runhook.observability"):
            assert Worker(app.pipeline()).drain(timeout=10)
        assert seen == ["thread.run.queued"]
        assert "timeline entry not recorded" in caplog.text


class TestTakeovers:
    def test_an_entry_whose_holder_died_is_counted_as_a_takeover(self, secret: str) -> None:
        """An inbox entry claimed by a worker that then vanished is processed by another once
        the lease lapsed, and that counts one inbox takeover; a plain first claim counts none."""
        clock = FakeClock()
        store = MemoryStore(clock=clock)
        app = App(
            settings=Settings(webhook_secrets=(secret,), metrics=True, claim_lease_s=5),
            store=store,
            include_defaults=False,
        )
        app.on("*")(lambda event, ctx: None)
        pipeline = app.pipeline()
        before = scrape(app)
        for name in ("dies", "lives"):
            event = Event.create("thread.run.queued", {"id": f"run_{name}"}, id=f"evt_{name}")
            assert pipeline.accept(signed_delivery(event, secret)).status == 202
        assert store.claim("evt:evt_dies", 5) is not None  # its worker dies holding the lease
        clock.advance(6)
        assert Worker(pipeline).drain(timeout=10)
        after = scrape(app)
        taken = value(after, "runhook_lease_takeovers_total", kind="inbox") - value(
            before, "runhook_lease_takeovers_total", kind="inbox"
        )
        assert taken == 1
