"""Streamed responses: the SSE events of a response in the real API's order.

``response.created`` → (``response.queued`` in background) → ``response.in_progress`` → per
output item ``response.output_item.added``, its deltas and ``.done`` events
(``function_call_arguments.delta/.done`` or ``content_part.added``, ``output_text.delta/.done``,
``content_part.done``) → ``response.output_item.done`` → ``response.completed`` (or
``.failed`` / ``.incomplete``). Every event carries a ``sequence_number``; a reader resumes after
one with ``GET /v1/responses/{id}?stream=true&starting_after=N``. No ``[DONE]`` is sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from runhook.standin.objects import clone

TERMINAL_EVENTS = frozenset({"response.completed", "response.failed", "response.incomplete"})


class EventLog:
    """The numbered stream events of one response."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, type_: str, **data: Any) -> None:
        self.events.append({"type": type_, "sequence_number": len(self.events), **data})

    def snapshot(self, type_: str, obj: dict[str, Any]) -> None:
        """A lifecycle event carrying the whole response as it is now."""
        self.add(type_, response=clone(obj))

    def item(self, index: int, item: dict[str, Any]) -> None:
        """The events of one finished output item, added → deltas → done."""
        added = clone(item)
        added["status"] = "in_progress"
        if item["type"] == "function_call":
            added["arguments"] = ""
            self.add("response.output_item.added", output_index=index, item=added)
            ids = {"item_id": item["id"], "output_index": index}
            self.add("response.function_call_arguments.delta", **ids, delta=item["arguments"])
            self.add(
                "response.function_call_arguments.done",
                **ids,
                name=item["name"],
                arguments=item["arguments"],
            )
        else:
            added["content"] = []
            self.add("response.output_item.added", output_index=index, item=added)
            for part_index, part in enumerate(item.get("content") or []):
                ids = {"item_id": item["id"], "output_index": index, "content_index": part_index}
                empty = {**part, "text": ""}
                self.add("response.content_part.added", **ids, part=empty)
                self.add("response.output_text.delta", **ids, delta=part["text"], logprobs=[])
                self.add("response.output_text.done", **ids, text=part["text"], logprobs=[])
                self.add("response.content_part.done", **ids, part=clone(part))
        self.add("response.output_item.done", output_index=index, item=clone(item))

    def ended(self) -> bool:
        return bool(self.events) and self.events[-1]["type"] in TERMINAL_EVENTS


def frames(events: Iterator[dict[str, Any]]) -> Iterator[tuple[str, Any]]:
    """``(event name, data)`` pairs for the stand-in's SSE writer."""
    for event in events:
        yield event["type"], event
