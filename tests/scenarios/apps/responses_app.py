"""A test app for the Responses scenario: one tool that records each execution durably."""

from __future__ import annotations

from runhook.app import App
from runhook.events.config import Settings
from runhook.lifecycle import RunOutcome

app = App()
settings: Settings = app.settings


@app.tool
def lookup(q: str) -> str:
    """Look something up.

    Args:
        q: the query.
    """
    with open(settings.extra["RUNHOOK_COUNT_FILE"], "a") as out:
        out.write(f"lookup {q}\n")
    return f"found {q}"


@app.on_outcome
def finished(outcome: RunOutcome, ctx: object) -> None:
    with open(settings.extra["RUNHOOK_COUNT_FILE"], "a") as out:
        out.write(f"outcome {outcome.run_id} {outcome.status} {outcome.message!r}\n")
