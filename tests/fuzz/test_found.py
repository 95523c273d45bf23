"""What the fuzz suite found, pinned as plain tests."""

from __future__ import annotations

from runhook.app import App
from runhook.backends.base import ToolCall
from runhook.events.config import Settings
from runhook.events.signing import sign_headers
from runhook.events.sources.aws_lambda import handler
from runhook.events.sources.gcf import push_message
from runhook.events.store.memory import MemoryStore
from runhook.tools.registry import ToolRegistry
from runhook.tools.runner import prepare
from tests.fuzz.strategies import SECRET

DEEP = b"[" * 5000 + b"]" * 5000


def test_sqs_record_nested_too_deep_is_a_refusal() -> None:
    """An SQS body nested too deep for json (checked for an SNS wrapper) is refused, not raised."""
    app = App(
        settings=Settings(webhook_secrets=(SECRET,), sync=True),
        store=MemoryStore(),
        include_defaults=False,
    )
    headers = sign_headers(SECRET, DEEP, msg_id="msg_deep")
    record = {
        "eventSource": "aws:sqs",
        "messageId": "m1",
        "body": DEEP.decode(),
        "messageAttributes": {k: {"stringValue": v} for k, v in headers.items()},
    }
    assert handler(app)({"Records": [record]}, None) == {"batchItemFailures": []}


def test_pubsub_push_nested_too_deep_is_not_a_push() -> None:
    """A push body nested too deep is not taken for a Pub/Sub push (no RecursionError)."""
    assert push_message(DEEP) is None
    assert push_message(b'{"n": ' + b"9" * 5000 + b"}") is None


def test_tool_arguments_too_deep_are_an_error_output() -> None:
    """Tool-call arguments nested too deep (or with a huge number) become an error output."""
    registry = ToolRegistry()

    @registry.register
    def echo(text: str) -> str:
        """Echo.

        Args:
            text: what to echo.
        """
        return text

    for arguments in (DEEP.decode(), '{"text": ' + "9" * 5000 + "}"):
        result = prepare(ToolCall(id="call_1", name="echo", arguments=arguments), registry)
        assert isinstance(result, str) and "invalid_json" in result
