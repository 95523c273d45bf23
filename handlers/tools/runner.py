"""Run one wait's tool calls: concurrently, bounded, and never hanging.

All calls start at once, at most ``tool_concurrency`` of one wait running at a time, on the
App's tool pool (``runhook.tools.pool.ToolPool``: threads shared by every wait, a new one
whenever none is idle) or on a thread pool of the wait's own when none is given (``async def``
tools run with ``asyncio.run`` inside their thread). Each call gets ``min(tool timeout, time left
before the run's deadline)``. Whatever happens, every call yields an output string:

- the tool's return value (``str`` as is; anything else as JSON);
- or an error output the model can read and act on, as JSON text::

      {"error": {"type": "timeout", "tool": "get_weather",
                 "message": "the tool did not finish within 30.0 s"}}

  with ``type`` one of ``unknown_tool``, ``invalid_json``, ``invalid_arguments``,
  ``tool_error``, ``timeout``.

A thread cannot be killed: a call that times out keeps running in the background and its late
result is discarded. Outputs are then fitted into the API's limits (one output at most
1,048,576 characters, all together below 512 KB) with a visible truncation marker.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from runhook.calls import ToolCall, ToolOutput
from runhook.errors import ArgumentError
from runhook.errors import ToolError as ToolError
from runhook.events import defaults
from runhook.events.observability.observer import NULL_RUN, RunScope, ToolScope
from runhook.tools.registry import Tool, ToolRegistry
from runhook.tools.schema import coerce_arguments

log = logging.getLogger("runhook.tools")

TRUNCATION_MARKER = "…[truncated by runhook: {n} more characters]"


def error_output(kind: str, tool: str, message: str) -> str:
    """The JSON error output for one failed call."""
    return json.dumps({"error": {"type": kind, "tool": tool, "message": message}})


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return str(value)


def _invoke(tool: Tool, kwargs: dict[str, Any]) -> Any:
    if tool.is_async:
        return asyncio.run(tool.fn(**kwargs))
    return tool.fn(**kwargs)


def _invoke_observed(
    scope: ToolScope,
    tool: Tool,
    kwargs: dict[str, Any],
    gate: threading.BoundedSemaphore | None = None,
) -> Any:
    if gate is not None:
        with gate:
            return _invoke_observed(scope, tool, kwargs)
    scope.begin()
    try:
        result = _invoke(tool, kwargs)
    except BaseException:
        scope.finish("tool_error")
        raise
    scope.finish("ok")
    return result


def _error_kind(output: str) -> str:
    return str(json.loads(output)["error"]["type"])


def prepare(call: ToolCall, registry: ToolRegistry) -> tuple[Tool, dict[str, Any]] | str:
    """Resolve a call to (tool, kwargs), or return its error output."""
    tool = registry.get(call.name)
    if tool is None:
        known = ", ".join(registry.names()) or "none"
        return error_output(
            "unknown_tool", call.name, f"no tool named {call.name!r}; available: {known}"
        )
    try:
        raw = json.loads(call.arguments or "{}")
    except json.JSONDecodeError as exc:
        return error_output("invalid_json", call.name, f"arguments are not valid JSON: {exc}")
    except (ValueError, RecursionError):  # a number over 4,300 digits, nesting too deep
        return error_output("invalid_json", call.name, "arguments are too deep or too long")
    if not isinstance(raw, dict):
        return error_output("invalid_arguments", call.name, "arguments must be a JSON object")
    try:
        return tool, coerce_arguments(tool.signature, raw)
    except ArgumentError as exc:
        return error_output("invalid_arguments", call.name, str(exc))


def run_calls(
    calls: Sequence[ToolCall],
    registry: ToolRegistry,
    *,
    deadline: float | None,
    timeout_s: float = defaults.TOOL_TIMEOUT_S,
    concurrency: int = defaults.TOOL_CONCURRENCY,
    executor: Executor | None = None,
    clock: Callable[[], float] = time.time,
    observer: RunScope = NULL_RUN,
) -> list[ToolOutput]:
    """Run every call and return one output per call, in the calls' order.

    Args:
        calls: the pending calls of one wait.
        registry: where tools are looked up.
        deadline: unix seconds by which every output must exist (run deadline), or None.
        timeout_s: default per-call timeout (a tool's own ``timeout_s`` wins).
        concurrency: calls of this wait running at once, at most (on ``executor`` too: the
            others wait for a turn, their time counting against their timeouts).
        executor: run on this executor (the App's tool pool) instead of a fresh bounded pool.
        clock: unix seconds.
        observer: the run's hooks: a span, a metric and a timeline entry per call.
    """
    outputs: dict[str, str] = {}
    started: list[tuple[ToolCall, Tool, Future[Any], float, float, ToolScope]] = []
    own_pool = executor is None
    pool = executor or ThreadPoolExecutor(
        max_workers=max(1, min(concurrency, len(calls))), thread_name_prefix="runhook-tool"
    )
    gate = None
    if not own_pool and len(calls) > concurrency:
        gate = threading.BoundedSemaphore(max(1, concurrency))
    try:
        now = clock()
        for call in calls:
            prepared = prepare(call, registry)
            if isinstance(prepared, str):
                outputs[call.id] = prepared
                known = call.name if registry.get(call.name) is not None else "(unknown)"
                refused = observer.tool(known, call.id)
                refused.begin()
                refused.finish(_error_kind(prepared))
                continue
            tool, kwargs = prepared
            limit = now + (tool.timeout_s or timeout_s)
            if deadline is not None:
                limit = min(limit, deadline)
            scope = observer.tool(tool.name, call.id)
            future = pool.submit(_invoke_observed, scope, tool, kwargs, gate)
            started.append((call, tool, future, limit, limit - now, scope))
        for call, tool, future, limit, budget, scope in started:
            outputs[call.id] = _collect(call, tool, future, limit, budget, clock)
            if future.cancelled() or not future.done():
                scope.finish("timeout")
    finally:
        if own_pool:
            pool.shutdown(wait=False, cancel_futures=True)
    return fit_limits([ToolOutput(tool_call_id=c.id, output=outputs[c.id]) for c in calls])


def _collect(
    call: ToolCall,
    tool: Tool,
    future: Future[Any],
    limit: float,
    budget: float,
    clock: Callable[[], float],
) -> str:
    ids = {"tool_call_id": call.id, "tool": tool.name}
    try:
        return _render(future.result(timeout=max(0.0, limit - clock())))
    except FutureTimeout:
        future.cancel()
        log.warning("tool timed out", extra=ids)
        return error_output(
            "timeout", tool.name, f"the tool did not finish within {max(0.0, budget):.1f} s"
        )
    except ToolError as exc:
        return error_output("tool_error", tool.name, str(exc))
    except Exception as exc:
        log.warning("tool raised", exc_info=True, extra=ids)
        return error_output("tool_error", tool.name, f"{type(exc).__name__}: {exc}")


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending with the truncation marker."""
    if len(text) <= limit:
        return text
    keep = limit
    while True:
        marker = TRUNCATION_MARKER.format(n=len(text) - keep)
        if keep + len(marker) <= limit:
            return text[:keep] + marker
        keep = max(0, limit - len(marker))
        if keep == 0:
            return marker[:limit]


def fit_limits(
    outputs: Sequence[ToolOutput],
    *,
    max_chars: int = defaults.OUTPUT_MAX_CHARS,
    max_total_bytes: int = defaults.OUTPUTS_TOTAL_MAX_BYTES,
) -> list[ToolOutput]:
    """Cut outputs to the per-output and combined limits, largest first."""
    texts = [truncate(o.output, max_chars) for o in outputs]
    budget = max_total_bytes - 1
    while sum(len(t.encode()) for t in texts) > budget:
        sizes = [len(t.encode()) for t in texts]
        i = max(range(len(texts)), key=sizes.__getitem__)
        excess = sum(sizes) - budget
        texts[i] = truncate(texts[i], max(0, len(texts[i]) - excess - 64))
    return [
        ToolOutput(tool_call_id=o.tool_call_id, output=t)
        for o, t in zip(outputs, texts, strict=True)
    ]
