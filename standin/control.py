"""The stand-in's own routes, outside OpenAI's API: ``GET /_standin/stats`` (requests per
route, runs' transitions and submits, responses' requests), ``POST /_standin/reset`` (zero the
stats), ``GET /_standin/runs/{id}/events`` (a run's event names so far) and ``POST
/_standin/wait`` (block until runs are terminal: benchmarks wait there instead of polling).
"""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Flask, jsonify, request

from runhook.standin.state import TERMINAL, ApiError, World


def register_control(app: Flask, world: World) -> None:
    """Add the ``/_standin`` routes over ``world`` to ``app``."""

    @app.get("/_standin/stats")
    def stats() -> Any:
        with world.lock, world.counting:
            return jsonify(json.loads(json.dumps(world.stats)))

    @app.post("/_standin/reset")
    def reset() -> Any:
        world.reset_stats()
        return jsonify({"status": "reset"})

    @app.get("/_standin/runs/<rid>/events")
    def run_events(rid: str) -> Any:
        run = world.runs.get(rid)
        if run is None:
            raise ApiError(404, f"No run found with id '{rid}'.")
        world.advance(run)
        return jsonify([name for name, _ in run.events])

    @app.post("/_standin/wait")
    def wait_runs() -> Any:
        """Block until every run in ``{"runs": [...]}`` is terminal or ``timeout`` s pass;
        answer ``{"pending": [...]}``. Benchmarks wait here instead of polling the API."""
        body = request.get_json(force=True, silent=True) or {}
        pending = [str(r) for r in body.get("runs", [])]
        interval = float(body.get("interval", 0.02))
        deadline = time.monotonic() + float(body.get("timeout", 60))
        while True:
            with world.lock:
                pending = [
                    r for r in pending if r in world.runs and world.runs[r].status not in TERMINAL
                ]
            if not pending or time.monotonic() >= deadline:
                return jsonify({"pending": pending})
            time.sleep(interval)
