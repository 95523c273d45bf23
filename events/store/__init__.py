"""Stores: where claims, the inbox and the watch list live.

``open_store(url)`` picks the implementation from the URL:

- ``memory:`` — in-process (tests, one serverless invocation);
- ``sqlite:///path/to/file.db`` — the default, durable on one host (WAL, safe across gunicorn
  worker processes);
- ``redis://host:port/db`` — many hosts (needs the ``runhook[redis]`` extra).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from runhook.events.errors import ConfigError
from runhook.events.store.base import Store
from runhook.events.store.memory import MemoryStore
from runhook.events.store.records import Claim, Enqueued, Record, Status

__all__ = ["Claim", "Enqueued", "MemoryStore", "Record", "Status", "Store", "open_store"]


def open_store(url: str, *, clock: Callable[[], float] = time.time) -> Store:
    """Open the store named by ``url`` (see the module docstring for the forms).

    Raises:
        ConfigError: the URL's scheme is unknown or the URL is malformed.
    """
    if url in ("memory:", "memory://"):
        return MemoryStore(clock=clock)
    if url.startswith("sqlite:"):
        from runhook.events.store.sqlite import SQLiteStore

        return SQLiteStore.from_url(url, clock=clock)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from runhook.events.store.redis import RedisStore

        return RedisStore.from_url(url, clock=clock)
    raise ConfigError(
        f"RUNHOOK_STORE={url!r} is not a store URL: use sqlite:///path.db, redis://host:6379/0 "
        "or memory:"
    )
