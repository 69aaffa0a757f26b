"""Figures after a commit, coalesced: at most one pass per ``REALTIME_STATS_INTERVAL``
seconds in a background task (inline when the interval is 0, as in the tests).

* :class:`CenterFigures` (in one process of the installation, told of every change by
  the cluster bus; another takes over if it stops): ``queue.stats`` to the
  center's room, managers' wait ``alert`` (alerts.py), the network view's row
  (``network.center``), and the public page's figures, handed to every process on the
  cluster bus (``public``), which paces them to its own public connections. A pass costs
  the same whatever the size of the network: only the centers that changed, each from
  its own rows; today's service level and approval rate (aggregates over the whole
  day) at most every ``day_figures_s``.
* :class:`Positions` (in every process, told by the bus that a queue changed): fresh
  places in line to the visitors' phones connected to this process, only those that
  moved.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from sqlalchemy.orm import Session

from ..cluster import Cluster
from ..db import Database
from ..models import Center
from ..notify import webhooks
from ..public import public_center_json, today_figures
from ..queue import estimates_for
from . import payloads
from .alerts import AlertState
from .emitter import Emitter
from .rooms import NETWORK_ROOM, Visitors, center_room, ticket_room

log = logging.getLogger(__name__)


# A pass may take at most this share of the worker's time: with many busy centers a
# pass takes longer and the next one waits longer, up to MAX_PAUSE_S (66 centers all
# changing: a pass of ~0.2 s, the next about 2 s later). Calls and tickets are sent at
# once whatever this says (queue_events.py); only the figures come less often.
BUDGET = 0.1
MAX_PAUSE_S = 5.0


class Coalescer:
    """Runs ``work(keys)`` for the keys made due, at most once per ``interval`` seconds
    (longer after a long pass, see BUDGET) in a background task, with every key made
    due meanwhile; inline when the interval is 0."""

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
            started = time.monotonic()
            try:
                self.work(keys)
            except Exception:
                log.exception("live figures pass failed")
            spent = time.monotonic() - started
            self.emitter.sleep(min(max(self.interval, spent * (1 / BUDGET - 1)), MAX_PAUSE_S))


# One process of the installation makes the figures passes: the one holding this lease,
# renewed by each pass. Every process hears of every change (the cluster bus), so the
# others keep the centers due and take over within LEASE_S if it stops.
FIGURES_LEASE = "figures"
LEASE_S = 10.0


class CenterFigures:
    def __init__(
        self,
        emitter: Emitter,
        db: Database,
        cluster: Cluster,
        alerts: AlertState,
        interval: float,
        day_figures_s: float = 0,
    ) -> None:
        self.emitter = emitter
        self.db = db
        self.cluster = cluster
        self.alerts = alerts
        self.day_figures_s = day_figures_s
        self._today: dict[int, tuple[float, dict]] = {}  # center -> (when, today_figures)
        self._held: set[int] = set()  # due while another process made the passes
        # Centers sent with kept day figures older than their change: one more pass
        # when those expire, or the last call before a quiet spell would leave the
        # public page's service level behind until the next change.
        self._stale: set[int] = set()
        self._stale_lock = threading.Lock()
        self._refresh_pending = False
        self._pass = Coalescer(emitter, interval, self.emit)

    def due(self, center_ids: set[int]) -> None:
        self._pass.due(center_ids)

    def emit(self, center_ids: set[int]) -> None:
        if not self.cluster.lease(FIGURES_LEASE, LEASE_S):
            self._held |= center_ids  # the pass holder sends them; kept in case it stops
            return
        center_ids, self._held = center_ids | self._held, set()
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
                    webhooks.produce_alert(self.db, center_id, alert)  # and to other systems
                # The public page's share of it, plus today's service level and approval
                # rate; the network view's row from both.
                public = public_center_json(s, center, stats=stats, today=self._day(s, center))
                row = payloads.network_row(center, stats, public)
                self.emitter.emit("network.center", row, NETWORK_ROOM)
                self.cluster.publish("public", {"center": center_id, "figures": public})
                # Let requests in between centers: a pass over a whole network's centers
                # would otherwise hold the worker for every one of them (SQLite's calls
                # do not yield to gevent by themselves).
                self.emitter.sleep(0)
        self._refresh_later()

    def _refresh_later(self) -> None:
        with self._stale_lock:
            if not self._stale or self._refresh_pending:
                return
            self._refresh_pending = True
        self.emitter.background(self._refresh)

    def _refresh(self) -> None:
        self.emitter.sleep(self.day_figures_s)
        with self._stale_lock:
            stale, self._stale = self._stale, set()
            self._refresh_pending = False
        for center_id in stale:
            self._today.pop(center_id, None)  # expired by now: recomputed in this pass
        self.due(stale)

    def _day(self, s: Session, center: Center) -> dict:
        """Today's figures, recomputed at most every ``day_figures_s``: two aggregates
        over the day's tickets and ratings, which grow through the day, while the queue
        figures are a few index lookups; the day's service level moves slowly."""
        now = time.monotonic()
        kept = self._today.get(center.id)
        if kept is None or now - kept[0] >= self.day_figures_s:
            kept = (now, today_figures(s, center))
            self._today[center.id] = kept
        else:
            with self._stale_lock:
                self._stale.add(center.id)
        return kept[1]


