"""A backend wrapper that reports each submit to the observer (span, metric, timeline).

``Context.backend()`` wraps the App's backend in it when observability is on; everything but
``submit`` is passed through unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from runhook.backends.base import Backend, PendingCalls, WrappedBackend
from runhook.calls import ToolOutput
from runhook.errors import RunExpired, RunMovedOn, SubmitUnknown
from runhook.events.observability.observer import RunScope


class ObservedBackend(WrappedBackend):
    """``inner``, with its submits observed by ``run``."""

    def __init__(self, inner: Backend, run: RunScope) -> None:
        super().__init__(inner)
        self.run = run

    def submit(
        self,
        pending: PendingCalls,
        outputs: Sequence[ToolOutput],
        *,
        deadline: float | None = None,
    ) -> str | None:
        with self.run.submitting(self.api) as observed:
            try:
                continuation = self.inner.submit(pending, outputs, deadline=deadline)
            except RunExpired:
                observed.done("expired")
                raise
            except RunMovedOn:
                observed.done("moved_on")
                raise
            except SubmitUnknown:
                observed.done("submit_unknown")
                raise
            except Exception:
                observed.done("error")
                raise
            observed.done("submitted")
            return continuation
