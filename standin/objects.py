"""What every stand-in resource shares: ids with real prefixes, the OpenAI-style error answer
(``runhook.standin.errors``), the terminal statuses and message content as the API returns it."""

from __future__ import annotations

import secrets
import string
from typing import Any

from runhook.standin.errors import ApiError as ApiError

TERMINAL = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})
_ALNUM = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    """An id with a real prefix and 24 alphanumerics."""
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(24))


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
