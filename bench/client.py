"""The clients of a reaction benchmark, in their own process.

``python -m bench.client PATH --standin URL [--server URL] [--store URL] --runs N --concurrency C``

Keeps C runs in flight (a closed loop: a thread starts its next run when its last one is
terminal) until N runs were started, each with one instant tool call. PATH is one of

- ``polling``: the SDK's ``create_and_poll`` / ``submit_tool_outputs_and_poll`` (defaults);
- ``stream``: the stream relay with the App in this process (``PipelineRelay``, memory store;
  ``--continuation``: outputs submitted through a stream relayed too);
- ``webhook``: the stream relayed as signed POSTs to a runhook server (``HttpRelay`` with
  ``skip_unrouted_s=60``: the types the server routes nowhere are sent once, then answered by
  the relay; ``--send-all`` sends every event);
- ``poller``: the run put on the relay poller's watch list (a ``runhook poll`` process);
- ``responses``: a background response; the stand-in's ``response.completed`` webhook goes to
  the runhook server, which creates the follow-up with the outputs.

A run this process does not follow to its end itself (webhook, poller) is awaited with one
blocking ``POST /_standin/wait`` inside the stand-in: no polling of the harness's own.

Protocol: after its setup and ``--warm`` unmeasured runs (2) it prints ``ready`` and waits
for a line on stdin, so the harness reads every process's CPU time right before the batch;
then it prints one JSON line
``{"runs": [...], "relayed": n, "accepted": n, "cpu_s": s, "wall_s": s}``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2

from bench import apps
from bench.common import SECRET
from runhook.app import App
from runhook.events.config import Settings
from runhook.events.envelope import Event
from runhook.events.sources.poller import watch
from runhook.events.sources.relay import HttpRelay, PipelineRelay
from runhook.events.sources.stream import stream_run
from runhook.events.store.memory import MemoryStore
from runhook.runtime import relay_continuations

TEXT = 'call instant {"n": 1}'


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Counting:
    """A relay that counts what it handed on and what the receiver accepted (2xx)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.relayed = 0
        self.accepted = 0
        self.lock = threading.Lock()

    def emit(self, event: Event) -> Any:
        ack = self.inner.emit(event)
        with self.lock:
            self.relayed += 1
            self.accepted += 1 if ack.ok else 0
        return ack


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.client")
    parser.add_argument("path", choices=["polling", "stream", "webhook", "poller", "responses"])
    parser.add_argument("--standin", required=True, help="the stand-in's root URL")
    parser.add_argument("--server", help="runhook server's root URL (webhook)")
    parser.add_argument("--store", help="the poller's store URL (poller)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument(
        "--continuation", action="store_true", help="stream: submit through a relayed stream"
    )
    parser.add_argument(
        "--send-all", action="store_true", help="webhook: relay every event (no skip_unrouted_s)"
    )
    parser.add_argument(
        "--warm",
        type=int,
        default=2,
        help="unmeasured runs before 'ready' (on the poller path they need its poller running)",
    )
    args = parser.parse_args()

    from openai import OpenAI

    client = OpenAI(base_url=f"{args.standin}/v1", api_key="sk-standin", max_retries=2)
    http = httpx2.Client(timeout=600, trust_env=False)
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        tools=apps.app.tools.definitions(),  # type: ignore[arg-type]
    ).id

    def new_thread() -> str:
        return client.beta.threads.create(messages=[{"role": "user", "content": TEXT}]).id

    def wait_terminal(run_id: str) -> None:
        body = {"runs": [run_id], "timeout": 300}
        http.post(f"{args.standin}/_standin/wait", json=body)

    relay: Counting | None = None
    run_one: Callable[[], str]
    if args.path == "polling":

        def run_one() -> str:
            t = new_thread()
            run = client.beta.threads.runs.create_and_poll(thread_id=t, assistant_id=assistant)
            calls = run.required_action.submit_tool_outputs.tool_calls  # type: ignore[union-attr]
            outputs = [{"tool_call_id": c.id, "output": "1"} for c in calls]
            client.beta.threads.runs.submit_tool_outputs_and_poll(
                thread_id=t,
                run_id=run.id,
                tool_outputs=outputs,  # type: ignore[arg-type]
            )
            return run.id

    elif args.path in ("stream", "webhook"):
        if args.path == "stream":
            app = App(
                settings=Settings(
                    webhook_secrets=(SECRET,), sync=True, stream_continuation=args.continuation
                ),
                store=MemoryStore(),
                openai=client,
            )
            relay_continuations(app)
            app.tool(apps.instant)
            app.tool(apps.nap)
            relay = Counting(PipelineRelay(app.pipeline(), SECRET))
        else:
            skip = 0.0 if args.send_all else 60.0
            relay = Counting(HttpRelay(f"{args.server}/events", SECRET, skip_unrouted_s=skip))

        def run_one() -> str:
            ids: list[str] = []
            stream_run(
                client,
                relay,  # type: ignore[arg-type]
                thread_id=new_thread(),
                assistant_id=assistant,
                on_relayed=lambda e, a: (
                    ids.append(e.object_id) if e.type == "thread.run.created" else None
                ),
            )
            wait_terminal(ids[0])  # at once when the continuation already followed it
            return ids[0]

    elif args.path == "responses":
        tools = apps.app.tools.definitions("responses")

        def run_one() -> str:
            rid = client.responses.create(
                model="gpt-4o",
                input=TEXT,
                tools=tools,  # type: ignore[arg-type]
                background=True,
            ).id
            body = {"responses": [rid], "timeout": 300, "interval": 0.02}
            http.post(f"{args.standin}/_standin/responses/wait", json=body)
            return rid

    else:
        from runhook.events.store import open_store

        store = open_store(args.store)

        def run_one() -> str:
            t = new_thread()
            run = client.beta.threads.runs.create(thread_id=t, assistant_id=assistant)
            watch(store, run.id, t)
            wait_terminal(run.id)
            return run.id

    # A fresh process's first runs build the SDK's resources and models, connections and
    # thread state (a few hundred ms of CPU, which a 10-run batch felt as 17 ms per run): every
    # path does a couple of runs before the measured batch, so the batch is its steady state
    # (the poller path's through the poller, which the harness starts before this client).
    for _ in range(args.warm):
        run_one()
    if relay is not None:
        relay.relayed = relay.accepted = 0
    print("ready", flush=True)
    sys.stdin.readline()
    cpu0, t0 = _cpu(), time.perf_counter()
    remaining = iter(range(args.runs))
    done: list[str] = []
    done_lock = threading.Lock()

    def loop() -> None:
        for _ in remaining:
            rid = run_one()
            with done_lock:
                done.append(rid)

    with ThreadPoolExecutor(args.concurrency) as pool:
        for f in [pool.submit(loop) for _ in range(args.concurrency)]:
            f.result()
    result = {
        "runs": done,
        "relayed": relay.relayed if relay else 0,
        "accepted": relay.accepted if relay else 0,
        "cpu_s": _cpu() - cpu0,
        "wall_s": time.perf_counter() - t0,
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
