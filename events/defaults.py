"""Every tunable default and environment variable name, in one place.

Settings (``runhook.events.config.Settings``) start from these values; the environment and keyword
arguments override them.
"""

from __future__ import annotations

SIGNATURE_TOLERANCE_S = 300
"""Largest accepted distance between ``webhook-timestamp`` and now (Standard Webhooks: 5 min)."""

MAX_BODY_BYTES = 1024 * 1024
"""Largest accepted request body on ``POST /events``; larger ones get 413."""

BODY_TIMEOUT_S = 10.0
"""Longest a request body may take to arrive on ``POST /events``; a slower sender gets 408."""

OVERSIZE_DRAIN_BYTES = 64 * 1024 * 1024
"""An oversized body up to this size is read (and discarded, a piece at a time) before its 413,
so a client still sending reads the answer instead of a reset connection."""

BODY_READ_PIECE = 64 * 1024
"""Bytes read from a request body at a time (what is held beyond the limit at most)."""

CLAIM_LEASE_S = 60.0
"""How long a worker owns an inbox entry or a wait before another worker may take it over.
The holder renews it every quarter of this (``LEASE_RENEW_FRACTION``), so only a holder that
stopped renewing for three quarters of it (dead, or stalled that long) loses it."""

LEASE_RENEW_FRACTION = 1 / 4
"""A held lease is renewed after this fraction of it has passed."""

MIN_CLAIM_LEASE_S = 1.0
"""Shortest lease accepted: the lease is renewed every third of itself, and a renewal needs a
store round trip, so a shorter lease cannot be held."""

COMPLETED_TTL_S = 7 * 24 * 3600.0
"""How long a processed event id is remembered for de-duplication (OpenAI retries up to 72 h)."""

MAX_ATTEMPTS = 5
"""Processing attempts of one inbox entry before it is parked (kept with its body until
``runhook inbox replay``; never dropped)."""

RETRY_BACKOFF_S = 2.0
"""First delay before a failed entry is retried; doubles per attempt, with jitter."""

RETRY_BACKOFF_MAX_S = 300.0
"""Longest delay between two attempts of a failed entry (the doubling stops there)."""

RETRY_LATER_WINDOW_S = 3600.0
"""How long after its ``created_at`` an event may keep asking for retries (``RetryLater``
without a deadline) before a further request counts as a failed attempt."""

SWEEP_INTERVAL_S = 1.0
"""How often each worker process looks for due inbox entries (restarts, expired leases)."""

WORKER_THREADS = 8
"""Threads per process that run handlers after the HTTP reply (ack-then-process)."""

WORKER_QUEUE_SIZE = 1000
"""Entries waiting for a handler thread before accept() stops handing work to this process."""

TOOL_TIMEOUT_S = 60.0
"""Longest a single tool call may run; the run's deadline still bounds it."""

TOOL_CONCURRENCY = 16
"""Tool calls of one requires_action run at most this many at a time."""

DEADLINE_MARGIN_S = 15.0
"""Safety margin before a run's ``expires_at``: outputs must be submitted by then."""

OUTPUT_MAX_CHARS = 1_048_576
"""Largest single tool output the Assistants API accepts."""

OUTPUTS_TOTAL_MAX_BYTES = 512 * 1000
"""Combined tool outputs of one submit must stay below 512 KB."""

FETCH_MAX_BYTES = 256 * 1024
"""``fetch_url``: bytes read from the network at most."""

FETCH_TIMEOUT_S = 10.0
"""``fetch_url``: total time budget for one fetch, redirects included."""

FETCH_MAX_REDIRECTS = 5
"""``fetch_url``: redirects followed at most (each one re-checked)."""

OPENAI_TIMEOUT_S = 30.0
"""Longest one OpenAI request may take (the SDK's own default is 600 s); a run's remaining
deadline lowers it per call."""

POLL_INTERVAL_S = 1.0
"""Relay poller: interval when the API sends no ``openai-poll-after-ms``."""

POLL_MAX_INTERVAL_S = 10.0
"""Relay poller: longest interval the backoff grows to for long runs."""

POLL_THREADS = 16
"""Relay poller: watched runs polled at once. Each poll of a waiting run answers it in the
poller's process (its tools and submit), so one slow wait must not hold back the others."""

POLL_SCAN_S = 0.01
"""Relay poller: how often an idle poller asks the store for due entries (a store read, no
API request): how soon a newly watched run is first polled."""

LOG_LEVEL = "info"
"""Level of the ``runhook`` logger: debug, info, warning or error."""

LOG_FORMAT = "text"
"""``text`` (a line with key=value fields), ``json`` (an object per line) or ``none`` (leave
logging to the application); see ``runhook.events.logs``."""

BIND = "127.0.0.1:8000"
"""Where ``runhook serve`` listens (containers set ``0.0.0.0:8000``)."""

WORKERS = 2
"""gunicorn worker processes."""

THREADS = 8
"""gunicorn threads per worker process (gthread): concurrent HTTP requests per process."""

GRACEFUL_TIMEOUT_S = 30.0
"""After SIGTERM: time to finish requests and in-flight handlers before claims are released."""

REQUEST_TIMEOUT_S = 60.0
"""gunicorn worker timeout (a silent worker is restarted after this)."""

STREAM_CONTINUATION = False
"""Submit outputs through a stream and relay the continuation's events into the pipeline.

Wired by the composition root (``runhook.runtime.relay_continuations``: ``runhook serve``,
gunicorn, Lambda and Cloud Functions, ``runhook run`` and ``demo``); an App built by hand calls
it itself."""

METRICS = False
"""Serve Prometheus metrics on ``GET /metrics`` (needs the ``runhook[metrics]`` extra)."""

TRACING = False
"""Make OpenTelemetry spans (needs the ``runhook[otel]`` extra; the SDK and exporter are the
deployment's)."""

ADMIN_PAGE = False
"""Serve the operator page on ``GET /admin`` and record a timeline per run for it."""

TIMELINE_TTL_S = 24 * 3600.0
"""How long a run's timeline (for the operator page) and a delivery's trace context are kept."""

STORE_URL = "sqlite:///runhook.db"
"""Default store: a SQLite file in the working directory."""

# Environment variable names (read only by runhook.events.config.Settings.from_env).
ENV_WEBHOOK_SECRET = "RUNHOOK_WEBHOOK_SECRET"
ENV_OPENAI_WEBHOOK_SECRET = "OPENAI_WEBHOOK_SECRET"
ENV_OPENAI_API_KEY = "OPENAI_API_KEY"
ENV_OPENAI_BASE_URL = "OPENAI_BASE_URL"
ENV_STORE = "RUNHOOK_STORE"
ENV_APP = "RUNHOOK_APP"
ENV_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
ENV_PREFIX = "RUNHOOK_"
