"""Turning committed changes into live events.

``Database.write()`` hands each committed transaction's changes (queue/changes.py) to
:meth:`Publisher.publish`, after the commit and in the request that made them: a
rolled-back change is never announced, and a call reaches displays before the
counter's HTTP response returns. The publisher reads the changed tickets once and hands
them to its listeners, in order:

* queue_events.py: ticket, counter and device events, at once;
* print_dispatch.py: print states, print jobs, printers' health and their alerts;

then tells every server process on the cluster bus (server/cluster/) that queues
changed (``changed``: ``{"centers", "forget_loads"}``, the latter the ``[center,
service]`` pairs whose loads may have moved, changes.Change.moved_loads), so that each
recomputes the positions of the phones connected to it and drops what it cached of
those from before, and the one process that
makes the figures passes (figures.py: the centers' queue figures, wait alerts, the
network view's rows and the public page's figures, coalesced) has them due.

Events reach clients connected to any process: the emitter goes through Socket.IO's
message queue when there is one.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..cluster import Cluster
from ..db import Database
from ..models import Ticket
from ..queue.changes import Change, ChangeKind
from .alerts import AlertState
from .emitter import Emitter
from .figures import CenterFigures, Positions
from .print_dispatch import PrintDispatch
from .public_stats import PublicStats
from .queue_events import QueueEvents
from .rooms import Visitors

log = logging.getLogger(__name__)


class Committed(NamedTuple):
    changes: list[Change]
    tickets: dict[int, Ticket]  # the changed tickets (ticket and print changes), by id
    origin: str | None  # the address the change's request came to, if it came by one


class Publisher:
    def __init__(
        self,
        emitter: Emitter,
        db: Database,
        cluster: Cluster,
        public_stats: PublicStats,
        *,
        interval: float,
        day_figures_s: float = 0,
        public_base_url: str = "",
    ) -> None:
        self.db = db
        self.cluster = cluster
        self.visitors = Visitors()
        alerts = AlertState(cluster)  # what managers were last told (``alert``)
        self.positions = Positions(emitter, db, self.visitors, interval)
        self.events = QueueEvents(emitter, self.positions.forget)
        self.printing = PrintDispatch(emitter, db, cluster, alerts, public_base_url)
        self.figures = CenterFigures(emitter, db, cluster, alerts, interval, day_figures_s)
        # Each process recomputes its own phones of the centers named, and only those.
        cluster.subscribe("changed", lambda body, local: self.positions.due(changed_centers(body)))
        # Every process hears of every change; the one holding the figures lease passes.
        cluster.subscribe("changed", lambda body, local: self.figures.due(set(body["centers"])))
        cluster.subscribe(
            "public", lambda body, local: public_stats.offer(body["center"], body["figures"])
        )

    def publish(self, changes: list[Change], origin: str | None = None) -> None:
        """Emit the events for one committed transaction. Never raises: the change is
        already committed, and a client that misses an event gets it in its next
        snapshot."""
        try:
            ids = {c.id for c in changes if c.kind in (ChangeKind.TICKET, ChangeKind.PRINT)}
            with self.db.read() as s:
                tickets = {
                    ticket.id: ticket
                    for ticket in s.scalars(
                        select(Ticket)
                        .where(Ticket.id.in_(ids))
                        # one query: both are many-to-one
                        .options(joinedload(Ticket.service), joinedload(Ticket.counter))
                    )
                }
                committed = Committed(changes, tickets, origin)
                centers = self.events.handle(s, committed)
                self.printing.handle(s, committed)
            # What loads may have moved: [center, service] (changes.Change.moved_loads).
            forget = sorted({change.moved_loads for change in changes if change.changes_loads})
            if centers or forget:
                self.cluster.publish(
                    "changed", {"centers": sorted(centers), "forget_loads": forget}
                )
        except Exception:
            log.exception("could not publish %d change(s)", len(changes))


def changed_centers(body: dict) -> set[int]:
    """The centers a ``changed`` message names: whose queues or loads moved (0, as
    figures.EVERY_CENTER: a change that did not say its center)."""
    return set(body["centers"]) | {center for center, _ in body.get("forget_loads") or ()}
