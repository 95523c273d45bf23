"""``runhook inbox``: list, show and replay parked events."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from runhook.app import load_app
from runhook.events.config import Settings
from runhook.events.envelope import Event
from runhook.events.errors import MalformedEvent
from runhook.events.keys import PARKED_QUEUE, event_key
from runhook.events.pipeline import Pipeline
from runhook.events.store.records import Record


def add_parser(subparsers: Any) -> None:
    """Register ``runhook inbox``."""
    parser = subparsers.add_parser(
        "inbox",
        help="list, show or replay parked events",
        description=(
            "An event whose handlers still fail after RUNHOOK_MAX_ATTEMPTS is parked in "
            "RUNHOOK_STORE with its body, never dropped. 'list' prints the parked events, "
            "'show ID' one envelope as JSON, 'replay ID...' (or 'replay --all') puts them back "
            "in the inbox with fresh attempts and processes them now through RUNHOOK_APP. "
            "IDs are webhook-ids, as 'list' prints them."
        ),
    )
    parser.add_argument("action", choices=["list", "show", "replay"])
    parser.add_argument("ids", nargs="*", metavar="ID", help="webhook-id(s) of parked events")
    parser.add_argument("--all", action="store_true", help="replay every parked event")
    parser.add_argument(
        "--limit", type=int, default=100, help="list or replay at most this many (100)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """List, show or replay; exit 1 when a named event is not parked or a replay fails."""
    if args.action == "show" and len(args.ids) != 1:
        raise SystemExit("runhook inbox show: name one ID")
    if args.action == "replay" and not (args.ids or args.all):
        raise SystemExit("runhook inbox replay: name IDs, or pass --all")
    settings = Settings.from_env()
    app = load_app(settings.app_path)
    app.start()
    pipeline = app.pipeline()
    try:
        parked = {_event_id(r.key): r for r in pipeline.parked(limit=args.limit)}
        if args.action == "list":
            for event_id, record in parked.items():
                print(
                    f"{event_id}  {_event_type(record.payload):<32} "
                    f"{record.outcome} after {record.attempts} attempts"
                )
            print(f"{len(parked)} parked")
            return 0
        if args.action == "show":
            found = parked.get(args.ids[0]) or _find(pipeline, args.ids[0])
            if found is None or found.payload is None:
                print(f"runhook inbox: {args.ids[0]} is not parked", file=sys.stderr)
                return 1
            print(json.dumps(json.loads(found.payload), indent=2))
            return 0
        failed = 0
        for event_id in list(parked) if args.all else args.ids:
            outcome = pipeline.replay(event_id)
            print(f"{event_id}: {outcome}")
            failed += outcome in ("not_parked", "failed", "retry")
        return 1 if failed else 0
    finally:
        app.close()


def _event_id(key: str) -> str:
    return key.removeprefix(event_key(""))


def _event_type(payload: bytes | None) -> str:
    try:
        return Event.parse(payload or b"").type
    except MalformedEvent:
        return "(not an envelope)"


def _find(pipeline: Pipeline, event_id: str) -> Record | None:
    """A parked event beyond ``--limit``."""
    record = pipeline.store.get(event_key(event_id))
    return record if record is not None and record.queue == PARKED_QUEUE else None
