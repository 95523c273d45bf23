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
        answer ``{"pending": [...]}`` (unknown ids are not pending). Benchmarks wait here
        instead of polling the API. Each run's end wakes its waiter once: nothing here runs
        while a run goes on, so a benchmark's waiting costs the stand-in no CPU beside the
        runs it measures."""
        body = request.get_json(force=True, silent=True) or {}
        deadline = time.monotonic() + float(body.get("timeout", 60))
        with world.lock:
            runs = [world.runs[r] for r in map(str, body.get("runs", [])) if r in world.runs]
        for run in runs:
            run.ended.wait(max(0.0, deadline - time.monotonic()))
        pending = [str(run.obj["id"]) for run in runs if run.status not in TERMINAL]
        return jsonify({"pending": pending})
