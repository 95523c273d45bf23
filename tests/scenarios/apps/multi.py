"""A test app for the multi-host scenario: a tool that logs its start and end durably."""

from __future__ import annotations

import os
import time

from runhook.app import App

app = App()


@app.tool
def work(n: int) -> str:
    """Takes a moment.

    Args:
        n: which run this is.
    """
    path = app.settings.extra["RUNHOOK_COUNT_FILE"]
    with open(path, "a") as out:
        out.write(f"start {n} {os.getpid()}\n")
    time.sleep(0.2)
    with open(path, "a") as out:
        out.write(f"done {n} {os.getpid()}\n")
    return f"worked {n}"
