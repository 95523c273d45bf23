"""Bells: how a process that adds a due entry to a queue wakes the process that serves it.

The relay poller looks for due watch entries every ``poll_scan_s``. A run put on the watch list
by another process would wait for that scan (half of it on average, more on a busy machine);
with a bell, the watcher rings after its insert and the poller's wait ends at once.

A ring is best effort: it carries no data (the entry is in the store, where a listener finds it
with its next scan), a ring nobody hears is lost without harm, and a listener that cannot be
reached falls back to scanning. A ring made after a bell was opened is never missed by it: it
is queued until the next ``wait``. Which kind a store gives:

- ``MemoryStore``: a condition variable; heard by the bells of the same store object.
- ``SQLiteStore``: a datagram on a Unix socket in Linux's abstract namespace, named after the
  file and the queue (no file to clean up; gone with the process). One process per host, file
  and queue listens: a second poller on the same file gets a bell that only sleeps, and scans.
  On other systems, and where the writer runs in another network namespace (another
  container), the listener scans as before.
- ``RedisStore``: ``PUBLISH``/``SUBSCRIBE`` on ``<prefix>bell:<queue>``: every listener on every
  host hears it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import select
import socket
import sys
import threading
import time

log = logging.getLogger("runhook.store")

#: the longest a wait sleeps before it looks at its stop event again
_SLICE_S = 0.25


class Bell:
    """A listener for ``Store.ring(queue)``. This base kind hears nothing: it only sleeps.

    Use it as a context manager, or call ``close()``.
    """

    def wait(self, timeout_s: float, stop: threading.Event | None = None) -> bool:
        """Sleep until rung, ``timeout_s`` has passed or ``stop`` is set; True when rung.

        Rings since the last ``wait`` (or since the bell was made) count: it then returns at
        once, and takes them all.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or (stop is not None and stop.is_set()):
                return False
            if self._listen(min(left, _SLICE_S)):
                return True

    def _listen(self, timeout_s: float) -> bool:
        """Block up to ``timeout_s`` for a ring; True when one (or more) came."""
        time.sleep(timeout_s)
        return False

    def close(self) -> None:  # noqa: B027 - optional hook, the base holds nothing
        """Stop listening."""

    def __enter__(self) -> Bell:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ConditionBell(Bell):
    """A bell for rings within one process (``MemoryStore``): counts them under a condition."""

    def __init__(self, rings: Rings, queue: str) -> None:
        self._rings, self._queue = rings, queue
        self._heard = rings.count(queue)

    def _listen(self, timeout_s: float) -> bool:
        count = self._rings.wait_past(self._queue, self._heard, timeout_s)
        rung, self._heard = count > self._heard, count
        return rung


class Rings:
    """How many times each queue was rung in this process; ``ConditionBell`` waits on it."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._changed = threading.Condition()

    def ring(self, queue: str) -> None:
        with self._changed:
            self._counts[queue] = self._counts.get(queue, 0) + 1
            self._changed.notify_all()

    def count(self, queue: str) -> int:
        with self._changed:
            return self._counts.get(queue, 0)

    def wait_past(self, queue: str, heard: int, timeout_s: float) -> int:
        """The queue's count once it is above ``heard``, or after ``timeout_s``."""
        with self._changed:
            self._changed.wait_for(lambda: self._counts.get(queue, 0) > heard, timeout_s)
            return self._counts.get(queue, 0)


def socket_name(path: str, queue: str) -> bytes | None:
    """The abstract Unix socket a bell of ``queue`` on the file ``path`` listens on, or None
    where the system has no abstract namespace (everywhere but Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    digest = hashlib.sha256(f"{path}\0{queue}".encode()).hexdigest()[:32]
    return b"\0runhook-bell-" + digest.encode()


class SocketBell(Bell):
    """A bell listening on an abstract Unix datagram socket (``SQLiteStore``)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    @classmethod
    def listen(cls, name: bytes | None, what: str) -> Bell:
        """A bell bound to ``name``; the sleeping ``Bell`` when it cannot be bound (another
        process on this host listens already, or the system has no abstract sockets)."""
        if name is None:
            return Bell()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(name)
        except OSError as exc:
            sock.close()
            log.info(
                "another process on this host listens for %s (%s); this one scans instead",
                what,
                exc.strerror,
            )
            return Bell()
        sock.setblocking(False)
        return cls(sock)

    def _listen(self, timeout_s: float) -> bool:
        ready, _, _ = select.select([self._sock], [], [], timeout_s)
        if not ready:
            return False
        while True:  # take every ring that is queued: one wake-up for all of them
            try:
                self._sock.recv(16)
            except BlockingIOError:
                return True

    def close(self) -> None:
        self._sock.close()


class SocketRinger:
    """Sends rings to a ``SocketBell``: one non-blocking datagram, errors ignored."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def ring(self, name: bytes | None) -> None:
        if name is None:
            return
        try:
            self._socket().sendto(b"!", name)
        except OSError:
            # nobody listens (ECONNREFUSED), or the listener has rings queued already (EAGAIN):
            # either way the entry is in the store, where the next scan finds it
            pass

    def _socket(self) -> socket.socket:
        """This process's sending socket, made on first use (and again after a fork)."""
        with self._lock:
            if self._sock is None or self._pid != os.getpid():
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                sock.setblocking(False)
                self._sock, self._pid = sock, os.getpid()
            return self._sock

    def close(self) -> None:
        """Close this process's socket (a later ring opens a new one)."""
        with self._lock:
            if self._sock is not None and self._pid == os.getpid():
                self._sock.close()
            self._sock = None
