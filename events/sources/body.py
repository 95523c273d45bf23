"""Reading a request body within a size and a time bound.

``read_body`` reads a WSGI input stream a piece at a time (``BODY_READ_PIECE``), so at most the
limit plus one piece is ever held, whether the body has a ``Content-Length`` or is chunked.
An oversized body is read on and discarded up to ``OVERSIZE_DRAIN_BYTES`` before the 413, so a
client that is still sending reads the answer rather than a reset connection.

A slow sender is bounded by a ``Watchdog``: one thread per process that, when a request's
deadline passes, shuts the read side of its socket (``SHUT_RD``). The read in the handler
thread then returns at once, the thread answers 408 (the write side still works) and is free
again. gunicorn puts the socket in the environ (``gunicorn.socket``); without one (the Flask
test client, a serverless runtime) there is nothing to bound and no watchdog is used.

Errors are mapped to ``DeliveryError`` subclasses: ``PayloadTooLarge`` (413),
``RequestTimeout`` (408) and ``UnreadableBody`` (400, broken chunked framing or a body shorter
than declared). Their reasons never quote the body: gunicorn's parser errors carry the bytes
they choked on, so only the error's class name is kept.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import IO

from runhook.events import defaults
from runhook.events.errors import PayloadTooLarge, RequestTimeout, UnreadableBody


@dataclass
class Watch:
    """One armed deadline; ``fired`` tells whether it cut the read short."""

    sock: socket.socket
    at: float
    fired: bool = False
    done: bool = False


@dataclass
class Watchdog:
    """Shuts the read side of sockets whose deadline passed (one daemon thread, started lazily)."""

    _heap: list[tuple[float, int, Watch]] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _seq: itertools.count[int] = field(default_factory=itertools.count)
    _thread: threading.Thread | None = None

    def arm(self, sock: socket.socket, timeout_s: float) -> Watch:
        """Cut reads on ``sock`` short after ``timeout_s`` unless ``disarm`` comes first."""
        watch = Watch(sock, time.monotonic() + timeout_s)
        with self._cond:
            heapq.heappush(self._heap, (watch.at, next(self._seq), watch))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="runhook-body-watchdog", daemon=True
                )
                self._thread.start()
            if self._heap[0][2] is watch:
                # Only a new earliest deadline needs the thread awake now; otherwise it is
                # already asleep until an earlier one and finds this one then. (Waking it on
                # every request cost a thread switch per request.)
                self._cond.notify()
        return watch

    def disarm(self, watch: Watch) -> None:
        """After this returns the watch never fires (its entry is dropped when it comes due)."""
        with self._cond:
            watch.done = True

    def _run(self) -> None:
        with self._cond:
            while True:
                if not self._heap:
                    self._cond.wait()
                    continue
                at, _, watch = self._heap[0]
                if watch.done:
                    heapq.heappop(self._heap)
                    continue
                wait = at - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                watch.fired = True
                try:
                    watch.sock.shutdown(socket.SHUT_RD)
                except OSError:
                    pass  # the client is already gone


def read_body(
    stream: IO[bytes],
    *,
    limit: int,
    declared: int | None,
    watch: Watch | None = None,
    timeout_s: float = defaults.BODY_TIMEOUT_S,
) -> bytes:
    """Read the whole body, refusing one over ``limit`` bytes.

    Args:
        stream: the request's input (bounded by its ``Content-Length``, or chunked).
        limit: largest accepted body, in bytes.
        declared: the ``Content-Length``, or None (chunked).
        watch: the deadline armed on the request's socket, if any.
        timeout_s: that deadline's length, for the 408 reason.

    Raises:
        PayloadTooLarge: the body (declared or read) is over ``limit``.
        RequestTimeout: ``watch`` fired before the body was complete.
        UnreadableBody: the framing is broken or the body ended early.
    """
    if declared is not None and declared > max(limit, defaults.OVERSIZE_DRAIN_BYTES):
        raise _too_large(declared, limit)  # too big to drain: answer now, the connection closes
    pieces: list[bytes] = []
    total = 0
    try:
        while True:
            piece = stream.read(defaults.BODY_READ_PIECE)
            if not piece:
                break
            total += len(piece)
            if total > limit or (declared is not None and declared > limit):
                pieces.clear()  # over the limit: keep reading only to drain
                if total > defaults.OVERSIZE_DRAIN_BYTES:
                    break
            else:
                pieces.append(piece)
    except Exception as exc:
        # gunicorn's parser errors (bad chunk size, missing terminator), its NoMoreData,
        # werkzeug's ClientDisconnected for a short body, socket errors: all mean the body
        # cannot be read. The exception's text may quote the body, so only its name is kept.
        if watch is not None and watch.fired:
            raise _timeout(timeout_s) from None
        raise UnreadableBody(
            f"the request body could not be read ({type(exc).__name__}): "
            "send a complete body with a correct Content-Length or chunked framing"
        ) from None
    if watch is not None and watch.fired:
        raise _timeout(timeout_s)
    if total > limit or (declared is not None and declared > limit):
        raise _too_large(declared, limit)
    if declared is not None and total < declared:
        raise UnreadableBody(
            f"the request body ended after {total} of its {declared} declared bytes: "
            "send the whole body"
        )
    return b"".join(pieces)


def _too_large(declared: int | None, limit: int) -> PayloadTooLarge:
    shown = f"{declared} bytes" if declared is not None else f"over {limit} bytes"
    return PayloadTooLarge(f"body is {shown}; the limit is {limit} (RUNHOOK_MAX_BODY_BYTES)")


def _timeout(timeout_s: float) -> RequestTimeout:
    return RequestTimeout(
        f"the request body did not arrive within {timeout_s:g} s (RUNHOOK_BODY_TIMEOUT_S)"
    )
