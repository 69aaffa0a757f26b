"""The channels the outbox sends through, by name (see base.py for the interface).

Each channel is a module here exporting ``CHANNEL``; :func:`get` imports it on first use,
so a channel whose module (or library) is missing fails only when something is sent
through it.
"""

from __future__ import annotations

import importlib

from .base import Channel, Delivery

__all__ = ["NAMES", "Channel", "Delivery", "get"]

NAMES = ("sms", "email", "telegram", "webpush", "webhook")


def get(name: str) -> Channel:
    """The channel called ``name``; KeyError for a name that is not a channel."""
    if name not in NAMES:
        raise KeyError(f"no channel called {name!r}")
    return importlib.import_module(f"{__name__}.{name}").CHANNEL
