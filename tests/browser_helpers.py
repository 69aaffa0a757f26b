"""Helpers for the browser tests that every screen's page needs."""

from __future__ import annotations

import time

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
