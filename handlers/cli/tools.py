"""``runhook tools``: print or sync the app's tool definitions."""

from __future__ import annotations

import argparse
import json
from typing import Any

from runhook.app import load_app
from runhook.events.config import Settings


def add_parser(subparsers: Any) -> None:
    """Register ``runhook tools``."""
    parser = subparsers.add_parser(
        "tools",
        help="print or sync the app's tool definitions",
        description=(
            "Print the JSON tool definitions of the App named by RUNHOOK_APP (strict schemas "
            "built from type hints and docstrings) in the shape of --api (default responses), "
            "or with 'sync --agent agent_...' set them as that Agents API agent's function "
            "tools, or with 'sync --assistant asst_...' as that legacy assistant's tools, "
            "through the API. The Responses API keeps no tools server-side: each create "
            "carries them (runhook run and runhook's follow-ups do)."
        ),
    )
    parser.add_argument("action", nargs="?", choices=["print", "sync"], default="print")
    parser.add_argument(
        "--api",
        choices=["responses", "agents", "assistants"],
        default=None,
        help="definition shape and API (default responses; agents with --agent, assistants "
        "with --assistant)",
    )
    parser.add_argument("--assistant", help="assistant to update (with sync)")
    parser.add_argument("--agent", help="Agents API agent to update (with sync)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print or sync."""
    settings = Settings.from_env()
    app = load_app(settings.app_path)
    api: Any = args.api or (
        "agents" if args.agent else "assistants" if args.assistant else "responses"
    )
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
    if api == "responses":
        raise SystemExit(
            "runhook tools sync: the Responses API stores no tools to sync; pass "
            "app.tools.definitions('responses') as tools= with each responses.create "
            "(runhook run --api responses does), or sync an Agents API agent with --agent "
            "agent_... or a legacy assistant with --api assistants --assistant asst_..."
        )
    if not args.assistant:
        raise SystemExit(
            "runhook tools sync: --assistant asst_... or --agent agent_... is required"
        )
    app.openai.beta.assistants.update(args.assistant, tools=definitions)  # type: ignore[arg-type]
    print(f"{args.assistant}: {len(definitions)} tools synced ({', '.join(app.tools.names())})")
    return 0
