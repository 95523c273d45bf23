"""The official SDK, unchanged, against the stand-in over real HTTP (issue 2's checklist)."""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import httpx2
import openai
import pytest
from openai import AssistantEventHandler, OpenAI

from runhook.standin import StandinServer
from tests.plugins.standin import FN_TOOL


def setup_run(client: OpenAI, text: str, **run: Any) -> tuple[str, str, Any]:
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[FN_TOOL])  # type: ignore[list-item]
    thread = client.beta.threads.create(messages=[{"role": "user", "content": text}])
    result = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=10, **run
    )
    return assistant.id, thread.id, result


def outputs_for(run: Any, fmt: str = "out:{}") -> list[dict[str, str]]:
    calls = run.required_action.submit_tool_outputs.tool_calls
    return [{"tool_call_id": c.id, "output": fmt.format(c.function.arguments)} for c in calls]


def api_message(exc: openai.APIStatusError) -> str:
    """The API's own error message (the SDK prefixes ``exc.message`` with the status)."""
    body: Any = exc.body
    return str(body["message"] if isinstance(body, dict) and "message" in body else body)


def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


class TestPolling:
    def test_create_and_poll_then_submit_and_poll(self, openai_client: OpenAI) -> None:
        """A call directive stops the run in requires_action; the submit completes it and the
        final message quotes the output."""
        _, thread_id, run = setup_run(openai_client, 'call lookup {"q": "x"}')
        assert run.status == "requires_action"
        assert run.expires_at == run.created_at + 600
        (call,) = run.required_action.submit_tool_outputs.tool_calls
        assert (call.type, call.function.name, call.function.arguments) == (
            "function",
            "lookup",
            '{"q": "x"}',
        )
        assert call.id.startswith("call_") and len(call.id) == 29
        done = openai_client.beta.threads.runs.submit_tool_outputs_and_poll(
            thread_id=thread_id, run_id=run.id, tool_outputs=outputs_for(run), poll_interval_ms=10
        )
        assert done.status == "completed" and done.expires_at is None
        message = openai_client.beta.threads.messages.list(thread_id=thread_id).data[0]
        assert message.content[0].text.value == 'lookup: out:{"q": "x"}'  # type: ignore[union-attr]

    def test_create_and_run_poll_without_tools(self, openai_client: OpenAI) -> None:
        """create_and_run_poll with no directive completes with the plain reply."""
        assistant = openai_client.beta.assistants.create(model="gpt-4o")
        run = openai_client.beta.threads.create_and_run_poll(
            assistant_id=assistant.id,
            thread={"messages": [{"role": "user", "content": "hello"}]},
            poll_interval_ms=10,
        )
        assert run.status == "completed"

    def test_parallel_calls_come_in_one_wait(self, openai_client: OpenAI) -> None:
        """Two call lines with parallel_tool_calls give one wait with two calls."""
        _, _, run = setup_run(openai_client, 'call lookup {"q": 1}\ncall lookup {"q": 2}')
        assert len(run.required_action.submit_tool_outputs.tool_calls) == 2

    def test_serial_calls_take_rounds_in_one_window(self, openai_client: OpenAI) -> None:
        """Without parallel tool calls each call is its own round, with new call ids."""
        _, thread_id, run = setup_run(
            openai_client, 'call lookup {"q": 1}\ncall lookup {"q": 2}', parallel_tool_calls=False
        )
        first = run.required_action.submit_tool_outputs.tool_calls
        assert len(first) == 1
        second = openai_client.beta.threads.runs.submit_tool_outputs_and_poll(
            thread_id=thread_id, run_id=run.id, tool_outputs=outputs_for(run), poll_interval_ms=10
        )
        assert second.status == "requires_action"
        assert second.expires_at == run.expires_at
        assert second.required_action.submit_tool_outputs.tool_calls[0].id != first[0].id  # type: ignore[union-attr]
        final = openai_client.beta.threads.runs.submit_tool_outputs_and_poll(
            thread_id=thread_id,
            run_id=run.id,
            tool_outputs=outputs_for(second),
            poll_interval_ms=10,
        )
        assert final.status == "completed"

    def test_url_in_plain_text_calls_the_url_tool(self, openai_client: OpenAI) -> None:
        """A message naming a URL calls the assistant's single-string url tool with it."""
        tool = {
            "type": "function",
            "function": {
                "name": "fetch_url",
                "parameters": {"type": "object", "properties": {"url": {"type": "string"}}},
            },
        }
        assistant = openai_client.beta.assistants.create(model="gpt-4o", tools=[tool])  # type: ignore[list-item]
        thread = openai_client.beta.threads.create(
            messages=[{"role": "user", "content": "Summarise http://example.test/page please"}]
        )
        run = openai_client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=10
        )
        (call,) = run.required_action.submit_tool_outputs.tool_calls  # type: ignore[union-attr]
        assert json.loads(call.function.arguments) == {"url": "http://example.test/page"}

    def test_fail_directive(self, openai_client: OpenAI) -> None:
        """`fail <code> <message>` fails the run with that last_error."""
        _, _, run = setup_run(openai_client, "fail rate_limit_exceeded slow down")
        assert run.status == "failed"
        assert (run.last_error.code, run.last_error.message) == ("rate_limit_exceeded", "slow down")  # type: ignore[union-attr]

    def test_poll_after_header_sets_the_sdk_interval(self, standin_factory: Any) -> None:
        """The SDK poll helper uses openai-poll-after-ms: with 1 ms and 300 ms of model time
        it makes many GETs; the request log shows them."""
        server = standin_factory(latency_ms=300, poll_after_ms=1)
        _, _, run = setup_run(server.client(max_retries=0), "hello")
        gets = server.stats()["requests"]["GET /v1/threads/{tid}/runs/{rid}"]
        assert run.status == "completed" and gets >= 3


