"""Figures after a commit, coalesced: at most one pass per ``REALTIME_STATS_INTERVAL``
seconds in a background task (inline when the interval is 0, as in the tests).

* :class:`CenterFigures` (in the process that made the change): ``queue.stats`` to the
  center's room, managers' wait ``alert`` (alerts.py), the network view's row
  (``network.center``), and the public page's figures, handed to every process on the
  cluster bus (``public``), which paces them to its own public connections.
* :class:`Positions` (in every process, told by the bus that a queue changed): fresh
  places in line to the visitors' phones connected to this process, only those that
  moved.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ..cluster import Cluster
from ..db import Database
from ..models import Center
from ..public import public_center_json
from ..queue import estimates_for
from . import payloads
from .alerts import AlertState
from .emitter import Emitter
from .rooms import NETWORK_ROOM, Visitors, center_room, ticket_room

log = logging.getLogger(__name__)


class Coalescer:
    """Runs ``work(keys)`` for the keys made due, at most once per ``interval`` seconds
    in a background task, with every key made due meanwhile; inline when the interval
    is 0."""

    def __init__(self, emitter: Emitter, interval: float, work: Callable[[set[int]], None]) -> None:
        self.emitter = emitter
        self.interval = interval
        self.work = work
        self._lock = threading.Lock()
        self._due: set[int] = set()
        self._wake: threading.Event | None = None

    def due(self, keys: set[int]) -> None:
        if not keys:
            return
        if self.interval <= 0:
            self.work(keys)
            return
        with self._lock:
            self._due |= keys
            if self._wake is None:
                self._wake = threading.Event()
                self.emitter.background(self._loop, self._wake)
            self._wake.set()

    def _loop(self, wake: threading.Event) -> None:
        while True:
            wake.wait()
            with self._lock:
                wake.clear()
                keys, self._due = self._due, set()
            try:
                self.work(keys)
            except Exception:
                log.exception("live figures pass failed")
            self.emitter.sleep(self.interval)


class CenterFigures:
    def __init__(
        self,
        emitter: Emitter,
        db: Database,
        cluster: Cluster,
        alerts: AlertState,
        interval: float,
    ) -> None:
        self.emitter = emitter
        self.db = db
        self.cluster = cluster
        self.alerts = alerts
        self._pass = Coalescer(emitter, interval, self.emit)

    def due(self, center_ids: set[int]) -> None:
        self._pass.due(center_ids)

    def emit(self, center_ids: set[int]) -> None:
        with self.db.read() as s:
            for center_id in sorted(center_ids):
                center = s.get(Center, center_id)
                if center is None:
                    continue
                stats = payloads.stats_json(s, center)
                room = center_room(center_id)
                self.emitter.emit("queue.stats", stats, room)
                for alert in self.alerts.waits(center_id, stats):
                    self.emitter.emit("alert", alert, room)
                # The public page's share of it, plus today's service level and approval
                # rate (two aggregate queries); the network view's row from both.
                public = public_center_json(s, center, stats=stats)
                row = payloads.network_row(center, stats, public)
                self.emitter.emit("network.center", row, NETWORK_ROOM)
                self.cluster.publish("public", {"center": center_id, "figures": public})


class Positions:
    def __init__(self, emitter: Emitter, db: Database, visitors: Visitors, interval: float):
        self.emitter = emitter
        self.db = db
        self.visitors = visitors
        self._sent: dict[str, tuple[int, int | None]] = {}  # token -> (place, wait) sent
        self._pass = Coalescer(emitter, interval, lambda _: self.emit())

    def due(self) -> None:
        self._pass.due({0})

    def forget(self, tracking_token: str) -> None:
        """The phone got its whole ticket: send its place again even if unchanged."""
        self._sent.pop(tracking_token, None)

    def emit(self) -> None:
        tokens = self.visitors.tokens()
        connected = set(tokens)
        for token in list(self._sent):
            if token not in connected:
                del self._sent[token]
        if not tokens:
            return
        with self.db.read() as s:
            estimates = estimates_for(s, tokens)
        for token, estimate in estimates.items():
            place, wait = estimate.position, estimate.estimated_wait_s
            if self._sent.get(token) == (place, wait):
                continue
            self._sent[token] = (place, wait)
            body = {"status": "waiting", "position": place, "estimated_wait_s": wait}
            self.emitter.emit("ticket.updated", body, ticket_room(token), local=True)
