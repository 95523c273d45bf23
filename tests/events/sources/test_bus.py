"""The bus convention and the Redis Streams consumer, on a real pipeline and a real Redis."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from runhook.app import App
from runhook.events.config import Settings
from runhook.events.envelope import Event
from runhook.events.errors import StoreError
from runhook.events.signing import sign_headers
from runhook.events.sources.bus import RedisStreamSource, accept_message, stream_fields, unwrap_sns
from runhook.events.store.redis import RedisStore
from runhook.events.testing import make_event
from tests.plugins.events import Recorder
from tests.plugins.gunicorn import wait_until
from tests.plugins.redis import RedisServer

Build = Callable[..., tuple[App, Recorder]]
OTHER_SECRET = "whsec_b3RoZXItc2VjcmV0LW9mLTMyLWJ5dGVzLi4uLi4="


def signed(event: Event, secret: str) -> dict[str, str]:
    return sign_headers(secret, event.body, msg_id=event.id)


class TestAcceptMessage:
    def test_envelope_with_signature_attributes_is_processed(
        self, make_app: Build, secret: str
    ) -> None:
        """A body with the three signature attributes (any case) is processed; other
        attributes are ignored."""
        app, recorder = make_app(sync=True)
        event = make_event("bus.one")
        attributes = {k.upper(): v for k, v in signed(event, secret).items()}
        attributes["x-trace"] = "abc"
        ack = accept_message(app.pipeline(), event.body, attributes)
        assert ack.status == 200 and ack.body["status"] == "processed"
        assert recorder.types() == ["bus.one"]

    def test_missing_attributes_are_refused(self, make_app: Build) -> None:
        """A message without signature attributes is a 401 poison message."""
        app, recorder = make_app(sync=True)
        ack = accept_message(app.pipeline(), make_event("bus.x").body, {})
        assert ack.status == 401 and recorder.seen == []


class TestUnwrapSns:
    def test_notification_gives_message_and_attributes(self, secret: str) -> None:
        """An SNS notification yields its Message and its MessageAttributes' values."""
        event = make_event("bus.sns")
        headers = signed(event, secret)
        wrapped = json.dumps(
            {
                "Type": "Notification",
                "Message": event.body.decode(),
                "MessageAttributes": {
                    k: {"Type": "String", "Value": v} for k, v in headers.items()
                },
            }
        ).encode()
        body, attributes = unwrap_sns(wrapped, {})
        assert body == event.body and attributes["webhook-id"] == event.id

    def test_plain_envelope_is_unchanged(self) -> None:
        """A body that is not an SNS notification is returned as it is."""
        body = make_event("bus.plain").body
        assert unwrap_sns(body, {"a": "b"}) == (body, {"a": "b"})


@pytest.fixture
def sources(redis_url: str) -> Iterator[Callable[..., RedisStreamSource]]:
    """Build RedisStreamSources on the session's Redis; all closed after the test."""
    made: list[RedisStreamSource] = []

    def build(app: App, consumer: str = "c1", **options: Any) -> RedisStreamSource:
        options.setdefault("block_s", 0.2)
        source = RedisStreamSource(
            app.pipeline(), redis_url, "events", "runhook", consumer, **options
        )
        made.append(source)
        return source

    yield build
    for source in made:
        source.close()


@pytest.fixture
def inspect(redis_url: str) -> Iterator[Any]:
    """A plain client of the session's Redis, to look at the stream from outside."""
    import redis

    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def pending(client: Any) -> int:
    """Entries of the test stream's group that are delivered but not acknowledged."""
    return int(client.xpending("events", "runhook")["pending"])


