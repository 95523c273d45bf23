"""runhook's ``handlers`` package: what is done with an event.

The names below are the promised public API (``tests/test_public_api.py`` pins them).
"""

from __future__ import annotations

from handlers.app import App as App
from handlers.app import load_app as load_app
from handlers.backends.base import Backend as Backend
from handlers.backends.base import PendingCalls as PendingCalls
from handlers.backends.base import RunRef as RunRef
from handlers.calls import ToolCall as ToolCall
from handlers.calls import ToolOutput as ToolOutput
from handlers.context import Context as Context
from handlers.errors import RunExpired as RunExpired
from handlers.errors import RunMovedOn as RunMovedOn
from handlers.errors import SubmitUnknown as SubmitUnknown
from handlers.errors import ToolError as ToolError
from handlers.lifecycle import RunOutcome as RunOutcome
from handlers.tools.registry import Tool as Tool
from handlers.tools.registry import ToolRegistry as ToolRegistry

__all__ = [
    "App",
    "Backend",
    "Context",
    "PendingCalls",
    "RunExpired",
    "RunMovedOn",
    "RunOutcome",
    "RunRef",
    "SubmitUnknown",
    "Tool",
    "ToolCall",
    "ToolError",
    "ToolOutput",
    "ToolRegistry",
    "load_app",
]
