"""Helpers for the browser tests that every screen's page needs."""

from __future__ import annotations

import os
import time
from pathlib import Path

WAIT_MS = 30_000  # Playwright's own default time-out


def wait_until(page, expression: str, timeout_ms: int = WAIT_MS):
    """Playwright's ``page.wait_for_function`` without its ``eval``: the screens'
    Content-Security-Policy forbids ``eval`` and the polling function is run by the page.
    ``page.evaluate`` goes through DevTools, which the policy does not cover. Returns
    the expression's first truthy value."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_ms} ms: {expression}")
        page.wait_for_timeout(50)


def screenshot(page, name: str, *, full_page: bool = False) -> None:
    """Keep what the test saw as ``<name>.png`` in $NOVBE_SCREENSHOTS when it is set (for a
    person to look at), else nothing: the tests assert, the pictures are for review."""
    folder = os.environ.get("NOVBE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=full_page)
