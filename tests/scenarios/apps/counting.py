"""A test app for the gunicorn scenarios: its handler records each execution durably.

``RUNHOOK_COUNT_FILE``: each execution appends ``<event id> <pid>``.
``RUNHOOK_BLOCK_FILE``: while this file exists, the first execution of an event writes its pid
to ``<file>.pid`` and blocks (so a test can kill the process mid-handler).
``RUNHOOK_SLEEP_S``: each execution sleeps this long first (drain tests).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from runhook.app import App
from runhook.context import Context
from runhook.events.envelope import Event

app = App(include_defaults=False)


@app.on("test.*")
def count(event: Event, ctx: Context) -> None:
    extra = ctx.settings.extra
    time.sleep(float(extra.get("RUNHOOK_SLEEP_S", "0")))
    block = extra.get("RUNHOOK_BLOCK_FILE")
    if block and Path(block).exists():
        pid_file = Path(block + ".pid")
        if not pid_file.exists():
            # written whole, then renamed: a test polling for the file never reads it empty
            partial = Path(block + ".pid.partial")
            partial.write_text(str(os.getpid()))
            partial.replace(pid_file)
            while Path(block).exists():
                time.sleep(0.05)
    with open(extra["RUNHOOK_COUNT_FILE"], "a") as out:
        out.write(f"{event.id} {os.getpid()}\n")
