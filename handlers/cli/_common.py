"""Helpers shared by the CLI commands."""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any

from runhook.events.config import Settings
from runhook.events.envelope import Event
from runhook.events.errors import ConfigError


def ephemeral_secret() -> str:
    """A fresh ``whsec_`` secret for in-process relays that never leave this process."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def relay_secret(settings: Settings, given: str | None, *, remote: bool) -> str:
    """The secret to sign relayed events with."""
    secret = given or next(iter(settings.webhook_secrets), None)
    if secret:
        return secret
    if remote:
        raise ConfigError("no secret: pass --secret whsec_... or set RUNHOOK_WEBHOOK_SECRET")
    return ephemeral_secret()


class EventPrinter:
    """Prints one line per event with the milliseconds since it was created."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self, event: Event, ack: Any) -> None:
        ms = (time.monotonic() - self.start) * 1000
        status = getattr(ack, "status", "")
        print(f"+{ms:7.0f} ms  {event.type:<32} {event.object_id}  [{status}]", flush=True)
