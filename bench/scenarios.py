"""The benchmark scenarios. Each compares paths side by side in one run.

B1 (reaction), B2 (ingest) and B3 (scale) run every party in its own process: the stand-in
(``runhook emulator``), the runhook server (``runhook serve``: gunicorn, 2 workers), Redis, the
relay poller (``runhook poll``) and the clients (``bench.client``, ``bench.load``,
``bench.waiting``). Reaction is read from the stand-in's own timestamps; CPU from each
process's ``/proc/<pid>/stat`` over the measured batch; the machine's load is recorded with
every batch. B4 and the long-run count are in-process (request counts, not timings).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import time
from typing import Any

from openai import OpenAI

from bench import apps
from bench.common import REPO, SECRET, free_port, summary
from bench.procs import (
    PollerProc,
    Proc,
    RedisProc,
    Serve,
    Standin,
    Window,
    quiesce,
    read_line,
)
from runhook.app import App
from runhook.events.config import Settings
from runhook.events.envelope import Event
from runhook.events.sources.relay import PipelineRelay
from runhook.events.sources.stream import stream_run
from runhook.events.store.memory import MemoryStore
from runhook.events.testing import signed_delivery
from runhook.runtime import relay_continuations
from runhook.standin import StandinConfig, StandinServer

TEXT = 'call instant {"n": 1}'
CONCURRENCY = 10


def bench_app(client: OpenAI, **settings: Any) -> App:
    values: dict[str, Any] = {
        "webhook_secrets": (SECRET,),
        "sync": True,
        "stream_continuation": True,
    }
    values.update(settings)
    app = App(settings=Settings(**values), store=MemoryStore(), openai=client)
    relay_continuations(app)
    app.tool(apps.instant)
    app.tool(apps.nap)
    return app


# -- B1 ------------------------------------------------------------------------------------------

#: (row name, bench.client path, server store: None / "sqlite" / "redis")
PATHS: list[tuple[str, str, str | None]] = [
    ("polling loop (SDK defaults)", "polling", None),
    ("stream relay, in-process (memory store)", "stream", None),
    ("stream -> webhook, gunicorn SQLite", "webhook", "sqlite"),
    ("stream -> webhook, gunicorn Redis", "webhook", "redis"),
    ("relay poller", "poller", None),
    ("Responses webhook, gunicorn SQLite", "responses", "sqlite"),
]
BASELINE = PATHS[0][0]


def b1(quick: bool, continuation: bool = False) -> dict[str, Any]:
    """Reaction time, API cost and CPU: the polling loop against runhook's sources."""
    runs = CONCURRENCY if quick else 30
    reps = 1 if quick else 3
    redis = RedisProc.start()
    results: dict[str, Any] = {"runs_per_batch": runs, "reps": reps, "concurrency": CONCURRENCY}
    results["continuation"] = continuation
    try:
        for db, latency in enumerate((200, 0), start=1):
            results[f"latency_{latency}ms"] = b1_latency(
                latency, runs, reps, redis, db, continuation
            )
    finally:
        if redis is not None:
            redis.stop()
    if not quick:
        results["long_run"] = long_run(20)
    return results


def _server_env(standin: Standin, store: str, continuation: bool) -> dict[str, str]:
    env = {
        "RUNHOOK_APP": "bench.apps:app",
        "RUNHOOK_WEBHOOK_SECRET": SECRET,
        "RUNHOOK_STORE": store,
        "RUNHOOK_WORKERS": "2",
        "OPENAI_API_KEY": "sk-standin",
        "OPENAI_BASE_URL": standin.base_url,
    }
    if continuation:
        env["RUNHOOK_STREAM_CONTINUATION"] = "true"
    return env


