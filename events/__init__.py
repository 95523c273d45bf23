"""``runhook.events`` (the events/ folder): what an event is and how it travels.

The names below are the promised public API (``tests/test_public_api.py`` pins them); deeper
modules stay importable but are not promised. Nothing here imports the rest of ``runhook``:
handlers join the pipeline by registering with a ``Router``.
"""

from __future__ import annotations

from runhook.events.config import Settings as Settings
from runhook.events.envelope import Event as Event
from runhook.events.errors import ConfigError as ConfigError
from runhook.events.errors import DeliveryError as DeliveryError
from runhook.events.errors import MalformedEvent as MalformedEvent
from runhook.events.errors import PayloadConflict as PayloadConflict
from runhook.events.errors import PayloadTooLarge as PayloadTooLarge
from runhook.events.errors import RetryLater as RetryLater
from runhook.events.errors import RunhookError as RunhookError
from runhook.events.errors import SetupError as SetupError
from runhook.events.errors import SignatureError as SignatureError
from runhook.events.errors import StoreError as StoreError
from runhook.events.errors import UnsupportedMediaType as UnsupportedMediaType
from runhook.events.pipeline import Pipeline as Pipeline
from runhook.events.routing import Router as Router
from runhook.events.signing import sign_headers as sign_headers
from runhook.events.signing import verify as verify
from runhook.events.sources import Ack as Ack
from runhook.events.sources import Delivery as Delivery
from runhook.events.store import Claim as Claim
from runhook.events.store import MemoryStore as MemoryStore
from runhook.events.store import Store as Store
from runhook.events.store import open_store as open_store

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
