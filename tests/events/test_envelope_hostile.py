"""Correctly signed but hostile envelopes: a 400 with a short reason, never a 500 or a leak."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from openai.types.beta.threads import Run

from runhook.app import App
from runhook.backends.assistants import pending_of
from runhook.events.envelope import MAX_DEPTH, Event
from runhook.events.errors import MalformedEvent, SignatureError
from runhook.events.signing import sign_headers, verify
from runhook.events.sources.webhook import create_app

CANARY = "CANARYqx7"
Build = Callable[..., tuple[App, Any]]


def envelope(**fields: Any) -> bytes:
    base: dict[str, Any] = {"id": "evt_1", "object": "event", "type": "x.y", "created_at": 1}
    base["data"] = {"id": "obj_1"}
    return json.dumps({**base, **fields}).encode()


def nested(depth: int) -> Any:
    value: Any = CANARY
    for _ in range(depth):
        value = [value]
    return value


HOSTILE = {
    "deep-array": b"[" * 100_000 + b"]" * 100_000,
    "deep-object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "deep-data": envelope(data={"id": "obj_1", "x": nested(MAX_DEPTH + 5)}),
    "huge-int": b'{"id":"evt_1","type":"x.y","created_at":' + b"9" * 5000 + b',"data":{"id":"a"}}',
    "huge-int-nested": b'{"id":"evt_1","type":"x.y","created_at":1,"data":{"id":"a","n":'
    + b"1" * 4301
    + b"}}",
    "not-utf8": b'{"id":"\xff' + CANARY.encode() + b'"}',
    "object-echo": envelope(object=CANARY * 100),
    "object-list": envelope(object=[CANARY]),
    "id-long": envelope(id="evt_" + CANARY * 60),
    "id-spaces": envelope(id=f"evt {CANARY}"),
    "type-newline": envelope(type=f"x.y\n{CANARY}"),
    "data-id-dict": envelope(data={"id": {"x": CANARY}}),
    "data-id-long": envelope(data={"id": CANARY * 100}),
    "created-at-str": envelope(created_at=CANARY),
    "bad-json": b'{"id": "evt_1", ' + CANARY.encode(),
    "array": json.dumps([CANARY]).encode(),
    "nan-data": b'{"id":"evt_1","type":"x.y","created_at":1,"data":NaN}',
}


class TestParse:
    @pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
    def test_malformed_with_a_short_clean_reason(self, body: bytes) -> None:
        """Every hostile body is MalformedEvent whose reason is short and quotes nothing of it."""
        with pytest.raises(MalformedEvent) as exc:
            Event.parse(body)
        assert CANARY not in exc.value.reason and len(exc.value.reason) < 200

    def test_depth_at_the_limit_parses(self) -> None:
        """Nesting up to MAX_DEPTH levels is accepted."""
        event = Event.parse(envelope(data={"id": "obj_1", "x": nested(MAX_DEPTH - 2)}))
        assert event.object_id == "obj_1"


class TestOverHttp:
    @pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
    def test_signed_hostile_body_is_json_400_and_not_logged(
        self, make_app: Build, secret: str, body: bytes, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A signed hostile envelope gets a JSON 400 and no log line holds a piece of it."""
        app, _ = make_app()
        client = create_app(app.pipeline()).test_client()
        headers = {**sign_headers(secret, body, msg_id="msg_1"), "content-type": "application/json"}
        with caplog.at_level(logging.DEBUG, logger="runhook"):
            response = client.post("/events", data=body, headers=headers)
        assert response.status_code == 400
        assert response.json["error"]["code"] == "malformed_event"
        assert CANARY not in response.get_data(as_text=True)
        assert not [r for r in caplog.records if CANARY in r.getMessage() + str(vars(r))]


class TestHeaders:
    @pytest.mark.parametrize("msg_id", ["m" * 300, f"msg {CANARY}", f"msg\t{CANARY}"])
    def test_webhook_id_must_be_a_short_token(self, secret: str, msg_id: str) -> None:
        """A webhook-id that is long or has spaces is refused without being quoted."""
        body = envelope()
        headers = sign_headers(secret, body, msg_id=msg_id, timestamp=1000)
        with pytest.raises(SignatureError) as exc:
            verify([secret], headers, body, now=lambda: 1000.0)
        assert "webhook-id" in exc.value.reason and CANARY not in exc.value.reason


class TestPayloadFields:
    def test_hostile_status_and_expires_at_are_not_kept(self) -> None:
        """A full payload's odd status and expires_at never reach PendingCalls (nor a log)."""
        run = Run.construct(
            id="run_1", thread_id="th_1", status=CANARY * 50, expires_at=CANARY, tools=[]
        )
        pending = pending_of(run)
        assert pending.status == "invalid" and pending.expires_at is None

    def test_hostile_fields_of_a_payload_mapping_are_not_kept(self) -> None:
        """The same holds for a run read straight from a full event's JSON (no SDK model)."""
        run = {"id": "run_1", "thread_id": "th_1", "status": CANARY * 50, "expires_at": CANARY}
        pending = pending_of(run)
        assert pending.status == "invalid" and pending.expires_at is None
        assert pending.raw is run

    @pytest.mark.parametrize("value", [float("nan"), float("inf"), "soon", [1]])
    def test_expires_at_that_is_not_a_number_is_ignored(self, value: object) -> None:
        """expires_at is kept only when it is a finite number."""
        run = Run.construct(id="run_1", thread_id="th_1", status="queued", expires_at=value)
        assert pending_of(run).expires_at is None
