"""Tools: plain functions the model may call, registered with ``@app.tool``."""

from __future__ import annotations

from handlers.errors import ToolError
from handlers.tools.registry import Tool, ToolRegistry
from handlers.tools.runner import run_calls

__all__ = ["Tool", "ToolError", "ToolRegistry", "run_calls"]
