"""Headless Chromium (Debian's ``chromium``) driven by Playwright, for the page tests.

Playwright's own browser download is never used: it launches ``/usr/bin/chromium``, which
``.ci/install-services`` installs. Without it (or without playwright) the browser tests skip
with the reason on a developer's machine and fail in CI.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true" or os.environ.get("RUNHOOK_REQUIRE_SERVICES") == "1":
        pytest.fail(f"CI needs {reason}: see .ci/install-services")
    pytest.skip(f"{reason}; run .ci/install-services (apt-get install chromium)")


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[Any]:
    """A Playwright page in headless Chromium with an empty profile (closed at teardown)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright (the dev extra)")
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not path:
        _missing("Debian's chromium package")
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=path, headless=True, args=ARGS
        )
        try:
            yield context.new_page()
        finally:
            context.close()
