"""What the benchmarks rely on in the stand-in: idle waiting is free, and runs can be awaited."""

from __future__ import annotations

import json
import resource
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx2

from runhook.standin import StandinConfig, StandinServer


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def test_streams_waiting_on_the_model_cost_no_cpu(
    standin_factory: Callable[..., StandinServer],
) -> None:
    """Two streams waiting out a slow model step leave the stand-in's process idle."""
    standin = standin_factory(latency_ms=3000)
    client = standin.client(max_retries=0)
    assistant = client.beta.assistants.create(model="gpt-4o").id

    def stream() -> None:
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}]).id
        with client.beta.threads.runs.stream(thread_id=thread, assistant_id=assistant) as s:
            s.until_done()

    streams = [threading.Thread(target=stream, daemon=True) for _ in range(2)]
    for t in streams:
        t.start()
    time.sleep(0.5)
    before = _cpu_s()
    time.sleep(1.0)
    assert _cpu_s() - before < 0.2


def _assistant_with_f(client: Any) -> str:
    """An assistant with one function tool, ``f``."""
    return str(
        client.beta.assistants.create(
            model="gpt-4o",
            tools=[
                {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
            ],
        ).id
    )


def test_wait_answers_once_runs_are_terminal(standin: StandinServer) -> None:
    """POST /_standin/wait returns no pending run once they finished, and the waiting ones
    when its timeout passes first."""
    client = standin.client(max_retries=0)
    assistant = _assistant_with_f(client)
    done = client.beta.threads.create_and_run(
        assistant_id=assistant, thread={"messages": [{"role": "user", "content": "hi"}]}
    ).id
    waiting = client.beta.threads.create_and_run(
        assistant_id=assistant,
        thread={"messages": [{"role": "user", "content": "call f {}"}]},
    ).id
    url = f"{standin.root_url}/_standin/wait"
    first = httpx2.post(url, json={"runs": [done], "timeout": 10}, trust_env=False).json()
    assert first == {"pending": []}
    second = httpx2.post(
        url, json={"runs": [done, waiting], "timeout": 0.3}, trust_env=False
    ).json()
    assert second == {"pending": [waiting]}


def test_wait_wakes_when_the_run_ends(standin: StandinServer) -> None:
    """A waiter blocked on a run that waits for outputs answers as soon as the outputs end the
    run, long before its timeout (it is woken by the run's end, not by a poll of its own)."""
    client = standin.client(max_retries=0)
    assistant = _assistant_with_f(client)
    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant,
        thread={"messages": [{"role": "user", "content": "call f {}"}]},
        poll_interval_ms=10,
    )
    assert run.status == "requires_action"
    answers: list[Any] = []
    waiter = threading.Thread(
        target=lambda: answers.append(
            httpx2.post(
                f"{standin.root_url}/_standin/wait",
                json={"runs": [run.id], "timeout": 60},
                timeout=90,
                trust_env=False,
            ).json()
        )
    )
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive()  # the run still waits: so does the waiter
    calls = run.required_action.submit_tool_outputs.tool_calls  # type: ignore[union-attr]
    client.beta.threads.runs.submit_tool_outputs(
        run.id,
        thread_id=run.thread_id,
        tool_outputs=[{"tool_call_id": c.id, "output": "ok"} for c in calls],
    )
    waiter.join(30)
    assert not waiter.is_alive() and answers == [{"pending": []}]


def test_responses_wait_follows_the_chain_and_times_the_follow_up(standin: StandinServer) -> None:
    """A response that asked for a call keeps its chain pending until a follow-up with the
    output has completed; the stand-in records when the follow-up came."""
    client = standin.client(max_retries=0)
    tool = {"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}
    first = client.responses.create(
        model="gpt-4o",
        background=True,
        tools=[tool],  # type: ignore[list-item]
        input="call f {}",
    )
    url = f"{standin.root_url}/_standin/responses/wait"
    waiting = httpx2.post(
        url, json={"responses": [first.id], "timeout": 0.5}, trust_env=False
    ).json()
    assert waiting == {"pending": [first.id]}
    done = client.responses.retrieve(first.id)
    call = next(item for item in done.output if item.type == "function_call")
    client.responses.create(
        model="gpt-4o",
        background=True,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "1"}],
    )
    ended = httpx2.post(url, json={"responses": [first.id], "timeout": 10}, trust_env=False)
    assert ended.json() == {"pending": []}
    stats = standin.stats()["responses"][first.id]
    assert len(stats["follow_up_at"]) == 1
    assert stats["follow_up_at"][0] >= stats["transitions"][-1][1]


def _chunks(raw: bytes) -> list[bytes]:
    """The chunks of an HTTP/1.1 chunked body, as the server wrote them."""
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    chunks = []
    while body:
        size, _, body = body.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            break
        chunks.append(body[:n])
        body = body[n + 2 :]
    return chunks


def test_a_burst_of_run_events_is_written_at_once() -> None:
    """With an instant model a streamed run's events up to requires_action happen together;
    the stand-in writes them, and the stream's end, in one chunk (one write), not one each."""
    standin = StandinServer(StandinConfig(latency_ms=0), keep_alive=True).start()
    try:
        client = standin.client(max_retries=0)
        assistant = _assistant_with_f(client)
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "call f {}"}])
        body = json.dumps({"assistant_id": assistant, "stream": True}).encode()
        url = urlsplit(standin.base_url)
        with socket.create_connection((url.hostname, url.port), timeout=10) as conn:
            conn.sendall(
                f"POST /v1/threads/{thread.id}/runs HTTP/1.1\r\nHost: standin\r\n"
                "Authorization: Bearer sk-test\r\nOpenAI-Beta: assistants=v2\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            raw = b"".join(iter(lambda: conn.recv(65536), b""))
    finally:
        standin.stop()
    chunks = _chunks(raw)
    names = [
        line.removeprefix(b"event: ").decode()
        for line in b"".join(chunks).split(b"\n")
        if line.startswith(b"event: ")
    ]
    assert names[0] == "thread.run.created"
    assert names[-2:] == ["thread.run.requires_action", "done"]
    assert len(chunks) == 1, [c[:40] for c in chunks]
