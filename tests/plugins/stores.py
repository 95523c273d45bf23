"""Stores for the tests: one fixture per kind of store, and helpers to race them.

Fixtures:

- ``store_clock``: a ``FakeClock`` the test moves by hand;
- ``store_spec``: how to open a store, parametrised over memory, sqlite (a file in
  ``tmp_path``) and redis (the session's server, flushed); other suites may reuse it;
- ``shared_store_spec``: the same, over the stores that several processes can share (sqlite,
  redis);
- ``any_store``: a store opened from ``store_spec`` with ``store_clock``, closed afterwards.

Helpers: ``race_in_threads`` and ``race_in_processes`` start N contenders behind a barrier, so
that their calls overlap, and return what each got; ``run_in_fork`` runs a function in a forked
child, as gunicorn runs a worker.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from runhook.events.store import Store, open_store

T = TypeVar("T")

#: how long a contender waits for the others; generous for a loaded 2-core machine
RACE_TIMEOUT_S = 120.0


class FakeClock:
    """A clock to inject into stores: returns ``now``; ``advance`` moves it.

    Picklable, so a child process can be handed the same time.
    """

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        self.now += seconds


@dataclass(frozen=True)
class StoreSpec:
    """How to open a store: ``kind`` (memory, sqlite, redis) and its ``open_store`` URL.

    Two stores opened from one sqlite or redis spec share their records, as two worker
    processes would; each memory store is a new, empty one.
    """

    kind: str
    url: str

    def open(self, clock: Callable[[], float]) -> Store:
        """A new store on this spec's records, reading time from ``clock``."""
        return open_store(self.url, clock=clock)


def _spec(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> StoreSpec:
    if kind == "memory":
        return StoreSpec("memory", "memory:")
    if kind == "sqlite":
        return StoreSpec("sqlite", f"sqlite:///{tmp_path / 'store.db'}")
    return StoreSpec("redis", request.getfixturevalue("redis_url"))


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)],
)
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSpec:
    """Each kind of store in turn."""
    return _spec(request.param, request, tmp_path)


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def shared_store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSpec:
    """Each kind of store that several processes can share."""
    return _spec(request.param, request, tmp_path)


@pytest.fixture
def store_clock() -> FakeClock:
    """A fake clock, starting at a fixed instant."""
    return FakeClock()


@pytest.fixture
def any_store(store_spec: StoreSpec, store_clock: FakeClock) -> Iterator[Store]:
    """A store of each kind in turn, on ``store_clock``."""
    store = store_spec.open(store_clock)
    try:
        yield store
    finally:
        store.close()


def race_in_threads(n: int, contender: Callable[[int], T]) -> list[T]:
    """Run ``contender(i)`` for i in range(n), each in its own thread, all released at once.

    Returns each contender's result, in order; re-raises the first exception.
    """
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=RACE_TIMEOUT_S)
            results[i] = contender(i)
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    # daemon threads and one deadline for all: a contender that never returns fails the test
    # after RACE_TIMEOUT_S, not after that much per thread, and does not hold up pytest's exit
    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + RACE_TIMEOUT_S
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    if errors:
        raise errors[0]
    assert not any(thread.is_alive() for thread in threads), "a contender never finished"
    return results


def race_in_processes(spec: StoreSpec, now: float, op: str, key: str, n: int) -> list[str]:
    """Run ``op`` on ``key`` in ``n`` fresh processes at once.

    Each process opens its own store from ``spec`` on a clock frozen at ``now``, connects,
    waits for the others, then makes its one call: ``claim`` or ``enqueue``. With ``open``
    the processes wait for each other first, then open the store and enqueue. Returns each
    one's result: ``won`` or ``lost`` for claims, the ``Enqueued`` value for enqueues.
    """
    ctx = multiprocessing.get_context("spawn")  # no state inherited: as separate workers
    barrier = ctx.Barrier(n)
    results = ctx.Queue()
    processes = [
        ctx.Process(target=_contend, args=(spec, now, op, key, barrier, results)) for _ in range(n)
    ]
    for process in processes:
        process.start()
    try:
        outcomes = [str(results.get(timeout=RACE_TIMEOUT_S)) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=RACE_TIMEOUT_S)
            if process.is_alive():
                process.kill()
    errors = [outcome for outcome in outcomes if outcome.startswith("error")]
    assert not errors, errors
    return outcomes


def _contend(spec: StoreSpec, now: float, op: str, key: str, barrier: Any, results: Any) -> None:
    try:
        if op == "open":  # the race is on opening the store, then enqueueing
            importlib.import_module(f"runhook.events.store.{spec.kind}")  # not timed by the race
            barrier.wait(timeout=RACE_TIMEOUT_S)
        store = spec.open(FakeClock(now))
        store.ping()  # connected: for the other ops, the race is on the call itself
        if op != "open":
            barrier.wait(timeout=RACE_TIMEOUT_S)
        if op == "claim":
            results.put("won" if store.claim(key, 60.0) else "lost")
        else:
            results.put(store.enqueue(key, b"same body", queue="inbox").value)
        store.close()
    except BaseException as exc:  # reported to the parent, which fails the test
        results.put(f"error: {exc!r}")


def run_in_fork(child: Callable[[], object]) -> int:
    """Fork; run ``child()`` in the child, which exits 0 if it returned truthy; return the code.

    The child exits with 1 (and prints the traceback) if ``child`` raised, 2 if it returned
    something falsy; it never returns into pytest.
    """
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork() in a process with threads; forking is the point here.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which coverage does not follow
        code = 1
        try:
            code = 0 if child() else 2
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)
