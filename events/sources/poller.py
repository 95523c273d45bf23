"""The relay poller: for deployments where nothing streams and no platform webhook exists.

It watches Assistants runs (below) and background responses (``poller_responses``, the same
list, leases and backoff). A watch list of runs lives in the store (queue ``watch``, one entry per run), so a restarted
poller resumes it and N pollers on N hosts share it: each poll holds the run's entry as a
``Lease`` (renewed while the poll runs), so no run is polled by two pollers at once.

It is level-triggered: an event is emitted for every status it newly observes, and while a run
keeps waiting in ``requires_action`` the same wait is re-emitted every interval (a new event id,
the same run and call ids), so a lost event heals itself and duplicates are harmless (the
requires_action handler de-duplicates waits). Intervals start from ``openai-poll-after-ms``
(else ``poll_interval_s``), grow ×1.5 up to ``poll_max_interval_s`` while nothing changes, and
reset on a change; a 429 waits ``retry-after``. Terminal statuses end the watch. A store
outage pauses polling (with backoff) instead of ending the poller.

Reaction: an idle poller asks the store for due entries every ``poll_scan_s`` (a store read,
no API request), and sooner when the store's bell for the watch list rings: a new watch entry
rings it (``Store.ring``; a local socket with SQLite, pub/sub with Redis, see
``runhook.events.store.bell``), so a newly watched run is polled at once, and within
``poll_scan_s`` where the ring cannot reach this poller; due entries are polled
on ``poll_threads`` threads at once, each as soon as it is due (a run's wait is answered in
the poll that saw it, tools and submit included, so runs never queue behind each other's
tools); and the SDK's lazily imported resources are loaded when the poller is made, not by
the first poll. Agents API sessions share
the watch list (``watch_session``; their polling is in ``runhook.events.sources.session_poll``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import openai
from openai import OpenAI

from runhook.events import keys
from runhook.events.config import Settings
from runhook.events.envelope import Event
from runhook.events.errors import StoreError
from runhook.events.observability.observer import NULL_OBSERVER, Observer
from runhook.events.sources.backoff import OutageBackoff
from runhook.events.sources.poller_responses import poll_response, watch_response
from runhook.events.sources.relay import Relay
from runhook.events.store.base import Store
from runhook.events.store.lease import Lease
from runhook.events.store.records import Status
from runhook.events.watchlist import watch as watch

log = logging.getLogger("runhook.poller")

TERMINAL = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})
LEASE_S = 30.0


class Poller:
    """Poll watched runs and relay their events.

    Args:
        store: holds the watch list.
        client: the OpenAI client.
        relay: where events go (in-process or HTTP).
        settings: intervals.
        clock, sleep: injectable time.
        observer: reports how late each due run is polled (``runhook_poller_lag_seconds``).
    """

    def __init__(
        self,
        store: Store,
        client: OpenAI,
        relay: Relay,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        on_event: Callable[[Event, Any], None] | None = None,
        observer: Observer = NULL_OBSERVER,
    ) -> None:
        self.observer = observer
        self.store = store
        self.client = client
        self.relay = relay
        self.settings = settings
        self.clock = clock
        self.sleep = sleep
        self.on_event = on_event
        self.known: set[str] = set()
        self._inflight: dict[str, Future[bool]] = {}
        # Load the SDK's resource modules now (the first access imports them: about a second
        # of a busy core), so the first run polled is not the one that pays for it.
        _ = client.beta.threads.runs, client.responses

    def watch(self, run_id: str, thread_id: str) -> bool:
        """Watch a run (see ``watch``)."""
        self.known.add(keys.watch_key(run_id))
        return watch(self.store, run_id, thread_id)

    def watch_response(self, response_id: str) -> bool:
        """Watch a background response (see ``poller_responses.watch_response``)."""
        self.known.add(keys.watch_key(response_id))
        return watch_response(self.store, response_id)

    def emit(self, event: Event) -> Any:
        """Hand one event to the relay (and ``on_event``); return the receiver's answer."""
        return self._emit(event)

    def watch_session(self, session_id: str) -> bool:
        """Watch an Agents API session (see ``runhook.events.sources.session_poll``)."""
        from runhook.events.sources.session_poll import watch_session

        self.known.add(keys.watch_key(session_id))
        return watch_session(self.store, session_id)

    def poll_once(self) -> int:
        """Poll every due run once (on up to ``poll_threads`` threads); return how many were
        polled.

        Raises:
            StoreError: the store is unreachable (the first such error of the round).
        """
        due = self.store.due(keys.WATCH_QUEUE, limit=100)
        if self.settings.poll_threads <= 1 or len(due) <= 1:
            return sum(1 for key in due if self._poll_key(key))
        with ThreadPoolExecutor(
            min(self.settings.poll_threads, len(due)), thread_name_prefix="runhook-poll"
        ) as pool:
            futures = [pool.submit(self._poll_key, key) for key in due]
        return sum(1 for f in futures if f.result())

    def _poll_key(self, key: str) -> bool:
        """Poll one watched entry if it can be leased; True when it was polled."""
        lease = self.store.acquire(key, LEASE_S)
        if lease is None:
            return False
        with lease:
            if lease.saved is None:
                return False
            self.known.add(key)
            entry = json.loads(lease.saved)
            if "response_id" in entry:
                poll_response(self, lease, entry)
            elif entry.get("api") == "sessions":
                from runhook.events.sources.session_poll import poll_session

                poll_session(self, lease, entry)
            else:
                self._poll(lease, entry)
        return True

    def _dispatch(self, pool: ThreadPoolExecutor) -> int:
        """Start a poll for every due entry not being polled already; return how many started.

        Raises:
            StoreError: the store is unreachable (listing due entries, or a finished poll's).
        """
        failed: BaseException | None = None
        for key, future in list(self._inflight.items()):
            if future.done():
                del self._inflight[key]
                error = future.exception()
                if isinstance(error, StoreError):
                    failed = failed or error
                elif error is not None:
                    log.error("poll failed", exc_info=error, extra={"key": key})
        if failed is not None:
            raise failed
        room = self.settings.poll_threads - len(self._inflight)
        if room <= 0:
            return 0
        started = 0
        for key in self.store.due(keys.WATCH_QUEUE, limit=100):
            if key in self._inflight:
                continue
            self._inflight[key] = pool.submit(self._poll_key, key)
            started += 1
            if started >= room:
                break
        return started

    def pending(self) -> bool:
        """True while any run this poller has seen is still watched."""
        for key in list(self.known):
            record = self.store.get(key)
            if record is None or record.status is Status.COMPLETED:
                self.known.discard(key)
        return bool(self.known)

    def run(self, *, burst: bool = False, stop: threading.Event | None = None) -> None:
        """Poll until stopped; with ``burst``, return once no watched run is left.

        While the store is unreachable the poller logs, waits (0.5 s, doubling up to 30 s)
        and tries again; the watch list and its leases live in the store, so nothing is lost.

        Raises:
            StoreError: in burst mode, when the store is unreachable.
        """
        stop = stop or threading.Event()
        backoff = OutageBackoff()
        pool = ThreadPoolExecutor(
            max(1, self.settings.poll_threads), thread_name_prefix="runhook-poll"
        )
        bell = self.store.bell(keys.WATCH_QUEUE)
        try:
            while not stop.is_set():
                try:
                    started = self._dispatch(pool)
                    if not started and not self._inflight and burst and not self.pending():
                        return
                except StoreError:
                    if burst:
                        raise
                    log.warning(
                        "store unavailable; polling again in %.1f s", backoff.delay, exc_info=True
                    )
                    backoff.wait(stop)
                    continue
                backoff.reset()
                if not started:
                    bell.wait(self.settings.poll_scan_s, stop)
        finally:
            bell.close()
            pool.shutdown(wait=True)
            self._inflight.clear()

    def fetch(self, lease: Lease, what: str, object_id: str, retrieve: Callable[[], Any]) -> Any:
        """Call ``retrieve`` (a ``with_raw_response`` read) for a watched object.

        Returns the raw response, or None when the poll ended here: a 429 gives the entry back
        after ``retry-after``, a 404 ends the watch (``gone``), another API error retries after
        the longest interval.
        """
        try:
            return retrieve()
        except openai.RateLimitError as exc:
            retry = float(exc.response.headers.get("retry-after") or self.settings.poll_interval_s)
            lease.release(retry_in_s=retry)
        except openai.NotFoundError:
            log.warning("watched %s is gone", what, extra={"run_id": object_id})
            lease.complete(self.settings.completed_ttl_s, outcome="gone")
        except openai.APIError:
            log.warning("poll failed", exc_info=True, extra={"run_id": object_id})
            lease.release(retry_in_s=self.settings.poll_max_interval_s)
        return None

    def base_interval(self, raw: Any) -> float:
        """The next interval after a change: ``openai-poll-after-ms`` when the API sends it."""
        header = raw.headers.get("openai-poll-after-ms")
        if header and header.isdigit():
            return int(header) / 1000
        return self.settings.poll_interval_s

    def _poll(self, lease: Lease, entry: dict[str, Any]) -> None:
        run_id, thread_id = entry["run_id"], entry["thread_id"]
        if entry.get("due_at"):
            self.observer.recorder.poll_lag(self.clock() - entry["due_at"])
        runs = self.client.beta.threads.runs.with_raw_response
        raw = self.fetch(lease, "run", run_id, lambda: runs.retrieve(run_id, thread_id=thread_id))
        if raw is None:
            return
        # The API's JSON as it came: what the SDK's parse and model_dump would give back,
        # without building and dumping a model on every poll.
        run = raw.http_response.json()
        status = str(run.get("status"))
        base = self.base_interval(raw)
        changed = status != entry["last_status"]
        if changed or status == "requires_action":
            ack = self._emit(Event.create(f"thread.run.{status}", run))
            if not ack.ok and ack.status >= 500:
                lease.release(retry_in_s=base)
                return
        if status in TERMINAL:
            lease.complete(self.settings.completed_ttl_s, outcome=status)
            return
        interval = base if changed or entry["interval"] is None else entry["interval"] * 1.5
        interval = min(interval, self.settings.poll_max_interval_s)
        entry.update(last_status=status, interval=interval, due_at=self.clock() + interval)
        lease.release(retry_in_s=interval, payload=json.dumps(entry).encode())

    def _emit(self, event: Event) -> Any:
        ack = self.relay.emit(event)
        if self.on_event is not None:
            self.on_event(event, ack)
        return ack
