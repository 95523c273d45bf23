"""The README stays true: every setting and every command is documented."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from events import defaults
from events.config import Settings
from handlers.cli import COMMANDS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
NAMED = {
    "webhook_secrets": defaults.ENV_WEBHOOK_SECRET,
    "openai_webhook_secret": defaults.ENV_OPENAI_WEBHOOK_SECRET,
    "openai_api_key": defaults.ENV_OPENAI_API_KEY,
    "openai_base_url": defaults.ENV_OPENAI_BASE_URL,
    "store_url": defaults.ENV_STORE,
    "app_path": defaults.ENV_APP,
}


def test_every_setting_is_in_the_configuration_table() -> None:
    """Each Settings field's environment variable appears in the README."""
    missing = [
        NAMED.get(f.name, f"RUNHOOK_{f.name.upper()}")
        for f in fields(Settings)
        if f.name != "extra" and f"`{NAMED.get(f.name, f'RUNHOOK_{f.name.upper()}')}`" not in README
    ]
    assert missing == []


def test_every_command_is_documented() -> None:
    """Each `runhook <command>` appears in the README."""
    assert [c for c in COMMANDS if f"runhook {c}" not in README] == []
