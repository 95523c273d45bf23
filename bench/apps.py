"""Apps the benchmarks serve: runhook with an instant tool, and a bare Flask endpoint."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask

from runhook.app import App

app = App()


@app.tool
def instant(n: int) -> str:
    """Returns at once."""
    return str(n)


@app.tool
def nap(ms: int) -> str:
    """Sleeps ``ms`` milliseconds."""
    time.sleep(ms / 1000)
    return "ok"


@app.on("bench.ingest")
def ingest(event: Any, ctx: Any) -> None:
    """The ingest benchmark's events are routed (stored, claimed, completed) to a no-op."""


bare = Flask("bare")


@bare.post("/events")
def bare_events() -> tuple[str, int]:
    return "", 204


@bare.get("/healthz")
def bare_health() -> tuple[str, int]:
    return "", 200
