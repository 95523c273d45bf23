"""One scripted run through every source gives the same handler calls (issue 5)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest
from werkzeug.serving import make_server

from runhook.app import App
from runhook.events import keys
from runhook.events.config import Settings
from runhook.events.envelope import Event
from runhook.events.errors import StoreError
from runhook.events.sources import Ack
from runhook.events.sources.poller import Poller
from runhook.events.sources.relay import HttpRelay, PipelineRelay
from runhook.events.sources.stream import stream_run
from runhook.events.sources.webhook import create_app
from runhook.events.store import open_store
from runhook.events.store.memory import MemoryStore
from runhook.events.watchlist import watch
from runhook.lifecycle import RunOutcome
from runhook.runtime import relay_continuations
from runhook.standin import StandinServer
from tests.plugins.gunicorn import wait_until
from tests.plugins.redis import RedisServer
from tests.plugins.stores import FakeClock, StoreSpec

TEXT = 'call lookup {"q": "a"}\ncall lookup {"q": "b"}'


class Harness:
    """An App that records tool calls and outcomes, on the stand-in."""

    def __init__(self, server: StandinServer, secret: str, **settings: Any) -> None:
        self.server = server
        self.client = server.client(max_retries=2)
        values: dict[str, Any] = {
            "webhook_secrets": (secret,),
            "sync": True,
            "deadline_margin_s": 0.2,
        }
        values.update(settings)
        self.app = App(settings=Settings(**values), store=MemoryStore(), openai=self.client)
        relay_continuations(self.app)  # as every server does: on with stream_continuation
        self.secret = secret
        self.calls: list[str] = []
        self.outcomes: list[RunOutcome] = []
        self.done = threading.Event()

        @self.app.tool
        def lookup(q: str) -> str:
            """Look up."""
            self.calls.append(q)
            return q.upper()

        @self.app.on_outcome
        def finished(outcome: RunOutcome, ctx: Any) -> None:
            self.outcomes.append(outcome)
            self.done.set()

    def start(self, text: str = TEXT, **run: Any) -> tuple[str, str]:
        assistant = self.client.beta.assistants.create(
            model="gpt-4o", tools=self.app.tools.definitions()
        )  # type: ignore[arg-type]
        thread = self.client.beta.threads.create(messages=[{"role": "user", "content": text}])
        return assistant.id, thread.id

    def result(self) -> list[Any]:
        assert self.done.wait(20), "no outcome"
        return [sorted(self.calls), [(o.status, o.message) for o in self.outcomes]]


@pytest.fixture
def serve_http() -> Iterator[Callable[[App], str]]:
    servers: list[Any] = []

    def serve(app: App) -> str:
        server = make_server("127.0.0.1", 0, create_app(app.pipeline()), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/events"

    yield serve
    for server in servers:
        server.shutdown()


EXPECTED = [["a", "b"], [("completed", "lookup: A\nlookup: B")]]


class TestEquivalence:
    def test_in_process_stream(self, standin: StandinServer, secret: str) -> None:
        """The stream relay into this process's pipeline completes the run."""
        h = Harness(standin, secret, stream_continuation=True)
        assistant, thread = h.start()
        stream_run(
            h.client,
            PipelineRelay(h.app.pipeline(), secret),
            thread_id=thread,
            assistant_id=assistant,
        )
        assert h.result() == EXPECTED

    def test_stream_relayed_over_http(
        self, standin: StandinServer, secret: str, serve_http: Any
    ) -> None:
        """The stream relayed as signed webhooks to a server gives the same calls."""
        h = Harness(standin, secret, stream_continuation=True)
        relay = HttpRelay(serve_http(h.app), secret)
        assistant, thread = h.start()
        stream_run(h.client, relay, thread_id=thread, assistant_id=assistant)
        assert h.result() == EXPECTED

    def test_poller_relayed_over_http(
        self, standin: StandinServer, secret: str, serve_http: Any
    ) -> None:
        """The relay poller, posting to a server, gives the same calls."""
        h = Harness(standin, secret, poll_interval_s=0.05)
        relay = HttpRelay(serve_http(h.app), secret)
        assistant, thread = h.start()
        run = h.client.beta.threads.runs.create(thread_id=thread, assistant_id=assistant)
        poller = Poller(MemoryStore(), h.client, relay, h.app.settings)
        poller.watch(run.id, thread)
        poller.run(burst=True)
        assert h.result() == EXPECTED


