"""Fixtures for the handlers: an App wired to the stand-in, and a driver for runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from openai import OpenAI

from runhook.app import App
from runhook.events.config import Settings
from runhook.events.envelope import Event
from runhook.events.sources import Ack
from runhook.events.store.base import Store
from runhook.events.store.memory import MemoryStore
from runhook.events.testing import signed_delivery
from runhook.runtime import relay_continuations
from runhook.standin import StandinServer


@dataclass
class Calls:
    """Thread-safe log of tool executions."""

    log: list[tuple[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, value: Any) -> None:
        with self.lock:
            self.log.append((name, value))

    def names(self) -> list[str]:
        with self.lock:
            return [n for n, _ in self.log]


@dataclass
class Rig:
    """An App on the stand-in plus helpers to start runs and deliver their events."""

    app: App
    server: StandinServer
    client: OpenAI
    secret: str
    calls: Calls

    def assistant(self) -> str:
        return self.client.beta.assistants.create(
            model="gpt-4o",
            tools=self.app.tools.definitions("assistants"),  # type: ignore[arg-type]
        ).id

    def wait_for(self, text: str, **run: Any) -> Any:
        """Start a run for ``text`` and return it once it waits (or ends)."""
        thread = self.client.beta.threads.create(messages=[{"role": "user", "content": text}])
        return self.client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=self.assistant(), poll_interval_ms=10, **run
        )

    def deliver(self, type_: str, data: dict[str, Any], *, app: App | None = None) -> Ack:
        event = Event.create(type_, data)
        return (app or self.app).pipeline().accept(signed_delivery(event, self.secret))

    def deliver_run(self, run: Any, *, app: App | None = None) -> Ack:
        return self.deliver(f"thread.run.{run.status}", run.model_dump(), app=app)

    def settle(self, run: Any, timeout: float = 15.0) -> Any:
        """Poll the run until it waits again or ends."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)
            if current.status not in ("queued", "in_progress", "cancelling"):
                return current
            assert time.monotonic() < deadline, f"run stuck in {current.status}"
            time.sleep(0.02)

    def final_message(self, run: Any) -> str:
        msgs = self.client.beta.threads.messages.list(thread_id=run.thread_id, run_id=run.id)
        return str(msgs.data[0].content[0].text.value)  # type: ignore[union-attr]

    def submits(self, run_id: str) -> int:
        return int(self.server.stats()["runs"][run_id]["submits"])


@pytest.fixture
def make_rig(standin_factory: Callable[..., StandinServer], secret: str) -> Callable[..., Rig]:
    """Build a Rig: ``make_rig(store=…, standin={knobs}, **settings)``."""

    def build(
        *, store: Store | None = None, standin: dict[str, Any] | None = None, **settings: Any
    ) -> Rig:
        server = standin_factory(**{"latency_ms": 10, **(standin or {})})
        client = server.client(max_retries=0)
        values: dict[str, Any] = {
            "webhook_secrets": (secret,),
            "sync": True,
            "deadline_margin_s": 0.2,
        }
        values.update(settings)
        app = App(settings=Settings(**values), store=store or MemoryStore(), openai=client)
        relay_continuations(app)  # as every server does: on with stream_continuation
        return Rig(app=app, server=server, client=client, secret=secret, calls=Calls())

    return build
