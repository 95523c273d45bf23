"""A test app whose ``boom.*`` handler fails until its log file exists, then appends to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runhook.app import App

app = App(include_defaults=False)


@app.on("boom.*")
def boom(event: Any, ctx: Any) -> None:
    log = Path(app.settings.extra["RUNHOOK_FLAKY_LOG"])
    if not log.exists():
        raise RuntimeError("still broken")
    with log.open("a") as out:
        out.write(f"{event.id}\n")
