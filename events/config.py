"""Settings: the one place that reads the environment.

``Settings.from_env()`` is the only code in runhook that touches ``os.environ``; everything else
receives a ``Settings`` (or plain keyword arguments). Every field has a default in
``events.defaults`` and can be overridden by a ``RUNHOOK_<FIELD>`` variable (upper case), e.g.
``RUNHOOK_TOOL_TIMEOUT_S=30``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from events import defaults
from events.errors import ConfigError


def decode_secret(secret: str) -> bytes:
    """Return the HMAC key bytes of a Standard Webhooks secret.

    ``whsec_<base64>`` is decoded (the form OpenAI and Standard Webhooks hand out); any other
    string is used as its UTF-8 bytes, as the openai SDK does.

    Raises:
        ConfigError: a ``whsec_`` secret whose remainder is not valid base64.
    """
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[len("whsec_") :], validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(
                "a webhook secret starts with 'whsec_' but the rest is not valid base64; "
                "copy the whole secret as it was issued"
            ) from None
    return secret.encode("utf-8")


#: Settings fields read from a variable that is not ``RUNHOOK_<FIELD>`` (the usual OpenAI
#: names, and the short ``RUNHOOK_STORE`` / ``RUNHOOK_APP``)
NAMED_VARIABLES: Mapping[str, str] = {
    "webhook_secrets": defaults.ENV_WEBHOOK_SECRET,
    "openai_webhook_secret": defaults.ENV_OPENAI_WEBHOOK_SECRET,
    "openai_api_key": defaults.ENV_OPENAI_API_KEY,
    "openai_base_url": defaults.ENV_OPENAI_BASE_URL,
    "store_url": defaults.ENV_STORE,
    "app_path": defaults.ENV_APP,
    "metrics_dir": defaults.ENV_METRICS_DIR,
}


def env_var(name: str) -> str:
    """The environment variable of the Settings field ``name``."""
    return NAMED_VARIABLES.get(name, f"{defaults.ENV_PREFIX}{name.upper()}")


def export_for_workers(field: str, value: str) -> None:
    """Set the variable of the Settings field ``field`` in this process's environment, for the
    processes it forks and the libraries that read it themselves (prometheus_client reads
    ``PROMETHEUS_MULTIPROC_DIR``). ``runhook serve``'s master calls it before forking."""
    os.environ[env_var(field)] = value


def _split(value: str) -> tuple[str, ...]:
    return tuple(part for part in value.replace(",", " ").split() if part)


