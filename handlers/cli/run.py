"""``runhook run``: start a run and relay its stream as events."""

from __future__ import annotations

import argparse
from typing import Any

from runhook.app import load_app
from runhook.cli._common import EventPrinter, relay_secret
from runhook.events.config import Settings
from runhook.events.sources.relay import HttpRelay, PipelineRelay, Relay
from runhook.events.sources.stream import stream_run
from runhook.events.sources.stream_responses import stream_response
from runhook.runtime import relay_continuations


def add_parser(subparsers: Any) -> None:
    """Register ``runhook run``."""
    parser = subparsers.add_parser(
        "run",
        help="start a response (or session turn, or run) and relay its stream as events",
        description=(
            "Responses (default): create a streamed background response for MESSAGE with the "
            "App's tools and relay its lifecycle events (created, queued, in_progress, "
            "completed, ...; deltas skipped) as signed runhook events, resuming the stream if "
            "the connection drops. Sessions (--api sessions, or --agent/--session): start a "
            "turn of an Agents API session, a new one of --agent or the idle --session, and "
            "relay its session events until the turn ends. Assistants (legacy, --api "
            "assistants or --assistant): add MESSAGE to a thread, start a streamed run of "
            "ASSISTANT and relay every run/step/message event. Events go into this process's "
            "App (default: tools run here, follow-ups are streamed and relayed too) or, with "
            "--url, to a runhook server. Prints one line per event."
        ),
    )
    parser.add_argument(
        "message", help="the user message (scripted-model directives work on the stand-in)"
    )
    parser.add_argument(
        "--api",
        choices=["responses", "sessions", "assistants"],
        default=None,
        help="the API (default responses; sessions with --agent or --session; assistants "
        "with --assistant)",
    )
    parser.add_argument("--model", default="gpt-4o", help="model of the response (Responses)")
    parser.add_argument("--instructions", help="instructions of the response (Responses)")
    parser.add_argument("--agent", help="agent id for a new session (sessions)")
    parser.add_argument("--session", help="existing idle session id (sessions)")
    parser.add_argument("--assistant", help="assistant id (asst_...; Assistants)")
    parser.add_argument("--thread", help="existing thread id (Assistants; default: a new one)")
    parser.add_argument(
        "--url", help="relay to this runhook server's /events instead of in-process"
    )
    parser.add_argument("--secret", help="whsec_ secret for --url (default RUNHOOK_WEBHOOK_SECRET)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Stream one response (or session turn, or run) and relay it."""
    api = args.api or (
        "assistants"
        if args.assistant
        else "sessions"
        if (args.agent or args.session)
        else "responses"
    )
    if api == "sessions" and not (args.agent or args.session):
        raise SystemExit(
            "runhook run: --api sessions needs --agent agent_... or --session sess_..."
        )
    if api == "assistants" and not args.assistant:
        raise SystemExit("runhook run: --api assistants needs --assistant asst_...")
    if api != "assistants" and (args.assistant or args.thread):
        raise SystemExit("runhook run: --assistant and --thread are Assistants options")
    settings = Settings.from_env()
    secret = relay_secret(settings, args.secret, remote=bool(args.url))
    app = load_app(
        settings.app_path,
        overrides={
            "sync": True,
            "stream_continuation": True,
            "webhook_secrets": (secret, *settings.webhook_secrets),
        },
    )
    relay_continuations(app)
    app.start()
    client = app.openai
    relay: Relay = (
        HttpRelay(args.url, secret) if args.url else PipelineRelay(app.pipeline(), secret)
    )
    if api == "sessions":
        return _run_session(args, client, relay)
    if api == "responses":
        create: dict[str, Any] = {
            "model": args.model,
            "input": args.message,
            "tools": app.tools.definitions("responses"),
        }
        if args.instructions:
            create["instructions"] = args.instructions
        stream_response(client, relay, on_relayed=EventPrinter(), **create)
        return 0
    thread_id = args.thread
    if thread_id:
        client.beta.threads.messages.create(thread_id=thread_id, role="user", content=args.message)
    else:
        thread_id = client.beta.threads.create(
            messages=[{"role": "user", "content": args.message}]
        ).id
    stream_run(
        client, relay, thread_id=thread_id, assistant_id=args.assistant, on_relayed=EventPrinter()
    )
    return 0


def _run_session(args: argparse.Namespace, client: Any, relay: Relay) -> int:
    from runhook.events.sources.session_stream import create_and_relay, start_turn

    printer = EventPrinter()
    if args.session:
        status = start_turn(client, relay, args.session, args.message, on_relayed=printer)
    else:
        session_id, status = create_and_relay(
            client, relay, agent_id=args.agent, message=args.message, on_relayed=printer
        )
        print(f"session {session_id}")
    return 0 if status == "idle" else 1