# In a ``changed`` message's ``forget_loads``: a change that did not say its center.
EVERY_CENTER = 0


def shown_wait(seconds: int | None) -> int | None:
    """The wait as the phone shows it (server/static/novbe.js ``waitText``): unknown,
    under a minute (0), or whole minutes rounded half up. A served visitor moves every
    waiting phone's estimate by seconds; only a change the visitor would see is sent
    (every phone of a center, in every process holding some, on each completion)."""
    if seconds is None:
        return None
    return 0 if seconds < 60 else math.floor(seconds / 60 + 0.5)


class Positions:
    """Places in line for the phones connected to this process, recomputed only for the
    centers whose queues changed (a phone's place depends on its own center's queue
    and loads alone): a pass costs the phones of those centers, whatever the size of
    the network. Only places that moved are sent."""

    def __init__(self, emitter: Emitter, db: Database, visitors: Visitors, interval: float):
        self.emitter = emitter
        self.db = db
        self.visitors = visitors
        self._sent: dict[str, tuple[int, int | None]] = {}  # token -> (place, shown wait) sent
        self._pass = Coalescer(emitter, interval, self.emit)

    def due(self, center_ids: set[int]) -> None:
        """These centers' queues changed (``EVERY_CENTER``: some center's, unsaid)."""
        self._pass.due(center_ids)

    def forget(self, tracking_token: str) -> None:
        """The phone got its whole ticket, or its last phone here left: send its place
        again even if unchanged, and keep nothing of a token no phone follows."""
        self._sent.pop(tracking_token, None)

    def emit(self, center_ids: set[int]) -> None:
        wanted = None if EVERY_CENTER in center_ids else center_ids
        for center_id, tokens in self.visitors.tokens(wanted).items():
            if tokens:
                self._emit_center(center_id, tokens)
                # Let requests in between centers: a call moves every phone of its
                # center, and a pass over many centers would hold the worker for all.
                self.emitter.sleep(0)

    def _emit_center(self, center_id: int, tokens: list[str]) -> None:
        with self.db.read() as s:
            estimates = estimates_for(s, tokens)
        for token, estimate in estimates.items():
            place, wait = estimate.position, estimate.estimated_wait_s
            if self._sent.get(token) == (place, shown_wait(wait)):
                continue  # nothing the phone would show differently
            if not self.visitors.holds(token, center_id):
                continue  # its phone left during the pass: nothing to keep for it
            self._sent[token] = (place, shown_wait(wait))
            body = {"status": "waiting", "position": place, "estimated_wait_s": wait}
            self.emitter.emit("ticket.updated", body, ticket_room(token), local=True)