class TestStreaming:
    def test_stream_with_submit_inside_on_event(self, openai_client: OpenAI) -> None:
        """runs.stream ends at requires_action; submit_tool_outputs_stream from on_event
        continues it; tool-call callbacks fire with the arguments."""
        client = openai_client
        seen: dict[str, Any] = {"created": [], "done": [], "final": None, "events": []}

        class Handler(AssistantEventHandler):
            def on_tool_call_created(self, tool_call: Any) -> None:
                seen["created"].append(tool_call.function.name)

            def on_tool_call_done(self, tool_call: Any) -> None:
                seen["done"].append(tool_call.function.arguments)

            def on_event(self, event: Any) -> None:
                seen["events"].append(event.event)
                if event.event == "thread.run.requires_action":
                    run = self.current_run
                    assert run is not None
                    with client.beta.threads.runs.submit_tool_outputs_stream(
                        thread_id=run.thread_id,
                        run_id=run.id,
                        tool_outputs=outputs_for(event.data, "R"),  # type: ignore[arg-type]
                        event_handler=AssistantEventHandler(),
                    ) as stream:
                        stream.until_done()
                        seen["final"] = stream.get_final_messages()[0].content[0].text.value  # type: ignore[union-attr]

        assistant = client.beta.assistants.create(model="gpt-4o", tools=[FN_TOOL])  # type: ignore[list-item]
        thread = client.beta.threads.create(
            messages=[{"role": "user", "content": 'call lookup {"q": "s"}'}]
        )
        with client.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id=assistant.id, event_handler=Handler()
        ) as stream:
            stream.until_done()
        assert seen["created"] == ["lookup"]
        assert '{"q": "s"}' in seen["done"]
        assert seen["final"] == "lookup: R"
        assert seen["events"][:3] == [
            "thread.run.created",
            "thread.run.queued",
            "thread.run.in_progress",
        ]
        assert seen["events"][-1] == "thread.run.requires_action"

    def test_wire_framing_and_done(self, standin: StandinServer) -> None:
        """Every frame is `event:`/one-line `data:`; the stream ends with done/[DONE]; only
        POST /threads/runs streams start with thread.created."""
        client = standin.client()
        assistant = client.beta.assistants.create(model="gpt-4o")
        headers = {"OpenAI-Beta": "assistants=v2", "authorization": "Bearer x"}
        body = {
            "assistant_id": assistant.id,
            "stream": True,
            "thread": {"messages": [{"role": "user", "content": "hi"}]},
        }
        with httpx2.stream(
            "POST", f"{standin.base_url}/threads/runs", json=body, headers=headers, trust_env=False
        ) as r:
            text = r.read().decode()
        assert r.headers["content-type"].startswith("text/event-stream")
        frames = [f for f in text.split("\n\n") if f]
        names = [f.split("\n")[0].removeprefix("event: ") for f in frames]
        assert names[0] == "thread.created" and names[-1] == "done"
        assert frames[-1] == "event: done\ndata: [DONE]"
        assert all(len(f.split("\n")) == 2 for f in frames)
        assert names[-2] == "thread.run.completed"


