"""Settings refuse what cannot work, in one line naming the variable and what it allows."""

from __future__ import annotations

import base64
import logging
import math
import subprocess
import sys

import pytest

from runhook.events import defaults
from runhook.events.config import RANGES, Settings, decode_secret, env_var
from runhook.events.errors import ConfigError
from runhook.events.signing import sign_headers, verify
from tests.plugins.gunicorn import REPO, free_port

KEY = b"runhook-config-test-key-32-bytes"
PADDED = "whsec_" + base64.b64encode(b"abcd").decode()  # 'YWJjZA==' ends in padding

REFUSED = [
    ("RUNHOOK_WORKERS", "0", "an integer >= 1"),
    ("RUNHOOK_WORKERS", "-2", "an integer >= 1"),
    ("RUNHOOK_THREADS", "0", "an integer >= 1"),
    ("RUNHOOK_WORKER_THREADS", "-3", "an integer >= 1"),
    ("RUNHOOK_WORKER_QUEUE_SIZE", "0", "an integer >= 1"),
    ("RUNHOOK_MAX_ATTEMPTS", "0", "an integer >= 1"),
    ("RUNHOOK_TOOL_CONCURRENCY", "0", "an integer >= 1"),
    ("RUNHOOK_MAX_BODY_BYTES", "0", "an integer >= 1"),
    ("RUNHOOK_FETCH_MAX_BYTES", "-1", "an integer >= 1"),
    ("RUNHOOK_SIGNATURE_TOLERANCE_S", "0", "an integer >= 1"),
    ("RUNHOOK_BODY_TIMEOUT_S", "nan", "a finite number > 0"),
    ("RUNHOOK_CLAIM_LEASE_S", "-1", "a finite number >= 1"),
    ("RUNHOOK_CLAIM_LEASE_S", "nan", "a finite number >= 1"),
    ("RUNHOOK_CLAIM_LEASE_S", "inf", "a finite number >= 1"),
    ("RUNHOOK_CLAIM_LEASE_S", "0.5", "a finite number >= 1"),
    ("RUNHOOK_COMPLETED_TTL_S", "0", "a finite number > 0"),
    ("RUNHOOK_RETRY_BACKOFF_S", "-1", "a finite number >= 0"),
    ("RUNHOOK_RETRY_BACKOFF_S", "nan", "a finite number >= 0"),
    ("RUNHOOK_SWEEP_INTERVAL_S", "0", "a finite number > 0"),
    ("RUNHOOK_TOOL_TIMEOUT_S", "nan", "a finite number > 0"),
    ("RUNHOOK_TOOL_TIMEOUT_S", "0", "a finite number > 0"),
    ("RUNHOOK_DEADLINE_MARGIN_S", "-inf", "a finite number >= 0"),
    ("RUNHOOK_FETCH_TIMEOUT_S", "-5", "a finite number > 0"),
    ("RUNHOOK_OPENAI_TIMEOUT_S", "0", "a finite number > 0"),
    ("RUNHOOK_POLL_INTERVAL_S", "0", "a finite number > 0"),
    ("RUNHOOK_POLL_MAX_INTERVAL_S", "nan", "a finite number > 0"),
    ("RUNHOOK_POLL_THREADS", "0", "an integer >= 1"),
    ("RUNHOOK_POLL_SCAN_S", "-1", "a finite number > 0"),
    ("RUNHOOK_GRACEFUL_TIMEOUT_S", "0.5", "a finite number >= 1"),
    ("RUNHOOK_REQUEST_TIMEOUT_S", "0", "a finite number >= 1"),
]


class TestRanges:
    @pytest.mark.parametrize(("var", "raw", "allowed"), REFUSED)
    def test_out_of_range_is_one_line(self, var: str, raw: str, allowed: str) -> None:
        """A value out of its range is refused naming the variable, the value and the range."""
        with pytest.raises(ConfigError) as exc:
            Settings.from_env({var: raw})
        message = str(exc.value)
        assert message.startswith(f"{var}=")
        assert allowed in message and "\n" not in message

    def test_every_numeric_setting_has_a_range_and_a_refused_case(self) -> None:
        """Each field in RANGES is exercised by a refused case above."""
        assert {env_var(name) for name in RANGES} == {var for var, _, _ in REFUSED}

    def test_defaults_are_valid(self) -> None:
        """Settings() with every default builds."""
        assert Settings().claim_lease_s == defaults.CLAIM_LEASE_S

    def test_keyword_arguments_are_checked_too(self) -> None:
        """Settings built in code, and replace(), are checked like the environment."""
        with pytest.raises(ConfigError, match=r"^RUNHOOK_WORKER_THREADS=0 "):
            Settings(worker_threads=0)
        with pytest.raises(ConfigError, match=r"^RUNHOOK_CLAIM_LEASE_S=nan "):
            Settings().replace(claim_lease_s=math.nan)
        with pytest.raises(ConfigError, match=r"^RUNHOOK_WORKERS=True "):
            Settings(workers=True)

    def test_configure_is_checked(self) -> None:
        """App.configure refuses an out-of-range value before anything is built."""
        from runhook.app import App

        app = App(settings=Settings(store_url="memory:"), include_defaults=False)
        with pytest.raises(ConfigError, match="RUNHOOK_THREADS=0"):
            app.configure(threads=0)

    def test_minimum_lease_is_accepted(self) -> None:
        """A lease of exactly MIN_CLAIM_LEASE_S is allowed."""
        env = {"RUNHOOK_CLAIM_LEASE_S": str(defaults.MIN_CLAIM_LEASE_S)}
        assert Settings.from_env(env).claim_lease_s == defaults.MIN_CLAIM_LEASE_S


