"""The Lambda adapters over a real pipeline (sync mode, real signatures, real stores)."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from runhook.app import App
from runhook.events.config import Settings
from runhook.events.envelope import Event
from runhook.events.errors import ConfigError
from runhook.events.signing import sign_headers
from runhook.events.sources.aws_lambda import handler
from runhook.events.store.redis import RedisStore
from runhook.events.testing import make_event
from tests.plugins.events import Recorder
from tests.plugins.redis import RedisServer

Build = Callable[..., tuple[App, Recorder]]
OTHER_SECRET = "whsec_b3RoZXItc2VjcmV0LW9mLTMyLWJ5dGVzLi4uLi4="


def sqs_record(
    event: Event, secret: str, message_id: str, *, sns: bool = False, fifo: bool = False
) -> dict[str, Any]:
    """An SQS record as Lambda delivers it: envelope body, signature message attributes."""
    headers = sign_headers(secret, event.body, msg_id=event.id)
    attributes = {
        k: {"stringValue": headers[k], "dataType": "String"}
        for k in ("webhook-id", "webhook-timestamp", "webhook-signature")
    }
    body = event.body.decode()
    if sns:  # an SNS topic fanning out to the queue, without raw message delivery
        body = json.dumps(
            {
                "Type": "Notification",
                "Message": body,
                "MessageAttributes": {
                    k: {"Type": "String", "Value": headers[k]} for k in attributes
                },
            }
        )
        attributes = {}
    return {
        "messageId": message_id,
        "eventSource": "aws:sqs",
        "body": body,
        "messageAttributes": attributes,
        "attributes": {"MessageGroupId": "g1"} if fifo else {},
    }


def http_api_event(event: Event, headers: dict[str, str], **extra: Any) -> dict[str, Any]:
    """An HTTP API (v2) / Function URL event."""
    return {
        "version": "2.0",
        "requestContext": {"http": {"method": "POST", "path": "/events"}},
        "headers": headers,
        "body": event.body.decode(),
        "isBase64Encoded": False,
        **extra,
    }


class TestHttp:
    def test_function_url_event_is_processed(self, make_app: Build, secret: str) -> None:
        """A signed, base64-encoded Function URL event is processed and answered 200."""
        app, recorder = make_app(sync=True)
        event = make_event("thread.run.completed")
        headers = {
            k.title(): v for k, v in sign_headers(secret, event.body, msg_id=event.id).items()
        }
        reply = handler(app)(
            http_api_event(
                event,
                headers,
                body=base64.b64encode(event.body).decode(),
                isBase64Encoded=True,
            ),
            None,
        )
        assert reply["statusCode"] == 200 and json.loads(reply["body"])["status"] == "processed"
        assert recorder.types() == ["thread.run.completed"]

    def test_rest_api_event_with_multi_value_headers(self, make_app: Build, secret: str) -> None:
        """A REST API (v1) event whose headers are only in multiValueHeaders is processed."""
        app, recorder = make_app(sync=True)
        event = make_event("rest.v1")
        headers = sign_headers(secret, event.body, msg_id=event.id)
        reply = handler(app.pipeline())(
            {
                "httpMethod": "POST",
                "requestContext": {"httpMethod": "POST"},
                "headers": None,
                "multiValueHeaders": {k.upper(): [v] for k, v in headers.items()},
                "body": event.body.decode(),
            },
            None,
        )
        assert reply["statusCode"] == 200 and recorder.types() == ["rest.v1"]

    def test_duplicate_is_not_run_again(self, make_app: Build, secret: str) -> None:
        """The same delivery twice is processed once; the second answer is 200 duplicate."""
        app, recorder = make_app(sync=True)
        event = make_event("dup.once")
        lam = handler(app)
        request = http_api_event(event, sign_headers(secret, event.body, msg_id=event.id))
        lam(request, None)
        reply = lam(request, None)
        assert reply["statusCode"] == 200 and json.loads(reply["body"])["status"] == "duplicate"
        assert recorder.types() == ["dup.once"]

    def test_bad_signature_is_401(self, make_app: Build) -> None:
        """An event signed with another secret gets a 401 proxy reply and runs nothing."""
        app, recorder = make_app(sync=True)
        event = make_event("x.y")
        reply = handler(app)(
            http_api_event(event, sign_headers(OTHER_SECRET, event.body, msg_id=event.id)), None
        )
        assert reply["statusCode"] == 401 and recorder.seen == []
        assert json.loads(reply["body"])["error"]["code"] == "invalid_signature"

    def test_unsigned_event_names_the_missing_header(self, make_app: Build) -> None:
        """An unsigned event gets a 401 naming the header it lacks."""
        app, _ = make_app(sync=True)
        reply = handler(app)(
            http_api_event(make_event("x.y"), {"content-type": "application/json"}), None
        )
        assert reply["statusCode"] == 401 and "webhook-id" in reply["body"]

    def test_other_methods_get_405(self, make_app: Build) -> None:
        """A GET on the function is answered 405 with Allow: POST."""
        app, _ = make_app(sync=True)
        event = {"requestContext": {"http": {"method": "GET"}}, "headers": {}, "body": None}
        reply = handler(app)(event, None)
        assert reply["statusCode"] == 405 and reply["headers"]["allow"] == "POST"

    def test_bad_base64_body_is_400(self, make_app: Build, secret: str) -> None:
        """A body flagged base64 that is not base64 is a 400, not an exception."""
        app, _ = make_app(sync=True)
        event = make_event("x.y")
        request = http_api_event(
            event, sign_headers(secret, event.body), body="***", isBase64Encoded=True
        )
        assert handler(app)(request, None)["statusCode"] == 400


class TestSqs:
    def test_batch_with_poison_and_duplicate(self, make_app: Build, secret: str) -> None:
        """Valid, SNS-wrapped, duplicate and badly signed records: the good ones run once, the
        poison one is dropped (not a batch failure)."""
        app, recorder = make_app(sync=True)
        first, second = make_event("a.one"), make_event("a.two")
        records = [
            sqs_record(first, secret, "m1"),
            sqs_record(second, secret, "m2", sns=True),
            sqs_record(first, secret, "m3"),
            sqs_record(make_event("a.bad"), OTHER_SECRET, "m4"),
        ]
        assert handler(app)({"Records": records}, None) == {"batchItemFailures": []}
        assert recorder.types() == ["a.one", "a.two"]

    def test_poison_is_logged_by_ids_only(
        self, make_app: Build, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A poison record is logged with its message id and reason code, never its body."""
        app, _ = make_app(sync=True)
        event = make_event("a.secret", note="do-not-log-me")
        with caplog.at_level(logging.WARNING, logger="runhook"):
            handler(app)({"Records": [sqs_record(event, OTHER_SECRET, "m7")]}, None)
        (record,) = [r for r in caplog.records if r.getMessage() == "poison message dropped"]
        assert record.__dict__["message_id"] == "m7"
        assert record.__dict__["code"] == "invalid_signature"
        assert "do-not-log-me" not in caplog.text and "do-not-log-me" not in str(record.__dict__)

    def test_failed_record_is_reported_and_runs_again_when_redelivered(
        self, make_app: Build, secret: str
    ) -> None:
        """A record whose handler raises is in batchItemFailures; SQS's redelivery runs the
        handler again, and once it succeeds the record is no longer reported."""
        app, recorder = make_app(sync=True, retry_backoff_s=0.0)
        failures = [RuntimeError("down")]

        @app.on("boom.*")
        def boom(event: Any, ctx: Any) -> None:
            if failures:
                raise failures.pop()

        lam = handler(app)
        batch = {"Records": [sqs_record(make_event("boom.now"), secret, "m9")]}
        assert lam(batch, None) == {"batchItemFailures": [{"itemIdentifier": "m9"}]}
        assert lam(batch, None) == {"batchItemFailures": []}
        assert lam(batch, None) == {"batchItemFailures": []}
        assert recorder.types() == ["boom.now", "boom.now"]

    def test_redelivery_before_the_retry_is_due_stays_failed(
        self, make_app: Build, secret: str
    ) -> None:
        """A redelivery that arrives before the failed event's retry is due is reported
        again without running the handler."""
        app, recorder = make_app(sync=True, retry_backoff_s=3600.0)

        @app.on("boom.*")
        def boom(event: Any, ctx: Any) -> None:
            raise RuntimeError("down")

        lam = handler(app)
        batch = {"Records": [sqs_record(make_event("boom.later"), secret, "m1")]}
        assert lam(batch, None) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
        assert lam(batch, None) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
        assert recorder.types() == ["boom.later"]

    def test_fifo_reports_everything_after_the_first_failure(
        self, make_app: Build, secret: str
    ) -> None:
        """On a FIFO queue the records after a failed one are reported without being run."""
        app, recorder = make_app(sync=True)

        @app.on("fifo.fail")
        def fail(event: Any, ctx: Any) -> None:
            raise RuntimeError("down")

        events = [make_event("fifo.ok"), make_event("fifo.fail"), make_event("fifo.after")]
        records = [sqs_record(e, secret, f"m{i}", fifo=True) for i, e in enumerate(events)]
        reply = handler(app)({"Records": records}, None)
        assert reply == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
        assert recorder.types() == ["fifo.ok", "fifo.fail"]

    @pytest.mark.redis
    def test_store_outage_fails_the_records_for_retry(
        self, secret: str, own_redis_server: RedisServer
    ) -> None:
        """While the Redis store is down every record is a batch item failure; redelivered
        after it is back, each is processed."""
        recorder = Recorder()
        app = App(
            settings=Settings(webhook_secrets=(secret,), sync=True),
            store=RedisStore(own_redis_server.url),
            include_defaults=False,
        )
        app.on("*")(recorder)
        lam = handler(app)
        batch = {"Records": [sqs_record(make_event(f"out.{i}"), secret, f"m{i}") for i in range(2)]}
        try:
            own_redis_server.stop()
            try:
                reply = lam(batch, None)
            finally:
                own_redis_server.start()
            assert reply == {
                "batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m1"}]
            }
            assert lam(batch, None) == {"batchItemFailures": []}
            assert recorder.types() == ["out.0", "out.1"]
        finally:
            app.close()


def test_unknown_event_shape_is_a_config_error(make_app: Build) -> None:
    """An event that is neither HTTP nor SQS raises a ConfigError naming the triggers."""
    app, _ = make_app(sync=True)
    with pytest.raises(ConfigError, match="check the function's triggers"):
        handler(app)({"source": "aws.events", "detail": {}}, None)
