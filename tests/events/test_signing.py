"""Standard Webhooks signatures: interop both ways, rotation, and every failure's reason."""

from __future__ import annotations

import base64
import json

import pytest
import standardwebhooks
from openai import OpenAI

from runhook.events.errors import SignatureError
from runhook.events.signing import sign_headers, verify

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
BODY = json.dumps(
    {
        "id": "evt_1",
        "object": "event",
        "type": "response.completed",
        "created_at": 1,
        "data": {"id": "resp_1"},
    }
).encode()


class TestInterop:
    def test_openai_sdk_accepts_ours(self) -> None:
        """What runhook signs passes the openai SDK's verify_signature and unwrap."""
        headers = sign_headers(SECRET, BODY)
        client = OpenAI(api_key="x", webhook_secret=SECRET)
        client.webhooks.verify_signature(BODY.decode(), headers)
        assert client.webhooks.unwrap(BODY.decode(), headers).type == "response.completed"

    def test_standardwebhooks_accepts_ours(self) -> None:
        """What runhook signs passes the standardwebhooks package."""
        standardwebhooks.Webhook(SECRET).verify(BODY, sign_headers(SECRET, BODY))

    def test_we_accept_standardwebhooks(self) -> None:
        """What the standardwebhooks package signs passes runhook."""
        from datetime import UTC, datetime

        wh = standardwebhooks.Webhook(SECRET)
        now = datetime.now(UTC)
        signature = wh.sign("msg_1", now, BODY.decode())
        headers = {
            "webhook-id": "msg_1",
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
        }
        assert verify([SECRET], headers, BODY) == "msg_1"

    def test_rotation(self) -> None:
        """A delivery signed with both old and new secrets verifies under either."""
        new = "whsec_" + base64.b64encode(b"n" * 32).decode()
        headers = sign_headers([SECRET, new], BODY)
        assert len(headers["webhook-signature"].split()) == 2
        assert verify([new], headers, BODY) and verify([SECRET], headers, BODY)


class TestReasons:
    @pytest.mark.parametrize(
        ("change", "reason"),
        [
            ({"webhook-id": ""}, "missing webhook-id header"),
            ({"webhook-timestamp": "soon"}, "webhook-timestamp 'soon' is not an integer unix time"),
            ({"webhook-timestamp": "1000"}, "s old (tolerance 300 s)"),
            ({"webhook-timestamp": "99999999999"}, "s in the future (tolerance 300 s)"),
            ({"webhook-signature": "v2,abc"}, "no well-formed v1 signature"),
            ({"webhook-signature": "v1,!!!notbase64"}, "no well-formed v1 signature"),
            (
                {"webhook-signature": "v1," + base64.b64encode(b"x" * 32).decode()},
                "no v1 signature matched",
            ),
        ],
    )
    def test_each_failure_names_its_problem(self, change: dict[str, str], reason: str) -> None:
        """Every failure is a SignatureError whose reason names the header and the problem."""
        headers = {**sign_headers(SECRET, BODY), **change}
        with pytest.raises(SignatureError) as exc:
            verify([SECRET], headers, BODY)
        assert reason in exc.value.reason
        assert exc.value.status == 401

    def test_tampered_body(self) -> None:
        """A changed body does not verify."""
        headers = sign_headers(SECRET, BODY)
        with pytest.raises(SignatureError, match="no v1 signature matched"):
            verify([SECRET], headers, BODY + b" ")
