"""The Response objects the stand-in returns, shaped as the ``Response`` schema of OpenAI's
OpenAPI spec says: every setting of the create request is echoed back (defaults filled in as
the API fills them), ``usage`` appears once the model ran, ``user`` only when one was given.
"""

from __future__ import annotations

from typing import Any

from runhook.standin.objects import clone
from runhook.standin.state import new_id

USAGE = {
    "input_tokens": 10,
    "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
    "output_tokens": 5,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 15,
}
OPTIONAL_ECHOES = (
    "max_output_tokens",
    "max_tool_calls",
    "prompt_cache_key",
    "prompt_cache_retention",
    "safety_identifier",
)


def _tool(tool: Any) -> Any:
    """A tool as the API echoes it: function tools say whether they are strict."""
    if isinstance(tool, dict) and tool.get("type") == "function":
        return {"description": None, "strict": True, **tool}
    return tool


def _text(text: Any) -> dict[str, Any]:
    echoed: dict[str, Any] = {"format": {"type": "text"}, "verbosity": "medium"}
    if isinstance(text, dict):
        echoed.update({k: v for k, v in text.items() if v is not None})
    return echoed


def _reasoning(reasoning: Any) -> dict[str, Any]:
    echoed: dict[str, Any] = {"effort": None, "summary": None}
    if isinstance(reasoning, dict):
        echoed.update(reasoning)
    return echoed


def _service_tier(value: Any) -> str:
    return "default" if value in (None, "auto") else str(value)


def response_object(
    body: dict[str, Any],
    *,
    now: float,
    previous_response_id: str | None,
    conversation: str | None,
) -> dict[str, Any]:
    """The new Response for a create ``body`` (status ``queued`` or ``in_progress``)."""
    background = bool(body.get("background"))
    obj: dict[str, Any] = {
        "id": new_id("resp_"),
        "object": "response",
        "created_at": int(now),
        "status": "queued" if background else "in_progress",
        "background": background,
        "completed_at": None,
        "conversation": {"id": conversation} if conversation else None,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "metadata": body.get("metadata") or {},
        "model": body.get("model") or "gpt-4o",
        "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
        "previous_response_id": previous_response_id,
        "prompt": clone(body.get("prompt")),
        "reasoning": _reasoning(body.get("reasoning")),
        "service_tier": _service_tier(body.get("service_tier")),
        "store": body.get("store") is not False,
        "temperature": 1.0 if body.get("temperature") is None else body["temperature"],
        "text": _text(body.get("text")),
        "tool_choice": clone(body.get("tool_choice") or "auto"),
        "tools": [_tool(t) for t in clone(body.get("tools") or [])],
        "top_logprobs": body.get("top_logprobs") or 0,
        "top_p": 1.0 if body.get("top_p") is None else body["top_p"],
        "truncation": body.get("truncation") or "disabled",
    }
    for key in OPTIONAL_ECHOES:
        obj[key] = body.get(key)
    if isinstance(body.get("image"), dict):
        compression = body["image"].get("context_compression", "auto")
        obj["image"] = {"context_compression": "enabled" if compression == "auto" else compression}
    if isinstance(body.get("prompt_cache_options"), dict):
        obj["prompt_cache_options"] = {
            "mode": "implicit",
            "ttl": "30m",
            **body["prompt_cache_options"],
        }
    if isinstance(body.get("access_programs"), dict):
        obj["access_programs"] = clone(body["access_programs"])
    if isinstance(body.get("user"), str):
        obj["user"] = body["user"]
    return obj


def function_call_item(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    """A completed ``function_call`` output item."""
    return {
        "type": "function_call",
        "id": new_id("fc_"),
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": "completed",
    }


def message_item(text: str) -> dict[str, Any]:
    """A completed assistant ``message`` output item with one ``output_text`` part."""
    return {
        "type": "message",
        "id": new_id("msg_"),
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


def reasoning_item(request: dict[str, Any]) -> dict[str, Any] | None:
    """The reasoning item a reasoning model puts first, when the request asked for reasoning;
    it carries ``encrypted_content`` only when ``include`` asked for it."""
    reasoning = request.get("reasoning")
    if not isinstance(reasoning, dict) or reasoning.get("effort") in (None, "none"):
        return None
    item: dict[str, Any] = {"type": "reasoning", "id": new_id("rs_"), "summary": []}
    if "reasoning.encrypted_content" in (request.get("include") or []):
        item["encrypted_content"] = "gAAAAB" + new_id("")
    return item


def with_logprobs(item: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """A message item with token logprobs, when ``include`` asked for them."""
    if "message.output_text.logprobs" in (request.get("include") or []):
        for part in item["content"]:
            part["logprobs"] = [
                {"token": part["text"][:1], "logprob": -0.01, "bytes": [], "top_logprobs": []}
            ]
    return item


def finish(obj: dict[str, Any], status: str, at: float) -> None:
    """Mark ``obj`` as ended with ``status`` at ``at``; a model that ran reports usage."""
    obj["status"] = status
    obj["usage"] = clone(USAGE)
    if status == "completed":
        obj["completed_at"] = int(at)
