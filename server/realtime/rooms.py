"""The live channel's namespace and rooms, which visitors' phones this process holds,
and how many connections of each kind it holds.

A room's name says who is in it; the channel (channel.py) decides from the credential
which rooms a connection joins, never the client.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable

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
    """Visitors' phones connected to this process, by center: each process pushes
    positions to its own phones (figures.py), and only to those of the centers whose
    queues changed, so a pass costs the phones of those centers, not the network's.

    Several phones may follow one ticket; a token is held until its last one leaves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._phones: dict[str, tuple[str, int]] = {}  # sid -> (tracking token, center)
        self._by_center: dict[int, Counter[str]] = {}  # center -> token -> phones on it

    def add(self, sid: str, tracking_token: str, center_id: int) -> None:
        with self._lock:
            self._remove(sid)
            self._phones[sid] = (tracking_token, center_id)
            self._by_center.setdefault(center_id, Counter())[tracking_token] += 1

    def remove(self, sid: str) -> str | None:
        """Forget the phone; the token it followed if no other phone here does."""
        with self._lock:
            return self._remove(sid)

    def _remove(self, sid: str) -> str | None:
        found = self._phones.pop(sid, None)
        if found is None:
            return None
        token, center_id = found
        held = self._by_center[center_id]
        held[token] -= 1
        if held[token] > 0:
            return None
        del held[token]
        if not held:
            del self._by_center[center_id]
        return token

    def holds(self, tracking_token: str, center_id: int) -> bool:
        with self._lock:
            return tracking_token in self._by_center.get(center_id, ())

    def tokens(self, center_ids: Iterable[int] | None = None) -> dict[int, list[str]]:
        """The tokens followed here, by center: of ``center_ids``, or of every center."""
        with self._lock:
            wanted = self._by_center.keys() if center_ids is None else center_ids
            return {c: sorted(self._by_center[c]) for c in wanted if c in self._by_center}


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
