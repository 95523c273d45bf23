"""load_app: the command line's overrides win, the App's own settings stay otherwise."""

from __future__ import annotations

import logging

import pytest

from runhook.app import App, load_app
from runhook.events.errors import ConfigError
from runhook.events.logs import fields_of
from runhook.events.testing import make_event

FACTORY = "tests.scenarios.apps.configured:make"


def test_overrides_apply_to_the_default_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default App reads the environment, then the overrides win; None means not given."""
    monkeypatch.setenv("RUNHOOK_TOOL_CONCURRENCY", "7")
    monkeypatch.setenv("RUNHOOK_STORE", "memory:")
    app = load_app(None, overrides={"sync": True, "workers": None})
    assert (app.settings.sync, app.settings.tool_concurrency, app.settings.workers) == (
        True,
        7,
        2,
    )
    assert "fetch_url" in app.tools.names()


def test_overrides_apply_to_an_imported_app_over_its_code_settings() -> None:
    """An imported App keeps what it set in code, except the fields overridden."""
    app = load_app(FACTORY, overrides={"sync": True, "store_url": "sqlite:///x.db"})
    assert app.settings.tool_concurrency == 3
    assert (app.settings.sync, app.settings.store_url) == (True, "sqlite:///x.db")
    assert load_app(FACTORY).settings.sync is False


def test_configure_after_first_use_is_refused() -> None:
    """Settings cannot change under a pipeline that was built from the old ones."""
    app = load_app(FACTORY)
    app.pipeline()
    app.configure()  # nothing to change is fine
    with pytest.raises(ConfigError, match="cannot change store_url, sync of an App already in use"):
        app.configure(sync=True, store_url="memory:")
    assert isinstance(app, App) and app.settings.sync is False


def test_context_log_keeps_the_calls_fields(caplog: pytest.LogCaptureFixture) -> None:
    """ctx.log adds the event's id and type and keeps what the call passes as extra."""
    app = load_app(FACTORY)
    ctx = app.context(make_event("thread.run.completed", event_id="evt_log"))
    logger = logging.getLogger("runhook")  # caught here even if a process root stopped
    logger.addHandler(caplog.handler)  # propagation to the root logger
    try:
        with caplog.at_level(logging.INFO, logger="runhook"):
            ctx.log.info("outputs submitted", extra={"run_id": "run_1"})
    finally:
        logger.removeHandler(caplog.handler)
    record = caplog.records[0]  # (twice when it also propagates to the root's handler)
    assert fields_of(record) == {
        "event_id": "evt_log",
        "event_type": "thread.run.completed",
        "run_id": "run_1",
    }
