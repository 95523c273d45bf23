"""``runhook emulator``: serve the local OpenAI API stand-in."""

from __future__ import annotations

import argparse
import threading
from typing import Any

from runhook.standin import StandinConfig, StandinServer


def add_parser(subparsers: Any) -> None:
    """Register ``runhook emulator``."""
    parser = subparsers.add_parser(
        "emulator",
        help="serve the local OpenAI API stand-in",
        description=(
            "Serve the bundled stand-in for the OpenAI Assistants and Responses APIs (with a "
            "deterministic scripted model) at http://HOST:PORT/v1. Point the SDK at it with "
            "OPENAI_BASE_URL=http://HOST:PORT/v1 and any OPENAI_API_KEY. Request counts and "
            "run timelines: GET http://HOST:PORT/_standin/stats."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8600, help="port (default 8600; 0 = any free)")
    parser.add_argument("--latency-ms", type=int, default=0, help="model time per step (default 0)")
    parser.add_argument(
        "--expires-after",
        type=int,
        default=600,
        metavar="S",
        help="run window in seconds: expires_at = created_at + S (default 600)",
    )
    parser.add_argument(
        "--poll-after-ms",
        type=int,
        default=None,
        help="send this openai-poll-after-ms header on run GETs (default: none)",
    )
    parser.add_argument(
        "--fault-429",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="answer this fraction of /v1 requests with 429 + retry-after",
    )
    parser.add_argument(
        "--fault-500",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="answer this fraction of /v1 requests with 500",
    )
    parser.add_argument(
        "--retry-after",
        type=float,
        default=1.0,
        metavar="S",
        help="retry-after of injected 429s (default 1)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault-injection RNG")
    parser.add_argument(
        "--webhook-url",
        default=None,
        help="deliver response.* webhooks of background responses here",
    )
    parser.add_argument(
        "--webhook-secret", default=None, help="whsec_ secret that signs those webhooks"
    )
    parser.add_argument(
        "--webhook-duplicates",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="deliver this fraction of webhooks twice",
    )
    parser.set_defaults(func=run)


def config_from(args: argparse.Namespace) -> StandinConfig:
    """The stand-in's knobs from parsed flags."""
    return StandinConfig(
        latency_ms=args.latency_ms,
        expires_after_s=args.expires_after,
        poll_after_ms=args.poll_after_ms,
        fault_429=args.fault_429,
        fault_500=args.fault_500,
        retry_after_s=args.retry_after,
        seed=args.seed,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        webhook_duplicate_rate=args.webhook_duplicates,
    )


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    server = StandinServer(config_from(args), host=args.host, port=args.port)
    with server:
        print(
            f"OpenAI stand-in serving at {server.base_url} (stats: {server.root_url}/_standin/stats)",
            flush=True,
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0
