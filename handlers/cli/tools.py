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
            "them as that assistant's tools through the API ('sync --agent agent_...': an "
            "Agents API agent's function tools, shape --api agents)."
        ),
    )
    parser.add_argument("action", nargs="?", choices=["print", "sync"], default="print")
    parser.add_argument(
        "--api",
        choices=["assistants", "responses", "agents"],
        default=None,
        help="definition shape (default assistants; agents with --agent)",
    )
    parser.add_argument("--assistant", help="assistant to update (with sync)")
    parser.add_argument("--agent", help="Agents API agent to update (with sync)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print or sync."""
    settings = Settings.from_env()
    app = load_app(settings.app_path)
    api: Any = args.api or ("agents" if args.agent else "assistants")
    definitions = app.tools.definitions(api)
    if args.action == "print":
        print(json.dumps(definitions, indent=2))
        return 0
    if args.agent:
        # replaces the agent's whole list; sessions made before keep their agent snapshot
        agent_tools: Any = app.tools.definitions("agents")
        app.openai.beta.agents.update(args.agent, tools=agent_tools)
        print(f"{args.agent}: {len(definitions)} tools synced ({', '.join(app.tools.names())})")
        return 0
    if not args.assistant:
        raise SystemExit(
            "runhook tools sync: --assistant asst_... or --agent agent_... is required"
        )
    app.openai.beta.assistants.update(args.assistant, tools=definitions)  # type: ignore[arg-type]
    print(f"{args.assistant}: {len(definitions)} tools synced ({', '.join(app.tools.names())})")
    return 0
