"""Deadline-aware retries around OpenAI calls.

The SDK's own retries know nothing of a run's deadline, so backends call the SDK with
``max_retries=0`` and retry here: on 408, 409, 429 and 5xx answers and on connection errors,
with exponential backoff (0.5 s · 2ⁿ, capped at 8 s, with jitter), honouring ``retry-after-ms``,
``retry-after`` and ``openai-poll-after-ms`` when the server sends them, and never sleeping past
the deadline: when the next attempt could not start before it, the last error is raised.

``request_timeout`` gives each request its own timeout: what is left of the run's deadline,
never more than ``RUNHOOK_OPENAI_TIMEOUT_S`` (the SDK's own default is 600 s, longer than a
run's whole window).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

import httpx2
import openai

log = logging.getLogger("runhook.retry")

T = TypeVar("T")

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
BASE_DELAY_S = 0.5
MAX_DELAY_S = 8.0


#: shortest timeout a request is given, even past the deadline (its one last attempt)
MIN_REQUEST_TIMEOUT_S = 1.0


def request_timeout(
    deadline: float | None, ceiling: float, clock: Callable[[], float] = time.time
) -> float:
    """The timeout of one request: the time left before ``deadline``, at most ``ceiling``,
    at least ``MIN_REQUEST_TIMEOUT_S``."""
    if deadline is None:
        return ceiling
    return max(MIN_REQUEST_TIMEOUT_S, min(ceiling, deadline - clock()))


def server_delay(exc: BaseException) -> float | None:
    """The delay the server asked for (``retry-after-ms``, ``retry-after``, poll-after)."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("openai-poll-after-ms", 0.001)):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                pass
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            return None
    return None


def retryable(exc: BaseException) -> bool:
    """True for errors worth another attempt."""
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRY_STATUSES
    return isinstance(exc, openai.APIConnectionError)


def not_processed(exc: BaseException) -> bool:
    """True for errors that prove the request was not acted on: a 429, or a connection that
    was never made. The only ones safe to retry for a request that is not idempotent."""
    if isinstance(exc, openai.RateLimitError):
        return True
    if isinstance(exc, openai.APIConnectionError) and not isinstance(exc, openai.APITimeoutError):
        return isinstance(exc.__cause__, httpx2.ConnectError)
    return False


def with_retries(
    call: Callable[[], T],
    *,
    deadline: float | None,
    what: str,
    max_attempts: int = 8,
    retry_if: Callable[[BaseException], bool] = retryable,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``call`` until it succeeds, an error ``retry_if`` rejects, the deadline, or max
    attempts."""
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:
            attempt += 1
            if not retry_if(exc) or attempt >= max_attempts:
                raise
            delay = server_delay(exc)
            if delay is None:
                delay = min(MAX_DELAY_S, BASE_DELAY_S * 2 ** (attempt - 1))
                delay *= 1 - 0.25 * random.random()
            if deadline is not None and clock() + delay >= deadline:
                log.warning("%s: no time left for another attempt", what)
                raise
            log.info("%s failed (%s); retry %d in %.2f s", what, type(exc).__name__, attempt, delay)
            sleep(delay)
