"""Every error the pipeline (``runhook.events``) raises on purpose; the handlers' are ``runhook.errors``.

::

    RunhookError                      base of everything below
    ├── DeliveryError(status)         an inbound delivery is refused; .status is the HTTP answer
    │   ├── SignatureError      401   missing/invalid signature or timestamp; .reason says which
    │   ├── MalformedEvent      400   body is not a JSON event envelope
    │   ├── UnreadableBody      400   the body's framing is broken or it ended early
    │   ├── RequestTimeout      408   the body did not arrive in time
    │   ├── PayloadTooLarge     413   body above the configured limit
    │   ├── UnsupportedMediaType 415  content type is not JSON
    │   └── PayloadConflict     409   an event id was reused with a different body
    ├── StoreError                    the store is unreachable or refused an operation
    ├── LeaseLost                     a lease's holder was taken over; nothing irreversible may follow
    ├── ConfigError                   bad or missing configuration (names the variable and the fix)
    ├── SetupError                    a registration that cannot work (bad pattern, too late, ...)
    ├── RetryLater(after_s, deadline) a handler asks for the event to run again later
    ├── StreamDropped                 a relayed stream dropped and could not be resumed
    └── RetryDelivery                 the GCF CloudEvent function asks Pub/Sub to redeliver (5xx)

The handlers add ``RunExpired``, ``RunMovedOn`` and ``SubmitUnknown`` under ``RunhookError``
(their tree, with ``ToolError``, is ``runhook.errors``). Only signals that must slip past
``except Exception`` derive from ``BaseException`` (``runhook.events.worker.WarmShutdown``, a warm
shutdown's signal, not an error).
"""

from __future__ import annotations


class RunhookError(Exception):
    """Base class of every error runhook raises on purpose."""


class DeliveryError(RunhookError):
    """An inbound delivery is refused; ``status`` is the HTTP status to answer with."""

    status: int = 400
    #: machine-readable code for the JSON error body
    code: str = "bad_request"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SignatureError(DeliveryError):
    """The Standard Webhooks signature or timestamp did not verify (401).

    ``reason`` names the header and the problem, e.g. ``"webhook-timestamp is 412 s old
    (tolerance 300 s)"``. It never contains the payload or a secret.
    """

    status = 401
    code = "invalid_signature"


class MalformedEvent(DeliveryError):
    """The body is not a JSON object of the event envelope's shape (400)."""

    status = 400
    code = "malformed_event"


class UnreadableBody(DeliveryError):
    """The body could not be read: broken chunked framing, or fewer bytes than declared (400)."""

    status = 400
    code = "unreadable_body"


class RequestTimeout(DeliveryError):
    """The body did not arrive within ``RUNHOOK_BODY_TIMEOUT_S`` (408)."""

    status = 408
    code = "request_timeout"


class PayloadTooLarge(DeliveryError):
    """The body is larger than the configured limit (413)."""

    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(DeliveryError):
    """The request's content type is not JSON (415)."""

    status = 415
    code = "unsupported_media_type"


class PayloadConflict(DeliveryError):
    """An event id that was already accepted came back with a different body (409)."""

    status = 409
    code = "payload_conflict"


class StoreError(RunhookError):
    """The store could not be reached or refused an operation."""


class LeaseLost(RunhookError):
    """The holder of a lease learnt that it is no longer the holder.

    Raised by ``Lease.checkpoint`` and ``Lease.ensure`` (``runhook.events.store.lease``) when another
    worker took the record over after the lease lapsed, or the record is gone. The holder must
    stop before anything irreversible (a submit) and leave the work to the new holder.
    """


class ConfigError(RunhookError):
    """Configuration is missing or invalid; the message names the setting and the fix."""


class SetupError(RunhookError):
    """A registration that cannot work: a bad pattern, a tool without type hints, too late."""


class RetryLater(RunhookError):
    """Raised by a handler that cannot finish now but should run again in ``after_s`` seconds.

    Used when another worker holds the work's lease: if that worker finishes, the retry finds
    the work done; if it dies, the retry takes over after the lease lapses.

    A retry asked for this way is not a failure: it does not count towards ``max_attempts``.
    Its own bound is ``deadline`` (unix seconds; the run's deadline for a wait): a retry asked
    for past it counts as a failed attempt. Without a deadline the bound is the event's
    ``created_at`` plus ``defaults.RETRY_LATER_WINDOW_S``.
    """

    def __init__(self, reason: str, *, after_s: float, deadline: float | None = None) -> None:
        super().__init__(reason)
        self.after_s = after_s
        self.deadline = deadline


class StreamDropped(RunhookError):
    """A relayed response stream dropped before the response existed (so whether it was
    created is unknown), or could not be resumed."""


class RetryDelivery(RunhookError):
    """Raised by the CloudEvent function (``runhook.events.sources.gcf``) so that Pub/Sub delivers the
    message again: the pipeline answered 5xx."""
