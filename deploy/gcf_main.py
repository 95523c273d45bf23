"""Google Cloud Functions entry points (source ``deploy/gcf_main.py``; sync mode, see
``runhook.events.sources.gcf``):

- ``entry``: HTTP function — signed POSTs and Pub/Sub push subscriptions;
- ``pubsub``: CloudEvent function — a Pub/Sub trigger through Eventarc (deploy with --retry).
"""

import contextlib

from runhook.events.sources import gcf
from runhook.runtime import lambda_app

app = lambda_app()
entry = gcf.http_handler(app, name="entry")
pubsub = gcf.cloud_event_handler(app, name="pubsub")

with contextlib.suppress(ImportError):  # functions-framework, when present, learns the types
    import functions_framework

    functions_framework.http(entry)
    functions_framework.cloud_event(pubsub)
