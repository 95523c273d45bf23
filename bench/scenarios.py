"""The four benchmark scenarios. Each compares paths side by side in one run."""

from __future__ import annotations

import base64
import json
import math
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
from openai import OpenAI

from bench import apps
from bench.common import REPO, Server, summary
from events.config import Settings
from events.envelope import Event
from events.sources.poller import Poller
from events.sources.relay import HttpRelay, PipelineRelay
from events.sources.stream import stream_run
from events.store.memory import MemoryStore
from events.testing import signed_delivery
from events.worker import Worker
from handlers.app import App
from handlers.standin import StandinConfig, StandinServer

SECRET = "whsec_" + base64.b64encode(b"runhook-bench-secret-0123456789a").decode()
TEXT = 'call instant {"n": 1}'


def bench_app(client: OpenAI, **settings: Any) -> App:
    values: dict[str, Any] = {
        "webhook_secrets": (SECRET,),
        "sync": True,
        "stream_continuation": True,
    }
    values.update(settings)
    app = App(settings=Settings(**values), store=MemoryStore(), openai=client)

    app.tool(apps.instant)
    app.tool(apps.nap)
    return app


def wait_terminal(standin: StandinServer, run_id: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        names = httpx2.get(
            f"{standin.root_url}/_standin/runs/{run_id}/events", trust_env=False
        ).json()
        if names and names[-1].split(".")[-1] in ("completed", "failed", "expired", "cancelled"):
            return
        time.sleep(0.02)
    raise RuntimeError(f"run {run_id} did not finish")


# -- B1 ------------------------------------------------------------------------------------------


def b1(quick: bool) -> dict[str, Any]:
    """Reaction time and API cost: the polling loop against runhook's sources."""
    runs = 12 if quick else 100
    reps = 2 if quick else 4
    results: dict[str, Any] = {}
    for latency in (0, 200):
        results[f"latency_{latency}ms"] = b1_latency(latency, runs, reps)
    results["long_run"] = long_run(5 if quick else 20)
    return results


def b1_latency(latency: int, runs: int, reps: int) -> dict[str, Any]:
    """B1 at one model latency: every path, interleaved, ``reps`` rounds."""
    standin = StandinServer(StandinConfig(latency_ms=latency)).start()
    client = standin.client(max_retries=2)
    app = bench_app(client)
    assistant = client.beta.assistants.create(model="gpt-4o", tools=app.tools.definitions()).id  # type: ignore[arg-type]
    work = tempfile.mkdtemp(prefix="runhook-bench-")
    server = Server(
        "deploy.wsgi:app",
        {
            "RUNHOOK_APP": "bench.apps:app",
            "RUNHOOK_WEBHOOK_SECRET": SECRET,
            "RUNHOOK_STORE": f"sqlite:///{work}/b1.db",
            "OPENAI_API_KEY": "sk-standin",
            "OPENAI_BASE_URL": standin.base_url,
            "RUNHOOK_STREAM_CONTINUATION": "true",
            "RUNHOOK_SWEEP_INTERVAL_S": "0.2",
        },
    )
    http_relay = HttpRelay(f"{server.url}/events", SECRET)

    def thread() -> str:
        return client.beta.threads.create(messages=[{"role": "user", "content": TEXT}]).id

    def polling() -> str:
        t = thread()
        run = client.beta.threads.runs.create_and_poll(thread_id=t, assistant_id=assistant)
        calls = run.required_action.submit_tool_outputs.tool_calls  # type: ignore[union-attr]
        outputs = [{"tool_call_id": c.id, "output": "1"} for c in calls]
        client.beta.threads.runs.submit_tool_outputs_and_poll(
            thread_id=t, run_id=run.id, tool_outputs=outputs
        )  # type: ignore[arg-type]
        return run.id

    def stream_in_process() -> str:
        t = thread()
        ids: list[str] = []
        stream_run(
            client,
            PipelineRelay(app.pipeline(), SECRET),
            thread_id=t,
            assistant_id=assistant,
            on_relayed=lambda e, a: (
                ids.append(e.object_id) if e.type == "thread.run.created" else None
            ),
        )
        return ids[0]

    def stream_webhook() -> str:
        t = thread()
        ids: list[str] = []
        stream_run(
            client,
            http_relay,
            thread_id=t,
            assistant_id=assistant,
            on_relayed=lambda e, a: (
                ids.append(e.object_id) if e.type == "thread.run.created" else None
            ),
        )
        wait_terminal(standin, ids[0])
        return ids[0]

    poll_app = bench_app(client, stream_continuation=False)
    poller = Poller(
        MemoryStore(), client, PipelineRelay(poll_app.pipeline(), SECRET), poll_app.settings
    )
    poller_lock = threading.Lock()

    def relay_poller() -> str:
        t = thread()
        run = client.beta.threads.runs.create(thread_id=t, assistant_id=assistant)
        with poller_lock:
            poller.watch(run.id, t)
        wait_terminal(standin, run.id)
        return run.id

    stop = threading.Event()
    poller_thread = threading.Thread(target=poller.run, kwargs={"stop": stop}, daemon=True)
    poller_thread.start()
    paths: dict[str, Callable[[], str]] = {
        "polling loop (SDK defaults)": polling,
        "stream relay, in-process": stream_in_process,
        "stream relay -> webhook (gunicorn)": stream_webhook,
        "relay poller": relay_poller,
    }
    per_path: dict[str, dict[str, list[float]]] = {
        p: {"reaction": [], "total": [], "requests": []} for p in paths
    }
    for _ in range(reps):
        for name, fn in paths.items():
            httpx2.post(f"{standin.root_url}/_standin/reset", trust_env=False)
            batch = runs // reps
            with ThreadPoolExecutor(10) as pool:
                futures = [pool.submit(fn) for _ in range(batch)]
                ids = [f.result() for f in futures]
            for rid in ids:
                wait_terminal(standin, rid)
            stats = standin.stats()
            per_path[name]["requests"].append(stats["total"] / batch)
            for rid in ids:
                run = stats["runs"][rid]
                per_path[name]["reaction"].append(
                    run["outputs_accepted_at"][0] - run["requires_action_at"][0]
                )
                times = [t for _, t in run["transitions"]]
                done = [t for s, t in run["transitions"] if s == "completed"]
                per_path[name]["total"].append((done[-1] if done else times[-1]) - times[0])
    stop.set()
    server.stop()
    standin.stop()
    return {name: {k: summary(v) for k, v in metrics.items()} for name, metrics in per_path.items()}


def long_run(seconds: int) -> dict[str, Any]:
    """One run with ``seconds`` of model time: API requests of polling vs streaming."""
    out: dict[str, Any] = {}
    for mode in ("polling loop (SDK defaults)", "stream relay, in-process"):
        standin = StandinServer(StandinConfig(latency_ms=seconds * 1000)).start()
        client = standin.client()
        app = bench_app(client)
        assistant = client.beta.assistants.create(model="gpt-4o", tools=app.tools.definitions()).id  # type: ignore[arg-type]
        t = client.beta.threads.create(messages=[{"role": "user", "content": TEXT}]).id
        if mode.startswith("polling"):
            run = client.beta.threads.runs.create_and_poll(thread_id=t, assistant_id=assistant)
            outputs = [
                {"tool_call_id": c.id, "output": "1"}
                for c in run.required_action.submit_tool_outputs.tool_calls
            ]  # type: ignore[union-attr]
            client.beta.threads.runs.submit_tool_outputs_and_poll(
                thread_id=t, run_id=run.id, tool_outputs=outputs
            )  # type: ignore[arg-type]
        else:
            stream_run(
                client, PipelineRelay(app.pipeline(), SECRET), thread_id=t, assistant_id=assistant
            )
        out[mode] = {"requests": standin.stats()["total"], "model_seconds": 2 * seconds}
        standin.stop()
    return out


# -- B2 ------------------------------------------------------------------------------------------


def b2(quick: bool) -> dict[str, Any]:
    """Ingest: signed events/s into POST /events against a bare Flask 204, same gunicorn."""
    n, conc = (600, 16) if quick else (4000, 32)
    work = tempfile.mkdtemp(prefix="runhook-bench-")
    env = {
        "RUNHOOK_WORKERS": "2",
        "RUNHOOK_THREADS": "8",
        "RUNHOOK_WEBHOOK_SECRET": SECRET,
        "RUNHOOK_APP": "bench.apps:app",
        "RUNHOOK_STORE": f"sqlite:///{work}/b2.db",
        "OPENAI_API_KEY": "sk-unused",
    }
    out: dict[str, Any] = {}
    # Issue 17: what metrics (multiprocess files) and tracing (SDK, batched, discarded spans;
    # the trace context saved with each inbox entry) plus the page's timelines cost on ingest.
    observed = {"RUNHOOK_METRICS": "1"}
    everything = {**observed, "RUNHOOK_TRACING": "1", "RUNHOOK_ADMIN_PAGE": "1"}
    variants: tuple[tuple[str, str, dict[str, str]], ...] = (
        ("runhook POST /events", "deploy.wsgi:app", {}),
        ("runhook + metrics", "deploy.wsgi:app", observed),
        ("runhook + metrics, tracing, page", "bench.traced:app", everything),
        ("bare Flask 204", "bench.apps:bare", {}),
    )
    for rep in range(2):
        for i, (name, target, extra) in enumerate(variants):
            env["RUNHOOK_STORE"] = f"sqlite:///{work}/b2-{rep}-{i}.db"
            server = Server(target, {**env, **extra})
            try:
                result = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "bench.load",
                        f"{server.url}/events",
                        SECRET,
                        str(n),
                        str(conc),
                    ],
                    cwd=REPO,
                    capture_output=True,
                    text=True,
                    timeout=300,
                    check=True,
                )
            finally:
                server.stop()
            out.setdefault(name, []).append(json.loads(result.stdout))
    return {
        name: {
            "rps": max(r["rps"] for r in rs),
            "p50_ms": min(r["p50_ms"] for r in rs),
            "p99_ms": min(r["p99_ms"] for r in rs),
            "statuses": rs[-1]["statuses"],
        }
        for name, rs in out.items()
    }


