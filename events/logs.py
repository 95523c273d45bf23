"""Log output of a runhook process: one line per record, with the record's fields.

runhook logs under the ``runhook`` logger and passes what identifies a record as fields
(``extra``): ``webhook_id``, ``event_id``, ``event_type``, ``run_id``, ``status``, ``reason`` and
so on. Bodies, arguments and secrets are never logged. Without a formatter that prints those
fields, an operator would read "delivery refused" with no reason, so every process root
(``runhook serve``'s workers, serverless entry points, the CLI) calls ``configure``, which gives
the ``runhook`` logger one handler on stderr:

- ``text`` (default)::

    2026-11-22T14:40:01.123Z WARNING runhook.pipeline delivery refused source=http status=401 reason='webhook-signature: no signature matches'

- ``json``: one object per line (``ts``, ``level``, ``logger``, ``message``, the fields, and
  ``exc`` with the traceback), for log shippers;
- ``none``: leave logging to the application (its own handlers on ``runhook`` or the root).

With tracing on (``RUNHOOK_TRACING=1``) every line also carries ``trace_id`` and ``span_id`` of
the span it was logged in, so a log search and a trace view meet.

``RUNHOOK_LOG_LEVEL`` (default ``info``) and ``RUNHOOK_LOG_FORMAT`` choose. A ``runhook`` logger
that already has handlers (the application configured it) is left alone.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from runhook.events.errors import ConfigError

LOGGER = "runhook"
FORMATS = ("text", "json", "none")
LEVELS = ("debug", "info", "warning", "error")

#: attributes every LogRecord has; anything else on a record came from ``extra``
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra`` fields of a record."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def _timestamp(record: logging.LogRecord) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{stamp}.{int(record.msecs):03d}Z"


class TextFormatter(logging.Formatter):
    """``time LEVEL logger message key=value …`` (values in ``repr`` when they need quoting)."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record), record.levelname, record.name, record.getMessage()]
        for key, value in fields_of(record).items():
            text = str(value)
            shown = text if text and not any(c in text for c in " ='\"") else repr(text)
            parts.append(f"{key}={shown}")
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **fields_of(record),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TraceFields(logging.Filter):
    """Adds ``trace_id`` and ``span_id`` of the current span to each record that has none.

    Args:
        ids: returns ``(trace_id, span_id)`` of the current span, or None outside one (the
            tracer's ``ids``).
    """

    def __init__(self, ids: Callable[[], tuple[str, str] | None]) -> None:
        super().__init__()
        self.ids = ids

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "trace_id"):
            found = self.ids()
            if found is not None:
                record.trace_id, record.span_id = found
        return True


def configure(
    level: str = "info",
    fmt: str = "text",
    *,
    stream: TextIO | None = None,
    trace_ids: Callable[[], tuple[str, str] | None] | None = None,
) -> None:
    """Give the ``runhook`` logger a stderr handler (see the module docstring).

    Args:
        level: ``RUNHOOK_LOG_LEVEL``.
        fmt: ``RUNHOOK_LOG_FORMAT``.
        stream: where lines go (stderr).
        trace_ids: the tracer's ``ids``, to put trace and span ids on every line.

    Raises:
        ConfigError: an unknown level or format.
    """
    if level.lower() not in LEVELS:
        raise ConfigError(f"RUNHOOK_LOG_LEVEL={level!r}: use one of {', '.join(LEVELS)}")
    if fmt not in FORMATS:
        raise ConfigError(f"RUNHOOK_LOG_FORMAT={fmt!r}: use one of {', '.join(FORMATS)}")
    logger = logging.getLogger(LOGGER)
    if fmt == "none" or any(not getattr(h, "_runhook", False) for h in logger.handlers):
        return
    for handler in list(logger.handlers):  # ours, from an earlier call: replace it
        logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    if trace_ids is not None:
        handler.addFilter(TraceFields(trace_ids))
    handler._runhook = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
