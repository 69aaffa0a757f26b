"""The live channel's namespace and rooms, which visitors' phones this process holds,
and how many connections of each kind it holds.

A room's name says who is in it; the channel (channel.py) decides from the credential
which rooms a connection joins, never the client.
"""

from __future__ import annotations

import threading
from collections import Counter

NAMESPACE = "/live"


def center_room(center_id: int) -> str:
    return f"center:{center_id}"


def counter_room(counter_id: int) -> str:
    return f"counter:{counter_id}"


def ticket_room(tracking_token: str) -> str:
    return f"ticket:{tracking_token}"


def public_room(center_id: int) -> str:
    """Anyone's: the public page's figures (``public.stats``) and nothing else."""
    return f"public:{center_id}"


# Network admins' all-centers view: one row per center, as its figures change.
NETWORK_ROOM = "network"


def device_room(device_id: int) -> str:
    """A kiosk's or display's own room: its tickets' print states."""
    return f"device:{device_id}"


def printer_room(device_id: int) -> str:
    """The print agents of a kiosk: its print jobs (they carry phone links)."""
    return f"device:{device_id}:printer"


class Visitors:
    """Visitors' phones connected to this process: Socket.IO session id -> the ticket's
    tracking token. Each process pushes positions to its own phones (publisher.py)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, str] = {}

    def add(self, sid: str, tracking_token: str) -> None:
        with self._lock:
            self._tokens[sid] = tracking_token

    def remove(self, sid: str) -> None:
        with self._lock:
            self._tokens.pop(sid, None)

    def tokens(self) -> list[str]:
        with self._lock:
            return sorted(set(self._tokens.values()))


# The kinds of live connection, as the metrics label them (server/operations/metrics.py).
AGENT = "agent"  # a kiosk's print agent
DEVICE = "device"  # a kiosk or display screen
VISITOR = "visitor"  # a phone following its ticket
PUBLIC = "public"  # the public page
STAFF = "staff"  # a counter, a manager's dashboard, the network view
KINDS = (AGENT, DEVICE, VISITOR, PUBLIC, STAFF)


class Connections:
    """The ``/live`` connections this process holds, by kind: Socket.IO session id ->
    kind. The channel adds a connection once its connect succeeded and removes it at
    its disconnect; ``/metrics`` reads the counts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kinds: dict[str, str] = {}

    def add(self, sid: str, kind: str) -> None:
        with self._lock:
            self._kinds[sid] = kind

    def remove(self, sid: str) -> None:
        with self._lock:
            self._kinds.pop(sid, None)

    def counts(self) -> dict[str, int]:
        """Every kind's count, 0 for those with none."""
        with self._lock:
            held = Counter(self._kinds.values())
        return {kind: held[kind] for kind in KINDS}
