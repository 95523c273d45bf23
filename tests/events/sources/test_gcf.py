"""The Cloud Functions adapters over a real pipeline, served the way functions-framework does:
a Flask app whose view calls the function with ``flask.request``."""

from __future__ import annotations

import base64
import json
import types
from collections.abc import Callable
from typing import Any

import flask
import pytest

from runhook.app import App
from runhook.events.envelope import Event
from runhook.events.signing import sign_headers
from runhook.events.sources.gcf import RetryDelivery, cloud_event_handler, http_handler
from runhook.events.testing import make_event
from tests.plugins.events import Recorder

Build = Callable[..., tuple[App, Recorder]]
OTHER_SECRET = "whsec_b3RoZXItc2VjcmV0LW9mLTMyLWJ5dGVzLi4uLi4="


def serve(function: Callable[[flask.Request], Any]) -> Any:
    """A test client of a Flask app that hands every request to ``function``."""
    server = flask.Flask("gcf-test")
    server.add_url_rule("/", "run", lambda: function(flask.request), methods=["GET", "POST", "PUT"])
    return server.test_client()


def pubsub_message(event: Event, secret: str, message_id: str = "1001") -> dict[str, Any]:
    """A Pub/Sub message carrying ``event`` by the bus convention."""
    return {
        "data": base64.b64encode(event.body).decode(),
        "attributes": sign_headers(secret, event.body, msg_id=event.id),
        "messageId": message_id,
        "publishTime": "2026-11-22T12:00:00Z",
    }


def push_body(message: dict[str, Any]) -> dict[str, Any]:
    return {"message": message, "subscription": "projects/p/subscriptions/runhook"}


def cloud_event(message: dict[str, Any]) -> dict[str, Any]:
    """A structured-mode CloudEvent of a Pub/Sub trigger."""
    return {
        "specversion": "1.0",
        "type": "google.cloud.pubsub.topic.v1.messagePublished",
        "source": "//pubsub.googleapis.com/projects/p/topics/runhook",
        "id": message["messageId"],
        "data": push_body(message),
    }


class TestHttp:
    def test_signed_post_is_processed_once(self, make_app: Build, secret: str) -> None:
        """A signed POST is processed (200); the same delivery again is a duplicate."""
        app, recorder = make_app(sync=True)
        client = serve(http_handler(app))
        event = make_event("gcf.one")
        headers = sign_headers(secret, event.body, msg_id=event.id)
        first = client.post("/", data=event.body, headers=headers)
        again = client.post("/", data=event.body, headers=headers)
        assert (first.status_code, first.json["status"]) == (200, "processed")
        assert (again.status_code, again.json["status"]) == (200, "duplicate")
        assert recorder.types() == ["gcf.one"]

    def test_bad_signature_is_401(self, make_app: Build) -> None:
        """A POST signed with another secret is refused with 401 and runs nothing."""
        app, recorder = make_app(sync=True)
        event = make_event("gcf.bad")
        response = serve(http_handler(app)).post(
            "/", data=event.body, headers=sign_headers(OTHER_SECRET, event.body)
        )
        assert response.status_code == 401 and recorder.seen == []

    def test_other_methods_get_405(self, make_app: Build) -> None:
        """A GET is answered 405 with Allow: POST."""
        app, _ = make_app(sync=True)
        response = serve(http_handler(app)).get("/")
        assert response.status_code == 405 and response.headers["allow"] == "POST"

    def test_oversized_body_is_413_before_reading(self, make_app: Build, secret: str) -> None:
        """A body far above the limit is refused with 413."""
        app, recorder = make_app(sync=True, max_body_bytes=1000)
        body = b"x" * 100_000
        response = serve(http_handler(app)).post("/", data=body, headers=sign_headers(secret, body))
        assert response.status_code == 413 and recorder.seen == []

    def test_function_carries_its_entry_point_name(self, make_app: Build) -> None:
        """The function's __name__ is the entry point functions-framework registers."""
        app, _ = make_app(sync=True)
        assert http_handler(app, name="entry").__name__ == "entry"
        assert cloud_event_handler(app, name="pubsub").__name__ == "pubsub"


