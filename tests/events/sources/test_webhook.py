"""POST /events over the Flask test client: every answer of the HTTP contract."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from runhook.app import App
from runhook.events.signing import sign_headers
from runhook.events.sources.webhook import create_app
from runhook.events.testing import make_event, post_event
from runhook.events.worker import Worker
from tests.plugins.events import Recorder

Build = Callable[..., tuple[App, Recorder]]


def client_for(app: App, worker: Worker | None = None) -> Any:
    return create_app(app.pipeline(), worker=worker).test_client()


class TestRefusals:
    def test_missing_signature_is_401_naming_the_header(self, make_app: Build) -> None:
        """A delivery without webhook-signature is refused with 401 and the header's name."""
        app, recorder = make_app()
        event = make_event("thread.run.completed")
        response = client_for(app).post(
            "/events", data=event.body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 401
        assert "webhook-id" in response.json["error"]["message"]
        assert recorder.seen == []

    def test_wrong_secret_is_401(self, make_app: Build) -> None:
        """A signature made with another secret is a 401 that says no signature matched."""
        app, _ = make_app()
        response = post_event(client_for(app), make_event("x.y"), "whsec_b3RoZXI=")
        assert response.status_code == 401
        assert "no v1 signature matched" in response.json["error"]["message"]

    def test_old_timestamp_is_401_with_age(self, make_app: Build, secret: str) -> None:
        """A timestamp outside the tolerance is a 401 that says how old it is."""
        app, _ = make_app()
        old = int(time.time()) - 1000
        response = post_event(client_for(app), make_event("x.y"), secret, timestamp=old)
        assert response.status_code == 401
        assert "s old (tolerance 300 s)" in response.json["error"]["message"]

    def test_malformed_json_is_400(self, make_app: Build, secret: str) -> None:
        """A correctly signed body that is not JSON is a 400."""
        app, _ = make_app()
        body = b"{not json"
        headers = sign_headers(secret, body)
        response = client_for(app).post("/events", data=body, headers=headers)
        assert response.status_code == 400
        assert "not valid JSON" in response.json["error"]["message"]

    def test_envelope_without_type_is_400(self, make_app: Build, secret: str) -> None:
        """A JSON object that is not an envelope is a 400 naming the field."""
        app, _ = make_app()
        body = json.dumps({"id": "evt_1", "created_at": 1, "data": {"id": "x"}}).encode()
        response = client_for(app).post("/events", data=body, headers=sign_headers(secret, body))
        assert response.status_code == 400
        assert "'type'" in response.json["error"]["message"]

    def test_large_body_is_413(self, make_app: Build, secret: str) -> None:
        """A body above the limit is a 413 that names the limit's setting."""
        app, _ = make_app(max_body_bytes=100)
        event = make_event("x.y", padding="a" * 200)
        response = post_event(client_for(app), event, secret)
        assert response.status_code == 413
        assert "RUNHOOK_MAX_BODY_BYTES" in response.json["error"]["message"]

    def test_non_json_content_type_is_415(self, make_app: Build, secret: str) -> None:
        """A text/plain delivery is a 415."""
        app, _ = make_app()
        event = make_event("x.y")
        headers = {**sign_headers(secret, event.body), "content-type": "text/plain"}
        response = client_for(app).post("/events", data=event.body, headers=headers)
        assert response.status_code == 415

    def test_reused_id_with_other_body_is_409(self, make_app: Build, secret: str) -> None:
        """The same webhook-id with a different body is a 409, and the first body stands."""
        app, _ = make_app()
        client = client_for(app)
        first = make_event("x.y", event_id="evt_same", n=1)
        second = make_event("x.y", event_id="evt_same", n=2)
        assert post_event(client, first, secret).status_code == 202
        assert post_event(client, second, secret).status_code == 409


class TestAcceptance:
    def test_accepted_then_processed_after_reply(self, make_app: Build, secret: str) -> None:
        """A valid event is 202 at once and its handler runs when the worker drains."""
        app, recorder = make_app()
        worker = Worker(app.pipeline())
        response = post_event(client_for(app, worker), make_event("thread.run.completed"), secret)
        assert response.status_code == 202
        assert response.json["status"] == "accepted"
        assert recorder.seen == []
        assert worker.drain(timeout=10)
        assert recorder.types() == ["thread.run.completed"]

    def test_duplicate_is_200_and_not_processed_twice(self, make_app: Build, secret: str) -> None:
        """The same event delivered again answers duplicate and its handler runs once."""
        app, recorder = make_app()
        worker = Worker(app.pipeline())
        client = client_for(app, worker)
        event = make_event("thread.run.completed")
        assert post_event(client, event, secret).status_code == 202
        worker.drain(timeout=10)
        again = post_event(client, event, secret)
        assert again.status_code == 200
        assert again.json["status"] == "duplicate"
        worker.drain(timeout=10)
        assert len(recorder.seen) == 1

    def test_sync_mode_processes_before_replying(self, make_app: Build, secret: str) -> None:
        """With sync=True the handler has run when the 200 arrives."""
        app, recorder = make_app(sync=True)
        response = post_event(client_for(app), make_event("thread.run.failed"), secret)
        assert response.status_code == 200
        assert response.json["status"] == "processed"
        assert recorder.types() == ["thread.run.failed"]

    def test_rotated_secrets_both_accepted(self, make_app: Build, secret: str) -> None:
        """During rotation, deliveries signed with the old or the new secret are accepted."""
        new = "whsec_" + "bmV3LXNlY3JldC1uZXctc2VjcmV0"
        app, _ = make_app(webhook_secrets=(new, secret))
        client = client_for(app)
        assert post_event(client, make_event("a.b"), secret).status_code == 202
        assert post_event(client, make_event("a.b"), new).status_code == 202


class TestProbes:
    def test_healthz_and_readyz(self, make_app: Build) -> None:
        """healthz is alive; readyz is ready while the store answers and not draining."""
        app, _ = make_app()
        worker = Worker(app.pipeline())
        client = client_for(app, worker)
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        worker.stop(timeout=1)
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json["status"] == "draining"
