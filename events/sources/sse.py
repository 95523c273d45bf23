"""Server-sent events read off the wire, for the stream relays.

The SDK's stream objects build a typed model for every event (and the Assistants event handler
accumulates snapshots from them), which a relay then dumps back to JSON: about half of a
relaying process's CPU for nothing, since a relay hands on the wire's own JSON. ``iter_sse``
splits a stream's lines into ``(event, data)`` pairs by the WHATWG rules (``data`` lines joined
with newlines, comments and unknown fields ignored, one optional space after the colon, a
block without ``data`` not dispatched, an unfinished block at the end dropped); the relay
parses only the events it hands on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

__all__ = ["iter_sse"]


def iter_sse(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """Yield ``(event name, data)`` for each event of the stream's ``lines`` (line breaks
    removed, as ``httpx2.Response.iter_lines`` gives them); the name is ``"message"`` where the
    stream names none."""
    name = ""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield name or "message", "\n".join(data)
            name, data = "", []
            continue
        field, _, value = line.partition(":")
        if not field:
            continue  # a comment (": keep-alive")
        if value[:1] == " ":
            value = value[1:]
        if field == "data":
            data.append(value)
        elif field == "event":
            name = value