class DroppingRelay:
    """Loses the first ``n`` requires_action events, as a flaky network would."""

    def __init__(self, inner: PipelineRelay, n: int = 1) -> None:
        self.inner, self.n, self.dropped = inner, n, 0

    def emit(self, event: Event) -> Ack:
        if event.type == "thread.run.requires_action" and self.dropped < self.n:
            self.dropped += 1
            return Ack(202, {"status": "accepted"})
        return self.inner.emit(event)


class TestPoller:
    def test_waits_of_two_runs_are_answered_at_once(
        self, standin: StandinServer, secret: str
    ) -> None:
        """Two watched runs each wait for a tool that returns only once the other run's tool
        has started: the poller answers both, polling due runs on threads at once (one poll
        after the other, the first tool would give up waiting)."""
        h = Harness(standin, secret, poll_interval_s=0.05, poll_threads=4)
        meeting = threading.Barrier(2, timeout=10)

        @h.app.tool
        def meet(n: int) -> str:
            """Returns once two calls are in here together."""
            meeting.wait()
            return f"met {n}"

        store = MemoryStore()
        poller = Poller(store, h.client, PipelineRelay(h.app.pipeline(), secret), h.app.settings)
        runs = []
        for n in (1, 2):
            assistant, thread = h.start(f'call meet {{"n": {n}}}')
            run = h.client.beta.threads.runs.create(thread_id=thread, assistant_id=assistant)
            poller.watch(run.id, thread)
            runs.append((run.id, thread))
        poller.run(burst=True)
        finals = [
            h.client.beta.threads.runs.retrieve(run_id, thread_id=thread) for run_id, thread in runs
        ]
        assert [r.status for r in finals] == ["completed", "completed"]
        assert not meeting.broken

    def test_recovers_from_a_dropped_event(self, standin: StandinServer, secret: str) -> None:
        """A lost requires_action is re-emitted on the next poll and the run completes."""
        h = Harness(standin, secret, poll_interval_s=0.05)
        relay = DroppingRelay(PipelineRelay(h.app.pipeline(), secret))
        assistant, thread = h.start()
        run = h.client.beta.threads.runs.create(thread_id=thread, assistant_id=assistant)
        poller = Poller(MemoryStore(), h.client, relay, h.app.settings)
        poller.watch(run.id, thread)
        poller.run(burst=True)
        assert relay.dropped == 1
        assert h.result() == EXPECTED

    def test_resumes_after_restart(self, standin: StandinServer, secret: str) -> None:
        """A new poller on the same store picks up the watch list where the old one stopped."""
        h = Harness(standin, secret, poll_interval_s=0.05)
        store = MemoryStore()
        assistant, thread = h.start()
        run = h.client.beta.threads.runs.create(thread_id=thread, assistant_id=assistant)
        first = Poller(
            store,
            h.client,
            DroppingRelay(PipelineRelay(h.app.pipeline(), secret), n=100),
            h.app.settings,
        )
        first.watch(run.id, thread)
        while (
            first.poll_once() == 0
            or h.client.beta.threads.runs.retrieve(run.id, thread_id=thread).status
            != "requires_action"
        ):
            pass
        second = Poller(store, h.client, PipelineRelay(h.app.pipeline(), secret), h.app.settings)
        second.known.update(first.known)
        second.run(burst=True)
        assert h.result() == EXPECTED

    def test_expired_while_watched(self, standin_factory: Any, secret: str) -> None:
        """A wait with too little time left runs no tool; the poller then relays expired."""
        server = standin_factory(latency_ms=10, expires_after_s=1)
        h = Harness(server, secret, poll_interval_s=0.05, deadline_margin_s=5)
        assistant, thread = h.start()
        run = h.client.beta.threads.runs.create(thread_id=thread, assistant_id=assistant)
        seen: list[str] = []
        poller = Poller(
            MemoryStore(),
            h.client,
            PipelineRelay(h.app.pipeline(), secret),
            h.app.settings,
            on_event=lambda e, ack: seen.append(e.type),
        )
        poller.watch(run.id, thread)
        poller.run(burst=True)
        assert h.calls == []
        assert seen[-1] == "thread.run.expired"
        assert [o.status for o in h.outcomes] == ["expired"]

    def test_a_new_watch_is_polled_at_once_not_at_the_next_scan(
        self, standin: StandinServer, secret: str, shared_store_spec: StoreSpec
    ) -> None:
        """A poller that scans only every 60 s answers a run watched through another store
        object (another process's connection) at once: the watch rings the store's bell, and
        the first poll finds the wait and answers it."""
        h = Harness(standin, secret, poll_interval_s=0.05, poll_scan_s=60.0)
        poller_store, watcher_store = (shared_store_spec.open(time.time) for _ in range(2))
        poller = Poller(
            poller_store, h.client, PipelineRelay(h.app.pipeline(), secret), h.app.settings
        )
        stop = threading.Event()
        worker = threading.Thread(target=poller.run, kwargs={"stop": stop}, daemon=True)
        worker.start()
        try:
            time.sleep(0.5)  # its first scan found nothing: it now waits up to 60 s
            assistant, thread = h.start()
            run = h.client.beta.threads.runs.create(thread_id=thread, assistant_id=assistant)
            runs = h.client.beta.threads.runs
            wait_until(
                lambda: runs.retrieve(run.id, thread_id=thread).status == "requires_action",
                what="the run to wait for its tools",
            )
            assert watch(watcher_store, run.id, thread) is True
            wait_until(  # a third of one scan interval
                lambda: runs.retrieve(run.id, thread_id=thread).status == "completed",
                timeout=20,
                what="the poller to answer the wait",
            )
            assert sorted(h.calls) == ["a", "b"]
        finally:
            stop.set()
            worker.join(10)
            poller_store.close()
            watcher_store.close()
        assert not worker.is_alive()

    @pytest.mark.redis
    def test_survives_a_store_outage(
        self, standin: StandinServer, secret: str, own_redis_server: RedisServer
    ) -> None:
        """With Redis down the poller keeps running; once Redis is back it finds the watch
        list where it was and the run completes."""
        h = Harness(standin, secret, poll_interval_s=0.05)
        store = open_store(own_redis_server.url)
        assistant, thread = h.start()
        run = h.client.beta.threads.runs.create(thread_id=thread, assistant_id=assistant)
        errors: list[str] = []
        poller = Poller(
            store,
            h.client,
            PipelineRelay(h.app.pipeline(), secret),
            h.app.settings,
            on_event=lambda e, ack: errors.append(e.type) if not ack.ok else None,
        )
        poller.watch(run.id, thread)
        own_redis_server.stop()
        stop = threading.Event()
        worker = threading.Thread(target=poller.run, kwargs={"stop": stop}, daemon=True)
        worker.start()
        try:
            time.sleep(1.0)  # several failed polls, each answered by a backoff, not a crash
            assert worker.is_alive() and h.calls == []
            own_redis_server.start()
            assert h.result() == EXPECTED
        finally:
            stop.set()
            worker.join(10)
        assert not worker.is_alive() and errors == []
        own_redis_server.stop()
        with pytest.raises(StoreError):  # burst mode reports the outage instead
            poller.run(burst=True)
        store.close()

    def test_rate_limit_waits_retry_after(self, standin_factory: Any, secret: str) -> None:
        """A 429 on a poll puts the run back on the list due after the server's retry-after
        (not the normal interval) and emits nothing."""
        server = standin_factory(retry_after_s=7)
        h = Harness(server, secret, poll_interval_s=0.05)
        clock = FakeClock()
        store = MemoryStore(clock=clock)
        seen: list[str] = []
        poller = Poller(
            store,
            server.client(max_retries=0),
            PipelineRelay(h.app.pipeline(), secret),
            h.app.settings,
            on_event=lambda e, ack: seen.append(e.type),
        )
        poller.watch("run_x", "thread_x")
        server.world.config.fault_429 = 1.0
        assert poller.poll_once() == 1
        record = store.get(keys.watch_key("run_x"))
        assert record is not None and record.lease_until == clock.now + 7
        assert seen == [] and store.due(keys.WATCH_QUEUE) == []

    def test_unknown_run_ends_its_watch(self, standin: StandinServer, secret: str) -> None:
        """A watched run the API does not know (404) is taken off the list as gone."""
        h = Harness(standin, secret)
        store = MemoryStore()
        poller = Poller(store, h.client, PipelineRelay(h.app.pipeline(), secret), h.app.settings)
        thread = h.client.beta.threads.create()
        poller.watch("run_does_not_exist", thread.id)
        poller.run(burst=True)
        record = store.get(keys.watch_key("run_does_not_exist"))
        assert record is not None and record.outcome == "gone"
        assert not poller.pending()


