"""The stand-in's HTTP surface: one Flask app composed of one module per resource.

- ``gate``: error answers in OpenAI's envelope, fault injection, the ``OpenAI-Beta`` check,
  ``x-request-id`` and ``openai-poll-after-ms``;
- ``assistants``, ``threads`` (threads and messages), ``runs`` (runs, steps,
  ``submit_tool_outputs``, streams): the Assistants API under ``/v1``;
- ``webhooks`` (webhook endpoints and delivery), ``responses`` (Responses and
  conversations), ``sessions`` (Agents sessions);
- ``control``: ``/_standin/stats``, ``/_standin/reset``, ``/_standin/runs/{id}/events``.

What every route speaks (error envelope, bodies, pages, SSE) is ``runhook.standin.wire``.
"""

from __future__ import annotations

from flask import Flask

from runhook.standin.assistants import register_assistants
from runhook.standin.control import register_control
from runhook.standin.gate import register_errors, register_gate
from runhook.standin.responses import register_responses
from runhook.standin.runs import register_runs
from runhook.standin.sessions import register_sessions
from runhook.standin.state import World
from runhook.standin.threads import register_threads
from runhook.standin.webhooks import register_webhooks
from runhook.standin.wire import query_int as query_int
from runhook.standin.wire import sse as sse


def create_app(world: World) -> Flask:
    """The stand-in's Flask app over ``world``."""
    app = Flask("runhook-standin")
    # Fields in the order the objects hold them, as the API answers them (Flask sorts by
    # default, which costs about 15% of encoding a run).
    app.json.sort_keys = False  # type: ignore[attr-defined]
    register_errors(app)
    register_gate(app, world)
    register_assistants(app, world)
    register_threads(app, world)
    register_runs(app, world)
    register_control(app, world)
    hooks = register_webhooks(app, world)  # delivers the Responses and the sessions webhooks
    register_responses(app, world, hooks)
    register_sessions(app, world, hooks)
    return app