@pytest.mark.redis
class TestRedisStreamSource:
    def test_entries_are_processed_and_acknowledged(
        self, make_app: Build, secret: str, sources: Callable[..., RedisStreamSource], inspect: Any
    ) -> None:
        """Signed entries are processed once each and acknowledged; a duplicate webhook-id is
        acknowledged without running again."""
        app, recorder = make_app(sync=True)
        source = sources(app)
        first, second = make_event("bus.a"), make_event("bus.b")
        for event in (first, second, first):
            source.add(event.body, signed(event, secret))
        assert source.run(burst=True) == 3
        assert recorder.types() == ["bus.a", "bus.b"]
        assert pending(inspect) == 0

    def test_poison_entry_is_acknowledged_and_dead_lettered(
        self, make_app: Build, sources: Callable[..., RedisStreamSource], inspect: Any
    ) -> None:
        """A badly signed entry is acknowledged (never retried) and copied to the dead-letter
        stream; its handler never runs."""
        app, recorder = make_app(sync=True)
        source = sources(app, dead_letter="events:dead")
        event = make_event("bus.bad")
        source.add(event.body, signed(event, OTHER_SECRET))
        assert source.run(burst=True) == 1
        assert recorder.seen == [] and pending(inspect) == 0
        ((_, fields),) = inspect.xrange("events:dead")
        assert fields[b"body"] == event.body and fields[b"webhook-id"] == event.id.encode()

    def test_failed_entry_stays_pending_until_another_consumer_takes_it(
        self, make_app: Build, secret: str, sources: Callable[..., RedisStreamSource], inspect: Any
    ) -> None:
        """An entry whose handler fails is left pending; another consumer claims it once it
        has been idle longer than the lease, and it then succeeds."""
        app, recorder = make_app(sync=True, retry_backoff_s=0.0)
        failures = [RuntimeError("first attempt fails")]

        @app.on("bus.flaky")
        def flaky(event: Any, ctx: Any) -> None:
            if failures:
                raise failures.pop()

        first = sources(app, "c1", lease_s=3600.0)  # never reclaims within this test
        event = make_event("bus.flaky")
        first.add(event.body, signed(event, secret))
        assert first.run(burst=True) == 1
        assert pending(inspect) == 1
        second = sources(app, "c2", lease_s=0.05)
        wait_until(lambda: second.run(burst=True) > 0, what="the entry to be reclaimed")
        assert pending(inspect) == 0
        assert recorder.types() == ["bus.flaky", "bus.flaky"]

    def test_store_outage_leaves_entries_pending_then_recovers(
        self,
        secret: str,
        own_redis_server: RedisServer,
        sources: Callable[..., RedisStreamSource],
        inspect: Any,
    ) -> None:
        """While the store's Redis is down an entry stays pending (5xx); when it is back, the
        same consumer re-reads its own pending entries on its next run and processes them."""
        recorder = Recorder()
        app = App(
            settings=Settings(webhook_secrets=(secret,), sync=True),
            store=RedisStore(own_redis_server.url),
            include_defaults=False,
        )
        app.on("*")(recorder)
        try:
            source = sources(app)
            event = make_event("bus.outage")
            source.add(event.body, signed(event, secret))
            own_redis_server.stop()
            try:
                assert source.run(burst=True) == 1
                assert pending(inspect) == 1 and recorder.seen == []
            finally:
                own_redis_server.start()
            restarted = sources(app, "c1")
            assert restarted.run(burst=True) == 1
            assert pending(inspect) == 0 and recorder.types() == ["bus.outage"]
        finally:
            app.close()

    def test_existing_group_is_reused(
        self, make_app: Build, secret: str, sources: Callable[..., RedisStreamSource]
    ) -> None:
        """A second source on the same group does not fail on the existing group and reads
        only what the first did not."""
        app, recorder = make_app(sync=True)
        event = make_event("bus.once")
        first = sources(app, "c1")
        first.add(event.body, signed(event, secret))
        first.run(burst=True)
        assert sources(app, "c2").run(burst=True) == 0
        assert recorder.types() == ["bus.once"]

    def test_runs_until_stopped(
        self, make_app: Build, secret: str, sources: Callable[..., RedisStreamSource]
    ) -> None:
        """A running consumer picks up an entry added while it waits, and returns on stop."""
        app, recorder = make_app(sync=True)
        source = sources(app)
        stop = threading.Event()
        handled: list[int] = []
        thread = threading.Thread(target=lambda: handled.append(source.run(stop=stop)))
        thread.start()
        try:
            event = make_event("bus.live")
            sources(app, "producer").add(event.body, signed(event, secret))
            wait_until(lambda: recorder.types() == ["bus.live"], what="the live entry")
        finally:
            stop.set()
            thread.join(timeout=60)
        assert not thread.is_alive() and handled == [1]

    def test_unreachable_stream_in_burst_mode_raises(self, make_app: Build, secret: str) -> None:
        """In burst mode a Redis that cannot be reached is a StoreError naming the stream."""
        app, _ = make_app(sync=True)
        source = RedisStreamSource(app.pipeline(), "redis://127.0.0.1:1/0", "events", "g", "c")
        try:
            with pytest.raises(StoreError, match="'events' unreachable"):
                source.run(burst=True)
        finally:
            source.close()


def test_stream_fields_carry_body_and_signature() -> None:
    """stream_fields keeps the body bytes and the three signature headers only."""
    event = make_event("bus.f")
    headers = sign_headers("whsec_" + "A" * 44, event.body, msg_id=event.id)
    fields = stream_fields(event.body, headers)
    assert sorted(fields) == ["body", "webhook-id", "webhook-signature", "webhook-timestamp"]
    assert fields["body"] == event.body