# -- B3 ------------------------------------------------------------------------------------------


def b3(quick: bool, waiting: int | None = None) -> dict[str, Any]:
    """Scale: many runs waiting at once, each with a 200 ms tool, through one process."""
    n = waiting or (200 if quick else 2000)
    threads = 64
    standin = StandinServer(StandinConfig(latency_ms=0)).start()
    client = standin.client(max_retries=5)
    # Events arrive as webhooks or from a poller here: plain submits, no continuation stream.
    app = bench_app(
        client,
        sync=False,
        stream_continuation=False,
        worker_threads=threads,
        worker_queue_size=n + 10,
    )
    assistant = client.beta.assistants.create(model="gpt-4o", tools=app.tools.definitions()).id  # type: ignore[arg-type]

    def start(_: int) -> Any:
        t = client.beta.threads.create(
            messages=[{"role": "user", "content": 'call nap {"ms": 200}'}]
        ).id
        return client.beta.threads.runs.create_and_poll(
            thread_id=t, assistant_id=assistant, poll_interval_ms=20
        )

    with ThreadPoolExecutor(16) as pool:
        waits = list(pool.map(start, range(n)))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    pipeline = app.pipeline()
    worker = Worker(pipeline).start()
    began = time.perf_counter()
    for run in waits:
        pipeline.accept(
            signed_delivery(
                Event.create("thread.run.requires_action", run.model_dump(mode="json")), SECRET
            )
        )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        stats = standin.stats()["runs"]
        if sum(1 for r in (stats.get(w.id) for w in waits) if r and r["submits"]) == n:
            break
        time.sleep(0.05)
    wall = time.perf_counter() - began
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    worker.stop(5)
    standin.stop()
    bound = math.ceil(n / threads) * 0.2
    return {
        "runs": n,
        "handler_threads": threads,
        "wall_s": wall,
        "bound_s": bound,
        "ratio_to_bound": wall / bound,
        "peak_rss_kib_per_run": (rss_after - rss_before) / n,
    }


