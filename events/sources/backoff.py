"""How long-running loops (the relay poller, the stream consumer) wait out an outage."""

from __future__ import annotations

import threading


class OutageBackoff:
    """Waits between attempts while a dependency is down: ``first_s``, doubling up to
    ``max_s``; ``reset()`` after an attempt that worked.

    Args:
        first_s: the first wait.
        max_s: the longest wait.
    """

    def __init__(self, first_s: float = 0.5, max_s: float = 30.0) -> None:
        self.first_s, self.max_s = first_s, max_s
        self.delay = first_s

    def wait(self, stop: threading.Event) -> None:
        """Wait the current delay (or until ``stop`` is set), then double it."""
        stop.wait(self.delay)
        self.delay = min(self.delay * 2, self.max_s)

    def reset(self) -> None:
        """Back to the first delay."""
        self.delay = self.first_s
