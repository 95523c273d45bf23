"""Fixtures for the event spine: a secret, settings, an App with a recording handler."""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from runhook.app import App
from runhook.events.config import Settings
from runhook.events.envelope import Event
from runhook.events.store.memory import MemoryStore


@pytest.fixture
def secret() -> str:
    """A Standard Webhooks secret."""
    return "whsec_" + base64.b64encode(b"runhook-test-secret-0123456789ab").decode()


@dataclass
class Recorder:
    """Collects the events a handler saw, thread-safely."""

    seen: list[Event] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: Event, ctx: Any) -> None:
        with self.lock:
            self.seen.append(event)

    def types(self) -> list[str]:
        with self.lock:
            return [e.type for e in self.seen]


@pytest.fixture
def make_app(secret: str) -> Callable[..., tuple[App, Recorder]]:
    """Build an App (no default handlers) whose ``*`` handler records every event."""

    def build(**settings: Any) -> tuple[App, Recorder]:
        recorder = Recorder()
        app = App(
            settings=Settings(**{"webhook_secrets": (secret,), **settings}),
            store=MemoryStore(),
            include_defaults=False,
        )
        app.on("*")(recorder)
        return app, recorder

    return build


@pytest.fixture(autouse=True)
def _runhook_logger_restored() -> Iterator[None]:
    """Process roots (``lambda_app``, the CLI) configure the ``runhook`` logger; undo that
    after each test so that no test's logging setup leaks into the next."""
    logger = logging.getLogger("runhook")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:] = saved[0]
    logger.level, logger.propagate = saved[1], saved[2]
