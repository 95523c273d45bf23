"""The stand-in's own routes, outside OpenAI's API: ``GET /_standin/stats`` (requests per
route, runs' transitions and submits, responses' requests), ``POST /_standin/reset`` (zero the
stats) and ``GET /_standin/runs/{id}/events`` (a run's event names so far).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, jsonify

from handlers.standin.state import ApiError, World


def register_control(app: Flask, world: World) -> None:
    """Add the ``/_standin`` routes over ``world`` to ``app``."""

    @app.get("/_standin/stats")
    def stats() -> Any:
        with world.lock:
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
