"""The stand-in's webhooks: the endpoint API (``/v1/webhook_endpoints``, as the SDK's
``client.webhooks`` calls it) and the delivery of events to the registered endpoints.

- ``POST /v1/webhook_endpoints`` ``{url, name, event_types}`` → the endpoint with its
  ``signing_secret`` (shown only here and on rotate); ``GET`` lists (``limit``, ``after``);
  ``GET/POST/DELETE /v1/webhook_endpoints/{id}`` retrieve, update, delete;
  ``POST …/{id}/rotate_secret`` ``{keep_old_secret_active_for_24_hours}`` → a new secret, the
  old one signing beside it for 24 h when kept; ``POST …/{id}/test`` ``{event_type}`` sends a
  test event now and answers ``{object: "webhook_endpoint.test", status_code, success: true}``;
  ``GET /v1/webhook_event_types`` lists the types.
- ``publish(type, data)`` POSTs a thin event to ``StandinConfig.webhook_url`` (signed with
  ``webhook_secret``) and to every endpoint subscribed to ``type`` (signed with each of its
  live secrets, space-separated, as during a real rotation), with OpenAI's headers; a non-2xx
  answer is retried with backoff under the same ``webhook-id``, and
  ``webhook_duplicate_rate`` of the deliveries are sent twice.

Where the real service is stricter: it requires an HTTPS URL; the stand-in also takes
``http://`` (loopback servers in tests and the demo).
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx2
from flask import Flask, jsonify, request

from runhook.events.signing import sign_headers
from runhook.standin.state import ApiError, World, new_id
from runhook.standin.wire import query_int

USER_AGENT = "OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)"
RETRY_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
OVERLAP_S = 24 * 3600
EVENT_TYPES = (
    "batch.completed",
    "batch.failed",
    "batch.expired",
    "batch.cancelled",
    "response.completed",
    "response.failed",
    "response.cancelled",
    "response.incomplete",
    "eval.run.succeeded",
    "eval.run.failed",
    "eval.run.canceled",
    "fine_tuning.job.succeeded",
    "fine_tuning.job.failed",
    "fine_tuning.job.cancelled",
    "realtime.call.incoming",
    "video.completed",
    "video.failed",
    "agent.environment.ready",
    "agent.environment.failed",
    "agent.environment.suspended",
    "agent.environment.expired",
    "agent.session.created",
    "agent.session.action_required",
    "agent.session.in_progress",
    "agent.session.idle",
    "agent.session.failed",
    "safety.alert.created",
)
"""The event types of the SDK's ``webhooks.create`` (SDK 3.57)."""


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass
class Endpoint:
    obj: dict[str, Any]
    secrets: list[tuple[str, float | None]] = field(default_factory=list)  # (secret, until)

    def live_secrets(self, now: float) -> list[str]:
        return [s for s, until in self.secrets if until is None or until > now]

    def public(self) -> dict[str, Any]:
        return copy.deepcopy(self.obj)


def _hint(secret: str) -> str:
    return f"whsec_…{secret[-4:]}"


