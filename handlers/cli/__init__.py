"""The ``runhook`` command line.

Each subcommand lives in its own module of this package and exposes two functions::

    def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None
    def run(args: argparse.Namespace) -> int

``add_parser`` registers the subcommand with ``set_defaults(func=run)``. Modules are imported
lazily, only for the subcommand being run, so ``runhook send`` never imports the stand-in and a
missing optional extra only matters to the command that needs it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from runhook import __version__
from runhook.events.errors import RunhookError

#: subcommand -> (module, one-line help). The order is the order ``runhook --help`` lists them.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("runhook.cli.demo", "run the whole flow end to end on the bundled stand-in"),
    "emulator": ("runhook.cli.emulator", "serve the local OpenAI API stand-in"),
    "serve": ("runhook.cli.serve", "serve POST /events under gunicorn"),
    "poll": ("runhook.cli.poll", "relay poller: watch runs and responses, emit their events"),
    "inbox": ("runhook.cli.inbox", "list, show or replay parked events"),
    "consume": ("runhook.cli.consume", "consume a Redis stream of signed events (bus source)"),
    "run": ("runhook.cli.run", "start a response (or run) and relay its stream as events"),
    "webhooks": (
        "runhook.cli.webhooks",
        "register, list, rotate, test or delete OpenAI webhook endpoints",
    ),
    "send": ("runhook.cli.send", "sign an event envelope and POST it to a URL"),
    "tools": ("runhook.cli.tools", "print or sync the app's tool definitions"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Build the top-level parser; with ``only``, import just that subcommand's module."""
    parser = argparse.ArgumentParser(
        prog="runhook",
        description="runhook: OpenAI tool calls as a reactive, webhook-driven pipeline.",
    )
    parser.add_argument("--version", action="version", version=f"runhook {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(module_name)
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``runhook`` console script."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args_list if a in COMMANDS), None)
    parser = build_parser(only=command)
    args = parser.parse_args(args_list)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        _configure_logs(args.command)
        return int(args.func(args) or 0)
    except RunhookError as exc:
        print(f"runhook {args.command}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        import openai

        if isinstance(exc, openai.APIConnectionError):
            url = getattr(exc.request, "url", "the API")
            print(
                f"runhook {args.command}: cannot reach the OpenAI API at {url} "
                "(check OPENAI_BASE_URL and the network)",
                file=sys.stderr,
            )
            return 1
        if isinstance(exc, openai.APIStatusError):
            print(f"runhook {args.command}: the OpenAI API refused: {exc}", file=sys.stderr)
            return 1
        raise
    except KeyboardInterrupt:
        return 130


def _configure_logs(command: str) -> None:
    """This process's log output (``RUNHOOK_LOG_*``); the demo prints its own flow."""
    from runhook.events import logs
    from runhook.events.config import Settings

    settings = Settings.from_env()
    level = "warning" if command == "demo" else settings.log_level
    logs.configure(level, settings.log_format)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
