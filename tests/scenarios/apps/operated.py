"""A test app for the operating scenarios: a quick tool, a ``boom.*`` handler that fails
until the file ``RUNHOOK_FIXED_FILE`` exists, and a ``test.*`` handler that does nothing (an
event no handler wants is not stored or processed at all)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runhook.app import App

app = App()


@app.tool
def work(n: int) -> str:
    """Does a little work.

    Args:
        n: which run this is.
    """
    return f"worked {n}"


@app.on("boom.*")
def boom(event: Any, ctx: Any) -> None:
    if not Path(app.settings.extra["RUNHOOK_FIXED_FILE"]).exists():
        raise RuntimeError("still broken")


@app.on("test.*")
def ping(event: Any, ctx: Any) -> None:
    """Handled, and nothing else: the metrics scenario spreads these over the workers."""
