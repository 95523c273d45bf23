"""``runhook webhooks``: manage the project's OpenAI webhook endpoints from the command line.

Through the SDK's endpoint API (``client.webhooks.create/list/rotate_secret/test/delete``),
against ``OPENAI_BASE_URL`` with ``OPENAI_API_KEY``, so it works on the real platform and on
the bundled stand-in alike::

    runhook webhooks register https://runhook.example.com/events   # prints the secret
    runhook webhooks list
    runhook webhooks rotate we_…          # the old secret stays valid for 24 h
    runhook webhooks test we_…            # OpenAI sends a test event now
    runhook webhooks delete we_…
"""

from __future__ import annotations

import argparse
import json
import shlex
from typing import TYPE_CHECKING, Any

from runhook.events.config import Settings
from runhook.events.errors import ConfigError

if TYPE_CHECKING:
    from openai import OpenAI

DEFAULT_EVENTS = (
    "response.completed",
    "response.failed",
    "response.cancelled",
    "response.incomplete",
)
"""What runhook handles on the webhook path: the ends of background responses."""


def add_parser(subparsers: Any) -> None:
    """Register ``runhook webhooks``."""
    parser = subparsers.add_parser(
        "webhooks",
        help="register, list, rotate, test or delete the project's OpenAI webhook endpoints",
        description=(
            "Manage the OpenAI project's webhook endpoints through the API (OPENAI_API_KEY, "
            "OPENAI_BASE_URL): register prints the signing secret for OPENAI_WEBHOOK_SECRET, "
            "rotate keeps the old secret valid for 24 hours unless --no-overlap."
        ),
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    register = actions.add_parser("register", help="create an endpoint; prints its secret")
    register.add_argument("url", help="your runhook server's POST /events URL (https)")
    register.add_argument(
        "--events",
        nargs="+",
        metavar="TYPE",
        default=list(DEFAULT_EVENTS),
        help=f"event types to receive (default: {' '.join(DEFAULT_EVENTS)})",
    )
    register.add_argument("--name", default="runhook", help="endpoint name (default runhook)")
    register.add_argument("--json", action="store_true", help="print the endpoint as JSON")
    listing = actions.add_parser("list", help="list the endpoints")
    listing.add_argument("--json", action="store_true", help="print the list as JSON")
    rotate = actions.add_parser("rotate", help="new signing secret; the old one overlaps 24 h")
    rotate.add_argument("endpoint", help="the endpoint id (we_…)")
    rotate.add_argument(
        "--no-overlap",
        action="store_true",
        help="invalidate the old secret at once (deliveries in flight will fail to verify)",
    )
    rotate.add_argument("--json", action="store_true", help="print the endpoint as JSON")
    test = actions.add_parser("test", help="have OpenAI send a test event to the endpoint now")
    test.add_argument("endpoint", help="the endpoint id (we_…)")
    test.add_argument("--event", default="response.completed", help="the event type to send")
    delete = actions.add_parser("delete", help="delete an endpoint")
    delete.add_argument("endpoint", help="the endpoint id (we_…)")
    parser.set_defaults(func=run)


def client_from(settings: Settings) -> OpenAI:
    """An SDK client for the endpoint API.

    Raises:
        ConfigError: no ``OPENAI_API_KEY``.
    """
    from openai import OpenAI

    if not settings.openai_api_key:
        raise ConfigError("OPENAI_API_KEY is not set: the webhook endpoint API needs it")
    return OpenAI(api_key=settings.openai_api_key, base_url=settings.openai_base_url)


def run(args: argparse.Namespace) -> int:
    """Dispatch to the action."""
    client = client_from(Settings.from_env())
    try:
        action = {
            "register": register,
            "list": list_endpoints,
            "rotate": rotate,
            "test": test,
            "delete": delete,
        }[args.action]
        return action(client, args)
    finally:
        client.close()


def _dump(obj: Any) -> str:
    return json.dumps(obj.model_dump(mode="json"), indent=2)


def register(client: OpenAI, args: argparse.Namespace) -> int:
    """Create the endpoint; print its id and secret and how to serve it."""
    endpoint = client.webhooks.create(url=args.url, name=args.name, event_types=args.events)
    if args.json:
        print(_dump(endpoint))
        return 0
    print(f"registered {endpoint.id} -> {endpoint.url}")
    print(f"events: {' '.join(endpoint.event_types)}")
    print("signing secret (shown once; keep it secret):")
    print(f"  export OPENAI_WEBHOOK_SECRET={shlex.quote(endpoint.signing_secret)}")
    print("then run the server that verifies with it:")
    print("  runhook serve")
    return 0


def list_endpoints(client: OpenAI, args: argparse.Namespace) -> int:
    """Print one line per endpoint."""
    page = client.webhooks.list()
    if args.json:
        print(_dump(page))
        return 0
    if not page.data:
        print("no webhook endpoints")
    for e in page.data:
        print(f"{e.id}  {e.name}  {e.url}  {','.join(e.event_types)}  {e.signing_secret_hint}")
    return 0


def rotate(client: OpenAI, args: argparse.Namespace) -> int:
    """Rotate the secret; tell the user how to keep every delivery verifying."""
    endpoint = client.webhooks.rotate_secret(
        args.endpoint, keep_old_secret_active_for_24_hours=not args.no_overlap
    )
    if args.json:
        print(_dump(endpoint))
        return 0
    secret = shlex.quote(endpoint.signing_secret)
    print(f"rotated {endpoint.id}; new signing secret (shown once):")
    print(f"  {endpoint.signing_secret}")
    if args.no_overlap:
        print("the old secret is invalid now: set it at once, then restart runhook serve:")
        print(f"  export OPENAI_WEBHOOK_SECRET={secret}")
        return 0
    print("the old secret stays valid for 24 hours. runhook verifies with every secret in")
    print("OPENAI_WEBHOOK_SECRET and RUNHOOK_WEBHOOK_SECRET (space-separated), so for a seamless")
    print("overlap keep the old one beside the new one, restart runhook serve, and drop the old")
    print("one after 24 hours:")
    print(f"  export OPENAI_WEBHOOK_SECRET={secret}")
    print('  export RUNHOOK_WEBHOOK_SECRET="<old secret> $RUNHOOK_WEBHOOK_SECRET"')
    return 0


def test(client: OpenAI, args: argparse.Namespace) -> int:
    """Send a test event; exit 1 unless the endpoint answered 2xx."""
    result = client.webhooks.test(args.endpoint, event_type=args.event)
    ok = 200 <= result.status_code < 300
    print(f"{args.endpoint}: {result.event_type} answered {result.status_code}")
    if not ok:
        print("the endpoint did not accept it: check the URL and OPENAI_WEBHOOK_SECRET")
    return 0 if ok else 1


def delete(client: OpenAI, args: argparse.Namespace) -> int:
    """Delete the endpoint."""
    deleted = client.webhooks.delete(args.endpoint)
    print(f"deleted {deleted.id}" if deleted.deleted else f"{deleted.id} was not deleted")
    return 0 if deleted.deleted else 1
