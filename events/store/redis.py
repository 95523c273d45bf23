"""Redis store: for many hosts sharing one inbox (needs the ``runhook[redis]`` extra).

Layout, under a key prefix (``runhook:`` by default):

- ``runhook:r:<key>``: one hash per record, with the fields ``status``, ``token``,
  ``lease_until``, ``attempts`` and, when set, ``expires_at``, ``queue``, ``payload`` (raw
  bytes), ``payload_hash`` and ``outcome``. A record with ``expires_at`` (a completed one) also
  gets a native TTL, so Redis itself drops it once it is forgotten.
- ``runhook:q:<queue>``: one sorted set per due-queue (``inbox``, ``watch``): the keys of its
  PENDING and IN_PROGRESS records, scored by ``lease_until``. ``_scan_due`` is a range query
  on the score.

Each primitive is one Lua script that checks the token, rewrites the hash, moves the key in or
out of its sorted set and sets the TTL together, so the index can never disagree with the
records. Time comes from the injected clock, never from Redis ``TIME``; the native TTL is the
remaining time (``expires_at - now``, a relative ``PEXPIRE``) so that a skew between the
hosts' clocks and the Redis server's cannot make Redis forget a record early.

Why sorted sets rather than a Stream with a consumer group: the store keeps one mechanism for
the inbox, the relay poller's watch list and plain claims, and the base class's rules need
things a Stream does not give. A claim is a compare-and-set on a per-record token, which also
fences a worker whose lease was taken over; retries and watch entries are due at arbitrary
times (a Stream only delivers in arrival order, with no delay); the dedupe record must outlive
the entry by its TTL. With a Stream all three would need these keys anyway, plus ``XACK`` and
trimming. The sorted set gives the Stream's useful property too: the entries of a consumer that
died are taken over by another once their lease (score) has passed.

What survives a restart of Redis is what its persistence keeps (RDB/AOF): run it with
``appendonly yes`` for an inbox that survives a crash, and ``maxmemory-policy noeviction``
so that it never evicts a record. Redis Cluster is not supported (the scripts touch the
sorted set named inside the record); use one primary, with Sentinel for failover.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from runhook.events.errors import ConfigError, StoreError
from runhook.events.store.base import Store
from runhook.events.store.bell import Bell
from runhook.events.store.records import Record, Status

log = logging.getLogger("runhook.store")

if TYPE_CHECKING:
    import redis
    from redis.commands.core import Script

# Shared by the writing scripts. ARGV[1] = prefix, ARGV[2] = the record's key (the member of
# its sorted set); a write's arguments start at ARGV[first]:
#   queue ('' = none), status, lease_until, ttl_ms ('' = none), field, value, ...
_LUA_HELPERS = """
local function unindex(rkey)
  local queue = redis.call('HGET', rkey, 'queue')
  if queue then redis.call('ZREM', ARGV[1] .. 'q:' .. queue, ARGV[2]) end
end

local function write(rkey, first)
  redis.call('HSET', rkey, unpack(ARGV, first + 4))
  if ARGV[first + 3] ~= '' then redis.call('PEXPIRE', rkey, ARGV[first + 3]) end
  local queue = ARGV[first]
  if queue ~= '' and ARGV[first + 1] ~= 'completed' then
    redis.call('ZADD', ARGV[1] .. 'q:' .. queue, ARGV[first + 2], ARGV[2])
  end
end
"""

_PUT_IF_ABSENT = (
    _LUA_HELPERS
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
write(KEYS[1], 3)
return 1
"""
)

_PUT_UNLESS = (
    _LUA_HELPERS
    + """
if redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
write(KEYS[1], 3)
return 1
"""
)

_COMPARE_AND_SET = (
    _LUA_HELPERS
    + """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[3] then return 0 end
unindex(KEYS[1])
redis.call('DEL', KEYS[1])
write(KEYS[1], 4)
return 1
"""
)

_DELETE = (
    _LUA_HELPERS
    + """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[3] then return 0 end
unindex(KEYS[1])
redis.call('DEL', KEYS[1])
return 1
"""
)

# KEYS[1] = the queue's sorted set; ARGV = prefix, queue, now, limit. Members whose record is
# gone or no longer queued there (only after outside interference) are dropped on the way.
_SCAN_DUE = """
local limit = tonumber(ARGV[4])
local now = tonumber(ARGV[3])
local out, stale, offset = {}, {}, 0
while #out < limit do
  local batch = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[3], 'LIMIT', offset, limit)
  if #batch == 0 then break end
  offset = offset + #batch
  for _, member in ipairs(batch) do
    local f = redis.call('HMGET', ARGV[1] .. 'r:' .. member, 'status', 'queue', 'expires_at')
    if not f[1] or f[1] == 'completed' or f[2] ~= ARGV[2] then
      stale[#stale + 1] = member
    elseif not f[3] or tonumber(f[3]) > now then
      out[#out + 1] = member
      if #out == limit then break end
    end
  end
end
for _, member in ipairs(stale) do redis.call('ZREM', KEYS[1], member) end
return out
"""


