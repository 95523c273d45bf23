"""The App: the root router plus the wiring (store, backends, OpenAI client, tools).

What ``RUNHOOK_APP=module:object`` names. A user's whole integration is one file::

    from runhook import App

    app = App()

    @app.tool
    def get_weather(city: str) -> str:
        '''Current weather for a city.

        Args:
            city: the city name.
        '''
        return "sunny"

    @app.on("thread.run.completed")
    def done(event, ctx):
        ctx.log.info("run finished")

Collaborators are injected (``App(store=…, openai=…, backends=…)``) or built lazily from
``Settings`` on first use, so importing the user's module opens no connection.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, TypeVar

from runhook.backends import make_backend
from runhook.backends.observed import ObservedBackend
from runhook.backends.tracing import traced_http_client
from runhook.context import Context, OutcomeHook
from runhook.events.config import Settings
from runhook.events.envelope import Event
from runhook.events.errors import ConfigError, StoreError
from runhook.events.observability import NULL_OBSERVER, Observer, build_observer, wanted
from runhook.events.pipeline import Pipeline
from runhook.events.routing import Router
from runhook.events.store import open_store
from runhook.events.store.base import Store
from runhook.events.watchlist import watch_follow_up
from runhook.lifecycle import router as lifecycle_router
from runhook.requires_action import router as requires_action_router
from runhook.tools.fetch_url import register_fetch_url
from runhook.tools.pool import ToolPool
from runhook.tools.registry import ToolRegistry
from runhook.tracing import traced_handler

if TYPE_CHECKING:
    from openai import OpenAI

    from runhook.backends.base import Backend

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("runhook")


class App(Router):
    """Root router of a runhook deployment.

    Args:
        settings: configuration; ``Settings.from_env()`` when omitted.
        store: the store; opened from ``settings.store_url`` on first use when omitted.
        openai: the OpenAI client; built from ``settings`` on first use when omitted.
        backends: ``{"assistants": …, "responses": …}``; built from ``openai`` when omitted.
        executor: runs tool calls; a ``ToolPool`` (threads shared by every wait, a new one
            whenever none is idle) when omitted.
        tools: the tool registry; a new one when omitted.
        clock: unix seconds, injectable for tests.
        include_defaults: attach the built-in requires_action and lifecycle handlers.
        observer: metrics, tracing and timeline hooks; built from ``settings`` (metrics,
            tracing, admin_page) on first use when omitted.
    """

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        store: Store | None = None,
        openai: OpenAI | None = None,
        backends: Mapping[str, Backend] | None = None,
        executor: Executor | None = None,
        tools: ToolRegistry | None = None,
        clock: Callable[[], float] = time.time,
        include_defaults: bool = True,
        observer: Observer | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings if settings is not None else Settings.from_env()
        self.tools = tools if tools is not None else ToolRegistry()
        self.executor: Executor = executor if executor is not None else ToolPool()
        self.clock = clock
        self._store = store
        self._openai = openai
        self._backends: dict[str, Backend] = dict(backends or {})
        self._pipeline: Pipeline | None = None
        self._observer = observer
        self.outcome_hooks: list[OutcomeHook] = []
        self._continuations: dict[str, Any] = {}
        self._lock = threading.RLock()
        if include_defaults:
            self.include(requires_action_router)
            self.include(lifecycle_router)

    # -- registration -------------------------------------------------------------------------

    def tool(
        self,
        fn: F | None = None,
        /,
        *,
        name: str | None = None,
        timeout_s: float | None = None,
        strict: bool = True,
    ) -> Any:
        """Register a function as a tool (``@app.tool`` or ``@app.tool(name=…)``).

        The JSON schema is built from the type hints and the Google-style docstring when the
        decorator runs; a parameter without a type hint raises ``SetupError`` there.
        """

        def decorator(f: F) -> F:
            self._check_setup("tool")
            self.tools.register(f, name=name, timeout_s=timeout_s, strict=strict)
            return f

        return decorator(fn) if fn is not None else decorator

    def on_outcome(self, fn: F) -> F:
        """Register ``fn(outcome: RunOutcome, ctx)``, called once when a run ends."""
        self._check_setup("on_outcome")
        self.outcome_hooks.append(fn)
        return fn

    def configure(self, **changes: Any) -> None:
        """Override settings field by field before first use.

        ``load_app`` calls this with the command line's flags and a runtime's needs (sync
        mode for serverless and buses), so they win over what the App read from the
        environment while the values set in code for the other fields stay.

        None values mean "not given" and change nothing.

        Raises:
            ConfigError: the pipeline was already built from the old settings.
        """
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:
            return
        with self._lock:
            if self._pipeline is not None:
                raise ConfigError(
                    f"cannot change {', '.join(sorted(changes))} of an App already in use; "
                    "configure it before its first event"
                )
            self.settings = self.settings.replace(**changes)

    # -- collaborators (lazy) -------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The store, opened from ``settings.store_url`` on first use."""
        with self._lock:
            if self._store is None:
                self._store = open_store(self.settings.store_url, clock=self.clock)
            return self._store

    @property
    def observer(self) -> Observer:
        """The observability hooks, built from settings on first use (see
        ``runhook.events.observability``); opening no store when nothing is switched on."""
        with self._lock:
            if self._observer is None:
                self._observer = (
                    build_observer(self.settings, self.store, clock=self.clock)
                    if wanted(self.settings)
                    else NULL_OBSERVER
                )
            return self._observer

    def match(self, event: Event) -> list[Any]:
        """The handlers for ``event``; with tracing on, each runs in a span of its own."""
        handlers = super().match(event)
        tracer = self.observer.tracer
        if not tracer.enabled:
            return handlers
        return [traced_handler(handler, tracer) for handler in handlers]

    @property
    def openai(self) -> OpenAI:
        """The OpenAI client, built from settings on first use."""
        with self._lock:
            if self._openai is None:
                from openai import OpenAI

                if not self.settings.openai_api_key:
                    raise ConfigError(
                        "OPENAI_API_KEY is not set: runhook needs it to load runs and submit "
                        "outputs (any value works against the bundled stand-in)"
                    )
                options: dict[str, Any] = {}
                if self.settings.tracing:
                    options["http_client"] = traced_http_client(self.observer.tracer)
                self._openai = OpenAI(
                    api_key=self.settings.openai_api_key,
                    base_url=self.settings.openai_base_url,
                    webhook_secret=self.settings.openai_webhook_secret,
                    **options,
                    timeout=self.settings.openai_timeout_s,
                )
            return self._openai

    def backend(self, api: str) -> Backend:
        """The backend serving ``api`` (``assistants``, ``responses`` or ``sessions``)."""
        with self._lock:
            if api not in self._backends:
                self._backends[api] = make_backend(
                    api,
                    self.openai,
                    self.settings,
                    continuation=self._continuations.get(api),
                    on_follow_up=self._watch_follow_up,
                )
            return self._backends[api]

    def continue_streams(self, continuations: Mapping[str, Any]) -> None:
        """Submit through these stream continuations (``{"assistants": …, "responses": …}``).

        The composition root calls this when ``RUNHOOK_STREAM_CONTINUATION`` is on
        (``runhook.runtime.relay_continuations``): the App holds what handlers need, and whoever
        wires the sources builds the relay the continuations feed.

        Raises:
            ConfigError: a backend was already built without them.
        """
        with self._lock:
            built = sorted(set(self._backends) & set(continuations))
            if built:
                raise ConfigError(
                    f"the {', '.join(built)} backend is already in use; set stream "
                    "continuations before the first event"
                )
            self._continuations.update(continuations)

    def _watch_follow_up(self, previous_id: str, follow_up_id: str) -> None:
        """A watched response's follow-up is watched too, so the poller follows the chain."""
        try:
            watch_follow_up(self.store, previous_id, follow_up_id)
        except StoreError:
            # the follow-up exists: failing here would retry the submit and fork the chain
            log.warning("follow-up %s not put on the watch list", follow_up_id, exc_info=True)

    def context(self, event: Event) -> Context:
        """Build the handler context for one event: this App's collaborators, each handed
        over on its own (backends observed when observability is on)."""
        observer = self.observer
        backend_for = self.backend
        if observer.enabled:
            scope = observer.run(event)

            def backend_for(api: str) -> Backend:
                return ObservedBackend(self.backend(api), scope)

        return Context(
            event=event,
            log=EventLog(log, {"event_id": event.id, "event_type": event.type}),
            settings=self.settings,
            store=self.store,
            tools=self.tools,
            backend_for=backend_for,
            openai_client=lambda: self.openai,
            observability=observer,
            clock=self.clock,
            executor=self.executor,
            outcome_hooks=tuple(self.outcome_hooks),
        )

    def pipeline(self) -> Pipeline:
        """The pipeline that feeds this app (one per App)."""
        with self._lock:
            if self._pipeline is None:
                self._pipeline = Pipeline(
                    self,
                    self.store,
                    self.settings,
                    context_factory=self.context,
                    clock=self.clock,
                    observer=self.observer,
                )
            return self._pipeline

    def start(self) -> None:
        """Freeze registration; called by every server and relay before the first event."""
        self.freeze()

    def close(self) -> None:
        """Close the store and the OpenAI client this app opened."""
        if self._store is not None:
            self._store.close()
        if self._openai is not None:
            self._openai.close()