class TestPubSubPush:
    def test_push_message_is_processed(self, make_app: Build, secret: str) -> None:
        """A push body whose message carries a signed envelope is processed (200)."""
        app, recorder = make_app(sync=True)
        message = pubsub_message(make_event("push.ok"), secret)
        response = serve(http_handler(app)).post("/", json=push_body(message))
        assert response.status_code == 200 and response.json["status"] == "processed"
        assert recorder.types() == ["push.ok"]

    def test_poison_push_is_acknowledged_not_retried(self, make_app: Build) -> None:
        """A push whose envelope is badly signed is answered 2xx (acknowledged, dropped), so
        Pub/Sub does not redeliver it; nothing runs."""
        app, recorder = make_app(sync=True)
        message = pubsub_message(make_event("push.bad"), OTHER_SECRET)
        response = serve(http_handler(app)).post("/", json=push_body(message))
        assert response.status_code == 200 and response.json["status"] == "dropped"
        assert response.json["error"]["code"] == "invalid_signature"
        assert recorder.seen == []

    def test_push_with_bad_base64_is_dropped(self, make_app: Build) -> None:
        """A push whose data is not base64 is acknowledged as poison."""
        app, _ = make_app(sync=True)
        body = push_body({"data": "***", "attributes": {}, "messageId": "1"})
        response = serve(http_handler(app)).post("/", json=body)
        assert response.status_code == 200 and response.json["status"] == "dropped"

    def test_failed_push_is_retried_by_redelivery(self, make_app: Build, secret: str) -> None:
        """A push whose handler fails gets a 5xx (Pub/Sub redelivers); the redelivery runs the
        handler again and succeeds."""
        app, recorder = make_app(sync=True, retry_backoff_s=0.0)
        failures = [RuntimeError("down")]

        @app.on("push.flaky")
        def flaky(event: Any, ctx: Any) -> None:
            if failures:
                raise failures.pop()

        client = serve(http_handler(app))
        body = push_body(pubsub_message(make_event("push.flaky"), secret))
        assert client.post("/", json=body).status_code >= 500
        assert client.post("/", json=body).status_code == 200
        assert recorder.types() == ["push.flaky", "push.flaky"]


class TestCloudEvent:
    def test_structured_cloud_event_is_processed(self, make_app: Build, secret: str) -> None:
        """A Pub/Sub CloudEvent (structured JSON) is processed; a second copy is not re-run."""
        app, recorder = make_app(sync=True)
        function = cloud_event_handler(app)
        ce = cloud_event(pubsub_message(make_event("ce.one"), secret))
        function(ce)
        function(ce)
        assert recorder.types() == ["ce.one"]

    def test_cloud_event_object_is_accepted(self, make_app: Build, secret: str) -> None:
        """An object with a .data attribute, as functions-framework passes, is accepted."""
        app, recorder = make_app(sync=True)
        ce = cloud_event(pubsub_message(make_event("ce.obj"), secret))
        cloud_event_handler(app)(types.SimpleNamespace(data=ce["data"]))
        assert recorder.types() == ["ce.obj"]

    def test_poison_returns_quietly(self, make_app: Build) -> None:
        """A badly signed message returns without raising (no redelivery) and runs nothing."""
        app, recorder = make_app(sync=True)
        cloud_event_handler(app)(cloud_event(pubsub_message(make_event("ce.x"), OTHER_SECRET)))
        assert recorder.seen == []

    def test_failure_raises_for_redelivery(self, make_app: Build, secret: str) -> None:
        """A message whose handler fails raises RetryDelivery naming the message and --retry."""
        app, _ = make_app(sync=True, retry_backoff_s=3600.0)

        @app.on("ce.fail")
        def fail(event: Any, ctx: Any) -> None:
            raise RuntimeError("down")

        ce = cloud_event(pubsub_message(make_event("ce.fail"), secret, message_id="77"))
        with pytest.raises(RetryDelivery, match=r"message 77 .*--retry"):
            cloud_event_handler(app)(ce)

    def test_event_without_message_is_ignored(self, make_app: Build) -> None:
        """A CloudEvent that carries no Pub/Sub message is dropped without raising."""
        app, recorder = make_app(sync=True)
        cloud_event_handler(app)({"specversion": "1.0", "data": {"bucket": "b"}})
        assert recorder.seen == []


def test_push_detection_ignores_signed_envelopes(make_app: Build, secret: str) -> None:
    """A signed POST whose JSON happens to have message and subscription keys is treated as
    an envelope (verified as such), not unwrapped as a push."""
    app, _ = make_app(sync=True)
    body = json.dumps({"message": {"data": ""}, "subscription": "s"}).encode()
    response = serve(http_handler(app)).post("/", data=body, headers=sign_headers(secret, body))
    assert response.status_code == 400  # verified, then not an envelope
