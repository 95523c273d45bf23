"""``runhook consume``: feed a Redis stream of signed envelopes to the app."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import threading
from typing import Any

from runhook.events.config import Settings
from runhook.events.errors import ConfigError
from runhook.events.sources.bus import RedisStreamSource


def add_parser(subparsers: Any) -> None:
    """Register ``runhook consume``."""
    parser = subparsers.add_parser(
        "consume",
        help="consume a Redis stream of signed events (bus source)",
        description=(
            "Read a Redis stream with a consumer group and process each entry before "
            "acknowledging it (sync mode). An entry's fields are 'body' (the envelope, as "
            "signed) and webhook-id, webhook-timestamp, webhook-signature. A processed or "
            "duplicate entry is acknowledged; a poison entry (bad signature, not an envelope) "
            "is acknowledged, logged and copied to --dead-letter; an entry whose processing "
            "failed stays pending and is taken over by a consumer of the group once idle longer "
            "than RUNHOOK_CLAIM_LEASE_S. Needs RUNHOOK_WEBHOOK_SECRET (or "
            "OPENAI_WEBHOOK_SECRET) and pip install 'runhook[redis]'."
        ),
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="the Redis holding the stream (default: RUNHOOK_STORE when it is a redis:// URL)",
    )
    parser.add_argument("--stream", default="runhook:events", help="stream key (runhook:events)")
    parser.add_argument("--group", default="runhook", help="consumer group (runhook)")
    parser.add_argument(
        "--consumer",
        help="this consumer's name, stable across restarts (default: host name and pid)",
    )
    parser.add_argument("--dead-letter", metavar="STREAM", help="copy poison entries here")
    parser.add_argument(
        "--burst", action="store_true", help="return once nothing is left to do now"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Consume until SIGTERM or Ctrl-C (or, with --burst, until the stream is drained)."""
    from runhook.runtime import lambda_app

    url = args.redis or Settings.from_env().store_url
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            "no Redis to consume from: pass --redis redis://host:6379/0 "
            "(or use a redis:// RUNHOOK_STORE)"
        )
    app = lambda_app()  # sync mode: each entry is processed before it is acknowledged
    source = RedisStreamSource(
        app.pipeline(),
        url,
        args.stream,
        args.group,
        args.consumer or f"{socket.gethostname()}-{os.getpid()}",
        dead_letter=args.dead_letter,
        block_s=1.0,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    handled = 0
    try:
        handled = source.run(burst=args.burst, stop=stop)
    except KeyboardInterrupt:
        pass
    finally:
        source.close()
        app.close()
    print(f"runhook consume: {handled} entries handled from {args.stream!r}", flush=True)
    return 0
