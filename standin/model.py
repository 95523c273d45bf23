"""The stand-in's scripted model: deterministic, driven by directives in the user's message.

Directives, one per line of the latest user message:

- ``call <tool_name> <json-object>``: call that function with exactly that JSON text as its
  arguments. With ``parallel_tool_calls`` (the default) every call comes in one wait;
  otherwise one call per round, all within the run's window.
- ``fail <code> <message>``: the run fails with that ``last_error`` (``code`` must be one of
  ``server_error``, ``rate_limit_exceeded``, ``invalid_prompt``; anything else becomes
  ``server_error`` with the whole line as the message).
- ``sleep <ms>``: extra model latency before the model's next step.

Without a ``call`` line, when the assistant has a function tool with one string parameter whose
name contains ``url`` and the message contains an http(s) URL, the model calls that tool with
the URL. Without any directive, it replies with a short plain message.

After outputs are submitted, the final message quotes each output verbatim, one line per call:
``<tool_name>: <output>``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ERROR_CODES = ("server_error", "rate_limit_exceeded", "invalid_prompt")
_URL = re.compile(r"https?://[^\s<>\"')\]]+")
PLAIN_REPLY = "Hello from the runhook stand-in. Send `call <tool> <json>` to call a tool."


@dataclass(frozen=True)
class Call:
    """One function call the model makes."""

    name: str
    arguments: str


@dataclass
class Plan:
    """What the model will do for one user message."""

    rounds: list[list[Call]] = field(default_factory=list)
    fail: tuple[str, str] | None = None
    sleep_ms: int = 0


def function_tools(tools: Iterable[Any]) -> list[Mapping[str, Any]]:
    """Function definitions from Assistants (nested) or Responses (flat) tool lists."""
    found = []
    for tool in tools:
        if not isinstance(tool, Mapping) or tool.get("type") != "function":
            continue
        found.append(tool.get("function") or tool)
    return found


def url_parameter(tools: Iterable[Any]) -> tuple[str, str] | None:
    """(tool name, parameter) of the first function taking one string ``*url*`` parameter."""
    for fn in function_tools(tools):
        props = (fn.get("parameters") or {}).get("properties") or {}
        if len(props) == 1:
            ((param, schema),) = props.items()
            types = schema.get("type")
            is_str = types == "string" or (isinstance(types, list) and "string" in types)
            if "url" in param.lower() and is_str:
                return str(fn.get("name")), param
    return None


def plan(text: str, tools: Sequence[Any], *, parallel: bool = True) -> Plan:
    """The model's plan for the latest user message ``text``."""
    result = Plan()
    calls: list[Call] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("call "):
            _, _, rest = line.partition(" ")
            name, _, args = rest.strip().partition(" ")
            args = args.strip() or "{}"
            calls.append(Call(name=name, arguments=args))
        elif line.startswith("fail "):
            parts = line.split(" ", 2)
            code = parts[1] if len(parts) > 1 else "server_error"
            message = parts[2] if len(parts) > 2 else "The scripted model failed."
            if code not in ERROR_CODES:
                code, message = "server_error", line
            result.fail = (code, message)
        elif line.startswith("sleep "):
            try:
                result.sleep_ms += max(0, int(line.split()[1]))
            except (IndexError, ValueError):
                pass
    if not calls and result.fail is None:
        target = url_parameter(tools)
        match = _URL.search(text)
        if target and match:
            name, param = target
            url = match.group(0).rstrip(".,;:!?")
            calls.append(Call(name=name, arguments=json.dumps({param: url})))
    if calls:
        result.rounds = [calls] if parallel else [[c] for c in calls]
    return result


def final_text(answered: Sequence[tuple[str, str]]) -> str:
    """The closing message: ``<tool_name>: <output>`` per answered call, or the plain reply."""
    if not answered:
        return PLAIN_REPLY
    return "\n".join(f"{name}: {output}" for name, output in answered)