# -- B4 ------------------------------------------------------------------------------------------


def b4(quick: bool) -> dict[str, Any]:
    """Parallel calls: 8 calls of 200 ms in one wait against one call."""
    standin = StandinServer(StandinConfig(latency_ms=0)).start()
    client = standin.client()
    app = bench_app(client)
    assistant = client.beta.assistants.create(model="gpt-4o", tools=app.tools.definitions()).id  # type: ignore[arg-type]
    out: dict[str, list[float]] = {"1 call of 200 ms": [], "8 calls of 200 ms": []}
    for _ in range(3 if quick else 5):
        for name, k in (("1 call of 200 ms", 1), ("8 calls of 200 ms", 8)):
            text = "\n".join(['call nap {"ms": 200}'] * k)
            t = client.beta.threads.create(messages=[{"role": "user", "content": text}]).id
            run = client.beta.threads.runs.create_and_poll(
                thread_id=t, assistant_id=assistant, poll_interval_ms=10
            )
            app.pipeline().accept(
                signed_delivery(
                    Event.create("thread.run.requires_action", run.model_dump(mode="json")), SECRET
                )
            )
            stats = standin.stats()["runs"][run.id]
            out[name].append(stats["outputs_accepted_at"][0] - stats["requires_action_at"][0])
    standin.stop()
    return {name: summary(values) for name, values in out.items()}