class TestSecrets:
    @pytest.mark.parametrize("secret", ["whsec_", "whsec_ other"])
    def test_empty_key_is_refused(self, secret: str) -> None:
        """A whsec_ secret that decodes to no bytes is refused: anyone could sign with it."""
        with pytest.raises(ConfigError, match="^RUNHOOK_WEBHOOK_SECRET: .*empty key"):
            Settings.from_env({"RUNHOOK_WEBHOOK_SECRET": secret})

    def test_empty_openai_key_is_refused(self) -> None:
        """OPENAI_WEBHOOK_SECRET=whsec_ is refused naming that variable."""
        with pytest.raises(ConfigError, match="^OPENAI_WEBHOOK_SECRET: .*empty key"):
            Settings.from_env({"OPENAI_WEBHOOK_SECRET": "whsec_"})

    def test_empty_secret_in_code_is_refused(self) -> None:
        """An empty string among webhook_secrets is refused."""
        with pytest.raises(ConfigError, match="empty key"):
            Settings(webhook_secrets=("",))

    def test_padded_and_unpadded_decode_alike(self) -> None:
        """whsec_ with and without '=' padding gives the same key."""
        assert PADDED.endswith("==")
        assert decode_secret(PADDED) == decode_secret(PADDED.rstrip("=")) == b"abcd"

    def test_unpadded_secret_signs_and_verifies(self) -> None:
        """A delivery signed with the padded form verifies against the unpadded one."""
        padded = "whsec_" + base64.b64encode(KEY).decode()
        unpadded = padded.rstrip("=")
        assert unpadded != padded
        settings = Settings.from_env({"RUNHOOK_WEBHOOK_SECRET": unpadded})
        body = b'{"id":"evt_1"}'
        headers = sign_headers(padded, body, msg_id="msg_1", timestamp=1000)
        verify(settings.webhook_secrets, headers, body, now=lambda: 1000.0)

    def test_not_base64_is_refused(self) -> None:
        """A whsec_ secret with characters outside base64 is refused."""
        with pytest.raises(ConfigError, match="not valid base64"):
            Settings.from_env({"RUNHOOK_WEBHOOK_SECRET": "whsec_not*base64"})


class TestUnknownVariables:
    def test_misspelt_name_warns_with_the_nearest(self, caplog: pytest.LogCaptureFixture) -> None:
        """A RUNHOOK_* name close to a setting's is logged with that setting, value not shown."""
        with caplog.at_level(logging.WARNING, logger="runhook.config"):
            settings = Settings.from_env({"RUNHOOK_WORKER_THREAD": "3"})
        assert settings.extra == {"RUNHOOK_WORKER_THREAD": "3"}
        messages = [r.getMessage() for r in caplog.records if r.name == "runhook.config"]
        assert messages == [
            "RUNHOOK_WORKER_THREAD is not a runhook setting; did you mean "
            "RUNHOOK_WORKER_THREADS? (kept in Settings.extra)"
        ]

    def test_user_variables_stay_quiet(self, caplog: pytest.LogCaptureFixture) -> None:
        """A RUNHOOK_* name far from every setting lands in extra without a warning."""
        with caplog.at_level(logging.WARNING, logger="runhook.config"):
            settings = Settings.from_env({"RUNHOOK_COUNT_FILE": "/tmp/x"})
        assert settings.extra == {"RUNHOOK_COUNT_FILE": "/tmp/x"}
        assert not [r for r in caplog.records if r.name == "runhook.config"]


def serve(**env: str) -> subprocess.CompletedProcess[str]:
    """Run `runhook serve` with ``env`` and a valid secret and store."""
    return subprocess.run(
        [sys.executable, "-m", "runhook.cli", "serve"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(REPO),
            "RUNHOOK_WEBHOOK_SECRET": "whsec_YWJj",
            "RUNHOOK_STORE": "memory:",
            "RUNHOOK_BIND": f"127.0.0.1:{free_port()}",
            **env,
        },
    )


@pytest.mark.parametrize(
    ("var", "raw"),
    [
        ("RUNHOOK_WORKERS", "0"),
        ("RUNHOOK_THREADS", "0"),
        ("RUNHOOK_CLAIM_LEASE_S", "nan"),
        ("RUNHOOK_WEBHOOK_SECRET", "whsec_"),
    ],
)
def test_serve_refuses_in_one_line(var: str, raw: str) -> None:
    """`runhook serve` with a bad setting exits 1 with one line naming it, no traceback."""
    result = serve(**{var: raw})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"runhook serve: {var}")


def test_gunicorn_config_refuses_in_one_line() -> None:
    """gunicorn with deploy/gunicorn.conf.py and RUNHOOK_THREADS=0 exits with one line."""
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "deploy.wsgi:app"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "RUNHOOK_THREADS": "0"},
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "runhook: RUNHOOK_THREADS=0 is not allowed: use an integer >= 1"
    ]
