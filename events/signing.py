"""Standard Webhooks signatures (the scheme OpenAI's webhooks use). No IO.

A delivery carries three headers::

    webhook-id:        msg_…   (the same on every retry of one message)
    webhook-timestamp: 1763800000
    webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body"> [v1,<…> …]

Several space-separated signatures allow key rotation; a delivery verifies if any of them
matches any configured secret. What ``sign_headers`` produces passes the openai SDK's
``client.webhooks.verify_signature`` and the ``standardwebhooks`` package, and ``verify``
accepts what they sign.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Iterable, Mapping

from runhook.events.config import decode_secret
from runhook.events.defaults import SIGNATURE_TOLERANCE_S
from runhook.events.errors import ConfigError, SignatureError
from runhook.events.tokens import MAX_TOKEN, is_token

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``v1,<base64>`` signature of one message under one secret."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(decode_secret(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def sign_headers(
    secret: str | Iterable[str],
    body: bytes,
    *,
    msg_id: str | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    """Build the three Standard Webhooks headers for ``body``.

    Args:
        secret: one secret, or several (each adds a signature, as during key rotation).
        body: the exact bytes that will be sent.
        msg_id: the ``webhook-id``; keep it the same when retrying one message. Defaults to a
            fresh ``msg_…`` id.
        timestamp: unix seconds; defaults to now.
    """
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets:
        raise ConfigError("sign_headers needs at least one secret")
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    ts = int(time.time()) if timestamp is None else int(timestamp)
    signatures = " ".join(sign(s, msg_id, ts, body) for s in secrets)
    return {
        HEADER_ID: msg_id,
        HEADER_TIMESTAMP: str(ts),
        HEADER_SIGNATURE: signatures,
        "content-type": "application/json",
    }


def verify(
    secrets: Iterable[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_s: int = SIGNATURE_TOLERANCE_S,
    now: Callable[[], float] = time.time,
) -> str:
    """Verify a delivery's signature and timestamp; return its ``webhook-id``.

    Args:
        secrets: every secret a signature may match (rotation: old and new).
        headers: the request headers (any case).
        body: the raw request body, exactly as received.
        tolerance_s: largest accepted age or future skew of ``webhook-timestamp``.
        now: clock, injectable for tests.

    Raises:
        SignatureError: with a ``reason`` naming the header and the problem.
        ConfigError: no secret is configured.
    """
    keys = [decode_secret(s) for s in secrets]
    if not keys:
        raise ConfigError(
            "no webhook secret is configured: set RUNHOOK_WEBHOOK_SECRET (or OPENAI_WEBHOOK_SECRET)"
        )
    lower = {k.lower(): v for k, v in headers.items()}
    for name in (HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE):
        if not lower.get(name, "").strip():
            raise SignatureError(f"missing {name} header")
    msg_id = lower[HEADER_ID].strip()
    if not is_token(msg_id):
        raise SignatureError(
            f"{HEADER_ID} must be at most {MAX_TOKEN} letters, digits or _ . : - "
            f"(got {len(msg_id)} characters)"
        )
    raw_ts = lower[HEADER_TIMESTAMP].strip()
    try:
        timestamp = int(raw_ts)
    except ValueError:
        raise SignatureError(
            f"webhook-timestamp {raw_ts[:20]!r} is not an integer unix time"
        ) from None
    current = int(now())
    if current - timestamp > tolerance_s:
        raise SignatureError(
            f"webhook-timestamp is {current - timestamp} s old (tolerance {tolerance_s} s)"
        )
    if timestamp - current > tolerance_s:
        raise SignatureError(
            f"webhook-timestamp is {timestamp - current} s in the future (tolerance {tolerance_s} s)"
        )
    candidates: list[bytes] = []
    for entry in lower[HEADER_SIGNATURE].split():
        version, _, value = entry.partition(",")
        if version != "v1" or not value:
            continue
        try:
            candidates.append(base64.b64decode(value, validate=True))
        except ValueError:
            continue
    if not candidates:
        raise SignatureError("webhook-signature has no well-formed v1 signature")
    signed = f"{msg_id}.{timestamp}.".encode() + body
    for key in keys:
        expected = hmac.new(key, signed, hashlib.sha256).digest()
        if any(hmac.compare_digest(expected, c) for c in candidates):
            return msg_id
    raise SignatureError("webhook-signature: no v1 signature matched any configured secret")
