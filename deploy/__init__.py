"""Deployment entry points: gunicorn (``wsgi``, ``gunicorn.conf.py``), containers, serverless."""
