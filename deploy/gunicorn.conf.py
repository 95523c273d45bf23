"""gunicorn configuration: every value comes from runhook's Settings (RUNHOOK_* variables).

``gunicorn -c deploy/gunicorn.conf.py deploy.wsgi:app``: gthread workers, bind
``RUNHOOK_BIND``, ``RUNHOOK_WORKERS`` processes of ``RUNHOOK_THREADS`` threads, graceful
shutdown within ``RUNHOOK_GRACEFUL_TIMEOUT_S`` (handlers drained, unfinished claims released).
With ``RUNHOOK_METRICS=1`` the workers share their metrics through ``PROMETHEUS_MULTIPROC_DIR``
(a fresh temporary directory unless set), cleaned per worker on exit (``child_exit``).
"""

from deploy.runtime import gunicorn_options, prepare_metrics
from events.config import Settings

prepare_metrics(Settings.from_env())  # before the fork: the workers share one metrics directory
globals().update(gunicorn_options(Settings.from_env()))
