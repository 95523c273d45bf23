"""OpenAI-style webhook delivery from the stand-in: thin events, signed, retried, duplicated.

An event ``{"id": "evt_…", "object": "event", "created_at", "type", "data"}`` is POSTed to
``StandinConfig.webhook_url``, signed per Standard Webhooks with ``webhook_secret`` and sent
with OpenAI's ``user-agent``. A non-2xx answer (or no answer) is retried with backoff under the
same ``webhook-id``, the body byte-identical to what was signed; ``webhook_duplicate_rate`` of
the deliveries are sent twice (as OpenAI warns they may be).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import httpx2

from events.signing import sign_headers
from handlers.standin.state import World

USER_AGENT = "OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)"
RETRY_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


def send_webhook(
    world: World, event_type: str, data: dict[str, Any], stats: dict[str, Any]
) -> None:
    """Deliver one thin webhook in the background, if the stand-in has a webhook URL.

    Args:
        world: the stand-in's world (config, clock, RNG, lock).
        event_type: e.g. ``agent.session.action_required``.
        data: the event's ``data``.
        stats: the per-object stats dict; gets ``webhooks`` (attempts), ``webhook_statuses``,
            ``webhook_types`` (one per event, in order) and ``webhook_errors``.
    """
    cfg = world.config
    with world.lock:
        stats.setdefault("webhook_types", []).append(event_type)
    if not cfg.webhook_url or not cfg.webhook_secret:
        return
    event = {
        "id": "evt_" + uuid.uuid4().hex[:24],
        "object": "event",
        "created_at": int(world.clock()),
        "type": event_type,
        "data": data,
    }
    body = json.dumps(event, separators=(",", ":")).encode()
    msg_id = "wh_" + uuid.uuid4().hex[:24]
    with world.lock:
        copies = 2 if world.rng.random() < cfg.webhook_duplicate_rate else 1
    for _ in range(copies):
        threading.Thread(
            target=_deliver,
            args=(world, cfg.webhook_url, cfg.webhook_secret, msg_id, body, stats),
            daemon=True,
            name="standin-webhook",
        ).start()


def _deliver(
    world: World, url: str, secret: str, msg_id: str, body: bytes, stats: dict[str, Any]
) -> None:
    with httpx2.Client(timeout=15.0, trust_env=False) as client:
        for delay in (0.0, *RETRY_DELAYS_S):
            time.sleep(delay)
            headers = {**sign_headers(secret, body, msg_id=msg_id), "user-agent": USER_AGENT}
            try:
                status = client.post(url, content=body, headers=headers).status_code
            except httpx2.HTTPError as exc:
                status = 0
                with world.lock:
                    stats.setdefault("webhook_errors", []).append(f"{type(exc).__name__}: {exc}")
            with world.lock:
                stats["webhooks"] = stats.get("webhooks", 0) + 1
                stats.setdefault("webhook_statuses", []).append(status)
            if 200 <= status < 300:
                return
