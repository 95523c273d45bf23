"""Log lines carry their fields, in text or JSON; the application's own setup is respected."""

from __future__ import annotations

import io
import json
import logging

import pytest

from runhook.events import logs
from runhook.events.errors import ConfigError


@pytest.fixture
def runhook_logger() -> logging.Logger:
    """The ``runhook`` logger without handlers (the autouse fixture restores it after)."""
    logger = logging.getLogger(logs.LOGGER)
    logger.handlers.clear()
    return logger


def test_text_line_has_the_fields(runhook_logger: logging.Logger) -> None:
    """A text line is time, level, logger, message and each field, quoted when needed."""
    out = io.StringIO()
    logs.configure("info", "text", stream=out)
    logging.getLogger("runhook.pipeline").warning(
        "delivery refused", extra={"status": 401, "reason": "no signature matches"}
    )
    line = out.getvalue().strip()
    assert line.endswith(
        "WARNING runhook.pipeline delivery refused status=401 reason='no signature matches'"
    )
    assert line[:4].isdigit() and line.split()[0].endswith("Z")


def test_json_line_is_one_object_with_the_traceback(runhook_logger: logging.Logger) -> None:
    """A JSON line parses, holds the fields, and an exception's traceback as ``exc``."""
    out = io.StringIO()
    logs.configure("debug", "json", stream=out)
    try:
        raise RuntimeError("tool broke")
    except RuntimeError:
        logging.getLogger("runhook.worker").exception("failed", extra={"event_id": "evt_1"})
    entry = json.loads(out.getvalue())
    assert (entry["level"], entry["logger"], entry["message"], entry["event_id"]) == (
        "ERROR",
        "runhook.worker",
        "failed",
        "evt_1",
    )
    assert "RuntimeError: tool broke" in entry["exc"]


def test_level_filters_and_reconfigure_replaces(runhook_logger: logging.Logger) -> None:
    """Below the level nothing is written; configuring again replaces runhook's handler."""
    first, second = io.StringIO(), io.StringIO()
    logs.configure("warning", "text", stream=first)
    logs.configure("warning", "json", stream=second)
    log = logging.getLogger("runhook.x")
    log.info("quiet")
    log.error("loud")
    assert first.getvalue() == "" and json.loads(second.getvalue())["message"] == "loud"
    assert len(runhook_logger.handlers) == 1


def test_application_logging_is_left_alone(runhook_logger: logging.Logger) -> None:
    """A handler the application put on ``runhook`` stays the only one; ``none`` adds none."""
    own = logging.NullHandler()
    runhook_logger.addHandler(own)
    logs.configure("info", "json", stream=io.StringIO())
    assert runhook_logger.handlers == [own]
    runhook_logger.removeHandler(own)
    logs.configure("info", "none")
    assert runhook_logger.handlers == []


@pytest.mark.parametrize(("level", "fmt"), [("loud", "text"), ("info", "xml")])
def test_unknown_level_or_format_is_named(level: str, fmt: str) -> None:
    """A bad RUNHOOK_LOG_LEVEL or RUNHOOK_LOG_FORMAT names the variable and the choices."""
    with pytest.raises(ConfigError, match=r"RUNHOOK_LOG_(LEVEL|FORMAT)=.*: use one of"):
        logs.configure(level, fmt)