class EventLog(logging.LoggerAdapter[logging.Logger]):
    """``ctx.log``: adds the event's id and type to every record, keeping the call's own
    ``extra`` fields too (the stdlib adapter replaces them before Python 3.13)."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        kwargs["extra"] = {**(self.extra or {}), **(kwargs.get("extra") or {})}
        return msg, kwargs


def load_app(path: str | None, *, overrides: Mapping[str, Any] | None = None) -> App:
    """Import the App named ``module:object`` (``RUNHOOK_APP``).

    With no path, a default App with only the built-in handlers (and the bundled ``fetch_url``
    tool) is returned, its settings read from the environment.

    Args:
        path: ``module:object``; the object is an App or a callable returning one.
        overrides: Settings fields that win (command-line flags, sync mode for serverless):
            applied to the default App's environment settings, or to an imported App's own
            settings through ``App.configure``. None values are ignored.

    Raises:
        ConfigError: the module cannot be imported, the object is not an App, or it is
            already in use and cannot take ``overrides``.
    """
    changes = {k: v for k, v in (overrides or {}).items() if v is not None}
    if not path:
        app = App(settings=Settings.from_env(**changes))
        register_fetch_url(app)
        return app
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"RUNHOOK_APP={path!r} must be 'module:object', e.g. 'myapp:app'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"RUNHOOK_APP={path!r}: cannot import {module_name!r} ({exc})") from exc
    obj = getattr(module, attr, None)
    if callable(obj) and not isinstance(obj, App):
        obj = obj()
    if not isinstance(obj, App):
        raise ConfigError(
            f"RUNHOOK_APP={path!r}: {attr!r} is {type(obj).__name__}, not a runhook.App"
        )
    obj.configure(**changes)
    return obj