def import_redis(needed_by: str = "the Redis store") -> Any:
    """The ``redis`` module, imported only by what needs it (an optional extra).

    Raises:
        ConfigError: it is not installed; the message names what needs it and the extra.
    """
    try:
        import redis
    except ImportError as exc:
        raise ConfigError(
            f"{needed_by} needs the redis package: pip install 'runhook[redis]'"
        ) from exc
    return redis


class RedisStore(Store):
    """Records in Redis hashes, due-queues in sorted sets, written by atomic Lua scripts.

    Args:
        client_or_url: a ``redis.Redis`` client (left open by ``close()``; it must not set
            ``decode_responses``) or a ``redis://``/``rediss://``/``unix://`` URL.
        clock: returns unix seconds; injectable so tests can move time.
        prefix: prepended to every key, so several apps (or tests) can share a database.

    Raises:
        ConfigError: the redis package is missing, the URL is malformed, or the client
            decodes responses.
    """

    def __init__(
        self,
        client_or_url: redis.Redis | str,
        *,
        clock: Callable[[], float] = time.time,
        prefix: str = "runhook:",
    ) -> None:
        super().__init__(clock=clock)
        module = import_redis()
        self.prefix = prefix
        self._redis_error: type[Exception] = module.RedisError
        self._owned = isinstance(client_or_url, str)
        if isinstance(client_or_url, str):
            try:
                client = module.Redis.from_url(
                    client_or_url, socket_timeout=10.0, socket_connect_timeout=5.0
                )
            except ValueError as exc:
                raise ConfigError(
                    f"RUNHOOK_STORE is not a valid Redis URL ({exc}); use "
                    "redis://[:password@]host:6379/0, rediss://… or unix:///path/redis.sock"
                ) from exc
        else:
            client = client_or_url
        if client.get_connection_kwargs().get("decode_responses"):
            raise ConfigError(
                "the Redis client given to RedisStore decodes responses, which would corrupt "
                "binary payloads; create it with decode_responses=False"
            )
        self._client: redis.Redis = client
        self._where = _describe(client.get_connection_kwargs())
        self._put_script: Script = client.register_script(_PUT_IF_ABSENT)
        self._put_unless_script: Script = client.register_script(_PUT_UNLESS)
        self._cas_script: Script = client.register_script(_COMPARE_AND_SET)
        self._delete_script: Script = client.register_script(_DELETE)
        self._scan_script: Script = client.register_script(_SCAN_DUE)

    @classmethod
    def from_url(
        cls, url: str, *, clock: Callable[[], float] = time.time, prefix: str = "runhook:"
    ) -> RedisStore:
        """Open the store at ``redis://host:port/db`` (or ``rediss://``, ``unix://``).

        Raises:
            ConfigError: see the class.
        """
        return cls(url, clock=clock, prefix=prefix)

    def __repr__(self) -> str:
        return f"RedisStore({self._where!r}, prefix={self.prefix!r})"

    def record_key(self, key: str) -> str:
        """The Redis key of record ``key`` (for operators and tests)."""
        return f"{self.prefix}r:{key}"

    def queue_key(self, queue: str) -> str:
        """The Redis key of the sorted set of due-queue ``queue``."""
        return f"{self.prefix}q:{queue}"

    # -- primitives -----------------------------------------------------------------------------

    def _get(self, key: str) -> Record | None:
        with self._errors("read"):
            # decode_responses is off (checked in __init__): keys and values are bytes.
            fields = cast("dict[bytes, bytes]", self._client.hgetall(self.record_key(key)))
        return _record(key, fields) if fields else None

    def _put_if_absent(
        self, record: Record, *, durable: bool = True, unless: str | None = None
    ) -> bool | None:
        args = [self.prefix, record.key, *self._write_args(record)]
        with self._errors("insert"):
            if unless is None:
                return bool(self._put_script(keys=[self.record_key(record.key)], args=args))
            keys = [self.record_key(record.key), self.record_key(unless)]
            answer = int(self._put_unless_script(keys=keys, args=args))
        return None if answer == 2 else bool(answer)

    def _compare_and_set(
        self, key: str, token: str, record: Record, *, durable: bool = True
    ) -> bool:
        args = [self.prefix, key, token, *self._write_args(record)]
        with self._errors("update"):
            return bool(self._cas_script(keys=[self.record_key(key)], args=args))

    def _delete(self, key: str, token: str, *, durable: bool = True) -> bool:
        with self._errors("delete"):
            return bool(
                self._delete_script(keys=[self.record_key(key)], args=[self.prefix, key, token])
            )

    def _scan_due(self, queue: str, now: float, limit: int) -> list[str]:
        args: list[str | int] = [self.prefix, queue, repr(now), limit]
        with self._errors("scan"):
            members: list[bytes] = self._scan_script(keys=[self.queue_key(queue)], args=args)
        return [member.decode() for member in members]

    def _ping(self) -> None:
        with self._errors("ping"):
            self._client.ping()

    # -- bells ----------------------------------------------------------------------------------

    def bell_channel(self, queue: str) -> str:
        """The pub/sub channel that ``ring(queue)`` publishes on."""
        return f"{self.prefix}bell:{queue}"

    def ring(self, queue: str) -> None:
        """``PUBLISH`` on the queue's channel: every bell on every host hears it."""
        try:
            self._client.publish(self.bell_channel(queue), b"!")
        except self._redis_error:
            log.debug("ring of %s not sent", queue, exc_info=True)

    def bell(self, queue: str) -> Bell:
        """A bell subscribed to the queue's channel (its own connection)."""
        return _RedisBell(self._client, self.bell_channel(queue), self._redis_error)

    # -- connections ----------------------------------------------------------------------------

    def close(self) -> None:
        """Disconnect, if this store created the client (a client passed in is left alone)."""
        if self._owned:
            self._client.close()

    def reopen(self) -> None:
        """Forget the pool's connections inherited across ``fork()`` (without closing them)."""
        self._client.connection_pool.reset()

    # -- helpers ------------------------------------------------------------------------------

    def _write_args(self, record: Record) -> list[str | bytes]:
        ttl_ms = ""
        if record.expires_at is not None:
            # Relative to our clock, so a skewed server clock cannot forget the record early.
            ttl_ms = str(max(1, math.ceil((record.expires_at - self.clock()) * 1000)))
        return [
            record.queue or "",
            record.status.value,
            repr(record.lease_until),
            ttl_ms,
            *_fields(record),
        ]

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Turn redis errors into ``StoreError`` naming the server and the fix."""
        try:
            yield
        except self._redis_error as exc:
            raise StoreError(
                f"Redis store {self._where}: {doing} failed: {type(exc).__name__}: {exc}; "
                f"{_hint(exc)}"
            ) from exc


class _RedisBell(Bell):
    """Listens on a pub/sub channel. While Redis is unreachable it sleeps, and subscribes
    again once it can: the poller's scans find what was rung meanwhile."""

    def __init__(self, client: redis.Redis, channel: str, error: type[Exception]) -> None:
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._channel, self._error = channel, error
        self._subscribed = False
        self._subscribe()

    def _subscribe(self) -> bool:
        if not self._subscribed:
            try:
                self._pubsub.subscribe(self._channel)
                self._subscribed = True
            except self._error:
                log.debug("cannot subscribe to %s yet", self._channel, exc_info=True)
        return self._subscribed

    def _listen(self, timeout_s: float) -> bool:
        if not self._subscribe():
            return super()._listen(timeout_s)
        try:
            if self._pubsub.get_message(timeout=timeout_s) is None:
                return False
            while self._pubsub.get_message(timeout=0) is not None:
                pass  # every ring queued so far: one wake-up for all of them
            return True
        except self._error:
            log.debug("lost the subscription to %s", self._channel, exc_info=True)
            self._pubsub.reset()
            self._subscribed = False
            return super()._listen(timeout_s)

    def close(self) -> None:
        try:
            self._pubsub.close()
        except self._error:
            pass


