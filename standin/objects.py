"""What every stand-in resource shares: ids with real prefixes, the OpenAI-style error answer
(``runhook.standin.errors``), the terminal statuses and message content as the API returns it."""

from __future__ import annotations

import json
import secrets
import string
from typing import Any, TypeVar, cast

from runhook.standin.errors import ApiError as ApiError

TERMINAL = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})
_ALNUM = string.ascii_letters + string.digits
_ID_SPACE = len(_ALNUM) ** 24


_T = TypeVar("_T")


def clone(obj: _T) -> _T:
    """A deep copy of JSON data (every stand-in object is): a JSON round trip, about twice as
    fast as ``copy.deepcopy`` on a run (27 against 60 us), which every emitted event pays."""
    return cast(_T, json.loads(json.dumps(obj)))


def new_id(prefix: str) -> str:
    """An id with a real prefix and 24 alphanumerics.

    One draw from the OS's random source for all 24 (``secrets.choice`` per character made
    24 system calls, a tenth of the stand-in's CPU per run)."""
    n = secrets.randbelow(_ID_SPACE)
    chars = []
    for _ in range(24):
        n, digit = divmod(n, 62)
        chars.append(_ALNUM[digit])
    return prefix + "".join(chars)


def content_text(content: Any) -> str:
    """The text of a message's ``content`` (a string, or parts with ``text``), parts joined."""
    if isinstance(content, str):
        return content
    parts = []
    for part in content or []:
        if isinstance(part, dict):
            text = part.get("text")
            parts.append(text.get("value", "") if isinstance(text, dict) else str(text or ""))
    return "\n".join(parts)


def content_blocks(content: Any) -> list[dict[str, Any]]:
    """Message content as the API returns it."""
    return [{"type": "text", "text": {"value": content_text(content), "annotations": []}}]
