"""The demo's App: ``fetch_url`` plus one more tool, and printing of the flow."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runhook.app import App
from runhook.backends.base import Backend, PendingCalls, WrappedBackend
from runhook.calls import ToolOutput
from runhook.context import Context
from runhook.events.config import Settings
from runhook.events.envelope import Event
from runhook.lifecycle import RunOutcome
from runhook.tools.fetch_url import register_fetch_url


def make_demo_app(settings: Settings) -> App:
    """An App that prints each event, tool call, submit and the final answer."""
    t0 = float(settings.extra.get("RUNHOOK_DEMO_T0", time.time()))
    done_file = settings.extra.get("RUNHOOK_DEMO_DONE")

    def say(text: str) -> None:
        print(f"+{(time.time() - t0) * 1000:6.0f} ms  {text}", flush=True)

    app = _DemoApp(settings, say)

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

    @app.on("thread.run.*", "response.*", "agent.session.*")
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


class _DemoApp(App):
    """An App whose backends print the submit as it happens.

    The line comes before the call, so it precedes the events the continuation streams back
    (which the tracing middleware prints while the submit is still open).
    """

    def __init__(self, settings: Settings, say: Callable[[str], None]) -> None:
        super().__init__(settings=settings)
        self._say = say

    def backend(self, api: str) -> Backend:
        return _SubmitTrace(super().backend(api), self._say)


class _SubmitTrace(WrappedBackend):
    def __init__(self, inner: Backend, say: Callable[[str], None]) -> None:
        super().__init__(inner)
        self.say = say

    def submit(
        self,
        pending: PendingCalls,
        outputs: Sequence[ToolOutput],
        *,
        deadline: float | None = None,
    ) -> str | None:
        self.say(f"submit {len(outputs)} output(s) for {pending.ref.id}")
        return self.inner.submit(pending, outputs, deadline=deadline)


def _traced(name: str, fn: Callable[..., Any], say: Callable[[str], None]) -> Callable[..., Any]:
    def traced(**kwargs: Any) -> Any:
        shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        say(f"tool   {name}({shown})")
        result = fn(**kwargs)
        preview = str(result).replace("\n", " ")
        say(f"       -> {preview[:70]}{'…' if len(preview) > 70 else ''}")
        return result

    return traced