class TestErrors:
    def test_submit_after_completion_is_the_exact_400(self, openai_client: OpenAI) -> None:
        """A second submit after the run moved on gets `Runs in status "queued"...` or the
        completed status."""
        _, thread_id, run = setup_run(openai_client, 'call lookup {"q": 1}')
        openai_client.beta.threads.runs.submit_tool_outputs(
            thread_id=thread_id, run_id=run.id, tool_outputs=outputs_for(run)
        )
        with pytest.raises(openai.BadRequestError) as exc:
            openai_client.beta.threads.runs.submit_tool_outputs(
                thread_id=thread_id, run_id=run.id, tool_outputs=outputs_for(run)
            )
        assert "do not accept tool outputs." in str(exc.value)
        assert str(exc.value).startswith('Error code: 400 - Runs in status "')

    def test_missing_outputs(self, openai_client: OpenAI) -> None:
        """Submitting only some outputs names the expected and given call ids."""
        _, thread_id, run = setup_run(openai_client, 'call lookup {"q": 1}\ncall lookup {"q": 2}')
        outs = outputs_for(run)
        with pytest.raises(openai.BadRequestError) as exc:
            openai_client.beta.threads.runs.submit_tool_outputs(
                thread_id=thread_id, run_id=run.id, tool_outputs=outs[:1]
            )
        ids = [o["tool_call_id"] for o in outs]
        assert (
            api_message(exc.value) == f"Expected tool outputs for call_ids {ids!r}, got {ids[:1]!r}"
        )

    def test_output_too_long(self, openai_client: OpenAI) -> None:
        """One output above 1,048,576 characters is refused with param and code."""
        _, thread_id, run = setup_run(openai_client, 'call lookup {"q": 1}')
        outs = [{"tool_call_id": outputs_for(run)[0]["tool_call_id"], "output": "x" * 1_048_577}]
        with pytest.raises(openai.BadRequestError) as exc:
            openai_client.beta.threads.runs.submit_tool_outputs(
                thread_id=thread_id, run_id=run.id, tool_outputs=outs
            )
        assert exc.value.code == "string_above_max_length"
        assert exc.value.param == "tool_outputs[0].output"

    def test_combined_outputs_too_large(self, openai_client: OpenAI) -> None:
        """Outputs that together reach 512 KB are refused."""
        _, thread_id, run = setup_run(openai_client, 'call lookup {"q": 1}\ncall lookup {"q": 2}')
        outs = [{**o, "output": "y" * 300_000} for o in outputs_for(run)]
        with pytest.raises(openai.BadRequestError) as exc:
            openai_client.beta.threads.runs.submit_tool_outputs(
                thread_id=thread_id, run_id=run.id, tool_outputs=outs
            )
        assert (
            api_message(exc.value)
            == "'tool_outputs' too large: the combined tool outputs must be less than 512kb."
        )

    def test_thread_lock(self, openai_client: OpenAI) -> None:
        """While a run waits, new runs and new messages on its thread are refused."""
        assistant_id, thread_id, run = setup_run(openai_client, 'call lookup {"q": 1}')
        with pytest.raises(openai.BadRequestError) as exc:
            openai_client.beta.threads.runs.create(thread_id=thread_id, assistant_id=assistant_id)
        assert api_message(exc.value) == f"Thread {thread_id} already has an active run {run.id}."
        with pytest.raises(openai.BadRequestError) as exc2:
            openai_client.beta.threads.messages.create(
                thread_id=thread_id, role="user", content="x"
            )
        assert (
            api_message(exc2.value)
            == f"Can't add messages to {thread_id} while a run {run.id} is active."
        )

    def test_unknown_ids_are_404(self, openai_client: OpenAI) -> None:
        """Unknown thread and run ids answer 404 with the real wording."""
        with pytest.raises(openai.NotFoundError) as exc:
            openai_client.beta.threads.retrieve("thread_nope")
        assert api_message(exc.value) == "No thread found with id 'thread_nope'."
        thread = openai_client.beta.threads.create()
        with pytest.raises(openai.NotFoundError) as exc2:
            openai_client.beta.threads.runs.retrieve("run_nope", thread_id=thread.id)
        assert api_message(exc2.value) == "No run found with id 'run_nope'."

    def test_missing_beta_header(self, standin: StandinServer) -> None:
        """Without OpenAI-Beta the Assistants routes answer the invalid_beta 400."""
        r = httpx2.get(
            f"{standin.base_url}/assistants", headers={"authorization": "Bearer x"}, trust_env=False
        )
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "invalid_beta"
        assert r.headers["x-request-id"].startswith("req_")

    def test_unknown_body_key(self, openai_client: OpenAI) -> None:
        """Unknown request keys are refused like the real API refuses them."""
        with pytest.raises(openai.BadRequestError) as exc:
            openai_client.beta.threads.create(extra_body={"bogus": 1})
        assert api_message(exc.value) == "Unrecognized request argument supplied: bogus"


