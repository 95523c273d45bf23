"""Shared test configuration.

Fixtures live in ``tests/plugins/<topic>.py``; every module there is loaded as a pytest plugin,
so each area of the suite owns its fixtures without editing this file.
"""

from __future__ import annotations

from pathlib import Path

pytest_plugins = sorted(
    f"tests.plugins.{path.stem}"
    for path in (Path(__file__).parent / "plugins").glob("*.py")
    if path.stem != "__init__"
)
