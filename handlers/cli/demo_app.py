"""The demo's App: ``fetch_url`` plus one more tool, and printing of the flow."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from events.config import Settings
from events.envelope import Event
from handlers.app import App
from handlers.context import Context
from handlers.lifecycle import RunOutcome
from handlers.tools.fetch_url import register_fetch_url


def make_demo_app(settings: Settings) -> App:
    """An App that prints each event, tool call, submit and the final answer."""
    app = App(settings=settings)
    t0 = float(settings.extra.get("RUNHOOK_DEMO_T0", time.time()))
    done_file = settings.extra.get("RUNHOOK_DEMO_DONE")

    def say(text: str) -> None:
        print(f"+{(time.time() - t0) * 1000:6.0f} ms  {text}", flush=True)

    register_fetch_url(app)

    @app.tool
    def utc_now(timezone_label: str = "UTC") -> str:
        """The current date and time.

        Args:
            timezone_label: a label to print next to the time.
        """
        return f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} {timezone_label}"

    original = {tool.name: tool.fn for tool in app.tools}
    for tool in app.tools:
        object.__setattr__(tool, "fn", _traced(tool.name, original[tool.name], say))

    @app.middleware
    def trace(event: Event, ctx: Context, nxt: Callable[[], None]) -> None:
        say(f"event  {event.type:<28} {event.object_id}")
        nxt()
        if event.type in ("thread.run.requires_action", "response.completed"):
            record = ctx.store.get(_wait_key(ctx, event))
            if record is not None and record.outcome == "submitted":
                say(f"submit outputs accepted for {event.object_id}")

    @app.on("thread.run.*", "response.*")
    def observe(event: Event, ctx: Context) -> None:
        """Lets the tracing middleware see every run event (it runs where a handler matches)."""

    @app.on_outcome
    def finished(outcome: RunOutcome, ctx: Context) -> None:
        say(f"run {outcome.status}: {outcome.run_id}")
        answer = outcome.message or outcome.reason or ""
        print("\n" + "final answer ".ljust(60, "-") + f"\n{answer}\n" + "-" * 60, flush=True)
        if done_file:
            Path(done_file).write_text(f"{outcome.status}\n{answer}")

    return app


def _wait_key(ctx: Context, event: Event) -> str:
    from events import keys

    backend = ctx.backend()
    pending = backend.from_event(event)
    if pending is None:
        return ""
    return keys.wait_key(pending.ref.id, [c.id for c in pending.calls])


def _traced(name: str, fn: Callable[..., Any], say: Callable[[str], None]) -> Callable[..., Any]:
    def traced(**kwargs: Any) -> Any:
        shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        say(f"tool   {name}({shown})")
        result = fn(**kwargs)
        preview = str(result).replace("\n", " ")
        say(f"       -> {preview[:70]}{'…' if len(preview) > 70 else ''}")
        return result

    return traced
