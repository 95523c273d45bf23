"""Every error the handlers raise on purpose (``runhook.events.errors`` holds the pipeline's).

::

    RunhookError                      base of runhook's errors (runhook.events.errors)
    ├── RunExpired                    the run's window closed: record it, never retry
    ├── RunMovedOn                    the run no longer waits for these outputs: record, never retry
    └── SubmitUnknown                 a submit failed without saying whether it landed: alert, never retry
    Exception
    └── ToolError                     raised by a tool: the model gets a clean error output
    ValueError
    └── ArgumentError                 the model's arguments do not fit the tool's schema

``ToolError`` and ``ArgumentError`` never leave the tool runner (``runhook.tools.runner``
turns them into error outputs the model reads), so they are not ``RunhookError``\\ s: user code
raises ``ToolError`` and a handler's ``except RunhookError`` never sees either. The stand-in's
``ApiError`` (``runhook.standin.errors``) is the stand-in's HTTP answer, not runhook's error.
"""

from __future__ import annotations

from runhook.events.errors import RunhookError


class RunExpired(RunhookError):
    """The run's window closed (``expires_at`` passed, or the API says ``expired``): record it,
    never retry."""


class RunMovedOn(RunhookError):
    """The API refused the submit because the run is no longer waiting for these outputs
    (another worker submitted, it was cancelled, it completed). Record it, never retry."""


class SubmitUnknown(RunhookError):
    """The submit failed in a way that does not say whether the API took the outputs (a
    timeout, a dropped connection, a 5xx), and a second attempt could continue the run twice
    (the Responses API creates a new follow-up per request and offers no idempotency key).
    Record it and alert, never retry."""


class ToolError(Exception):
    """Raise it from a tool to send the model a clean error message (no exception type)."""


class ArgumentError(ValueError):
    """The model's arguments do not match the tool's schema; the message says where."""
