"""Routing: which handlers take an event. No IO.

A ``Router`` maps event-type patterns (or predicates) to handlers; routers compose like Flask
blueprints (``app.include(router)``) and cross-cutting work goes in middleware with an explicit
``next``::

    router = Router()

    @router.on("thread.run.requires_action")
    def act(event: Event, ctx: Context) -> None: ...

    @router.on("thread.run.*")          # glob: *, ?, [..]
    @router.on(lambda e: e.data.get("metadata", {}).get("team") == "a")
    def watch(event, ctx): ...

    @router.middleware
    def timing(event, ctx, next):
        start = time.monotonic(); next(); log(time.monotonic() - start)

Handlers take exactly ``(event, ctx)``; ``ctx`` is whatever the pipeline's context factory
builds (``runhook.context.Context`` in an App).
"""

from __future__ import annotations

import fnmatch
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from runhook.events.envelope import Event
from runhook.events.errors import SetupError

Handler = Callable[[Event, Any], Any]
Predicate = Callable[[Event], bool]
Middleware = Callable[[Event, Any, Callable[[], None]], Any]
ErrorHook = Callable[[Event, Any, BaseException], Any]
H = TypeVar("H", bound=Callable[..., Any])

_PATTERN = re.compile(r"^[a-z0-9_.*?\[\]!-]+$")


@dataclass(frozen=True)
class Route:
    """One registration: a pattern or predicate and its handler."""

    handler: Handler
    pattern: str | None = None
    predicate: Predicate | None = None

    def matches(self, event: Event) -> bool:
        """True when this route takes ``event``."""
        if self.pattern is not None:
            return fnmatch.fnmatchcase(event.type, self.pattern)
        assert self.predicate is not None
        return bool(self.predicate(event))


class Router:
    """Event-type patterns and predicates mapped to handlers; composable.

    Registration is checked when it happens: a malformed pattern, a handler that cannot take
    ``(event, ctx)`` or a registration after the app has started raises ``SetupError``.
    """

    def __init__(self) -> None:
        self._routes: list[Route] = []
        self._middleware: list[Middleware] = []
        self._error_hooks: list[ErrorHook] = []
        self._children: list[Router] = []
        self._frozen = False

    # -- registration -------------------------------------------------------------------------

    def on(self, *matchers: str | Predicate) -> Callable[[H], H]:
        """Register the decorated function for events matching any of ``matchers``.

        Args:
            *matchers: exact types (``"thread.run.completed"``), globs (``"thread.run.*"``,
                ``"*.failed"``, ``"*"``) or predicates ``(event) -> bool``.

        Raises:
            SetupError: no matcher, a malformed pattern, or a handler of the wrong shape.
        """
        if not matchers:
            raise SetupError("on() needs at least one event type, pattern or predicate")
        routes_spec: list[tuple[str | None, Predicate | None]] = []
        for m in matchers:
            if isinstance(m, str):
                if not _PATTERN.match(m):
                    raise SetupError(
                        f"on({m!r}): an event pattern uses lower-case letters, digits, '.', '_' "
                        "and the globs '*', '?', '[...]', e.g. 'thread.run.*'"
                    )
                routes_spec.append((m, None))
            elif callable(m):
                routes_spec.append((None, m))
            else:
                raise SetupError(
                    f"on() takes event types, glob patterns or predicates, got {type(m).__name__}"
                )

        def decorator(fn: H) -> H:
            self._check_setup("on")
            _check_arity(fn, 2, "handler", "(event, ctx)")
            for pattern, predicate in routes_spec:
                self._routes.append(Route(handler=fn, pattern=pattern, predicate=predicate))
            return fn

        return decorator

    def middleware(self, fn: Middleware) -> Middleware:
        """Register middleware ``(event, ctx, next)``; it must call ``next()`` to continue."""
        self._check_setup("middleware")
        _check_arity(fn, 3, "middleware", "(event, ctx, next)")
        self._middleware.append(fn)
        return fn

    def on_error(self, fn: ErrorHook) -> ErrorHook:
        """Register an error hook ``(event, ctx, exc)`` called when a handler raises."""
        self._check_setup("on_error")
        _check_arity(fn, 3, "error hook", "(event, ctx, exc)")
        self._error_hooks.append(fn)
        return fn

    def include(self, router: Router) -> None:
        """Attach another router's routes, middleware and error hooks (blueprint-style)."""
        self._check_setup("include")
        if router is self:
            raise SetupError("a router cannot include itself")
        self._children.append(router)

    def freeze(self) -> None:
        """Refuse further registration (called when the app starts serving or polling)."""
        self._frozen = True
        for child in self._children:
            child.freeze()

    # -- lookup -------------------------------------------------------------------------------

    def match(self, event: Event) -> list[Handler]:
        """Every handler for ``event``, in registration order, parents before children; a
        handler registered for several matching patterns runs once."""
        found: list[Handler] = []
        for route in self.routes():
            if route.handler not in found and route.matches(event):
                found.append(route.handler)
        return found

    def routes(self) -> list[Route]:
        """All routes of this router and the routers it includes."""
        routes = list(self._routes)
        for child in self._children:
            routes.extend(child.routes())
        return routes

    def middlewares(self) -> list[Middleware]:
        """All middleware, outermost first."""
        result = list(self._middleware)
        for child in self._children:
            result.extend(child.middlewares())
        return result

    def error_hooks(self) -> list[ErrorHook]:
        """All error hooks."""
        result = list(self._error_hooks)
        for child in self._children:
            result.extend(child.error_hooks())
        return result

    def dispatch(self, event: Event, ctx: Any) -> list[Handler]:
        """Run the middleware chain around every matching handler.

        Every handler runs even when an earlier one raised; each failure goes to the error
        hooks, and the first failure is re-raised at the end so the caller can retry the event.

        Returns:
            The handlers that ran (empty: nobody handles this event type).
        """
        handlers = self.match(event)
        if not handlers:
            return handlers
        failures: list[BaseException] = []

        def run_handlers() -> None:
            for handler in handlers:
                try:
                    handler(event, ctx)
                except Exception as exc:
                    failures.append(exc)
                    for hook in self.error_hooks():
                        hook(event, ctx, exc)

        chain = run_handlers
        for mw in reversed(self.middlewares()):
            chain = _bind(mw, event, ctx, chain)
        chain()
        if failures:
            raise failures[0]
        return handlers

    def _check_setup(self, what: str) -> None:
        if self._frozen:
            raise SetupError(
                f"{what}() was called after the app started serving; register handlers, tools "
                "and middleware at import time, before serve() or poll()"
            )


def _bind(mw: Middleware, event: Event, ctx: Any, nxt: Callable[[], None]) -> Callable[[], None]:
    def call() -> None:
        mw(event, ctx, nxt)

    return call


def _check_arity(fn: Callable[..., Any], n: int, what: str, shape: str) -> None:
    if not callable(fn):
        raise SetupError(f"a {what} must be callable, got {type(fn).__name__}")
    try:
        sig = inspect.signature(fn)
        sig.bind(*([None] * n))
    except TypeError:
        name = getattr(fn, "__qualname__", repr(fn))
        raise SetupError(f"{what} {name} must accept {shape}") from None
    except ValueError:
        return
