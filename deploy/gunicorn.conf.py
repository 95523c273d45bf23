"""gunicorn configuration: every value comes from runhook's Settings (RUNHOOK_* variables).

``gunicorn -c deploy/gunicorn.conf.py deploy.wsgi:app``: gthread workers, bind
``RUNHOOK_BIND``, ``RUNHOOK_WORKERS`` processes of ``RUNHOOK_THREADS`` threads, graceful
shutdown within ``RUNHOOK_GRACEFUL_TIMEOUT_S`` (handlers drained, unfinished claims released).
With ``RUNHOOK_METRICS=1`` the workers share their metrics through ``PROMETHEUS_MULTIPROC_DIR``
(a fresh temporary directory unless set), cleaned per worker on exit (``child_exit``).
A setting out of its range stops gunicorn with one line naming it (no traceback).
"""

from runhook.events.config import Settings
from runhook.events.errors import ConfigError
from runhook.runtime import gunicorn_options, prepare_metrics

try:
    _settings = Settings.from_env()
except ConfigError as exc:
    # SystemExit passes gunicorn's "Failed to read config file" handler, which would print a
    # traceback for any Exception.
    raise SystemExit(f"runhook: {exc}") from None

prepare_metrics(_settings)  # before the fork: the workers share one metrics directory
globals().update(gunicorn_options(_settings))
