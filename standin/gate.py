"""What wraps every stand-in request: error answers, the fault injector, the Assistants beta
header check, ``x-request-id`` and ``openai-poll-after-ms``.

Every ``/v1`` request is counted in ``/_standin/stats`` by route template, then may be answered
by an injected 429 (with ``retry-after``) or 500 (``StandinConfig.fault_429`` /
``fault_500``); Assistants routes require ``OpenAI-Beta: assistants=v2``. Any error becomes
OpenAI's JSON envelope (``wire.error_response``), never an HTML page.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import BadRequest, HTTPException

from runhook.standin.state import ApiError, World
from runhook.standin.wire import error_response

BETA_MESSAGE = (
    "You must provide the 'OpenAI-Beta' header to access the Assistants API. Please try again "
    "by setting the header 'OpenAI-Beta: assistants=v2'."
)


def register_errors(app: Flask) -> None:
    """Answer every error on ``app`` with OpenAI's JSON envelope."""

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return error_response(exc)

    @app.errorhandler(BadRequest)
    def bad_request(exc: BadRequest) -> Response:
        return error_response(
            ApiError(400, f"We could not parse the JSON body of your request. ({exc})")
        )

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        if isinstance(exc, HTTPException):
            return exc
        if isinstance(exc, TypeError | ValueError):
            # a body value of the wrong type reached the model: the client's error, as OpenAI
            # answers it (a JSON 400), never an HTML 500
            return error_response(ApiError(400, f"Invalid request: {exc}", code="invalid_type"))
        app.logger.exception("stand-in error")
        return error_response(
            ApiError(500, f"The server had an error processing your request ({exc}).")
        )

    @app.errorhandler(404)
    def not_found(_: Exception) -> Response:
        return error_response(ApiError(404, f"Invalid URL ({request.method} {request.path})"))

    @app.errorhandler(405)
    def not_allowed(_: Exception) -> Response:
        return error_response(
            ApiError(405, f"Invalid method for URL ({request.method} {request.path})")
        )


def _fault(world: World) -> Response | None:
    """An injected 429 or 500 for this request, by the world's dice, or None."""
    cfg = world.config
    with world.counting:
        roll = world.rng.random()
    if roll < cfg.fault_429:
        response = error_response(
            ApiError(
                429,
                "You've exceeded the rate limit, please slow down and try again later.",
                code="rate_limit_exceeded",
            )
        )
        response.headers["retry-after"] = str(cfg.retry_after_s)
        return response
    if roll < cfg.fault_429 + cfg.fault_500:
        return error_response(
            ApiError(
                500, "The server had an error while processing your request. Sorry about that!"
            )
        )
    return None


def _route() -> str:
    """The request's route template with OpenAI's ``{param}`` spelling (its path if none)."""
    if request.url_rule is None:
        return request.path
    return request.url_rule.rule.replace("<", "{").replace(">", "}")


def register_gate(app: Flask, world: World) -> None:
    """Count, fault, check the beta header before each request; stamp headers after."""

    @app.before_request
    def gate() -> Response | None:
        g.request_id = "req_" + uuid.uuid4().hex
        if not request.path.startswith("/v1/"):
            return None
        world.count(f"{request.method} {_route()}")
        fault = _fault(world)
        if fault is not None:
            return fault
        if (
            request.path.startswith(("/v1/assistants", "/v1/threads"))
            and request.headers.get("OpenAI-Beta") != "assistants=v2"
        ):
            return error_response(ApiError(400, BETA_MESSAGE, code="invalid_beta"))
        return None

    @app.after_request
    def stamp(response: Response) -> Response:
        response.headers["x-request-id"] = getattr(g, "request_id", "req_" + uuid.uuid4().hex)
        if (
            world.config.poll_after_ms is not None
            and request.method == "GET"
            and "/runs/" in request.path
        ):
            response.headers["openai-poll-after-ms"] = str(world.config.poll_after_ms)
        return response
