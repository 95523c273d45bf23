"""The promised public API: exactly these names, sorted, importable (as httpx pins its own)."""

from __future__ import annotations

from pathlib import Path

import events
import handlers

REPO = Path(__file__).resolve().parent.parent

EVENTS_API = [
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

HANDLERS_API = [
    "App",
    "Backend",
    "Context",
    "PendingCalls",
    "RunExpired",
    "RunMovedOn",
    "RunOutcome",
    "RunRef",
    "SubmitUnknown",
    "Tool",
    "ToolCall",
    "ToolError",
    "ToolOutput",
    "ToolRegistry",
    "load_app",
]


class TestHandlersPackage:
    def test_all_is_pinned_sorted_and_importable(self) -> None:
        """handlers.__all__ lists exactly the promised names, sorted, all importable."""
        assert handlers.__all__ == HANDLERS_API == sorted(HANDLERS_API)
        for name in handlers.__all__:
            assert getattr(handlers, name) is not None


class TestEventsPackage:
    def test_all_is_pinned(self) -> None:
        """events.__all__ lists exactly the promised names."""
        assert events.__all__ == EVENTS_API

    def test_all_is_sorted_and_importable(self) -> None:
        """Every promised name is sorted and resolves to an attribute."""
        assert events.__all__ == sorted(events.__all__)
        for name in events.__all__:
            assert getattr(events, name) is not None

    def test_is_this_repository(self) -> None:
        """The `events` imported is this repository's, not the unrelated PyPI distribution."""
        assert Path(events.__file__).resolve().is_relative_to(REPO)
        assert Path(handlers.__file__).resolve().is_relative_to(REPO)
