"""runhook's ``events`` package: what an event is and how it travels.

The names below are the promised public API (``tests/test_public_api.py`` pins them); deeper
modules stay importable but are not promised.

Note: a PyPI distribution also called ``events`` exists. runhook is deployed as a service in its
own virtualenv, where this package is the only ``events``.
"""

from __future__ import annotations

from events.config import Settings as Settings
from events.envelope import Event as Event
from events.errors import ConfigError as ConfigError
from events.errors import DeliveryError as DeliveryError
from events.errors import MalformedEvent as MalformedEvent
from events.errors import PayloadConflict as PayloadConflict
from events.errors import PayloadTooLarge as PayloadTooLarge
from events.errors import RetryLater as RetryLater
from events.errors import RunhookError as RunhookError
from events.errors import SetupError as SetupError
from events.errors import SignatureError as SignatureError
from events.errors import StoreError as StoreError
from events.errors import UnsupportedMediaType as UnsupportedMediaType
from events.pipeline import Pipeline as Pipeline
from events.routing import Router as Router
from events.signing import sign_headers as sign_headers
from events.signing import verify as verify
from events.sources import Ack as Ack
from events.sources import Delivery as Delivery
from events.store import Claim as Claim
from events.store import MemoryStore as MemoryStore
from events.store import Store as Store
from events.store import open_store as open_store

__all__ = [
    "Ack",
    "Claim",
    "ConfigError",
    "Delivery",
    "DeliveryError",
    "Event",
    "MalformedEvent",
    "MemoryStore",
    "PayloadConflict",
    "PayloadTooLarge",
    "Pipeline",
    "RetryLater",
    "Router",
    "RunhookError",
    "Settings",
    "SetupError",
    "SignatureError",
    "Store",
    "StoreError",
    "UnsupportedMediaType",
    "open_store",
    "sign_headers",
    "verify",
]
