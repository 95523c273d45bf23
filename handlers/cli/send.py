"""``runhook send``: sign an event envelope and POST it (a test client for your endpoint)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import httpx2

from runhook.events.config import Settings
from runhook.events.envelope import Event
from runhook.events.errors import ConfigError
from runhook.events.signing import sign_headers


def add_parser(subparsers: Any) -> None:
    """Register ``runhook send``."""
    parser = subparsers.add_parser(
        "send",
        help="sign an event envelope and POST it to a URL",
        description=(
            "Read an event envelope (JSON: id, object, type, created_at, data) from FILE or "
            "stdin, sign it per Standard Webhooks and POST it to URL. Prints the status and the "
            "reply; exits 1 unless the reply is 2xx."
        ),
    )
    parser.add_argument("url", help="e.g. http://127.0.0.1:8000/events")
    parser.add_argument(
        "file", nargs="?", default="-", help="envelope file, or - for stdin (default)"
    )
    parser.add_argument(
        "--secret", help="whsec_ secret (default: the first of RUNHOOK_WEBHOOK_SECRET)"
    )
    parser.add_argument("--id", dest="msg_id", help="webhook-id (default: the envelope's id)")
    parser.add_argument("--timestamp", type=int, help="webhook-timestamp (default: now)")
    parser.add_argument("--timeout", type=float, default=15.0, help="request timeout in seconds")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Sign and send one envelope."""
    raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    event = Event.parse(raw)
    secret = args.secret or next(iter(Settings.from_env().webhook_secrets), None)
    if not secret:
        raise ConfigError("no secret: pass --secret whsec_... or set RUNHOOK_WEBHOOK_SECRET")
    headers = sign_headers(
        secret, event.body, msg_id=args.msg_id or event.id, timestamp=args.timestamp
    )
    try:
        response = httpx2.post(
            args.url, content=event.body, headers=headers, timeout=args.timeout, trust_env=False
        )
    except httpx2.HTTPError as exc:
        raise ConfigError(f"cannot reach {args.url}: {exc}") from None
    print(f"{response.status_code} {response.text.strip()}")
    return 0 if response.is_success else 1
