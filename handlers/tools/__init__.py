"""Tools: plain functions the model may call, registered with ``@app.tool``."""

from __future__ import annotations

from runhook.errors import ToolError
from runhook.tools.registry import Tool, ToolRegistry
from runhook.tools.runner import run_calls

__all__ = ["Tool", "ToolError", "ToolRegistry", "run_calls"]