class TestLifecycle:
    def test_cancel_then_cancel_again(self, openai_client: OpenAI) -> None:
        """A waiting run can be cancelled; cancelling it again once cancelled is a 400."""
        _, thread_id, run = setup_run(openai_client, 'call lookup {"q": 1}')
        assert (
            openai_client.beta.threads.runs.cancel(run.id, thread_id=thread_id).status
            == "cancelling"
        )
        final = openai_client.beta.threads.runs.poll(
            run.id, thread_id=thread_id, poll_interval_ms=10
        )
        assert final.status == "cancelled" and final.cancelled_at is not None
        with pytest.raises(openai.BadRequestError) as exc:
            openai_client.beta.threads.runs.cancel(run.id, thread_id=thread_id)
        assert api_message(exc.value) == "Cannot cancel run with status 'cancelled'."

    def test_expiry_without_anyone_looking(self, standin_factory: Any) -> None:
        """Past expires_at the run and its open step are expired, and a late submit gets the
        exact 400, even though nobody polled meanwhile."""
        server = standin_factory(expires_after_s=1)
        client = server.client(max_retries=0)
        assistant = client.beta.assistants.create(model="gpt-4o", tools=[FN_TOOL])  # type: ignore[list-item]
        thread_id = client.beta.threads.create(
            messages=[{"role": "user", "content": 'call lookup {"q": 1}'}]
        ).id
        # No polling helper here: on a loaded machine it could return after the 1 s window,
        # with required_action already cleared. The call ids are read from the step instead.
        run = client.beta.threads.runs.create(thread_id=thread_id, assistant_id=assistant.id)
        wait_until(
            lambda: (
                "thread.run.expired"
                in httpx2.get(
                    f"{server.root_url}/_standin/runs/{run.id}/events", trust_env=False
                ).json()
            ),
            timeout=10,
        )
        steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread_id).data
        assert steps[0].status == "expired" and steps[0].expired_at is not None
        details: Any = steps[0].step_details
        late = [{"tool_call_id": call.id, "output": "late"} for call in details.tool_calls]
        assert late
        with pytest.raises(openai.BadRequestError) as exc:
            client.beta.threads.runs.submit_tool_outputs(
                thread_id=thread_id, run_id=run.id, tool_outputs=late
            )
        assert api_message(exc.value) == 'Runs in status "expired" do not accept tool outputs.'


