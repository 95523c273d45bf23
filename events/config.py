"""Settings: the one place that reads the environment.

``Settings.from_env()`` is the only code in runhook that touches ``os.environ``; everything else
receives a ``Settings`` (or plain keyword arguments). Every field has a default in
``runhook.events.defaults`` and can be overridden by a ``RUNHOOK_<FIELD>`` variable (upper case), e.g.
``RUNHOOK_TOOL_TIMEOUT_S=30``.

Every value is checked when a ``Settings`` is built (from the environment, from keyword
arguments, or by ``replace``): a number out of its range (``RANGES``), an empty webhook key or a
secret that does not decode raises ``ConfigError`` with one line naming the variable and what
it allows. An unknown ``RUNHOOK_*`` variable is kept in ``Settings.extra`` for user code; when
its name is close to a setting's, a warning names that setting.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import difflib
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from runhook.events import defaults
from runhook.events.errors import ConfigError

log = logging.getLogger("runhook.config")


def decode_secret(secret: str) -> bytes:
    """Return the HMAC key bytes of a Standard Webhooks secret.

    ``whsec_<base64>`` is decoded, padded or not (the form OpenAI and Standard Webhooks hand
    out); any other string is used as its UTF-8 bytes, as the openai SDK does.

    Raises:
        ConfigError: a ``whsec_`` secret whose remainder is not valid base64, or a secret whose
            key is empty (anyone could sign with it).
    """
    if secret.startswith("whsec_"):
        encoded = secret[len("whsec_") :]
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(
                "a webhook secret starts with 'whsec_' but the rest is not valid base64; "
                "copy the whole secret as it was issued"
            ) from None
    else:
        key = secret.encode("utf-8")
    if not key:
        raise ConfigError(
            "a webhook secret has an empty key, so anyone could sign; "
            "copy the whole whsec_... secret as it was issued"
        )
    return key


@dataclass(frozen=True)
class Range:
    """The values a numeric setting allows: ``minimum`` and up, finite, integral if ``integer``."""

    minimum: float
    integer: bool = False
    inclusive: bool = True
    why: str = ""

    def allows(self, value: object) -> bool:
        """Whether ``value`` is of the right type and in range (bools are not numbers here)."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.integer and not isinstance(value, int):
            return False
        if not math.isfinite(value):
            return False
        return value >= self.minimum if self.inclusive else value > self.minimum

    def __str__(self) -> str:
        kind = "an integer" if self.integer else "a finite number"
        bound = f"{'>=' if self.inclusive else '>'} {self.minimum:g}"
        return f"{kind} {bound}{f' ({self.why})' if self.why else ''}"


_POSITIVE = Range(0, inclusive=False)
_COUNT = Range(1, integer=True)

#: the allowed range of every numeric setting
RANGES: Mapping[str, Range] = {
    "signature_tolerance_s": _COUNT,
    "max_body_bytes": _COUNT,
    "body_timeout_s": _POSITIVE,
    "claim_lease_s": Range(
        defaults.MIN_CLAIM_LEASE_S, why="it is renewed every third of itself over the store"
    ),
    "completed_ttl_s": _POSITIVE,
    "max_attempts": _COUNT,
    "retry_backoff_s": Range(0),
    "sweep_interval_s": _POSITIVE,
    "worker_threads": _COUNT,
    "worker_queue_size": _COUNT,
    "tool_timeout_s": _POSITIVE,
    "tool_concurrency": _COUNT,
    "deadline_margin_s": Range(0),
    "fetch_max_bytes": _COUNT,
    "fetch_timeout_s": _POSITIVE,
    "openai_timeout_s": _POSITIVE,
    "poll_interval_s": _POSITIVE,
    "poll_max_interval_s": _POSITIVE,
    "poll_threads": _COUNT,
    "poll_scan_s": _POSITIVE,
    "workers": _COUNT,
    "threads": _COUNT,
    "graceful_timeout_s": Range(1, why="gunicorn counts whole seconds"),
    "request_timeout_s": Range(1, why="gunicorn counts whole seconds; 0 would turn it off"),
}


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

    Attributes mirror ``runhook.events.defaults``; see there for what each tunable means.
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
    body_timeout_s: float = defaults.BODY_TIMEOUT_S
    """Longest a request body may take to arrive (``RUNHOOK_BODY_TIMEOUT_S``); then 408."""
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
    openai_timeout_s: float = defaults.OPENAI_TIMEOUT_S
    """Ceiling of every OpenAI request; a run's remaining deadline lowers it."""
    poll_interval_s: float = defaults.POLL_INTERVAL_S
    poll_max_interval_s: float = defaults.POLL_MAX_INTERVAL_S
    poll_threads: int = defaults.POLL_THREADS
    poll_scan_s: float = defaults.POLL_SCAN_S
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

    def __post_init__(self) -> None:
        """Refuse values that cannot work (see ``RANGES`` and ``decode_secret``).

        Raises:
            ConfigError: one line naming the variable and what it allows.
        """
        for name, allowed in RANGES.items():
            value = getattr(self, name)
            if not allowed.allows(value):
                raise ConfigError(f"{env_var(name)}={value!r} is not allowed: use {allowed}")
        if isinstance(self.webhook_secrets, str):
            raise ConfigError(
                f"{defaults.ENV_WEBHOOK_SECRET}: webhook_secrets must be a tuple of secrets, "
                "not one string"
            )
        for name, secrets in (
            ("webhook_secrets", self.webhook_secrets),
            ("openai_webhook_secret", (self.openai_webhook_secret or "",)),
        ):
            for secret in secrets:
                if secret or name == "webhook_secrets":
                    try:
                        decode_secret(secret)
                    except ConfigError as exc:
                        raise ConfigError(f"{env_var(name)}: {exc}") from None

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
            ConfigError: a variable has a value of the wrong type or out of its range, or a
                secret is malformed.
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
                _warn_unknown(var)
                extra[var] = raw
        values["extra"] = extra
        values.update(overrides)
        return cls(**values)


def _warn_unknown(var: str) -> None:
    known = [env_var(f.name) for f in fields(Settings) if f.name != "extra"]
    nearest = difflib.get_close_matches(var, known, n=1, cutoff=0.75)
    if nearest:
        log.warning(
            "%s is not a runhook setting; did you mean %s? (kept in Settings.extra)",
            var,
            nearest[0],
            extra={"variable": var, "nearest": nearest[0]},
        )
    else:
        log.debug("%s is not a runhook setting; kept in Settings.extra", var)


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
