"""What the Redis store adds to the contract: its key layout, native TTLs, outages, fork."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from runhook.events.errors import ConfigError, StoreError
from runhook.events.store import Enqueued, open_store
from runhook.events.store.redis import RedisStore
from tests.plugins.redis import RedisServer
from tests.plugins.stores import FakeClock, run_in_fork

pytestmark = pytest.mark.redis

LEASE_S = 30.0
TTL_S = 3600.0


@pytest.fixture
def raw_redis(redis_url: str) -> Iterator[Any]:
    """A plain redis client of the test's database, to look at the keys from outside."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def store(redis_url: str, store_clock: FakeClock) -> Iterator[RedisStore]:
    """A Redis store on the session's server, with an empty database."""
    store = RedisStore.from_url(redis_url, clock=store_clock)
    try:
        yield store
    finally:
        store.close()


class TestLayout:
    def test_open_store(self, redis_url: str) -> None:
        """open_store() hands redis:// URLs to RedisStore with the given clock."""
        clock = FakeClock()
        store = open_store(redis_url, clock=clock)
        store.close()
        assert isinstance(store, RedisStore) and store.clock is clock

    def test_record_is_a_hash(self, store: RedisStore, raw_redis: Any) -> None:
        """A record is a hash under <prefix>r:<key> holding only the fields that are set."""
        store.enqueue("evt:1", b"body", queue="inbox")
        fields = raw_redis.hgetall("runhook:r:evt:1")
        assert fields[b"status"] == b"pending" and fields[b"payload"] == b"body"
        assert b"expires_at" not in fields and b"outcome" not in fields

    def test_due_set_follows_the_record(
        self, store: RedisStore, store_clock: FakeClock, raw_redis: Any
    ) -> None:
        """The queue's sorted set scores each key by its lease, and loses it on completion."""
        store.enqueue("evt:1", b"body", queue="inbox", delay_s=5.0)
        assert raw_redis.zscore("runhook:q:inbox", "evt:1") == store_clock.now + 5.0
        store_clock.advance(5.0)
        claim = store.claim("evt:1", LEASE_S)
        assert claim is not None
        assert raw_redis.zscore("runhook:q:inbox", "evt:1") == claim.lease_until
        store.complete(claim, TTL_S)
        assert raw_redis.zscore("runhook:q:inbox", "evt:1") is None

    def test_plain_claims_are_in_no_set(self, store: RedisStore, raw_redis: Any) -> None:
        """A claim without a queue writes its hash and nothing else."""
        store.claim("wait:1", LEASE_S)
        assert raw_redis.keys("*") == [b"runhook:r:wait:1"]

    def test_prefix_separates_stores(self, redis_url: str, raw_redis: Any) -> None:
        """Stores with different prefixes share a database without seeing each other."""
        one = RedisStore.from_url(redis_url, prefix="one:")
        two = RedisStore.from_url(redis_url, prefix="two:")
        try:
            assert one.enqueue("evt:1", b"a", queue="inbox") is Enqueued.NEW
            assert two.enqueue("evt:1", b"b", queue="inbox") is Enqueued.NEW
            record = one.get("evt:1")
            assert record is not None and record.payload == b"a"
        finally:
            one.close()
            two.close()
        assert sorted(raw_redis.keys("*")) == [
            b"one:q:inbox",
            b"one:r:evt:1",
            b"two:q:inbox",
            b"two:r:evt:1",
        ]

    def test_dangling_members_are_dropped(self, store: RedisStore, raw_redis: Any) -> None:
        """A queue member whose record vanished (evicted, deleted by hand) is skipped and removed."""
        store.enqueue("evt:1", b"body", queue="inbox")
        store.enqueue("evt:2", b"body", queue="inbox", delay_s=0.5)
        raw_redis.delete("runhook:r:evt:1")
        assert store.due("inbox", limit=1) == []  # nothing is due yet but the dangling one
        assert raw_redis.zrange("runhook:q:inbox", 0, -1) == [b"evt:2"]