def b1_latency(
    latency: int, runs: int, reps: int, redis: RedisProc | None, db: int, continuation: bool
) -> dict[str, Any]:
    """B1 at one model latency: every path, interleaved, ``reps`` rounds."""
    work = tempfile.mkdtemp(prefix="runhook-bench-")
    port = free_port()  # the SQLite server's: background responses' webhooks go there
    hook = ["--webhook-url", f"http://127.0.0.1:{port}/events", "--webhook-secret", SECRET]
    standin = Standin(latency, *hook)
    servers: dict[str, Serve] = {}
    try:
        servers["sqlite"] = Serve(
            _server_env(standin, f"sqlite:///{work}/b1.db", continuation), port=port
        )
        if redis is not None:
            url = redis.url.rsplit("/", 1)[0] + f"/{db}"
            servers["redis"] = Serve(_server_env(standin, url, continuation))
        for server in servers.values():
            _warm(server)
        per_path: dict[str, list[dict[str, Any]]] = {}
        for rep in range(reps):
            chosen = [(n, p, st) for n, p, st in PATHS if st is None or st in servers]
            poll_db = f"{work}/poll-{rep}.db"
            # the poller runs from the start of the round, so its client's warm runs go
            # through it as every other path's go through its server; it is paused (SIGSTOP)
            # while the other batches are measured
            poller = _poller(standin, poll_db) if any(p == "poller" for _, p, _ in chosen) else None
            # every client of the round starts (imports, setup) before any batch is measured;
            # then each waits for its "go" without using a CPU
            clients = {
                name: _client(
                    standin,
                    path,
                    servers[store] if store else None,
                    runs,
                    poll_db,
                    continuation,
                )
                for name, path, store in chosen
            }
            try:
                for name, path, store in chosen:
                    needs = _needs(
                        standin,
                        servers[store] if store else None,
                        poller if path == "poller" else None,
                    )
                    if read_line(clients[name], f"bench.client {path}", needs=needs) != "ready":
                        raise RuntimeError(f"bench.client {path} did not start")
                if poller is not None:
                    quiesce([poller.pid], cap=20)
                    poller.pause()
                for name, path, store in chosen:
                    server = servers[store] if store else None
                    began = time.monotonic()
                    batch = _batch(
                        standin,
                        path,
                        server,
                        runs,
                        poll_db,
                        continuation,
                        clients[name],
                        poller if path == "poller" else None,
                    )
                    print(
                        f"  B1 {latency} ms, {name}: {time.monotonic() - began:.0f} s",
                        file=sys.stderr,
                        flush=True,
                    )
                    per_path.setdefault(name, []).append(batch)
            finally:
                for client in clients.values():
                    _close(client)
                if poller is not None:
                    poller.stop()
    finally:
        for proc in servers.values():
            proc.stop()
        standin.stop()
    return {name: _merge(batches) for name, batches in per_path.items()}


def _warm(server: Serve, n: int = 20) -> None:
    """Unmeasured: a few routed events through every layer of a fresh server."""
    import httpx2

    from runhook.events.signing import sign_headers

    with httpx2.Client(timeout=30, trust_env=False) as http:
        for i in range(n):
            event = Event.create("bench.ingest", {"id": f"warm_{i}"})
            headers = sign_headers(SECRET, event.body, msg_id=event.id)
            http.post(f"{server.url}/events", content=event.body, headers=headers)
    quiesce(server.workers())


def _needs(
    standin: Standin, server: Serve | None = None, poller: PollerProc | None = None
) -> dict[str, Proc]:
    """The parties a client's runs go through, by name, for ``read_line``."""
    needs: dict[str, Proc] = {"the stand-in": standin}
    if server is not None:
        needs["runhook serve"] = server
    if poller is not None:
        needs["runhook poll"] = poller
    return needs


def _poller(standin: Standin, poll_db: str) -> PollerProc:
    """``runhook poll`` over ``poll_db`` with the bench App, for the poller path."""
    return PollerProc(
        {
            "RUNHOOK_APP": "bench.apps:app",
            "RUNHOOK_WEBHOOK_SECRET": SECRET,
            "RUNHOOK_STORE": f"sqlite:///{poll_db}",
            "OPENAI_API_KEY": "sk-standin",
            "OPENAI_BASE_URL": standin.base_url,
        }
    )


