"""Helpers for the deployment-file tests: read deploy/, and know which variables runhook reads.

- ``DEPLOY``: the deploy/ directory;
- ``load_yaml(path)``: every document of a YAML file, CloudFormation tags (``!Ref``,
  ``!GetAtt``, ``!Sub``…) read as ``{"!Ref": value}``;
- ``VARIABLES``: every environment variable ``Settings.from_env`` maps to a field;
- ``SECRET_VARIABLES``: those that must come from a secret store, never a plain value;
- ``settings_from(env)``: the Settings those plain values give, failing on any runhook
  variable that would land in ``Settings.extra`` (a typo runhook would silently ignore).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from runhook.events import defaults
from runhook.events.config import Settings, env_var

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"

VARIABLES = {env_var(f.name) for f in fields(Settings) if f.name != "extra"}
SECRET_VARIABLES = {
    defaults.ENV_WEBHOOK_SECRET,
    defaults.ENV_OPENAI_WEBHOOK_SECRET,
    defaults.ENV_OPENAI_API_KEY,
    defaults.ENV_STORE,
    "RUNHOOK_POLL_TOKEN",
    "RUNHOOK_ADMIN_TOKEN",
}


class _CloudFormationLoader(yaml.SafeLoader):
    """SafeLoader that keeps CloudFormation's short-form tags as one-key mappings."""


def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {f"!{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _tagged)


def load_yaml(path: Path) -> list[Any]:
    """Every non-empty document of the YAML file at ``path``."""
    return [doc for doc in yaml.load_all(path.read_text(), _CloudFormationLoader) if doc]


def settings_from(env: Mapping[str, str]) -> Settings:
    """Settings from plain variable values; fails on a ``RUNHOOK_*`` or ``OPENAI_*`` variable
    that runhook does not read (other variables, such as ``PYTHON*``, are not its business)."""
    ours = {k: v for k, v in env.items() if k.startswith((defaults.ENV_PREFIX, "OPENAI_"))}
    unknown = sorted(set(ours) - VARIABLES)
    assert unknown == [], f"variables runhook does not read: {unknown}"
    return Settings.from_env(environ=ours)
