"""A test app for the sessions scenario: one slow tool that records each execution durably.

``RUNHOOK_COUNT_FILE``: each tool run appends ``lookup <q> <pid>``, each outcome
``outcome <session> <status> <message>``. ``RUNHOOK_SLEEP_S``: each tool run sleeps this long
(so duplicate deliveries overlap the running wait).
"""

from __future__ import annotations

import os
import time

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
    time.sleep(float(settings.extra.get("RUNHOOK_SLEEP_S", "0")))
    with open(settings.extra["RUNHOOK_COUNT_FILE"], "a") as out:
        out.write(f"lookup {q} {os.getpid()}\n")
    return f"found {q}"


@app.on_outcome
def finished(outcome: RunOutcome, ctx: object) -> None:
    with open(settings.extra["RUNHOOK_COUNT_FILE"], "a") as out:
        out.write(f"outcome {outcome.thread_id} {outcome.status} {outcome.message!r}\n")
