"""The composition root: settings → App → pipeline → Worker → Flask, for every kind of process.

``build`` makes a server process's WSGI app (``runhook serve``, and ``gunicorn -c
deploy/gunicorn.conf.py deploy.wsgi:app``), ``lambda_app`` a serverless process's or bus
consumer's App, ``serve`` runs gunicorn in this process, and ``relay_continuations`` wires the
stream continuations into an App's own pipeline. The CLI and deploy/'s entry files import this
module; nothing of the pipeline or the handlers imports it.
Everything is built inside the gunicorn worker process (after the fork), so no store connection
or thread crosses a fork. On shutdown gunicorn stops accepting and finishes open requests;
then ``worker_exit`` stops the handler pool, waiting for in-flight handlers up to the graceful
timeout and releasing the claims it could not finish, so another process takes them at once.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from runhook.app import App, load_app
from runhook.events import logs
from runhook.events.config import Settings, export_for_workers
from runhook.events.envelope import Event
from runhook.events.errors import ConfigError
from runhook.events.sources.admin import admin_blueprint
from runhook.events.sources.relay import PipelineRelay
from runhook.events.sources.stream import continuations
from runhook.events.sources.watch_api import watch_blueprint
from runhook.events.sources.webhook import create_app
from runhook.events.worker import Worker

log = logging.getLogger("runhook.server")

#: this process's runtime, for gunicorn's hooks (one per worker process)
_RUNNING: dict[str, Any] = {}


def check(settings: Settings) -> None:
    """Refuse to serve without what serving needs.

    Raises:
        ConfigError: no webhook secret is configured.
    """
    if not settings.all_webhook_secrets:
        raise ConfigError(
            "no webhook secret: set RUNHOOK_WEBHOOK_SECRET (or OPENAI_WEBHOOK_SECRET) to a "
            "whsec_... secret; every delivery must be signed with it"
        )


def build(overrides: Mapping[str, Any] | None = None, *, app: App | None = None) -> Flask:
    """Build this process's WSGI app (and start its worker unless the App runs in sync mode).

    Args:
        overrides: Settings fields that win over the environment and the App's own (the
            flags of ``runhook serve``); see ``load_app``.
        app: an App built by the caller (``runhook demo``); ``overrides`` still apply.
    """
    changes = dict(overrides or {})
    # set by prepare_metrics in the master after an App built there read its settings
    changes.setdefault("metrics_dir", Settings.from_env().metrics_dir)
    if app is None:
        app = load_app(Settings.from_env(**changes).app_path, overrides=changes)
    else:
        app.configure(**changes)
    settings = app.settings
    logs.configure(settings.log_level, settings.log_format)
    check(settings)
    relay_continuations(app)
    app.start()
    observer = app.observer  # a missing extra fails here, at boot, naming the extra
    if observer.tracer.enabled:
        logs.configure(settings.log_level, settings.log_format, trace_ids=observer.tracer.ids)
    warm_up(app)
    pipeline = app.pipeline()
    blueprints = [watch_blueprint(app.store, settings)]
    if settings.metrics or settings.admin_page:
        blueprints.append(admin_blueprint(pipeline, observer))
    worker = None
    if not settings.sync:
        worker = Worker(pipeline).start()
    _RUNNING.update(app=app, worker=worker, settings=settings)
    log.info("runhook serving", extra={"store": settings.store_url.split("://")[0]})
    return create_app(pipeline, worker=worker, blueprints=blueprints)


def lambda_app(overrides: Mapping[str, Any] | None = None) -> App:
    """The App of a serverless process or bus consumer: sync mode, started, warmed up."""
    changes = {**(overrides or {}), "sync": True}
    app = load_app(Settings.from_env(**changes).app_path, overrides=changes)
    logs.configure(app.settings.log_level, app.settings.log_format)
    check(app.settings)
    relay_continuations(app)
    app.start()
    tracer = app.observer.tracer  # a missing extra fails here, naming it
    if tracer.enabled:
        logs.configure(app.settings.log_level, app.settings.log_format, trace_ids=tracer.ids)
    warm_up(app)
    return app


def relay_continuations(app: App) -> App:
    """With ``RUNHOOK_STREAM_CONTINUATION``, the App's submits continue as streams whose events
    are relayed into its own pipeline (signed with its first webhook secret); otherwise the
    App submits plainly. Returns the App."""
    settings = app.settings
    if settings.stream_continuation and settings.webhook_secrets:
        relay = PipelineRelay(app.pipeline(), settings.webhook_secrets[0], source="stream")
        app.continue_streams(continuations(relay))
    return app


def warm_up(app: App) -> None:
    """Build the OpenAI client and backends now, in the worker, so the first event does not
    pay for SDK imports and client setup (about 0.25 s measured)."""
    if not app.settings.openai_api_key:
        return
    for api in ("assistants", "responses", "sessions"):
        try:
            app.backend(api)
        except ConfigError:
            return
    app.openai.beta.agents.sessions  # noqa: B018 - the SDK imports its resources on first use
    warm_models()


#: One full event of each kind whose ``data`` the handlers and backends build an SDK model from
#: (``Event.model()``, ``responses.retrieve``), with the parts they read.
WARM_EVENTS: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "thread.run.requires_action",
        {
            "id": "run_warm",
            "object": "thread.run",
            "status": "requires_action",
            "required_action": {
                "type": "submit_tool_outputs",
                "submit_tool_outputs": {
                    "tool_calls": [
                        {
                            "id": "call_w",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ]
                },
            },
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
            "last_error": None,
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        },
    ),
    (
        "response.completed",
        {
            "id": "resp_warm",
            "object": "response",
            "status": "completed",
            "output": [
                {
                    "type": "function_call",
                    "id": "fc_w",
                    "call_id": "call_w",
                    "name": "f",
                    "arguments": "{}",
                    "status": "completed",
                },
                {
                    "type": "message",
                    "id": "msg_w",
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": "", "annotations": []}],
                },
            ],
            "tools": [{"type": "function", "name": "f", "parameters": {}, "strict": False}],
            "text": {"format": {"type": "text"}},
            "reasoning": {"effort": None, "summary": None},
            "tool_choice": "auto",
            "usage": {
                "input_tokens": 1,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": 1,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": 2,
            },
            "error": None,
            "incomplete_details": None,
            "metadata": {},
        },
    ),
    (
        "agent.session.requires_action",
        {
            "id": "sess_warm",
            "object": "agent.session",
            "status": "requires_action",
            "agent": {
                "id": "agent_w",
                "model": "gpt-4o",
                "tools": [{"type": "function", "name": "f", "parameters": {}}],
            },
            "required_actions": [
                {
                    "type": "function_call",
                    "turn_id": "turn_w",
                    "call_id": "call_w",
                    "name": "f",
                    "arguments": {},
                }
            ],
            "error": None,
            "metadata": {},
        },
    ),
)


def warm_models() -> None:
    """Construct each of ``WARM_EVENTS`` as its SDK model once, at boot.

    The SDK builds a model type's validation schema the first time one is constructed: 75-105
    ms of CPU for a ``Response`` on this machine, which each worker's first Responses webhook
    paid (a fresh server's first ten chains took 64 ms of worker CPU each, later ones 13-17).
    """
    for type_, data in WARM_EVENTS:
        Event.create(type_, data).model()


def serve(
    settings: Settings,
    *,
    overrides: Mapping[str, Any] | None = None,
    app_factory: Callable[[Settings], App] | None = None,
    log_level: str = "info",
) -> None:
    """Run gunicorn in this process (it forks the workers; each worker builds its own App,
    with ``app_factory`` when given).

    Args:
        settings: this process's settings; gunicorn's options come from them.
        overrides: Settings fields each worker's App takes over its own (see ``build``).
        app_factory: builds the App from ``settings`` instead of ``RUNHOOK_APP``.
        log_level: gunicorn's log level.
    """
    from gunicorn.app.base import BaseApplication

    check(settings)
    prepare_metrics(settings)

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in gunicorn_options(settings).items():
                if key in self.cfg.settings:  # older gunicorn lacks some settings
                    self.cfg.set(key, value)
            self.cfg.set("loglevel", log_level)

        def load(self) -> Any:
            return build(overrides, app=app_factory(settings) if app_factory else None)

    Server().run()


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """gunicorn settings derived from runhook's."""
    return {
        "bind": settings.bind,
        "workers": settings.workers,
        "threads": settings.threads,
        "worker_class": "gthread",
        "timeout": int(settings.request_timeout_s),
        "graceful_timeout": int(settings.graceful_timeout_s),
        "keepalive": 5,
        "worker_exit": worker_exit,
        "child_exit": child_exit,
        "accesslog": None,
        # gunicorn >= 25 opens a control socket in $HOME/.gunicorn by default: nothing of
        # runhook uses it, two servers on one host would share its path, and a read-only root
        # filesystem cannot hold it.
        "control_socket_disable": True,
    }


def prepare_metrics(settings: Settings) -> str | None:
    """Before gunicorn forks: give the workers one directory to share their metrics in.

    prometheus_client's multiprocess mode reads ``PROMETHEUS_MULTIPROC_DIR`` when the workers
    import it; a directory named there is emptied of an earlier run's files (its counters
    would be added to this run's), else a fresh temporary one is made. Returns the directory,
    or None when metrics are off.
    """
    if not settings.metrics:
        return None
    if settings.metrics_dir:
        directory = Path(settings.metrics_dir)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
    else:
        directory = Path(tempfile.mkdtemp(prefix="runhook-metrics-"))
    export_for_workers("metrics_dir", str(directory))  # inherited by the workers
    return str(directory)


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn hook (in the master): clean up the metrics files of a worker that exited."""
    settings = Settings.from_env()
    if settings.metrics and settings.metrics_dir:
        # the metrics extra (prometheus_client) is imported only where metrics are on
        from runhook.events.observability.metrics import mark_process_dead

        mark_process_dead(worker.pid, settings.metrics_dir)


def worker_exit(server: Any, worker: Any) -> None:
    """gunicorn hook: drain this process's handlers, release what cannot finish."""
    running = _RUNNING.get("worker")
    settings: Settings | None = _RUNNING.get("settings")
    if running is not None and settings is not None:
        finished = running.stop(timeout=max(1.0, settings.graceful_timeout_s - 2))
        log.info("worker drained", extra={"clean": finished})
    app = _RUNNING.get("app")
    if app is not None:
        app.close()
