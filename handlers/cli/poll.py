"""``runhook poll``: the relay poller."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from runhook.app import load_app
from runhook.cli._common import EventPrinter, relay_secret
from runhook.events.config import Settings
from runhook.events.sources.poller import Poller
from runhook.events.sources.relay import HttpRelay, PipelineRelay, Relay


def add_parser(subparsers: Any) -> None:
    """Register ``runhook poll``."""
    parser = subparsers.add_parser(
        "poll",
        help="relay poller: watch runs, background responses and sessions; emit their events",
        description=(
            "Poll the runs, background responses and Agents API sessions on the watch list "
            "(kept in RUNHOOK_STORE, filled with --watch, --session, the Python API or the "
            "server's POST /watch) and emit an event for every status newly seen, re-emitting a "
            "persisting requires_action (or a completed response whose function calls are not "
            "answered yet) and following a response's follow-ups to the end of its chain. "
            "Events go into this process's App "
            "(default) or, with --url, to a runhook server. Intervals start at "
            "openai-poll-after-ms (else RUNHOOK_POLL_INTERVAL_S) and back off to "
            "RUNHOOK_POLL_MAX_INTERVAL_S."
        ),
    )
    parser.add_argument(
        "--watch",
        metavar="ID",
        help="add this run (with --thread) or background response (resp_…) to the watch list",
    )
    parser.add_argument("--thread", metavar="THREAD_ID", help="the thread of a --watch run")
    parser.add_argument(
        "--session", metavar="SESSION_ID", help="add this Agents API session to the watch list"
    )
    parser.add_argument("--url", help="emit to this runhook server's /events instead of in-process")
    parser.add_argument("--secret", help="whsec_ secret for --url (default RUNHOOK_WEBHOOK_SECRET)")
    parser.add_argument("--burst", action="store_true", help="return once no watched run is left")
    parser.add_argument(
        "--metrics-port",
        type=int,
        help="serve this poller's Prometheus metrics (poller lag) on 127.0.0.1:PORT/metrics "
        "(needs runhook[metrics])",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Poll until interrupted (or, with --burst, until the watch list is done)."""
    response = bool(args.watch) and args.watch.startswith("resp_")
    if response and args.thread:
        raise SystemExit("runhook poll: a response (resp_…) has no --thread")
    if not response and bool(args.watch) != bool(args.thread):
        raise SystemExit("runhook poll: --watch RUN_ID and --thread go together")
    settings = Settings.from_env()
    secret = relay_secret(settings, args.secret, remote=bool(args.url))
    overrides: dict[str, Any] = {
        "sync": True,
        "webhook_secrets": (secret, *settings.webhook_secrets),
    }
    if args.metrics_port:
        overrides["metrics"] = True
    app = load_app(settings.app_path, overrides=overrides)
    app.start()
    if args.metrics_port:
        from runhook.events.observability.metrics import serve_http

        serve_http(args.metrics_port)
    relay: Relay = (
        HttpRelay(args.url, secret, tracer=app.observer.tracer)
        if args.url
        else PipelineRelay(app.pipeline(), secret, source="poller")
    )
    poller = Poller(
        app.store, app.openai, relay, app.settings, on_event=EventPrinter(), observer=app.observer
    )
    if response:
        poller.watch_response(args.watch)
    elif args.watch:
        poller.watch(args.watch, args.thread)
    if args.session:
        poller.watch_session(args.session)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        poller.run(burst=args.burst, stop=stop)
    except KeyboardInterrupt:
        pass
    return 0
