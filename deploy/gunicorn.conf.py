"""gunicorn configuration: every value comes from runhook's Settings (RUNHOOK_* variables).

``gunicorn -c deploy/gunicorn.conf.py deploy.wsgi:app``: gthread workers, bind
``RUNHOOK_BIND``, ``RUNHOOK_WORKERS`` processes of ``RUNHOOK_THREADS`` threads, graceful
shutdown within ``RUNHOOK_GRACEFUL_TIMEOUT_S`` (handlers drained, unfinished claims released).
"""

from deploy.runtime import gunicorn_options
from events.config import Settings

globals().update(gunicorn_options(Settings.from_env()))