class Webhooks:
    """Registered endpoints and delivery, on the shared ``World`` lock and clock."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.endpoints: dict[str, Endpoint] = {}
        # one client for every delivery: building one per webhook cost the stand-in ~50 ms of
        # CPU each (its SSL context), which the benchmarks then counted as delivery latency
        self.http = httpx2.Client(timeout=15.0, trust_env=False)
        world.closers.append(self.http.close)

    # -- the endpoint API -------------------------------------------------------------------

    def _check(self, body: dict[str, Any], *, partial: bool) -> None:
        for key in ("url", "name"):
            if key in body and not (isinstance(body[key], str) and body[key]):
                raise ApiError(400, f"Invalid '{key}': expected a non-empty string.", param=key)
            if key not in body and not partial:
                raise ApiError(400, f"Missing required parameter: '{key}'.", param=key)
        if "url" in body and not body["url"].startswith(("https://", "http://")):
            raise ApiError(400, "Invalid 'url': expected an https:// URL.", param="url")
        types = body.get("event_types")
        if types is None and not partial:
            raise ApiError(400, "Missing required parameter: 'event_types'.", param="event_types")
        if types is not None:
            if not isinstance(types, list) or not types:
                raise ApiError(
                    400, "Invalid 'event_types': expected a non-empty array.", param="event_types"
                )
            for t in types:
                if t not in EVENT_TYPES:
                    raise ApiError(
                        400,
                        f"Invalid value: '{t}' is not a webhook event type.",
                        param="event_types",
                    )

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check(body, partial=False)
        secret, now = new_secret(), int(self.world.clock())
        obj = {
            "id": new_id("we_"),
            "object": "webhook_endpoint",
            "created_at": now,
            "updated_at": now,
            "name": body["name"],
            "url": body["url"],
            "event_types": list(body["event_types"]),
            "signing_secret_hint": _hint(secret),
        }
        with self.world.lock:
            self.endpoints[obj["id"]] = Endpoint(obj=obj, secrets=[(secret, None)])
        return {**copy.deepcopy(obj), "signing_secret": secret}

    def get(self, eid: str) -> Endpoint:
        endpoint = self.endpoints.get(eid)
        if endpoint is None:
            raise ApiError(404, f"No webhook endpoint found with id '{eid}'.")
        return endpoint

    def update(self, eid: str, body: dict[str, Any]) -> dict[str, Any]:
        self._check(body, partial=True)
        with self.world.lock:
            endpoint = self.get(eid)
            for key in ("name", "url", "event_types"):
                if key in body:
                    endpoint.obj[key] = copy.deepcopy(body[key])
            endpoint.obj["updated_at"] = int(self.world.clock())
            return endpoint.public()

    def delete(self, eid: str) -> dict[str, Any]:
        with self.world.lock:
            self.get(eid)
            del self.endpoints[eid]
        return {"id": eid, "object": "webhook_endpoint.deleted", "deleted": True}

    def rotate(self, eid: str, keep_old: bool) -> dict[str, Any]:
        now = self.world.clock()
        secret = new_secret()
        with self.world.lock:
            endpoint = self.get(eid)
            kept = [(s, now + OVERLAP_S) for s in endpoint.live_secrets(now)] if keep_old else []
            endpoint.secrets = [(secret, None), *kept]
            endpoint.obj.update(signing_secret_hint=_hint(secret), updated_at=int(now))
            return {**endpoint.public(), "signing_secret": secret}

    def test(self, eid: str, event_type: Any) -> dict[str, Any]:
        if event_type not in EVENT_TYPES:
            raise ApiError(
                400,
                f"Invalid value: '{event_type}' is not a webhook event type.",
                param="event_type",
            )
        endpoint = self.get(eid)
        event = self._event(str(event_type), {"id": new_id("test_")})
        status = self._deliver_once(endpoint, event, "wh_" + uuid.uuid4().hex[:24])
        return {
            "object": "webhook_endpoint.test",
            "webhook_endpoint_id": eid,
            "event_type": event_type,
            "status_code": status,
            "success": True,
        }

    # -- delivery ---------------------------------------------------------------------------

    def _event(self, type_: str, data: dict[str, Any]) -> bytes:
        event = {
            "id": "evt_" + uuid.uuid4().hex[:24],
            "object": "event",
            "created_at": int(self.world.clock()),
            "type": type_,
            "data": data,
        }
        return json.dumps(event, separators=(",", ":")).encode()

    def publish(self, type_: str, data: dict[str, Any], stats: dict[str, Any]) -> None:
        """Deliver a ``type_`` event to the configured URL and every subscribed endpoint.

        ``stats`` (the object's record in ``/_standin/stats``) counts attempts and statuses,
        and lists the types published (``webhook_types``, one per event, in order).
        """
        cfg = self.world.config
        body = self._event(type_, data)
        with self.world.lock:
            stats.setdefault("webhook_types", []).append(type_)
        targets: list[tuple[str, Any]] = []
        if cfg.webhook_url and cfg.webhook_secret:
            targets.append((cfg.webhook_url, cfg.webhook_secret))
        with self.world.lock:
            for endpoint in self.endpoints.values():
                if type_ in endpoint.obj["event_types"]:
                    targets.append((endpoint.obj["url"], endpoint))
        for url, signer in targets:
            msg_id = "wh_" + uuid.uuid4().hex[:24]
            copies = 2 if self.world.rng.random() < cfg.webhook_duplicate_rate else 1
            for _ in range(copies):
                threading.Thread(
                    target=self._deliver,
                    args=(url, signer, msg_id, body, stats),
                    daemon=True,
                    name="standin-webhook",
                ).start()

    def _secrets(self, signer: Any) -> list[str]:
        if isinstance(signer, Endpoint):
            with self.world.lock:
                return signer.live_secrets(self.world.clock())
        return [str(signer)]

    def _deliver_once(self, endpoint: Endpoint, body: bytes, msg_id: str) -> int:
        headers = {**sign_headers(self._secrets(endpoint), body, msg_id=msg_id)}
        headers["user-agent"] = USER_AGENT
        try:
            with httpx2.Client(timeout=15.0, trust_env=False) as client:
                return client.post(endpoint.obj["url"], content=body, headers=headers).status_code
        except httpx2.HTTPError:
            return 0

    def _deliver(
        self, url: str, signer: Any, msg_id: str, body: bytes, stats: dict[str, Any]
    ) -> None:
        for delay in (0.0, *RETRY_DELAYS_S):
            time.sleep(delay)
            headers = {**sign_headers(self._secrets(signer), body, msg_id=msg_id)}
            headers["user-agent"] = USER_AGENT
            try:
                status = self.http.post(url, content=body, headers=headers).status_code
            except RuntimeError:
                return  # the stand-in stopped (its client is closed) while this one waited
            except httpx2.HTTPError as exc:
                status = 0
                with self.world.lock:
                    stats.setdefault("webhook_errors", []).append(f"{type(exc).__name__}: {exc}")
            with self.world.lock:
                stats["webhooks"] = stats.get("webhooks", 0) + 1
                stats.setdefault("webhook_statuses", []).append(status)
            if 200 <= status < 300:
                return


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


def register_webhooks(app: Flask, world: World) -> Webhooks:
    """Mount the webhook endpoint API; return the deliverer other parts publish through."""
    hooks = Webhooks(world)

    @app.post("/v1/webhook_endpoints")
    def create_endpoint() -> Any:
        return jsonify(hooks.create(_json_body()))

    @app.get("/v1/webhook_endpoints")
    def list_endpoints() -> Any:
        items = [e.public() for e in hooks.endpoints.values()]
        after = request.args.get("after")
        ids = [i["id"] for i in items]
        if after in ids:
            items = items[ids.index(after) + 1 :]
        limit = max(1, min(100, query_int("limit", 20)))
        page = items[:limit]
        return jsonify(
            {
                "object": "list",
                "data": page,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
                "has_more": len(items) > limit,
            }
        )

    @app.get("/v1/webhook_endpoints/<eid>")
    def get_endpoint(eid: str) -> Any:
        return jsonify(hooks.get(eid).public())

    @app.post("/v1/webhook_endpoints/<eid>")
    def update_endpoint(eid: str) -> Any:
        return jsonify(hooks.update(eid, _json_body()))

    @app.delete("/v1/webhook_endpoints/<eid>")
    def delete_endpoint(eid: str) -> Any:
        return jsonify(hooks.delete(eid))

    @app.post("/v1/webhook_endpoints/<eid>/rotate_secret")
    def rotate_endpoint(eid: str) -> Any:
        keep = _json_body().get("keep_old_secret_active_for_24_hours", False)
        if not isinstance(keep, bool):
            raise ApiError(
                400,
                "Invalid type for 'keep_old_secret_active_for_24_hours': expected a boolean.",
                param="keep_old_secret_active_for_24_hours",
                code="invalid_type",
            )
        return jsonify(hooks.rotate(eid, keep))

    @app.post("/v1/webhook_endpoints/<eid>/test")
    def test_endpoint(eid: str) -> Any:
        return jsonify(hooks.test(eid, _json_body().get("event_type")))

    @app.get("/v1/webhook_event_types")
    def event_types() -> Any:
        return jsonify({"object": "list", "data": list(EVENT_TYPES)})

    return hooks
