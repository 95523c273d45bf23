"""The stand-in's knobs (``runhook emulator``'s flags map onto them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class StandinConfig:
    """Knobs of the stand-in.

    Attributes:
        latency_ms: model time before each model step (thinking, then answering).
        expires_after_s: run window (``expires_at = created_at + this``).
        poll_after_ms: value of the ``openai-poll-after-ms`` header, or None to send none.
        fault_429: fraction of /v1 requests answered 429 (with ``retry-after``).
        fault_500: fraction of /v1 requests answered 500.
        retry_after_s: the ``retry-after`` value of injected 429s.
        seed: seed of the fault-injection RNG.
        webhook_url: where background responses' webhooks go (None: no webhooks).
        webhook_secret: the ``whsec_`` secret signing them.
        webhook_duplicate_rate: fraction of webhooks delivered twice.
        stream_drop_after: cut every streamed response create after this many events (the
            connection drops; the response lives on and its stream can be resumed).
        session_results_race: how many first ``tool_result`` attempts per call an Agents
            session refuses with the registration-race 400 (``Unknown pending tool call``).
    """

    latency_ms: int = 0
    expires_after_s: int = 600
    poll_after_ms: int | None = None
    fault_429: float = 0.0
    fault_500: float = 0.0
    retry_after_s: float = 0.0
    seed: int = 0
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_duplicate_rate: float = 0.0
    stream_drop_after: int | None = None
    session_results_race: int = 0
