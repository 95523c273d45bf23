"""The promised public API: exactly these names, sorted, importable (as httpx pins its own)."""

from __future__ import annotations

from pathlib import Path

import runhook
import runhook.events

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

RUNHOOK_API = [
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


STANDIN_API = ["StandinConfig", "StandinServer"]


class TestStandinPackage:
    def test_all_is_pinned(self) -> None:
        """runhook.standin.__all__ is what users' tests may rely on (README, The OpenAI
        stand-in)."""
        import runhook.standin

        assert runhook.standin.__all__ == STANDIN_API
        for name in STANDIN_API:
            assert getattr(runhook.standin, name) is not None


class TestRunhookPackage:
    def test_all_is_pinned_sorted_and_importable(self) -> None:
        """runhook.__all__ lists exactly the promised names, sorted, all importable."""
        assert runhook.__all__ == RUNHOOK_API == sorted(RUNHOOK_API)
        for name in runhook.__all__:
            assert getattr(runhook, name) is not None

    def test_version_is_the_distribution_version(self) -> None:
        """runhook.__version__ is what the installed distribution's metadata says."""
        from importlib.metadata import version

        assert runhook.__version__ == version("runhook")


class TestEventsPackage:
    def test_all_is_pinned(self) -> None:
        """runhook.events.__all__ lists exactly the promised names."""
        assert runhook.events.__all__ == EVENTS_API

    def test_all_is_sorted_and_importable(self) -> None:
        """Every promised name is sorted and resolves to an attribute."""
        assert runhook.events.__all__ == sorted(runhook.events.__all__)
        for name in runhook.events.__all__:
            assert getattr(runhook.events, name) is not None

    def test_is_this_repository(self) -> None:
        """The folders the design card fixes are the package: runhook is handlers/, its
        ``events`` subpackage events/ and its stand-in standin/ (pyproject's package-dir)."""
        import runhook.standin

        assert Path(runhook.__file__).resolve() == REPO / "handlers" / "__init__.py"
        assert Path(runhook.events.__file__).resolve() == REPO / "events" / "__init__.py"
        assert Path(runhook.standin.__file__).resolve() == REPO / "standin" / "__init__.py"
