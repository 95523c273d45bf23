"""``runhook demo``: the whole flow, end to end, on the bundled stand-in and SQLite."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import socket
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2

from runhook.cli._common import ephemeral_secret
from runhook.cli.demo_app import make_demo_app
from runhook.events.config import Settings
from runhook.events.errors import ConfigError
from runhook.events.sources.poller import Poller
from runhook.events.sources.relay import HttpRelay, PipelineRelay, Relay
from runhook.events.sources.stream import stream_run
from runhook.events.sources.stream_responses import stream_response
from runhook.events.store import open_store
from runhook.events.store.memory import MemoryStore
from runhook.runtime import relay_continuations
from runhook.standin import StandinConfig, StandinServer

PAGE = b"""<!doctype html><html><head><title>runhook demo page</title></head><body>
<h1>runhook</h1><p>runhook turns OpenAI tool calls into a reactive, webhook-driven pipeline:
events in, tools run in parallel, outputs submitted exactly once.</p>
<script>console.log("scripts are dropped")</script></body></html>"""


def add_parser(subparsers: Any) -> None:
    """Register ``runhook demo``."""
    parser = subparsers.add_parser(
        "demo",
        help="run the whole flow end to end on the bundled stand-in",
        description=(
            "Start the OpenAI stand-in, a small local web page, runhook's server under gunicorn "
            "(SQLite store) and a relay; create a background response (or, with --api "
            "assistants, an assistant run) with fetch_url and one more tool; "
            "ask it about the page in plain words; print each event, tool call, the submit and "
            "the final answer as they happen. Needs no key and no network."
        ),
    )
    parser.add_argument(
        "--source",
        choices=["webhook", "stream", "poll"],
        default="webhook",
        help="webhook (default): OpenAI-style signed webhooks to gunicorn (Responses, sessions), or the "
        "SDK stream relayed as signed webhooks (Assistants); stream: the stream relayed into "
        "this process; poll: the relay poller posting to gunicorn",
    )
    parser.add_argument(
        "--api",
        choices=["responses", "sessions", "assistants"],
        default="responses",
        help="responses (default): a background response, the live API; sessions: an Agents "
        "API session (webhook: its agent.session.* webhooks); assistants: the legacy "
        "Assistants API (shut down by OpenAI; the stand-in still serves it)",
    )
    parser.add_argument("--latency-ms", type=int, default=150, help="stand-in model latency")
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="give up after this many seconds"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the server running after the run ended, to look at its operator page "
        "(/admin/: the inbox and the run's timeline) until Ctrl-C",
    )
    parser.set_defaults(func=run)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args: Any) -> None:
        return None


def _serve(settings: Settings) -> None:
    from runhook.runtime import serve

    serve(settings, app_factory=make_demo_app, log_level="warning")


def run(args: argparse.Namespace) -> int:
    """Run the demo; exit 0 when the run completed."""
    t0 = time.time()
    work = Path(tempfile.mkdtemp(prefix="runhook-demo-"))
    page = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=page.serve_forever, daemon=True).start()
    page_url = f"http://127.0.0.1:{page.server_port}/about.html"
    secret, openai_secret = ephemeral_secret(), ephemeral_secret()
    port = free_port()
    events_url = f"http://127.0.0.1:{port}/events"
    standin = StandinServer(
        StandinConfig(
            latency_ms=args.latency_ms,
            webhook_url=events_url
            if args.source == "webhook" and args.api in ("responses", "sessions")
            else None,
            webhook_secret=openai_secret,
        )
    ).start()
    done = work / "done"
    settings = Settings(
        webhook_secrets=(secret,),
        openai_webhook_secret=openai_secret,
        openai_api_key="sk-standin",
        openai_base_url=standin.base_url,
        store_url=f"sqlite:///{work / 'runhook.db'}",
        bind=f"127.0.0.1:{port}",
        workers=2,
        threads=4,
        fetch_allow=(f"127.0.0.1:{page.server_port}",),
        # Responses follow-ups are streamed only with the stream source: with webhooks and the
        # poller, their ends arrive the same way the first one did
        stream_continuation=args.api == "assistants" or args.source == "stream",
        graceful_timeout_s=5,
        log_level="warning",  # the demo prints its own flow; warnings and errors still show
        sync=args.source == "stream",
        admin_page=True,  # the operator page, /admin/, with this run's timeline
        extra={"RUNHOOK_DEMO_T0": str(t0), "RUNHOOK_DEMO_DONE": str(done)},
    )
    print(f"runhook demo: api={args.api} source={args.source}")
    print(f"  stand-in {standin.base_url}   page {page_url}   store {settings.store_url}")
    server = None
    try:
        if args.source != "stream":
            server = multiprocessing.get_context("fork").Process(
                target=_serve, args=(settings,), daemon=True
            )
            server.start()
            _wait_ready(f"http://127.0.0.1:{port}/readyz", server, 20)
            print(f"  runhook server (gunicorn, 2 workers) http://127.0.0.1:{port}")
            print(f"  operator page (inbox, run timelines) http://127.0.0.1:{port}/admin/\n")
        app = relay_continuations(make_demo_app(settings))
        app.start()
        client = standin.client()
        message = f"What is on {page_url}? Summarise it in one line."
        print(f'user: "{message}"\n')
        if args.api == "sessions":
            from runhook.cli.demo_sessions import start_session

            start_session(
                args.source,
                client,
                app,
                settings,
                secret=secret,
                events_url=events_url,
                message=message,
            )
        elif args.api == "responses":
            _start_response(args.source, client, app, settings, message, events_url, secret)
        else:
            _start_run(args.source, client, app, settings, message, events_url, secret)
        deadline = time.monotonic() + args.timeout
        while not done.exists():
            if time.monotonic() > deadline:
                raise ConfigError(f"the demo did not finish within {args.timeout} s")
            time.sleep(0.05)
        status = done.read_text().split("\n", 1)[0]
        print(f"done in {(time.time() - t0):.2f} s: run {status}")
        if args.keep and server is not None:
            print(f"\nthe run's timeline: http://127.0.0.1:{port}/admin/ (Ctrl-C to stop)")
            try:
                server.join()
            except KeyboardInterrupt:
                pass
        return 0 if status == "completed" else 1
    finally:
        if server is not None and server.pid is not None and server.is_alive():
            os.kill(server.pid, signal.SIGTERM)
            server.join(10)
        standin.stop()
        page.shutdown()


def _start_response(
    source: str,
    client: Any,
    app: Any,
    settings: Settings,
    message: str,
    events_url: str,
    secret: str,
) -> None:
    """Start the Responses flow: announced by webhooks, streamed, or watched by the poller."""
    create: dict[str, Any] = {
        "model": "gpt-4o",
        "input": message,
        "tools": app.tools.definitions("responses"),
    }
    if source == "stream":
        relay = PipelineRelay(app.pipeline(), secret, source="stream")
        threading.Thread(
            target=stream_response, args=(client, relay), kwargs=create, daemon=True
        ).start()
        return
    response = client.responses.create(background=True, **create)
    if source == "poll":
        # the server watches each follow-up in the shared store, so the poller uses it too
        store = open_store(settings.store_url)
        poller = Poller(
            store, client, HttpRelay(events_url, secret), settings.replace(poll_interval_s=0.1)
        )
        poller.watch_response(response.id)
        threading.Thread(target=poller.run, kwargs={"burst": True}, daemon=True).start()


def _start_run(
    source: str,
    client: Any,
    app: Any,
    settings: Settings,
    message: str,
    events_url: str,
    secret: str,
) -> None:
    """Start the legacy Assistants flow."""
    definitions: Any = app.tools.definitions()
    assistant = client.beta.assistants.create(
        model="gpt-4o", name="runhook demo", tools=definitions
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": message}])
    relay: Relay = (
        PipelineRelay(app.pipeline(), secret)
        if source == "stream"
        else HttpRelay(events_url, secret)
    )
    if source == "poll":
        created = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        poller = Poller(MemoryStore(), client, relay, settings.replace(poll_interval_s=0.1))
        poller.watch(created.id, thread.id)
        threading.Thread(target=poller.run, kwargs={"burst": True}, daemon=True).start()
    else:
        stream_run(client, relay, thread_id=thread.id, assistant_id=assistant.id)


def _wait_ready(url: str, proc: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.is_alive():
            raise ConfigError("the runhook server did not start")
        try:
            if httpx2.get(url, timeout=1, trust_env=False).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.1)
    raise ConfigError(f"the runhook server was not ready within {timeout} s")
