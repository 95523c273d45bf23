"""The tool registry: name → tool, and the definitions published to OpenAI."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from runhook.events.errors import SetupError
from runhook.tools.schema import Signature, signature_of

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Tool:
    """One registered tool.

    Attributes:
        name: the function name the model calls.
        fn: the Python callable (sync or ``async def``).
        signature: its schema and defaults.
        timeout_s: its own timeout, or None for the app's default.
        strict: whether the schema is published in strict mode.
    """

    name: str
    fn: Callable[..., Any]
    signature: Signature
    timeout_s: float | None = None
    strict: bool = True

    @property
    def is_async(self) -> bool:
        """True for ``async def`` tools (run with ``asyncio.run`` in a worker thread)."""
        return inspect.iscoroutinefunction(self.fn)

    def definition(
        self, api: Literal["assistants", "responses", "agents"] = "assistants"
    ) -> dict[str, Any]:
        """The tool definition in the shape ``api`` expects (``agents``: flat, no ``strict``,
        as the Agents API's function tools are)."""
        if api == "agents":
            return {
                "type": "function",
                "name": self.name,
                "description": self.signature.description or "",
                "parameters": self.signature.parameters,
            }
        function = {
            "name": self.name,
            "description": self.signature.description,
            "parameters": self.signature.parameters,
            "strict": self.strict,
        }
        if api == "responses":
            return {"type": "function", **function}
        return {"type": "function", "function": function}


class ToolRegistry:
    """Tools by name; what ``@app.tool`` fills."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    def register(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        timeout_s: float | None = None,
        strict: bool = True,
    ) -> Tool:
        """Register ``fn``; its schema is built (and checked) now.

        Raises:
            SetupError: a bad name, a duplicate name, or a parameter the schema cannot describe.
        """
        tool_name: str = name or str(getattr(fn, "__name__", ""))
        if not _NAME.match(tool_name):
            raise SetupError(
                f"tool name {tool_name!r} must be 1-64 letters, digits, '_' or '-' (OpenAI's rule)"
            )
        if tool_name in self._tools:
            raise SetupError(f"a tool named {tool_name!r} is already registered")
        if timeout_s is not None and timeout_s <= 0:
            raise SetupError(f"tool {tool_name!r}: timeout_s must be positive")
        tool = Tool(
            name=tool_name,
            fn=fn,
            signature=signature_of(fn, strict=strict),
            timeout_s=timeout_s,
            strict=strict,
        )
        self._tools[tool_name] = tool
        return tool

    def get(self, name: str) -> Tool | None:
        """The tool called ``name``, or None."""
        return self._tools.get(name)

    def names(self) -> list[str]:
        """Registered tool names, in registration order."""
        return list(self._tools)

    def definitions(
        self, api: Literal["assistants", "responses", "agents"] = "assistants"
    ) -> list[dict[str, Any]]:
        """Every tool's definition for ``api``."""
        return [tool.definition(api) for tool in self._tools.values()]

    def __iter__(self) -> Iterator[Tool]:
        return iter(list(self._tools.values()))

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools
