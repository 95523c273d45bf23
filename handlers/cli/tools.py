"""``runhook tools``: print or sync the app's tool definitions."""

from __future__ import annotations

import argparse
import json
from typing import Any

from events.config import Settings
from handlers.app import load_app


def add_parser(subparsers: Any) -> None:
    """Register ``runhook tools``."""
    parser = subparsers.add_parser(
        "tools",
        help="print or sync the app's tool definitions",
        description=(
            "Print the JSON tool definitions of the App named by RUNHOOK_APP (strict schemas "
            "built from type hints and docstrings), or with 'sync --assistant asst_...' set "
            "them as that assistant's tools through the API."
        ),
    )
    parser.add_argument("action", nargs="?", choices=["print", "sync"], default="print")
    parser.add_argument(
        "--api",
        choices=["assistants", "responses"],
        default="assistants",
        help="definition shape (default assistants)",
    )
    parser.add_argument("--assistant", help="assistant to update (with sync)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print or sync."""
    settings = Settings.from_env()
    app = load_app(settings.app_path)
    definitions = app.tools.definitions(args.api)
    if args.action == "print":
        print(json.dumps(definitions, indent=2))
        return 0
    if not args.assistant:
        raise SystemExit("runhook tools sync: --assistant asst_... is required")
    app.openai.beta.assistants.update(args.assistant, tools=definitions)  # type: ignore[arg-type]
    print(f"{args.assistant}: {len(definitions)} tools synced ({', '.join(app.tools.names())})")
    return 0
