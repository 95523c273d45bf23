"""gunicorn target: ``gunicorn -c deploy/gunicorn.conf.py deploy.wsgi:app``."""

from __future__ import annotations

from runhook.runtime import build

app = build()
