"""The event envelope: what every source turns its input into.

One JSON object, the shape OpenAI's own webhooks use::

    {"id": "evt_…", "object": "event", "type": "thread.run.requires_action",
     "created_at": 1763800000, "data": {…the Run / RunStep / Message / Response…}}

``Event`` is frozen and built once per delivery; handlers receive it by reference. It does no IO.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runhook.events.errors import MalformedEvent
from runhook.events.tokens import MAX_TOKEN, is_token, shown

#: deepest nesting of arrays and objects accepted (OpenAI payloads stay far below)
MAX_DEPTH = 64


def _check_depth(obj: Any) -> None:
    """Refuse nesting deeper than ``MAX_DEPTH``, a level at a time (no recursion to exhaust)."""
    level: list[Any] = [obj]
    for _ in range(MAX_DEPTH):
        below: list[Any] = []
        for node in level:
            values = node.values() if type(node) is dict else node
            below += [v for v in values if type(v) is dict or type(v) is list]
        if not below:
            return
        level = below
    raise MalformedEvent(f"body is nested deeper than {MAX_DEPTH} levels")


def _freeze_check(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise MalformedEvent(f"'data' must be a JSON object, got {type(data).__name__}")
    return data


@dataclass(frozen=True)
class Event:
    """One run lifecycle event.

    Attributes:
        id: the event id (``evt_…``); with ``webhook-id`` it is the de-duplication key.
        type: OpenAI's event name, e.g. ``thread.run.requires_action`` or ``response.completed``.
        created_at: unix seconds.
        data: the object as the OpenAI API returns it, or a thin ``{"id": …}`` payload.
        raw: the exact bytes the event was parsed from (what the signature covers).
    """

    id: str
    type: str
    created_at: int
    data: Mapping[str, Any]
    raw: bytes = field(default=b"", repr=False, compare=False)

    @classmethod
    def parse(cls, body: bytes | str) -> Event:
        """Parse an envelope from its JSON bytes.

        Raises:
            MalformedEvent: the body is not JSON (including nesting too deep to parse and
                integers over Python's 4,300-digit limit), not an object, nested deeper than
                ``MAX_DEPTH``, or a required field is missing or of the wrong type. The message
                names the field and never quotes the body.
        """
        try:
            raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise MalformedEvent(
                f"body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
            ) from None
        except UnicodeError:
            raise MalformedEvent("body is not valid UTF-8 JSON") from None
        except RecursionError:
            raise MalformedEvent(f"body is nested deeper than {MAX_DEPTH} levels") from None
        except ValueError:  # e.g. an integer of more than 4,300 digits
            raise MalformedEvent("body is not valid JSON (a number is out of range)") from None
        if not isinstance(obj, dict):
            raise MalformedEvent(f"body must be a JSON object, got {type(obj).__name__}")
        _check_depth(obj)
        return cls.from_dict(obj, raw=raw)

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any], *, raw: bytes | None = None) -> Event:
        """Build an event from an already-decoded envelope.

        Raises:
            MalformedEvent: a required field is missing or of the wrong type.
        """
        for name in ("id", "type"):
            if not is_token(obj.get(name)):
                raise MalformedEvent(
                    f"'{name}' must be a non-empty string of at most {MAX_TOKEN} letters, "
                    f"digits or _ . : - (got {shown(obj.get(name))})"
                )
        if obj.get("object", "event") != "event":
            raise MalformedEvent(f"'object' must be \"event\", got {shown(obj.get('object'))}")
        created_at = obj.get("created_at")
        if isinstance(created_at, bool) or not isinstance(created_at, int):
            raise MalformedEvent("'created_at' must be an integer unix timestamp")
        if "data" not in obj:
            raise MalformedEvent("'data' is missing")
        data = _freeze_check(obj["data"])
        if not is_token(data.get("id")):
            raise MalformedEvent(
                f"'data.id' must be a non-empty string of at most {MAX_TOKEN} letters, digits "
                f"or _ . : - (got {shown(data.get('id'))})"
            )
        event = cls(id=obj["id"], type=obj["type"], created_at=created_at, data=data)
        body = raw if raw is not None else event.to_json()
        object.__setattr__(event, "raw", body)
        return event

    @classmethod
    def create(
        cls,
        type: str,
        data: Mapping[str, Any],
        *,
        id: str | None = None,
        created_at: int | None = None,
    ) -> Event:
        """Make a new event (relays use this); ``id`` and ``created_at`` default to fresh ones."""
        return cls.from_dict(
            {
                "id": id or f"evt_{uuid.uuid4().hex[:24]}",
                "object": "event",
                "type": type,
                "created_at": int(time.time()) if created_at is None else created_at,
                "data": dict(data),
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """The envelope as a plain dict."""
        return {
            "id": self.id,
            "object": "event",
            "type": self.type,
            "created_at": self.created_at,
            "data": dict(self.data),
        }

    def to_json(self) -> bytes:
        """Serialise to compact JSON bytes (for signing and sending)."""
        return json.dumps(self.to_dict(), separators=(",", ":")).encode("utf-8")

    @property
    def body(self) -> bytes:
        """The bytes to sign and send: the original ones when parsed, else ``to_json()``."""
        return self.raw or self.to_json()

    @property
    def object_id(self) -> str:
        """``data.id``: the run, step, message or response id."""
        return str(self.data["id"])

    @property
    def is_thin(self) -> bool:
        """True when ``data`` carries only an id (OpenAI's native webhooks): fetch the object."""
        return set(self.data) <= {"id", "object"}

    @property
    def api(self) -> str:
        """Which OpenAI API the event belongs to: ``"responses"``, ``"sessions"`` (Agents API
        ``agent.*``) or ``"assistants"``."""
        if self.type.startswith("agent."):
            return "sessions"
        return "responses" if self.type.startswith("response.") else "assistants"

    def model(self) -> Any:
        """``data`` as the openai SDK's own type where the type is known, else the raw dict.

        ``thread.run.step.*`` → ``RunStep``, ``thread.run.*`` → ``Run``, ``thread.message.*``
        → ``Message``, ``response.*`` → ``Response``, ``agent.session.*`` carrying a session
        snapshot → ``AgentSession`` (full payloads only). Like the SDK itself,
        this constructs without validation, so newer fields and statuses pass through.
        """
        if self.is_thin:
            return dict(self.data)
        model_type: Any = None
        if self.type.startswith("thread.run.step.") and not self.type.endswith(".delta"):
            from openai.types.beta.threads.runs import RunStep

            model_type = RunStep
        elif self.type.startswith("thread.run."):
            from openai.types.beta.threads import Run

            model_type = Run
        elif self.type.startswith("thread.message.") and not self.type.endswith(".delta"):
            from openai.types.beta.threads import Message

            model_type = Message
        elif self.type.startswith("response."):
            from openai.types.responses import Response

            model_type = Response
        elif self.type.startswith("agent.session.") and self.data.get("object") == "agent.session":
            from openai.types.beta.agent_session import AgentSession

            model_type = AgentSession
        if model_type is None:
            return dict(self.data)
        return model_type.construct(**self.data)