def _fields(record: Record) -> list[str | bytes]:
    optional: Sequence[tuple[str, str | bytes | None]] = (
        ("expires_at", None if record.expires_at is None else repr(record.expires_at)),
        ("queue", record.queue),
        ("payload", record.payload),
        ("payload_hash", record.payload_hash),
        ("outcome", record.outcome),
    )
    out: list[str | bytes] = [
        "status",
        record.status.value,
        "token",
        record.token,
        "lease_until",
        repr(record.lease_until),
        "attempts",
        str(record.attempts),
    ]
    for name, value in optional:
        if value is not None:
            out += [name, value]
    return out


def _record(key: str, fields: dict[bytes, bytes]) -> Record:
    def text(name: bytes) -> str | None:
        value = fields.get(name)
        return None if value is None else value.decode()

    expires_at = text(b"expires_at")
    return Record(
        key=key,
        status=Status(fields[b"status"].decode()),
        token=fields[b"token"].decode(),
        lease_until=float(fields[b"lease_until"]),
        expires_at=None if expires_at is None else float(expires_at),
        queue=text(b"queue"),
        payload=fields.get(b"payload"),
        payload_hash=text(b"payload_hash"),
        attempts=int(fields[b"attempts"]),
        outcome=text(b"outcome"),
    )


def _describe(kwargs: dict[str, Any]) -> str:
    """Where the server is, without the password."""
    if kwargs.get("path"):
        where = f"unix://{kwargs['path']}"
    else:
        where = f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
    return f"{where}/{kwargs.get('db', 0)}"


def _hint(exc: Exception) -> str:
    name = type(exc).__name__
    text = str(exc)
    if name == "AuthenticationError" or "NOAUTH" in text or "WRONGPASS" in text:
        return "check the user name and password in RUNHOOK_STORE"
    if name in ("ConnectionError", "TimeoutError"):
        return "check that Redis is running and reachable at the address in RUNHOOK_STORE"
    if text.startswith("READONLY"):
        return "this is a read-only replica; point RUNHOOK_STORE at the primary"
    if text.startswith("OOM"):
        return "Redis is out of memory; raise maxmemory (with maxmemory-policy noeviction)"
    return "check the Redis server's log"
