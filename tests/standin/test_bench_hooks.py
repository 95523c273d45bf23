"""What the benchmarks rely on in the stand-in: idle waiting is free, and runs can be awaited."""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Callable

import httpx2

from handlers.standin import StandinServer


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


def test_wait_answers_once_runs_are_terminal(standin: StandinServer) -> None:
    """POST /_standin/wait returns no pending run once they finished, and the waiting ones
    when its timeout passes first."""
    client = standin.client(max_retries=0)
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    ).id
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
