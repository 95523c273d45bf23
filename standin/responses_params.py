"""What ``POST /v1/responses`` accepts: the parameter names, their types, and the combinations
the real API refuses, each with OpenAI's own 400 wording.

A type error names the parameter the way the API does (``Invalid type for 'max_output_tokens':
expected an integer, but got a string instead.``, code ``invalid_type``); an enum outside its
values is ``invalid_value``; an unknown name is ``Unrecognized request argument supplied``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from runhook.standin.state import ApiError

Check = Callable[[Any], bool]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_object(v: Any) -> bool:
    return isinstance(v, dict)


def _is_array(v: Any) -> bool:
    return isinstance(v, list)


def _is_input(v: Any) -> bool:
    return isinstance(v, str | list)


def _is_conversation(v: Any) -> bool:
    return isinstance(v, str) or (isinstance(v, dict) and isinstance(v.get("id"), str))


def _is_tool_choice(v: Any) -> bool:
    return isinstance(v, str | dict)


_NAMES: dict[Check, str] = {
    _is_int: "an integer",
    _is_number: "a decimal",
    _is_str: "a string",
    _is_bool: "a boolean",
    _is_object: "an object",
    _is_array: "an array",
    _is_input: "a string or an array",
    _is_conversation: "a string or an object with an id",
    _is_tool_choice: "a string or an object",
}

_KINDS: dict[type, str] = {
    str: "a string",
    int: "an integer",
    float: "a decimal",
    bool: "a boolean",
    dict: "an object",
    list: "an array",
}

PARAMS: dict[str, Check] = {
    "access_programs": _is_object,
    "background": _is_bool,
    "background_options": _is_object,
    "context_management": _is_array,
    "conversation": _is_conversation,
    "image": _is_object,
    "include": _is_array,
    "input": _is_input,
    "instructions": _is_str,
    "max_output_tokens": _is_int,
    "max_tool_calls": _is_int,
    "metadata": _is_object,
    "model": _is_str,
    "moderation": _is_object,
    "parallel_tool_calls": _is_bool,
    "previous_response_id": _is_str,
    "prompt": _is_object,
    "prompt_cache_key": _is_str,
    "prompt_cache_options": _is_object,
    "prompt_cache_retention": _is_str,
    "reasoning": _is_object,
    "safety_identifier": _is_str,
    "service_tier": _is_str,
    "store": _is_bool,
    "stream": _is_bool,
    "stream_options": _is_object,
    "temperature": _is_number,
    "text": _is_object,
    "tool_choice": _is_tool_choice,
    "tools": _is_array,
    "top_logprobs": _is_int,
    "top_p": _is_number,
    "truncation": _is_str,
    "user": _is_str,
}
"""Every create parameter of the SDK's ``ResponseCreateParams`` with the type it must have."""

ENUMS: dict[str, tuple[str, ...]] = {
    "truncation": ("auto", "disabled"),
    "service_tier": ("auto", "default", "flex", "scale", "priority"),
    "prompt_cache_retention": ("in_memory", "24h"),
}
RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0, 2),
    "top_p": (0, 1),
    "top_logprobs": (0, 20),
    "max_output_tokens": (16, 1 << 31),
    "max_tool_calls": (1, 1 << 31),
}
TOOL_CHOICE_MODES = ("none", "auto", "required")
MUTUALLY_EXCLUSIVE = (
    "Mutually exclusive parameters: Ensure you are only providing one of: "
    "'previous_response_id' or 'conversation'."
)


def conversation_id(value: Any) -> str | None:
    """The conversation id of a ``conversation`` parameter (a string or ``{"id": …}``)."""
    if isinstance(value, dict):
        return str(value["id"])
    return value if isinstance(value, str) else None


def _quoted(values: tuple[str, ...]) -> str:
    items = [f"'{v}'" for v in values]
    return ", ".join(items[:-1]) + f", and {items[-1]}" if len(items) > 2 else " and ".join(items)


def _check_value(key: str, value: Any) -> None:
    check = PARAMS[key]
    if not check(value):
        kind = _KINDS.get(type(value), "a value")
        raise ApiError(
            400,
            f"Invalid type for '{key}': expected {_NAMES[check]}, but got {kind} instead.",
            param=key,
            code="invalid_type",
        )
    if key in ENUMS and value not in ENUMS[key]:
        raise ApiError(
            400,
            f"Invalid value: '{value}'. Supported values are: {_quoted(ENUMS[key])}.",
            param=key,
            code="invalid_value",
        )
    if key in RANGES:
        low, high = RANGES[key]
        if value < low:
            raise ApiError(
                400,
                f"Invalid '{key}': number below minimum value. Expected a value >= {low:g}, "
                f"but got {value} instead.",
                param=key,
                code="integer_below_min_value" if _is_int(value) else "decimal_below_min_value",
            )
        if value > high:
            raise ApiError(
                400,
                f"Invalid '{key}': number above maximum value. Expected a value <= {high:g}, "
                f"but got {value} instead.",
                param=key,
                code="integer_above_max_value" if _is_int(value) else "decimal_above_max_value",
            )


def _tool_names(tools: Any) -> set[str]:
    return {
        str(t.get("name"))
        for t in tools or []
        if isinstance(t, dict) and t.get("type") == "function"
    }


def _check_tool_choice(body: Mapping[str, Any]) -> None:
    choice = body.get("tool_choice")
    if isinstance(choice, str) and choice not in TOOL_CHOICE_MODES:
        raise ApiError(
            400,
            f"Invalid value: '{choice}'. Supported values are: {_quoted(TOOL_CHOICE_MODES)}.",
            param="tool_choice",
            code="invalid_value",
        )
    if isinstance(choice, dict) and choice.get("type") == "function":
        if choice.get("name") not in _tool_names(body.get("tools")):
            raise ApiError(
                400,
                f"Tool choice 'function' with name '{choice.get('name')}' not found in "
                "'tools' parameter.",
                param="tool_choice",
            )


def check_create(body: Any) -> dict[str, Any]:
    """Validate a create body; return it.

    Raises:
        ApiError: 400 with OpenAI's message for an unknown or badly typed parameter, or a
            combination the API refuses.
    """
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    for key, value in body.items():
        if key not in PARAMS:
            raise ApiError(400, f"Unrecognized request argument supplied: {key}", param=key)
        if value is not None:
            _check_value(key, value)
    if not body.get("model") and not body.get("prompt"):
        raise ApiError(400, "Missing required parameter: 'model'.", param="model")
    if body.get("previous_response_id") and body.get("conversation"):
        raise ApiError(400, MUTUALLY_EXCLUSIVE, param="conversation", code="invalid_request")
    if body.get("stream_options") is not None and not body.get("stream"):
        raise ApiError(
            400,
            "Invalid value for 'stream_options': stream_options is only allowed when 'stream' "
            "is true.",
            param="stream_options",
            code="invalid_value",
        )
    _check_tool_choice(body)
    return body
