"""Backends: the OpenAI APIs the requires_action handler can answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runhook.backends.assistants import AssistantsBackend
from runhook.backends.base import Backend, PendingCalls, RunRef
from runhook.backends.responses import ResponsesBackend
from runhook.backends.sessions import SessionsBackend
from runhook.calls import ToolCall, ToolOutput
from runhook.errors import RunExpired, RunMovedOn, SubmitUnknown
from runhook.events.config import Settings
from runhook.events.errors import ConfigError

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
        return AssistantsBackend(client, settings, continuation=continuation)
    if api == "responses":
        return ResponsesBackend(
            client, settings, continuation=continuation, on_follow_up=on_follow_up
        )
    if api == "sessions":
        return SessionsBackend(client, settings)
    raise ConfigError(
        f"unknown API {api!r}: runhook serves 'assistants', 'responses' and 'sessions'"
    )
