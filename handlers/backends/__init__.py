"""Backends: the OpenAI APIs the requires_action handler can answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from events.config import Settings
from events.errors import ConfigError
from handlers.backends.base import Backend, PendingCalls, RunRef
from handlers.calls import ToolCall, ToolOutput
from handlers.errors import RunExpired, RunMovedOn, SubmitUnknown

if TYPE_CHECKING:
    from openai import OpenAI

__all__ = [
    "Backend",
    "PendingCalls",
    "RunExpired",
    "RunMovedOn",
    "RunRef",
    "SubmitUnknown",
    "ToolCall",
    "ToolOutput",
    "make_backend",
]


def make_backend(
    api: str,
    client: OpenAI,
    settings: Settings,
    *,
    continuation: Any = None,
    on_follow_up: Any = None,
) -> Backend:
    """The backend for ``api`` (``assistants``, ``responses`` or ``sessions``).

    ``on_follow_up(previous_id, follow_up_id)`` is told of every Responses follow-up created.

    Raises:
        ConfigError: an unknown API name.
    """
    if api == "assistants":
        from handlers.backends.assistants import AssistantsBackend

        return AssistantsBackend(client, settings, continuation=continuation)
    if api == "responses":
        from handlers.backends.responses import ResponsesBackend

        return ResponsesBackend(
            client, settings, continuation=continuation, on_follow_up=on_follow_up
        )
    if api == "sessions":
        from handlers.backends.sessions import SessionsBackend

        return SessionsBackend(client, settings)
    raise ConfigError(
        f"unknown API {api!r}: runhook serves 'assistants', 'responses' and 'sessions'"
    )
