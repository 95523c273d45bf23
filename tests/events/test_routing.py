"""The router: patterns, predicates, composition, middleware, error hooks, late registration."""

from __future__ import annotations

from typing import Any

import pytest

from runhook.events.errors import SetupError
from runhook.events.routing import Router
from runhook.events.testing import make_event


class TestRouting:
    def test_patterns_and_predicates(self) -> None:
        """Exact types, globs and predicates each select their events; a handler runs once."""
        router, seen = Router(), []

        @router.on("thread.run.completed", "thread.run.*")
        def both(event: Any, ctx: Any) -> None:
            seen.append(("both", event.type))

        @router.on("*.failed")
        def failed(event: Any, ctx: Any) -> None:
            seen.append(("failed", event.type))

        @router.on(lambda e: e.data.get("team") == "a")
        def team(event: Any, ctx: Any) -> None:
            seen.append(("team", event.type))

        router.dispatch(make_event("thread.run.completed"), None)
        router.dispatch(make_event("response.failed", team="a"), None)
        assert seen == [
            ("both", "thread.run.completed"),
            ("failed", "response.failed"),
            ("team", "response.failed"),
        ]

    def test_included_router_and_middleware_order(self) -> None:
        """An included router's handlers run inside the parent's middleware."""
        parent, child, seen = Router(), Router(), []

        @parent.middleware
        def outer(event: Any, ctx: Any, nxt: Any) -> None:
            seen.append("before")
            nxt()
            seen.append("after")

        @child.on("x.*")
        def handler(event: Any, ctx: Any) -> None:
            seen.append("handler")

        parent.include(child)
        parent.dispatch(make_event("x.y"), None)
        assert seen == ["before", "handler", "after"]

    def test_failures_reach_error_hooks_and_are_reraised(self) -> None:
        """A raising handler does not stop the others; hooks see it; dispatch re-raises it."""
        router, seen = Router(), []

        @router.on("x.y")
        def first(event: Any, ctx: Any) -> None:
            raise ValueError("boom")

        @router.on("x.y")
        def second(event: Any, ctx: Any) -> None:
            seen.append("second")

        router.on_error(lambda event, ctx, exc: seen.append(str(exc)))
        with pytest.raises(ValueError, match="boom"):
            router.dispatch(make_event("x.y"), None)
        assert seen == ["boom", "second"]

    def test_unhandled_event_is_no_error(self) -> None:
        """An event nobody handles returns no handlers."""
        assert Router().dispatch(make_event("nobody.cares"), None) == []

    def test_registration_errors_at_decoration_time(self) -> None:
        """Bad patterns, wrong handler shapes and registration after start raise SetupError."""
        router = Router()
        with pytest.raises(SetupError, match="event pattern"):
            router.on("Thread Run")
        with pytest.raises(SetupError, match=r"must accept \(event, ctx\)"):
            router.on("x.y")(lambda event: None)
        router.freeze()
        with pytest.raises(SetupError, match="after the app started"):
            router.on("x.y")(lambda event, ctx: None)
