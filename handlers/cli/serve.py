"""``runhook serve``: the HTTP source under gunicorn."""

from __future__ import annotations

import argparse
from typing import Any

from runhook.events.config import Settings


def add_parser(subparsers: Any) -> None:
    """Register ``runhook serve``."""
    parser = subparsers.add_parser(
        "serve",
        help="serve POST /events under gunicorn",
        description=(
            "Serve POST /events, GET /healthz and GET /readyz under gunicorn (gthread workers). "
            "Each delivery is verified, stored durably and answered 202, then processed by the "
            "process's handler pool. Flags override the RUNHOOK_* environment. Needs "
            "RUNHOOK_WEBHOOK_SECRET (or OPENAI_WEBHOOK_SECRET). With RUNHOOK_METRICS=1 also "
            "GET /metrics (Prometheus, summed over the workers), with RUNHOOK_ADMIN_PAGE=1 the "
            "operator page GET /admin/; RUNHOOK_ADMIN_TOKEN protects both."
        ),
    )
    parser.add_argument(
        "--bind", help="address:port to listen on (RUNHOOK_BIND, default 127.0.0.1:8000)"
    )
    parser.add_argument("--workers", type=int, help="worker processes (RUNHOOK_WORKERS, default 2)")
    parser.add_argument(
        "--threads", type=int, help="threads per worker (RUNHOOK_THREADS, default 8)"
    )
    parser.add_argument("--app", help="module:object of your App (RUNHOOK_APP)")
    parser.add_argument("--store", help="store URL (RUNHOOK_STORE, default sqlite:///runhook.db)")
    parser.add_argument(
        "--sync",
        action="store_true",
        default=None,
        help="process each event before replying (RUNHOOK_SYNC)",
    )
    parser.add_argument(
        "--graceful-timeout",
        type=float,
        help="seconds to drain on SIGTERM (RUNHOOK_GRACEFUL_TIMEOUT_S, default 30)",
    )
    parser.set_defaults(func=run)


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    """The Settings fields the flags set (flags not given are left out)."""
    flags = {
        "bind": args.bind,
        "workers": args.workers,
        "threads": args.threads,
        "app_path": args.app,
        "store_url": args.store,
        "sync": args.sync,
        "graceful_timeout_s": args.graceful_timeout,
    }
    return {k: v for k, v in flags.items() if v is not None}


def run(args: argparse.Namespace) -> int:
    """Check the configuration, then run gunicorn in this process (it forks the workers).

    The flags win over the environment and over the settings your App sets in code.
    """
    from runhook.events.store import open_store
    from runhook.runtime import check, serve

    overrides = overrides_from(args)
    settings = Settings.from_env(**overrides)
    check(settings)
    open_store(settings.store_url).close()  # a bad store URL fails here, in one line
    print(f"runhook serving on http://{settings.bind} ({settings.workers} workers)", flush=True)
    serve(settings, overrides=overrides)
    return 0
