"""The boot-time warm-up constructs one event of each kind the handlers model (``warm_models``);
its samples must stay what the handlers read, or the warm-up warms nothing."""

from __future__ import annotations

from openai.types.beta import AgentSession
from openai.types.beta.threads import Run
from openai.types.responses import Response

from runhook.backends import responses, sessions
from runhook.events.envelope import Event
from runhook.runtime import WARM_EVENTS


def _model(type_: str) -> object:
    data = dict(WARM_EVENTS)[type_]
    return Event.create(type_, data).model()


def test_each_sample_is_built_as_its_sdk_type() -> None:
    assert [type(Event.create(t, d).model()) for t, d in WARM_EVENTS] == [
        Run,
        Response,
        AgentSession,
    ]


def test_the_samples_hold_the_calls_the_backends_read() -> None:
    run = _model("thread.run.requires_action")
    assert isinstance(run, Run) and run.required_action is not None
    assert [c.function.name for c in run.required_action.submit_tool_outputs.tool_calls] == ["f"]
    response = _model("response.completed")
    assert isinstance(response, Response)
    assert [c.name for c in responses.function_calls(response.output)] == ["f"]
    pending = sessions.pending_of(_model("agent.session.requires_action"))
    assert [(c.name, c.arguments) for c in pending.calls] == [("f", "{}")]
