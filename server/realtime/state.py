"""What the live channel keeps per app (``create_app`` may run many times in one
process, as in the tests): its publisher, the public page's shared snapshots, who works
at which counter and the connections it holds by kind. The connect and disconnect
handlers (channel.py) reach it through :func:`live`."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask, current_app

from .presence import CounterPresence
from .public_snapshot import PublicSnapshots
from .publisher import Publisher
from .rooms import Connections

EXTENSION = "novbe_live"


@dataclass(frozen=True)
class LiveState:
    publisher: Publisher
    snapshots: PublicSnapshots
    presence: CounterPresence
    connections: Connections = field(default_factory=Connections)


def live_of(app: Flask) -> LiveState:
    return app.extensions[EXTENSION]


def live() -> LiveState:
    """The current app's (in a request or a Socket.IO handler)."""
    return live_of(current_app)
