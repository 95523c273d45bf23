"""Fuzzing every entry point: random, mutated and hostile-but-signed deliveries never crash,
never answer 5xx (but 503 for a store outage), and never put the body or the secret in a log."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from random import Random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runhook.app import App
from runhook.events import keys
from runhook.events.config import Settings
from runhook.events.envelope import Event
from runhook.events.errors import MalformedEvent
from runhook.events.signing import sign_headers
from runhook.events.sources.aws_lambda import handler as lambda_handler
from runhook.events.sources.gcf import accept_pubsub
from runhook.events.sources.webhook import create_app
from runhook.events.store.memory import MemoryStore
from runhook.standin import StandinServer
from runhook.standin.state import StandinConfig
from tests.fuzz.strategies import (
    CANARY,
    SECRET,
    SECRET_KEY,
    bodies,
    envelopes,
    mutations,
    signed,
)
from tests.plugins.fuzz import CASES, captured_logs, examples

pytestmark = pytest.mark.fuzz

SECRET_FORMS = (SECRET, SECRET.removeprefix("whsec_"), SECRET_KEY.decode("latin-1"))


def assert_clean(text: str) -> None:
    """No canary (a piece of a body) and no form of the secret in ``text``."""
    assert CANARY not in text
    for form in SECRET_FORMS:
        assert form not in text


@pytest.fixture(scope="module")
def standin() -> Iterator[StandinServer]:
    """An OpenAI stand-in the default handlers can call (every hostile id is a 404 there)."""
    server = StandinServer(StandinConfig(latency_ms=0)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def app(standin: StandinServer) -> Iterator[App]:
    """An App with the default handlers, ack-then-process (each test processes by hand)."""
    settings = Settings(webhook_secrets=(SECRET,), max_attempts=1, deadline_margin_s=0)
    app = App(settings=settings, store=MemoryStore(), openai=standin.client(max_retries=0))
    yield app
    app.close()


@pytest.fixture(scope="module")
def sync_app(standin: StandinServer) -> Iterator[App]:
    """The same in sync mode, as serverless and bus entry points run it."""
    settings = Settings(webhook_secrets=(SECRET,), max_attempts=1, sync=True)
    app = App(settings=settings, store=MemoryStore(), openai=standin.client(max_retries=0))
    yield app
    app.close()


def process_accepted(app: App, reply: dict[str, Any], headers: dict[str, str]) -> None:
    """Run the handlers of an accepted delivery now (what the worker would do)."""
    if reply.get("status") == "accepted":
        app.pipeline().process(keys.event_key(headers["webhook-id"]))


def parse_clean(body: bytes) -> None:
    """Parse ``body``: an Event whose ids hold no canary, or a short clean MalformedEvent."""
    try:
        event = Event.parse(body)
    except MalformedEvent as exc:
        assert_clean(exc.reason)
        assert len(exc.reason) < 300
        return
    assert CANARY not in event.id + event.type + event.object_id


def variants(
    delivery: tuple[bytes, dict[str, str]], rnd: Random, count: int
) -> Iterator[tuple[bytes, dict[str, str]]]:
    """The delivery, then ``count`` mutations of its body, each signed again."""
    body, headers = delivery
    yield body, headers
    for i, mutant in enumerate(mutations(body, rnd, count)):
        msg_id = f"{headers.get('webhook-id', 'msg')[:200]}.m{i}"
        yield mutant, {**headers, **sign_headers(SECRET, mutant, msg_id=msg_id)}


class TestEnvelope:
    @settings(max_examples=examples(2_000))
    @given(bodies, st.randoms(use_true_random=False))
    def test_parse_raises_only_malformed_event(self, body: bytes, rnd: Random) -> None:
        """Event.parse of a body and 20 mutations of it: an Event or a clean MalformedEvent."""
        for case in [body, *mutations(body, rnd, 20)]:
            CASES["parse"] += 1
            parse_clean(case)

    @settings(max_examples=examples(2_000))
    @given(envelopes(), st.randoms(use_true_random=False))
    def test_parse_of_hostile_envelopes(self, body: bytes, rnd: Random) -> None:
        """Hostile envelopes (deep, huge numbers, wrong types) and 20 mutations of each."""
        for case in [body, *mutations(body, rnd, 20)]:
            CASES["parse-envelopes"] += 1
            parse_clean(case)


class TestWebhook:
    @settings(max_examples=examples(1_800))
    @given(signed(), st.randoms(use_true_random=False))
    def test_post_events(
        self, app: App, delivery: tuple[bytes, dict[str, str]], rnd: Random
    ) -> None:
        """POST /events answers 2xx/4xx as JSON, processing raises nothing, logs stay clean."""
        flask = create_app(app.pipeline())
        flask.testing = True  # an unhandled exception fails the test instead of a 500
        client = flask.test_client()
        for body, headers in variants(delivery, rnd, 4):
            CASES["webhook"] += 1
            with captured_logs() as logs:
                response = client.post("/events", data=body, headers=headers)
                assert response.status_code < 500, response.get_data()
                reply = response.get_json()
                assert isinstance(reply, dict)
                process_accepted(app, reply, headers)
            assert_clean(response.get_data(as_text=True))
            assert_clean(logs.text())


class TestServerless:
    @settings(max_examples=examples(1_800))
    @given(signed(), st.booleans(), st.randoms(use_true_random=False))
    def test_lambda_http(
        self, sync_app: App, delivery: tuple[bytes, dict[str, str]], b64: bool, rnd: Random
    ) -> None:
        """A Function URL / API Gateway event gets a proxy reply, never 5xx but 503."""
        handle = lambda_handler(sync_app)
        for body, headers in variants(delivery, rnd, 4):
            CASES["lambda-http"] += 1
            text = body.decode("utf-8", "replace")
            event = {
                "version": "2.0",
                "requestContext": {"http": {"method": "POST"}},
                "headers": headers,
                "isBase64Encoded": b64,
                "body": base64.b64encode(body).decode() if b64 else text,
            }
            with captured_logs() as logs:
                reply = handle(event, None)
            assert reply["statusCode"] < 500 or reply["statusCode"] == 503
            json.loads(reply["body"])
            assert_clean(reply["body"])
            assert_clean(logs.text())

    @settings(max_examples=examples(1_500))
    @given(st.lists(signed(), min_size=1, max_size=3))
    def test_lambda_sqs(
        self, sync_app: App, deliveries: list[tuple[bytes, dict[str, str]]]
    ) -> None:
        """An SQS batch is settled record by record; nothing raises, logs stay clean."""
        CASES["lambda-sqs"] += len(deliveries)
        records = [
            {
                "eventSource": "aws:sqs",
                "messageId": f"m{i}",
                "body": body.decode("utf-8", "replace"),
                "messageAttributes": {
                    k: {"stringValue": v, "dataType": "String"} for k, v in headers.items()
                },
            }
            for i, (body, headers) in enumerate(deliveries)
        ]
        with captured_logs() as logs:
            reply = lambda_handler(sync_app)({"Records": records}, None)
        assert set(reply) == {"batchItemFailures"}
        assert_clean(logs.text())

    @settings(max_examples=examples(1_800))
    @given(signed(), st.booleans(), st.randoms(use_true_random=False))
    def test_pubsub(
        self, sync_app: App, delivery: tuple[bytes, dict[str, str]], b64: bool, rnd: Random
    ) -> None:
        """A Pub/Sub message is answered 2xx/4xx (or 503); nothing raises, logs stay clean."""
        for body, headers in variants(delivery, rnd, 4):
            CASES["pubsub"] += 1
            data = base64.b64encode(body).decode() if b64 else body.decode("utf-8", "replace")
            message = {"data": data, "attributes": headers, "messageId": "p1"}
            with captured_logs() as logs:
                ack = accept_pubsub(sync_app.pipeline(), message)
            assert ack.status < 500 or ack.status == 503
            assert_clean(ack.json().decode())
            assert_clean(logs.text())
