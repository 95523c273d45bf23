"""Identifiers that may appear in a log line or an error reason.

A delivery's ids and types end up in log fields (``webhook_id``, ``event_type``, ``run_id``) and
in 400 reasons. A signed but hostile sender controls them, so they are accepted only as short
tokens of a safe alphabet: a longer or stranger value could carry a fragment of a body (or
anything else) into an operator's logs. No IO.
"""

from __future__ import annotations

import re

#: longest id or type accepted (OpenAI's are under 64 characters)
MAX_TOKEN = 256

_TOKEN = re.compile(rf"[A-Za-z0-9_.:\-]{{1,{MAX_TOKEN}}}")


def is_token(value: object) -> bool:
    """Whether ``value`` is a string of 1 to ``MAX_TOKEN`` letters, digits or ``_ . : -``."""
    return isinstance(value, str) and _TOKEN.fullmatch(value) is not None


def shown(value: object, limit: int = 64) -> str:
    """``value`` for a log line or a reason: itself if a token of at most ``limit`` characters,
    else only its type (``<str of 5000 chars>``, ``<list>``)."""
    if is_token(value) and len(str(value)) <= limit:
        return str(value)
    if isinstance(value, str):
        return f"<str of {len(value)} chars>"
    return f"<{type(value).__name__}>"
