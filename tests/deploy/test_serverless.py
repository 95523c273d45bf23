"""The serverless entry files work as the platforms load them, and the SAM template agrees
with the adapters (no AWS account needed; cfn-lint is not run)."""

from __future__ import annotations

import ast
import json
import runpy
from typing import Any

import flask
import pytest

from runhook.events import defaults
from runhook.events.signing import sign_headers
from runhook.events.testing import make_event
from tests.plugins.deploy import DEPLOY, SECRET_VARIABLES, VARIABLES, load_yaml, settings_from


@pytest.fixture
def entry_env(monkeypatch: pytest.MonkeyPatch, secret: str) -> str:
    """The environment a serverless function gets: a secret and an in-process store."""
    for name in list(VARIABLES):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RUNHOOK_WEBHOOK_SECRET", secret)
    monkeypatch.setenv("RUNHOOK_STORE", "memory:")
    return secret


class TestEntryFiles:
    def test_lambda_function_serves_http_and_sqs(self, entry_env: str) -> None:
        """deploy/lambda_function.py's handler processes a Function URL event and an SQS
        batch before replying."""
        handler = runpy.run_path(str(DEPLOY / "lambda_function.py"))["handler"]
        event = make_event("thread.run.failed", id="run_http")
        headers = sign_headers(entry_env, event.body, msg_id=event.id)
        reply = handler(
            {
                "requestContext": {"http": {"method": "POST"}},
                "headers": headers,
                "body": event.body.decode(),
            },
            None,
        )
        assert reply["statusCode"] == 200
        assert json.loads(reply["body"])["status"] == "processed"
        queued = make_event("thread.run.failed", id="run_sqs")
        headers = sign_headers(entry_env, queued.body, msg_id=queued.id)
        record = {
            "messageId": "m1",
            "eventSource": "aws:sqs",
            "body": queued.body.decode(),
            "messageAttributes": {
                k: {"stringValue": v, "dataType": "String"} for k, v in headers.items()
            },
        }
        assert handler({"Records": [record]}, None) == {"batchItemFailures": []}

    def test_gcf_main_serves_http(self, entry_env: str) -> None:
        """deploy/gcf_main.py's `entry` processes a signed POST; `pubsub` is a function too,
        both named for their entry points, without functions-framework installed."""
        module = runpy.run_path(str(DEPLOY / "gcf_main.py"))
        entry, pubsub = module["entry"], module["pubsub"]
        assert (entry.__name__, pubsub.__name__) == ("entry", "pubsub")
        server = flask.Flask("gcf-entry")
        server.add_url_rule("/", "run", lambda: entry(flask.request), methods=["POST"])
        event = make_event("thread.run.failed", id="run_gcf")
        response = server.test_client().post(
            "/", data=event.body, headers=sign_headers(entry_env, event.body, msg_id=event.id)
        )
        assert response.status_code == 200
        assert json.loads(response.data)["status"] == "processed"


def template() -> dict[str, Any]:
    (doc,) = load_yaml(DEPLOY / "template.yaml")
    return dict(doc)


def functions() -> dict[str, dict[str, Any]]:
    resources = template()["Resources"]
    return {n: r for n, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}


def function_env(name: str) -> dict[str, Any]:
    env = dict(template()["Globals"]["Function"]["Environment"]["Variables"])
    env.update(functions()[name]["Properties"].get("Environment", {}).get("Variables", {}))
    return env


def queue_function() -> tuple[str, dict[str, Any]]:
    for name, function in functions().items():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS":
                return name, event["Properties"]
    raise AssertionError("no function has an SQS event")


class TestSamTemplate:
    def test_handler_is_the_entry_file(self) -> None:
        """The functions' Handler names deploy/lambda_function.py's `handler`, copied to the
        code folder's top beside the installed runhook (the template's build comment)."""
        handler = template()["Globals"]["Function"]["Handler"]
        module, _, attr = handler.rpartition(".")
        assert f"cp deploy/{module}.py dist/lambda/" in (DEPLOY / "template.yaml").read_text()
        path = DEPLOY / (module.replace(".", "/") + ".py")
        tree = ast.parse(path.read_text())
        names = {
            t.id
            for n in tree.body
            if isinstance(n, ast.Assign)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        assert attr in names
        assert template()["Transform"] == "AWS::Serverless-2016-10-31"

    def test_http_route_is_post_events(self) -> None:
        """One function serves POST /events through an HTTP API."""
        routes = [
            (e["Properties"]["Method"], e["Properties"]["Path"])
            for f in functions().values()
            for e in f["Properties"].get("Events", {}).values()
            if e["Type"] == "HttpApi"
        ]
        assert routes == [("POST", "/events")]

    def test_queue_reports_partial_failures_and_redrives_to_a_dlq(self) -> None:
        """The SQS event reports batch item failures; its queue redrives to a dead-letter
        queue defined in the template, and hides a batch longer than Lambda may retry it."""
        name, event = queue_function()
        assert "ReportBatchItemFailures" in event["FunctionResponseTypes"]
        resources = template()["Resources"]
        queue_name = event["Queue"]["!GetAtt"].split(".")[0]
        queue = resources[queue_name]["Properties"]
        dlq_name = queue["RedrivePolicy"]["deadLetterTargetArn"]["!GetAtt"].split(".")[0]
        assert resources[dlq_name]["Type"] == "AWS::SQS::Queue" and dlq_name != queue_name
        assert queue["RedrivePolicy"]["maxReceiveCount"] >= 1
        timeout = functions()[name]["Properties"].get(
            "Timeout", template()["Globals"]["Function"]["Timeout"]
        )
        assert queue["VisibilityTimeout"] >= 6 * timeout

    def test_functions_outlive_their_slowest_tool(self) -> None:
        """In sync mode a function runs the tools before it returns: its timeout leaves room
        for the slowest tool plus the submit."""
        for name, function in functions().items():
            timeout = function["Properties"].get(
                "Timeout", template()["Globals"]["Function"]["Timeout"]
            )
            plain = {k: v for k, v in function_env(name).items() if isinstance(v, str)}
            assert timeout >= settings_from(plain).tool_timeout_s + 30, name

    def test_queue_signature_window_covers_retention_and_stays_deduplicated(self) -> None:
        """The queue function accepts signatures as old as the queue keeps messages, and no
        older than processed ids are remembered."""
        name, event = queue_function()
        queue_name = event["Queue"]["!GetAtt"].split(".")[0]
        retention = template()["Resources"][queue_name]["Properties"]["MessageRetentionPeriod"]
        plain = {k: v for k, v in function_env(name).items() if isinstance(v, str)}
        settings = settings_from(plain)
        assert retention <= settings.signature_tolerance_s < defaults.COMPLETED_TTL_S

    def test_variables_are_known_and_secrets_resolved_at_deploy(self) -> None:
        """Every variable is one runhook reads, sync mode is on, and secrets are dynamic
        references to Secrets Manager rather than plain values."""
        for name in functions():
            env = function_env(name)
            assert set(env) <= VARIABLES, name
            assert settings_from({k: v for k, v in env.items() if isinstance(v, str)}).sync
            for var in (SECRET_VARIABLES - {"RUNHOOK_STORE"}) & set(env):
                assert "{{resolve:secretsmanager:" in env[var]["!Sub"], (name, var)
