"""What a Responses follow-up carries over from the response it answers.

A follow-up with ``previous_response_id`` inherits the conversation's items, but none of the
request's settings: each create stands alone, so a dropped setting silently changes the next
round (a structured-output ``text.format`` turns into plain text, ``reasoning`` falls back to
the default effort, ``store`` flips to true). ``carried_settings`` reads every setting the
``Response`` object echoes and that ``responses.create`` accepts, and returns them as create
arguments:

- echoed as they are: ``model``, ``instructions`` (a string; a prompt's expanded instructions
  come back through ``prompt``), ``tools``, ``tool_choice``, ``parallel_tool_calls``, ``text``,
  ``reasoning``, ``max_output_tokens``, ``max_tool_calls``, ``truncation``, ``service_tier``,
  ``prompt``, ``user``, ``safety_identifier``, ``prompt_cache_key``,
  ``prompt_cache_retention``, ``prompt_cache_options``, ``top_logprobs``, ``store``, and the
  effective ``image`` and ``access_programs`` (the API echoes what it used, a value the create
  accepts);
- ``temperature`` and ``top_p`` only when they are not the default 1 (reasoning models refuse
  any other value, and echo 1);
- ``include`` is not echoed by the API, so it is read off the output: encrypted reasoning
  content means ``reasoning.encrypted_content`` was asked for, ``logprobs`` on an output text
  means ``message.output_text.logprobs``;
- ``conversation``: a response in a conversation is continued *in* it (``conversation=<id>``,
  never ``previous_response_id``, which the API refuses beside it).

Not carried, because the Response does not say what was asked: ``moderation`` (the Response
holds its results, not its configuration), ``context_management`` and ``background_options``.
"""

from __future__ import annotations

from typing import Any

AS_IS = (
    "tool_choice",
    "parallel_tool_calls",
    "text",
    "reasoning",
    "max_output_tokens",
    "max_tool_calls",
    "truncation",
    "service_tier",
    "prompt",
    "user",
    "safety_identifier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "prompt_cache_options",
    "top_logprobs",
    "store",
    "image",
    "access_programs",
)
"""Response fields carried unchanged into the follow-up's create arguments."""

SAMPLING = ("temperature", "top_p")
"""Carried only when set to something other than the default 1."""


def _plain(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json", exclude_none=True, by_alias=True)
    return value


def _empty(value: Any) -> bool:
    return value is None or value == {} or value == []


def included(previous: Any) -> list[str]:
    """The ``include`` values the output of ``previous`` shows were asked for."""
    found: list[str] = []
    for item in getattr(previous, "output", None) or []:
        if getattr(item, "type", None) == "reasoning" and getattr(item, "encrypted_content", None):
            found.append("reasoning.encrypted_content")
        if getattr(item, "type", None) == "message":
            for part in getattr(item, "content", None) or []:
                if getattr(part, "logprobs", None):
                    found.append("message.output_text.logprobs")
    return list(dict.fromkeys(found))


def conversation_of(previous: Any) -> str | None:
    """The id of the conversation ``previous`` belongs to, if any."""
    conversation = getattr(previous, "conversation", None)
    cid = getattr(conversation, "id", None)
    return str(cid) if cid else None


def carried_settings(previous: Any) -> dict[str, Any]:
    """Create arguments repeating the settings of ``previous`` (see the module docstring).

    ``store`` is read from the object even though the SDK's ``Response`` type does not
    declare it: the API echoes it, and the SDK keeps undeclared fields.
    """
    carried: dict[str, Any] = {"model": previous.model}
    instructions = getattr(previous, "instructions", None)
    if isinstance(instructions, str) and instructions:
        carried["instructions"] = instructions
    for key in AS_IS:
        value = _plain(getattr(previous, key, None))
        if not _empty(value):
            carried[key] = value
    for key in SAMPLING:
        value = getattr(previous, key, None)
        if value is not None and value != 1:
            carried[key] = value
    if carried.get("reasoning") is not None:
        # the deprecated alias is echoed beside ``summary``; sending both is refused
        carried["reasoning"].pop("generate_summary", None)
        if _empty(carried["reasoning"]):
            del carried["reasoning"]
    include = included(previous)
    if include:
        carried["include"] = include
    return carried
