"""The call and output types the tool runner and every backend share.

A backend reads ``ToolCall``\\ s from the API; the runner (``runhook.tools.runner``) answers
each with a ``ToolOutput``; the backend submits those. Both import them from here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ToolCall:
    """One function call the model asked for; ``arguments`` is the model's JSON text."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolOutput:
    """The string answer to one ``ToolCall``."""

    tool_call_id: str
    output: str