class TestFaults:
    def test_sdk_retries_injected_429s(self, standin_factory: Any) -> None:
        """With every other request answered 429 (retry-after 0), the SDK's retries still
        complete the run; the stand-in counted the extra requests."""
        server = standin_factory(fault_429=0.5, retry_after_s=0, seed=7)
        client = server.client(max_retries=10)
        _, _, run = setup_run(client, "hello")
        assert run.status == "completed"
        stats = server.stats()
        assert stats["total"] > 4

    def test_injected_500_surfaces_without_retries(self, standin_factory: Any) -> None:
        """With every request failing and SDK retries off, the SDK raises InternalServerError."""
        server = standin_factory(fault_500=1.0)
        with pytest.raises(openai.InternalServerError):
            server.client(max_retries=0).beta.assistants.create(model="gpt-4o")


class TestLists:
    def test_message_pagination(self, openai_client: OpenAI) -> None:
        """Messages list honours order, limit and after, with has_more."""
        thread = openai_client.beta.threads.create(
            messages=[{"role": "user", "content": str(i)} for i in range(5)]
        )
        page = openai_client.beta.threads.messages.list(thread_id=thread.id, order="asc", limit=2)
        assert [m.content[0].text.value for m in page.data] == ["0", "1"]  # type: ignore[union-attr]
        assert page.has_more
        rest = openai_client.beta.threads.messages.list(
            thread_id=thread.id, order="asc", after=page.data[-1].id
        )
        assert [m.content[0].text.value for m in rest.data] == ["2", "3", "4"]  # type: ignore[union-attr]


def test_connections_are_kept_open() -> None:
    """Like the API, a stand-in with ``keep_alive`` keeps an HTTP/1.1 connection open across
    requests, bodies and errors included, so clients reuse it instead of connecting per call."""
    with StandinServer(keep_alive=True) as standin, httpx2.Client(trust_env=False) as http:
        base, headers = standin.base_url, {"OpenAI-Beta": "assistants=v2"}
        created = http.post(f"{base}/threads", json={"metadata": {"a": "b"}}, headers=headers)
        missing = http.post(f"{base}/threads/nope/runs", json={"x": 1}, headers=headers)
        fetched = http.get(f"{base}/threads/{created.json()['id']}", headers=headers)
    assert [created.status_code, missing.status_code, fetched.status_code] == [200, 404, 200]
    assert all(r.headers.get("connection") != "close" for r in (created, missing, fetched))
    assert fetched.json()["metadata"] == {"a": "b"}


def test_a_kept_open_connection_answers_without_the_delayed_ack_stall() -> None:
    """Each answer leaves at once on a kept-open connection. Without TCP_NODELAY the body, a
    second small segment after the headers, waited for the client's delayed ACK: 40 ms or
    more on Linux per request, whatever the load (the median here was 45-47 ms before, about
    3 ms after). The median of 15 requests is compared with half that timer, so a slow
    request or two on a busy machine does not decide it."""
    with StandinServer(keep_alive=True) as standin, httpx2.Client(trust_env=False) as http:
        url = f"{standin.base_url}/threads"
        headers = {"OpenAI-Beta": "assistants=v2"}
        thread = http.post(url, json={}, headers=headers).json()["id"]
        took = []
        for _ in range(15):
            began = time.perf_counter()
            answer = http.get(f"{url}/{thread}", headers=headers)
            took.append(time.perf_counter() - began)
            assert answer.status_code == 200
    assert statistics.median(took) < 0.02, [round(t * 1000, 1) for t in took]