class TestHttpRelay:
    def test_retries_5xx_then_returns_the_answer(self, secret: str) -> None:
        """A 5xx (here a proxy's HTML error page) is retried; the final answer is returned,
        and every attempt carries the same signed webhook-id."""
        seen: list[httpx2.Request] = []

        def server(request: httpx2.Request) -> httpx2.Response:
            seen.append(request)
            if len(seen) == 1:
                return httpx2.Response(502, text="<html>bad gateway</html>")
            return httpx2.Response(202, json={"status": "accepted"})

        relay = HttpRelay(
            "http://runhook.test/events",
            secret,
            client=httpx2.Client(transport=httpx2.MockTransport(server)),
        )
        ack = relay.emit(Event.create("thread.run.completed", {"id": "run_1"}))
        relay.close()
        assert (ack.status, ack.body) == (202, {"status": "accepted"})
        assert len({r.headers["webhook-id"] for r in seen}) == 1 and len(seen) == 2

    def test_unreachable_server_is_a_503_ack(self, secret: str) -> None:
        """When nothing answers, emit gives up after its attempts with a 503 'unreachable'
        answer instead of raising, so a poller keeps the run for its next poll."""
        relay = HttpRelay("http://127.0.0.1:9/events", secret, attempts=2)
        ack = relay.emit(Event.create("thread.run.completed", {"id": "run_1"}))
        relay.close()
        assert ack.status == 503 and ack.body["error"]["code"] == "unreachable"


