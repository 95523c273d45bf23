"""The README stays true: every setting and every command is documented."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from runhook.cli import COMMANDS
from runhook.events.config import Settings, env_var

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_in_the_configuration_table() -> None:
    """Each Settings field's environment variable appears in the README."""
    variables = [env_var(f.name) for f in fields(Settings) if f.name != "extra"]
    missing = [var for var in variables if f"`{var}`" not in README]
    assert missing == []


def test_every_command_is_documented() -> None:
    """Each `runhook <command>` appears in the README."""
    assert [c for c in COMMANDS if f"runhook {c}" not in README] == []
