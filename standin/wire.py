"""What every stand-in route speaks: OpenAI's error envelope, strict JSON bodies, list pages,
integer query parameters and server-sent events.

Errors use OpenAI's envelope ``{"error": {"message", "type", "param", "code"}}``; a list is
``{"object": "list", "data", "first_id", "last_id", "has_more"}`` paged by ``order``,
``limit``, ``after`` and ``before``; streams are ``text/event-stream`` with one-line JSON
``data``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flask import Response, jsonify, request

from runhook.standin.state import ApiError


def error_response(exc: ApiError) -> Response:
    """``exc`` as OpenAI answers it: the error envelope with the error's status."""
    kind = "invalid_request_error" if exc.status < 500 else "server_error"
    if exc.status == 429:
        kind = "requests"
    response = jsonify(
        {"error": {"message": exc.message, "type": kind, "param": exc.param, "code": exc.code}}
    )
    response.status_code = exc.status
    return response


def body(allowed: set[str]) -> dict[str, Any]:
    """The request's JSON object (``{}`` when absent); an unknown key is OpenAI's 400."""
    found = request.get_json(silent=True)
    if found is None:
        found = {}
    if not isinstance(found, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    for key in found:
        if key not in allowed:
            raise ApiError(400, f"Unrecognized request argument supplied: {key}")
    return found


def query_int(name: str, default: int) -> int:
    """An integer query parameter, ``default`` when absent; a badly typed one is OpenAI's JSON
    400."""
    value = query_int_or_none(name)
    return default if value is None else value


def query_int_or_none(name: str) -> int | None:
    """An integer query parameter, None when absent; a badly typed one is OpenAI's JSON 400."""
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(
            400,
            f"Invalid type for '{name}': expected an integer, but got a string instead.",
            param=name,
            code="invalid_type",
        ) from None


def page(items: list[dict[str, Any]]) -> dict[str, Any]:
    """One page of ``items`` (oldest first) as the request's query asks for it."""
    order = request.args.get("order", "desc")
    limit = max(1, min(100, query_int("limit", 20)))
    seq = list(items) if order == "asc" else list(reversed(items))
    ids = [i["id"] for i in seq]
    after, before = request.args.get("after"), request.args.get("before")
    if after in ids:
        seq = seq[ids.index(after) + 1 :]
    if before in ids:
        seq = (
            seq[: [i["id"] for i in seq].index(before)] if before in [i["id"] for i in seq] else seq
        )
    chosen = seq[:limit]
    return {
        "object": "list",
        "data": chosen,
        "first_id": chosen[0]["id"] if chosen else None,
        "last_id": chosen[-1]["id"] if chosen else None,
        "has_more": len(seq) > limit,
    }


def sse(events: Iterator[tuple[str, Any]]) -> Response:
    """An SSE response over ``(event, data)`` pairs; ``data`` is an object, or JSON text (or
    ``[DONE]``) written as is. Each event is its own write."""
    return sse_bursts([event] for event in events)


def sse_bursts(bursts: Iterator[list[tuple[str, Any]]]) -> Response:
    """As ``sse``, over lists of events, each list written at once."""

    def frames() -> Iterator[str]:
        for burst in bursts:
            out = []
            for name, data in burst:
                text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
                out.append(f"event: {name}\ndata: {text}\n\n")
            yield "".join(out)

    return Response(frames(), mimetype="text/event-stream", headers={"cache-control": "no-cache"})


def missing(name: str) -> ApiError:
    """OpenAI's 400 for a required body parameter that is absent."""
    return ApiError(
        400,
        f"Missing required parameter: '{name}'.",
        param=name,
        code="missing_required_parameter",
    )