class TestNativeTtl:
    def test_completed_records_expire(
        self, store: RedisStore, store_clock: FakeClock, raw_redis: Any
    ) -> None:
        """A completed record carries a native TTL of what remains of its expiry."""
        claim = store.claim("wait:1", LEASE_S)
        assert claim is not None
        assert raw_redis.pttl("runhook:r:wait:1") == -1  # no TTL while in progress
        store.complete(claim, TTL_S)
        assert 0 < raw_redis.pttl("runhook:r:wait:1") <= TTL_S * 1000

    def test_ttl_follows_the_injected_clock(self, redis_url: str, raw_redis: Any) -> None:
        """The TTL is relative, so a clock far from the server's does not expire records early."""
        store = RedisStore.from_url(redis_url, clock=FakeClock(1_000_000.0))  # 1970
        try:
            claim = store.claim("wait:1", LEASE_S)
            assert claim is not None and store.complete(claim, TTL_S)
            assert store.claim("wait:1", LEASE_S) is None
            assert raw_redis.pttl("runhook:r:wait:1") > (TTL_S - 60) * 1000
        finally:
            store.close()

    def test_natively_expired_is_absent(
        self, store: RedisStore, store_clock: FakeClock, raw_redis: Any
    ) -> None:
        """A record Redis has expired is absent: the key can be enqueued again."""
        store.enqueue("evt:1", b"body", queue="inbox")
        claim = store.claim("evt:1", LEASE_S)
        assert claim is not None
        store.complete(claim, TTL_S)
        raw_redis.delete("runhook:r:evt:1")  # what the TTL does when it fires
        assert store.get("evt:1") is None
        assert store.enqueue("evt:1", b"body", queue="inbox") is Enqueued.NEW


class TestClient:
    def test_given_client_is_left_open(self, redis_url: str) -> None:
        """A client passed in is the caller's: close() does not disconnect it."""
        import redis

        client = redis.Redis.from_url(redis_url)
        store = RedisStore(client)
        store.close()
        assert client.ping()
        client.close()

    def test_decoding_client_refused(self, redis_url: str) -> None:
        """A client that decodes responses is refused: it would corrupt binary payloads."""
        import redis

        client = redis.Redis.from_url(redis_url, decode_responses=True)
        with pytest.raises(ConfigError, match="decode_responses=False"):
            RedisStore(client)
        client.close()

    def test_malformed_url(self) -> None:
        """A malformed Redis URL is a ConfigError that shows the expected form."""
        with pytest.raises(ConfigError, match=r"redis://\[:password@\]host:6379/0"):
            RedisStore.from_url("redis://localhost:notaport/0")

    def test_missing_package(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without the redis package, opening the store names the extra to install."""
        monkeypatch.setitem(sys.modules, "redis", None)  # what an absent package looks like
        with pytest.raises(ConfigError, match=r"pip install 'runhook\[redis\]'"):
            open_store("redis://127.0.0.1:6379/0")


class TestOutage:
    def test_server_down(self, own_redis_server: RedisServer) -> None:
        """With the server down, ping and claim raise StoreError naming it; it recovers after."""
        store = RedisStore.from_url(own_redis_server.url)
        try:
            store.ping()
            own_redis_server.stop()
            where = f"127.0.0.1:{own_redis_server.port}/0"
            with pytest.raises(StoreError, match=rf"{where}: ping failed.*is running"):
                store.ping()
            with pytest.raises(StoreError, match=rf"{where}: read failed"):
                store.claim("wait:1", LEASE_S)
            own_redis_server.start()
            store.ping()
            assert store.claim("wait:1", LEASE_S) is not None
        finally:
            store.close()

    def test_password_not_shown(self, own_redis_server: RedisServer) -> None:
        """The StoreError names the server but never the password from the URL."""
        url = own_redis_server.url.replace("redis://", "redis://:s3cret@")
        store = RedisStore.from_url(url)
        own_redis_server.stop()
        with pytest.raises(StoreError) as caught:
            store.ping()
        store.close()
        assert "s3cret" not in str(caught.value)


class TestFork:
    def test_child_uses_inherited_store(self, store: RedisStore) -> None:
        """A forked child works with the parent's store, and the parent's keeps working."""
        store.enqueue("evt:parent", b"body", queue="inbox")  # the pool holds a connection now
        assert run_in_fork(lambda: store.claim("wait:child", LEASE_S)) == 0
        assert store.claim("wait:child", LEASE_S) is None
        assert store.due("inbox") == ["evt:parent"]

    def test_reopen_in_child(self, store: RedisStore) -> None:
        """reopen() in the child (gunicorn post_fork) gives it fresh connections."""
        store.enqueue("evt:parent", b"body", queue="inbox")

        def child() -> bool:
            store.reopen()
            return store.enqueue("evt:child", b"body", queue="inbox") is Enqueued.NEW

        assert run_in_fork(child) == 0
        assert sorted(store.due("inbox")) == ["evt:child", "evt:parent"]
