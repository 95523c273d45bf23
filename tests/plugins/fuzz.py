"""Hypothesis profiles for the fuzz suite, a log capture, and a count of the cases run.

``make test`` runs the ``runhook`` profile (200 examples per fuzz test); ``make fuzz`` sets
``HYPOTHESIS_PROFILE=fuzz``, where each test asks for its own number (``examples``); most
examples run several cases (mutations of the drawn body), about 115,000 in all. The closing
summary says how many cases ran.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, settings

from runhook.events.logs import LOGGER, TextFormatter

FUZZ = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile(
    "runhook", max_examples=200, deadline=None, database=None, suppress_health_check=_QUIET
)
settings.register_profile(
    "fuzz", max_examples=15_000, deadline=None, database=None, suppress_health_check=_QUIET
)
settings.load_profile("fuzz" if FUZZ else "runhook")


def examples(fuzz: int) -> int:
    """Examples of one fuzz test: ``fuzz`` under ``make fuzz``, the profile's 200 otherwise."""
    return fuzz if FUZZ else 200


#: fuzz cases run in this session, per test
CASES: Counter[str] = Counter()


class Lines(logging.Handler):
    """Every record of the runhook loggers, formatted as an operator would read it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(TextFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def text(self) -> str:
        return "\n".join(self.lines)


@contextmanager
def captured_logs() -> Iterator[Lines]:
    """Capture the ``runhook`` logger (and its children) at DEBUG for the block."""
    logger = logging.getLogger(LOGGER)
    handler = Lines()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if CASES:
        total = sum(CASES.values())
        terminalreporter.write_line(f"fuzz cases: {total} in {len(CASES)} tests")
        for name, count in sorted(CASES.items()):
            terminalreporter.write_line(f"  {count:>8}  {name}")