@dataclass(frozen=True)
class Settings:
    """Configuration of one runhook process.

    Attributes mirror ``events.defaults``; see there for what each tunable means.
    """

    webhook_secrets: tuple[str, ...] = ()
    """Secrets that sign inbound deliveries (``RUNHOOK_WEBHOOK_SECRET``, space-separated)."""
    openai_webhook_secret: str | None = None
    """OpenAI's own webhook secret (``OPENAI_WEBHOOK_SECRET``); also accepted on ``/events``."""
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    store_url: str = defaults.STORE_URL
    app_path: str | None = None
    """``module:object`` of the user's App (``RUNHOOK_APP``)."""
    signature_tolerance_s: int = defaults.SIGNATURE_TOLERANCE_S
    max_body_bytes: int = defaults.MAX_BODY_BYTES
    claim_lease_s: float = defaults.CLAIM_LEASE_S
    completed_ttl_s: float = defaults.COMPLETED_TTL_S
    max_attempts: int = defaults.MAX_ATTEMPTS
    retry_backoff_s: float = defaults.RETRY_BACKOFF_S
    sweep_interval_s: float = defaults.SWEEP_INTERVAL_S
    worker_threads: int = defaults.WORKER_THREADS
    worker_queue_size: int = defaults.WORKER_QUEUE_SIZE
    tool_timeout_s: float = defaults.TOOL_TIMEOUT_S
    tool_concurrency: int = defaults.TOOL_CONCURRENCY
    deadline_margin_s: float = defaults.DEADLINE_MARGIN_S
    fetch_allow: tuple[str, ...] = ()
    """Hosts or networks ``fetch_url`` may reach although they are private/loopback."""
    fetch_max_bytes: int = defaults.FETCH_MAX_BYTES
    fetch_timeout_s: float = defaults.FETCH_TIMEOUT_S
    poll_interval_s: float = defaults.POLL_INTERVAL_S
    poll_max_interval_s: float = defaults.POLL_MAX_INTERVAL_S
    poll_token: str | None = None
    """Bearer token for the server's watch endpoint (``RUNHOOK_POLL_TOKEN``)."""
    log_level: str = defaults.LOG_LEVEL
    """Level of runhook's logs (``RUNHOOK_LOG_LEVEL``)."""
    log_format: str = defaults.LOG_FORMAT
    """``text``, ``json`` or ``none`` (``RUNHOOK_LOG_FORMAT``)."""
    bind: str = defaults.BIND
    """Listen address of ``runhook serve`` (``RUNHOOK_BIND``)."""
    workers: int = defaults.WORKERS
    threads: int = defaults.THREADS
    graceful_timeout_s: float = defaults.GRACEFUL_TIMEOUT_S
    request_timeout_s: float = defaults.REQUEST_TIMEOUT_S
    stream_continuation: bool = defaults.STREAM_CONTINUATION
    """Submit via ``submit_tool_outputs_stream`` and relay what follows (``RUNHOOK_STREAM_CONTINUATION``)."""
    metrics: bool = defaults.METRICS
    """Serve ``GET /metrics`` (``RUNHOOK_METRICS``; the ``runhook[metrics]`` extra)."""
    tracing: bool = defaults.TRACING
    """Make OpenTelemetry spans (``RUNHOOK_TRACING``; the ``runhook[otel]`` extra)."""
    metrics_dir: str | None = None
    """Where gunicorn's workers share metrics (``PROMETHEUS_MULTIPROC_DIR``, which ``runhook
    serve`` sets); None: one process."""
    admin_page: bool = defaults.ADMIN_PAGE
    """Serve the operator page ``GET /admin`` and record run timelines (``RUNHOOK_ADMIN_PAGE``)."""
    admin_token: str | None = None
    """Bearer token for ``/metrics`` and ``/admin`` (``RUNHOOK_ADMIN_TOKEN``); unset: open."""
    timeline_ttl_s: float = defaults.TIMELINE_TTL_S
    sync: bool = False
    """Process each event before replying (serverless) instead of ack-then-process."""
    extra: Mapping[str, str] = field(default_factory=dict)
    """Any other ``RUNHOOK_*`` variable, for user code."""

    @property
    def all_webhook_secrets(self) -> tuple[str, ...]:
        """Every secret an inbound signature may match: runhook's own, then OpenAI's."""
        secrets = self.webhook_secrets
        if self.openai_webhook_secret:
            secrets = (*secrets, self.openai_webhook_secret)
        return secrets

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with ``changes`` applied (Settings are frozen)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from the environment, then apply keyword ``overrides``.

        Args:
            environ: the variables to read; ``os.environ`` when omitted.
            **overrides: field values that win over the environment.

        Raises:
            ConfigError: a variable has a value of the wrong type, or a secret is malformed.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        direct = NAMED_VARIABLES
        for name, var in direct.items():
            if env.get(var):
                values[name] = _split(env[var]) if name == "webhook_secrets" else env[var]
        known = {f.name: f for f in fields(cls)}
        extra: dict[str, str] = {}
        for var, raw in env.items():
            if not var.startswith(defaults.ENV_PREFIX) or var in direct.values():
                continue
            name = var[len(defaults.ENV_PREFIX) :].lower()
            if name in known and name not in direct and name != "extra":
                values[name] = _coerce(var, raw, known[name].type)
            else:
                extra[var] = raw
        values["extra"] = extra
        values.update(overrides)
        settings = cls(**values)
        for secret in settings.all_webhook_secrets:
            decode_secret(secret)
        return settings


def _coerce(var: str, raw: str, type_: Any) -> Any:
    text = str(type_)
    try:
        if text.startswith("tuple"):
            return _split(raw)
        if text == "bool":
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        if text == "int":
            return int(raw)
        if text == "float":
            return float(raw)
    except ValueError:
        raise ConfigError(f"{var}={raw!r} is not a valid {text}") from None
    return raw
