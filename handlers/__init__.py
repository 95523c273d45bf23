"""runhook: OpenAI tool calls as a reactive, webhook-driven pipeline.

``runhook`` is the one import package (its source is the handlers/ folder: what is done with an
event); ``runhook.events`` (events/) is what an event is and how it travels, ``runhook.runtime``
builds a server process, ``runhook.cli`` is the command line and ``runhook.standin`` the local
OpenAI stand-in for tests and the demo. The names below are the promised public API
(``tests/test_public_api.py`` pins them); deeper modules stay importable but are not promised.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from runhook.app import App as App
from runhook.app import load_app as load_app
from runhook.backends.base import Backend as Backend
from runhook.backends.base import PendingCalls as PendingCalls
from runhook.backends.base import RunRef as RunRef
from runhook.calls import ToolCall as ToolCall
from runhook.calls import ToolOutput as ToolOutput
from runhook.context import Context as Context
from runhook.errors import RunExpired as RunExpired
from runhook.errors import RunMovedOn as RunMovedOn
from runhook.errors import SubmitUnknown as SubmitUnknown
from runhook.errors import ToolError as ToolError
from runhook.lifecycle import RunOutcome as RunOutcome
from runhook.tools.registry import Tool as Tool
from runhook.tools.registry import ToolRegistry as ToolRegistry

try:
    __version__ = _version("runhook")
except PackageNotFoundError:  # pragma: no cover - imported from a source tree, not installed
    __version__ = "0+unknown"

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