def _client(
    standin: Standin,
    path: str,
    server: Serve | None,
    runs: int,
    poll_db: str,
    continuation: bool,
) -> subprocess.Popen[str]:
    """Start ``bench.client`` for one batch; it sets up, says ``ready`` and waits for ``go``."""
    argv = [sys.executable, "-m", "bench.client", path, "--standin", standin.root_url]
    argv += ["--runs", str(runs), "--concurrency", str(CONCURRENCY)]
    if continuation:
        argv.append("--continuation")
    if server is not None:
        argv += ["--server", server.url]
    if path == "poller":
        argv += ["--store", f"sqlite:///{poll_db}"]
    return subprocess.Popen(
        argv,
        cwd=REPO,
        env=_child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _batch(
    standin: Standin,
    path: str,
    server: Serve | None,
    runs: int,
    poll_db: str,
    continuation: bool,
    client: subprocess.Popen[str] | None = None,
    poller: PollerProc | None = None,
) -> dict[str, Any]:
    """One measured batch of ``runs`` runs, ``CONCURRENCY`` in flight, through ``path``
    (``client``: its ``bench.client``, started ahead by ``_client`` with the same arguments;
    ``poller``: the poller path's ``runhook poll``, started ahead by ``_poller``, which served
    the client's warm runs and was paused since; it is stopped here)."""
    ready = client is not None  # a client started ahead has said "ready" already
    if path == "poller" and poller is None:
        poller = _poller(standin, poll_db)
    if client is None:
        client = _client(standin, path, server, runs, poll_db, continuation)
    try:
        assert client.stdin is not None
        needs = _needs(standin, server, poller)
        if not ready and read_line(client, f"bench.client {path}", needs=needs) != "ready":
            raise RuntimeError(f"bench.client {path} did not start")
        standin.reset()  # after the client's unmeasured runs
        if poller is not None:
            poller.resume()
            quiesce([poller.pid], cap=20)
        if server is not None:
            quiesce(server.tree())  # the clients' unmeasured runs may have left it work
        # the process doing runhook's work (or the polling loop's) for this path
        where = {"webhook": "server", "responses": "server", "poller": "poller"}.get(path, "client")
        pids: dict[str, list[int]] = {"standin": [standin.pid], "client": [client.pid]}
        if server is not None:
            pids["server"] = server.tree()
        if poller is not None:
            pids["poller"] = [poller.pid]
        window = Window(pids)
        client.stdin.write("go\n")
        client.stdin.flush()
        out = json.loads(read_line(client, f"bench.client {path}", needs=needs))
        window.freeze("client")
        settle = [p for n, ps in pids.items() if n in ("server", "poller") for p in ps]
        if settle:
            quiesce(settle)
        measured = window.close()
        client.wait(30)
    finally:
        _close(client)
        if poller is not None:
            poller.stop()  # its batch is over: it must not scan beside the next ones
    stats = standin.stats()
    reaction, total, events = [], [], 0
    if path == "responses":
        reaction, total, events = _responses(stats["responses"], out["runs"])
    for rid in out["runs"] if path != "responses" else []:
        run = stats["runs"][rid]
        reaction.append(run["outputs_accepted_at"][0] - run["requires_action_at"][0])
        times = [t for _, t in run["transitions"]]
        done = [t for st, t in run["transitions"] if st == "completed"]
        total.append((done[-1] if done else times[-1]) - times[0])
        events += sum(1 for e in standin.event_names(rid) if not e.endswith(".delta"))
    n = len(out["runs"])
    cpu = measured["cpu_s"]
    workers_after = server.tree() if server is not None else None
    return {
        "reaction": reaction,
        "total": total,
        "requests_per_run": stats["total"] / n,
        "events_per_run": events / n,
        "deliveries_per_run": out["accepted"] / n,
        "where": where,
        "cpu_ms_per_run": 1000 * cpu[where] / n,
        "cpu_ms_per_event": 1000 * cpu[where] / max(events, 1),
        "standin_cpu_ms_per_run": 1000 * cpu["standin"] / n,
        "client_cpu_ms_per_run": 1000 * cpu["client"] / n,
        "wall_s": measured["wall_s"],
        "load_before": measured["load_before"],
        "load_after": measured["load_after"],
        "machine_busy": measured["machine_busy"],
        "workers_restarted": workers_after is not None and workers_after != pids.get("server"),
    }


def _responses(table: dict[str, Any], firsts: list[str]) -> tuple[list[float], list[float], int]:
    """Reaction (first response completed -> follow-up created), chain time, webhooks."""
    reaction, total, webhooks = [], [], 0
    for rid in firsts:
        chain = [rid]
        while table.get(chain[-1], {}).get("follow_up_ids"):
            chain.append(table[chain[-1]]["follow_up_ids"][0])
        first = table[rid]
        done = [t for st, t in first["transitions"] if st == "completed"]
        if done and first.get("follow_up_at"):
            reaction.append(first["follow_up_at"][0] - done[0])
        last = table[chain[-1]]["transitions"]
        total.append(last[-1][1] - first["transitions"][0][1])
        for r in chain:
            webhooks += sum(1 for s in table[r].get("webhook_statuses", []) if 200 <= s < 300)
    return reaction, total, webhooks


def _close(proc: subprocess.Popen[str]) -> None:
    """Stop a client (if still running) and close its pipes."""
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            pipe.close()


def _child_env() -> dict[str, str]:
    from bench.procs import base_env

    return base_env()


def _merge(batches: list[dict[str, Any]]) -> dict[str, Any]:
    """One path's batches: timings pooled, costs as medians, load as a list per batch."""
    import statistics

    def med(key: str) -> float:
        return float(statistics.median(b[key] for b in batches))

    return {
        "reaction": summary([x for b in batches for x in b["reaction"]]),
        "reaction_s": [x for b in batches for x in b["reaction"]],
        "total": summary([x for b in batches for x in b["total"]]),
        "requests": {"median": med("requests_per_run")},
        "events_per_run": med("events_per_run"),
        "deliveries_per_run": med("deliveries_per_run"),
        "where": batches[0]["where"],
        "cpu_ms_per_run": med("cpu_ms_per_run"),
        "cpu_ms_per_event": med("cpu_ms_per_event"),
        "standin_cpu_ms_per_run": med("standin_cpu_ms_per_run"),
        "client_cpu_ms_per_run": med("client_cpu_ms_per_run"),
        "load": [
            {k: b[k] for k in ("load_before", "load_after", "machine_busy", "wall_s")}
            for b in batches
        ],
        "workers_restarted": any(b["workers_restarted"] for b in batches),
    }


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
    """Ingest: signed 2.5 KB events/s into POST /events (durable inbox, a routed no-op
    handler) against a bare Flask 204 on the same gunicorn config; load from its own process."""
    n, conc = (400, 16) if quick else (4000, 32)
    reps = 1 if quick else 2
    work = tempfile.mkdtemp(prefix="runhook-bench-")
    redis = RedisProc.start()
    env = {
        "RUNHOOK_WORKERS": "2",
        "RUNHOOK_THREADS": "8",
        "RUNHOOK_WEBHOOK_SECRET": SECRET,
        "RUNHOOK_APP": "bench.apps:app",
        "OPENAI_API_KEY": "sk-unused",
    }
    # Issue 17: what metrics (multiprocess files) and tracing (SDK, batched, discarded spans;
    # the trace context saved with each inbox entry) plus the page's timelines cost on ingest.
    observed = {"RUNHOOK_METRICS": "1"}
    everything = {**observed, "RUNHOOK_TRACING": "1", "RUNHOOK_ADMIN_PAGE": "1"}
    targets: list[tuple[str, str | None, str, dict[str, str]]] = [
        ("runhook POST /events, SQLite", None, "sqlite", {}),
        ("runhook POST /events, Redis", None, "redis", {}),
        ("runhook + metrics, SQLite", None, "sqlite", observed),
        ("runhook + metrics, tracing, page, SQLite", "bench.traced:app", "sqlite", everything),
        ("bare Flask 204", "bench.apps:bare", "sqlite", {}),
    ]
    out: dict[str, list[dict[str, Any]]] = {}
    try:
        for rep in range(reps):
            for i, (name, target, store, extra) in enumerate(targets):
                if store == "redis":
                    if redis is None:
                        continue
                    env["RUNHOOK_STORE"] = redis.url.rsplit("/", 1)[0] + f"/{3 + rep}"
                else:
                    env["RUNHOOK_STORE"] = f"sqlite:///{work}/b2-{rep}-{i}.db"
                server = Serve({**env, **extra}, target)
                try:
                    _warm(server)
                    window = Window({"server": server.tree()})
                    result = subprocess.run(
                        [sys.executable, "-m", "bench.load", f"{server.url}/events", SECRET]
                        + [str(n), str(conc)],
                        cwd=REPO,
                        env=_child_env(),
                        capture_output=True,
                        text=True,
                        timeout=300,
                        check=True,
                    )
                    quiesce(server.workers())
                    measured = window.close()
                finally:
                    server.stop()
                row = json.loads(result.stdout)
                row["cpu_ms_per_event"] = (
                    1000 * measured["cpu_s"]["server"] / max(row["accepted"], 1)
                )
                row.update({k: measured[k] for k in ("load_before", "load_after", "machine_busy")})
                out.setdefault(name, []).append(row)
    finally:
        if redis is not None:
            redis.stop()
    return {
        name: {
            "rps": max(r["rps"] for r in rs),
            "p50_ms": min(r["p50_ms"] for r in rs),
            "p99_ms": min(r["p99_ms"] for r in rs),
            "cpu_ms_per_event": min(r["cpu_ms_per_event"] for r in rs),
            "statuses": rs[-1]["statuses"],
            "body_bytes": rs[-1]["body_bytes"],
            "load": [{k: r[k] for k in ("load_before", "load_after", "machine_busy")} for r in rs],
        }
        for name, rs in out.items()
    }


# -- B3 ------------------------------------------------------------------------------------------


def b3(
    quick: bool, waiting: list[int] | None = None, stores: list[str] | None = None
) -> list[dict[str, Any]]:
    """Scale: many runs waiting at once, each with a 200 ms tool, through ``runhook serve``
    (SQLite, and Redis when ``redis-server`` is installed; ``stores`` picks)."""
    stores = stores or ["sqlite", "redis"]
    out = []
    for n in waiting or ([200] if quick else [2000]):
        for store in stores:
            if store == "redis":
                redis = RedisProc.start()
                if redis is None:
                    continue
                try:
                    out.append(b3_one(n, redis.url))
                finally:
                    redis.stop()
            else:
                out.append(b3_one(n))
    return out


#: waits answered before the measured ones (both workers run every layer once; not measured)
B3_WARM = 16


def b3_one(n: int, store_url: str | None = None) -> dict[str, Any]:
    """N runs in requires_action, their N events POSTed at once; wall until all submitted.

    The bound: every wait holds one handler thread while its one tool sleeps 200 ms, and
    2 workers x 32 threads run 64 waits at a time, so no schedule answers N waits sooner than
    ceil(N / 64) x 0.2 s (6.4 s for 2,000). Wall is from the first POST to the last submit the
    stand-in accepted (its clock), so it includes ingest, the tools, the store and the submits.
    """
    workers, threads = 2, 32
    work = tempfile.mkdtemp(prefix="runhook-bench-")
    standin = Standin(0)
    server: Serve | None = None
    loader: subprocess.Popen[str] | None = None
    try:
        server = Serve(
            {
                "RUNHOOK_APP": "bench.apps:app",
                "RUNHOOK_WEBHOOK_SECRET": SECRET,
                "RUNHOOK_STORE": store_url or f"sqlite:///{work}/b3.db",
                "RUNHOOK_WORKERS": str(workers),
                "RUNHOOK_WORKER_THREADS": str(threads),
                "RUNHOOK_WORKER_QUEUE_SIZE": str(n + 10),
                "OPENAI_API_KEY": "sk-standin",
                "OPENAI_BASE_URL": standin.base_url,
            }
        )
        _warm(server)
        loader = subprocess.Popen(
            [sys.executable, "-m", "bench.waiting", standin.root_url, server.url, str(n)]
            + [str(B3_WARM)],
            cwd=REPO,
            env=_child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert loader.stdout is not None and loader.stdin is not None
        needs = _needs(standin, server)
        if read_line(loader, "bench.waiting", needs=needs) != "ready":
            raise RuntimeError("bench.waiting did not start")
        quiesce(server.workers())
        rss_before = server.rss_kib("VmRSS")
        window = Window({"server": server.tree(), "standin": [standin.pid]})
        loader.stdin.write("go\n")
        loader.stdin.flush()
        out = json.loads(read_line(loader, "bench.waiting", needs=needs))
        pending = standin.wait(out["runs"], timeout=1800)
        measured = window.close()
        rss_peak = server.rss_kib("VmHWM")
        stats = standin.stats()["runs"]
    finally:
        if loader is not None:
            if loader.poll() is None:
                loader.kill()
            loader.wait(10)
            for pipe in (loader.stdin, loader.stdout):
                if pipe is not None:
                    pipe.close()
        if server is not None:
            server.stop()
        standin.stop()
    submitted = [stats[r]["outputs_accepted_at"][0] for r in out["runs"] if stats[r]["submits"]]
    wall = (max(submitted) - out["sent_at"]) if submitted else float("nan")
    bound = math.ceil(n / (workers * threads)) * 0.2
    return {
        "runs": n,
        "store": "Redis" if store_url else "SQLite",
        "handler_threads": workers * threads,
        "submitted": len(submitted),
        "pending": len(pending),
        "wall_s": wall,
        "bound_s": bound,
        "ratio_to_bound": wall / bound,
        "rss_kib_per_run": (rss_peak - rss_before) / n,
        "server_cpu_ms_per_run": 1000 * measured["cpu_s"]["server"] / n,
        "standin_cpu_ms_per_run": 1000 * measured["cpu_s"]["standin"] / n,
        "loader_cpu_ms_per_run": 1000 * out["cpu_s"] / n,
        "statuses": out["statuses"],
        "posted_s": out["posted_s"],
        "load_before": measured["load_before"],
        "load_after": measured["load_after"],
        "machine_busy": measured["machine_busy"],
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