class TestSkipUnrouted:
    """``HttpRelay(skip_unrouted_s=...)``: a type the server routes nowhere is not sent again
    for that long; everything the server routes still is."""

    @staticmethod
    def relay(url: str, secret: str, clock: FakeClock, posts: list[str]) -> HttpRelay:
        def count(request: httpx2.Request) -> None:
            posts.append(Event.parse(request.content).type)

        client = httpx2.Client(timeout=15, trust_env=False, event_hooks={"request": [count]})
        return HttpRelay(url, secret, client=client, skip_unrouted_s=60, clock=clock)

    def test_unrouted_type_is_answered_by_the_relay_until_the_time_is_up(
        self, standin: StandinServer, secret: str, serve_http: Any
    ) -> None:
        h = Harness(standin, secret)
        clock, posts = FakeClock(), []
        relay = self.relay(serve_http(h.app), secret, clock, posts)
        created = [Event.create("thread.run.created", {"id": f"run_{i}"}) for i in range(3)]
        first = relay.emit(created[0])
        assert (first.status, first.body["status"], first.body["type_unrouted"]) == (
            200,
            "unhandled",
            True,
        )
        second = relay.emit(created[1])
        assert (second.status, dict(second.body)) == (
            200,
            {"status": "unhandled", "id": created[1].id, "skipped": True},
        )
        assert posts == ["thread.run.created"]
        # a routed type is always sent, and a routed answer is not cached
        queued = relay.emit(Event.create("thread.run.cancelled", {"id": "run_x"}))
        assert queued.body["status"] != "unhandled"
        clock.advance(61)
        third = relay.emit(created[2])
        assert "skipped" not in third.body
        assert posts == ["thread.run.created", "thread.run.cancelled", "thread.run.created"]

    def test_a_predicate_route_keeps_every_type_sent(
        self, standin: StandinServer, secret: str, serve_http: Any
    ) -> None:
        h = Harness(standin, secret)
        seen: list[str] = []

        @h.app.on(lambda e: e.data.get("metadata", {}).get("team") == "a")
        def team(event: Event, ctx: Any) -> None:
            seen.append(event.object_id)

        clock, posts = FakeClock(), []
        relay = self.relay(serve_http(h.app), secret, clock, posts)
        other = relay.emit(Event.create("thread.run.created", {"id": "run_1"}))
        assert other.body["status"] == "unhandled" and "type_unrouted" not in other.body
        mine = relay.emit(
            Event.create("thread.run.created", {"id": "run_2", "metadata": {"team": "a"}})
        )
        assert mine.body["status"] == "processed"
        assert posts == ["thread.run.created"] * 2 and seen == ["run_2"]

    def test_a_streamed_run_completes_with_skipping_on(
        self, standin: StandinServer, secret: str, serve_http: Any
    ) -> None:
        h = Harness(standin, secret, stream_continuation=True)
        posts: list[str] = []
        relay = self.relay(serve_http(h.app), secret, FakeClock(), posts)
        for _ in range(2):
            assistant, thread = h.start()
            stream_run(h.client, relay, thread_id=thread, assistant_id=assistant)
            assert h.result() == EXPECTED
            h.calls.clear(), h.outcomes.clear(), h.done.clear()
        assert posts.count("thread.run.requires_action") == 2
        assert posts.count("thread.run.created") == 1  # the second run's was answered here

    def test_negative_time_is_refused(self, secret: str) -> None:
        with pytest.raises(ValueError, match="skip_unrouted_s"):
            HttpRelay("http://127.0.0.1:9/events", secret, skip_unrouted_s=-1)
