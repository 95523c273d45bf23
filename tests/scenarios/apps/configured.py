"""A test app factory that sets some settings in code."""

from __future__ import annotations

from runhook.app import App
from runhook.events.config import Settings


def make() -> App:
    """A fresh App per call, with a tool concurrency chosen in code."""
    return App(settings=Settings(tool_concurrency=3, store_url="memory:"), include_defaults=False)
