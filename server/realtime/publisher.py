"""Turning committed changes into live events.

``Database.write()`` hands each committed transaction's changes to
:meth:`Publisher.publish`, in the request that made them, after the commit: a
rolled-back change is never announced, and a call reaches displays before the
counter's HTTP response returns. Ticket and counter events go out at once. Queue
figures (``queue.stats``) and visitors' positions cost a few queries per center, so
they are coalesced: at most one pass per ``REALTIME_STATS_INTERVAL`` seconds, in a
background task (or inline when the interval is 0, as in the tests).
"""

from __future__ import annotations

import logging
import threading

from flask import Flask
from flask_socketio import SocketIO
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..db import Database
from ..models import Center, Counter, Service, Ticket
from ..queue import positions, service_loads
from ..queue.audit import Change
from . import payloads
from .channel import NAMESPACE, center_room, connected_ticket_tokens, counter_room, ticket_room

log = logging.getLogger(__name__)


class Publisher:
    def __init__(self, app: Flask, socketio: SocketIO, db: Database) -> None:
        self.socketio = socketio
        self.db = db
        self.interval: float = app.config["REALTIME_STATS_INTERVAL"]
        self._lock = threading.Lock()
        self._dirty_centers: set[int] = set()
        self._wake: threading.Event | None = None
        self._sent_positions: dict[str, tuple[int, int | None]] = {}

    def publish(self, changes: list[Change]) -> None:
        """Emit the events for one committed transaction. Never raises: the change is
        already committed, and a client that misses an event gets it in its next
        snapshot."""
        try:
            centers = self._emit_changes(changes)
            self._stats_due(centers)
        except Exception:
            log.exception("could not publish %d change(s)", len(changes))

    def _emit(self, event: str, data: dict, room: str) -> None:
        self.socketio.emit(event, data, to=room, namespace=NAMESPACE)

    def _emit_changes(self, changes: list[Change]) -> set[int]:
        ticket_ids = {change.id for change in changes if change.kind == "ticket"}
        counter_ids = {counter_id for change in changes for counter_id in change.counters}
        centers: set[int] = set()
        with self.db.read() as s:
            tickets = {
                ticket.id: ticket
                for ticket in s.scalars(
                    select(Ticket)
                    .where(Ticket.id.in_(ticket_ids))
                    .options(selectinload(Ticket.service), selectinload(Ticket.counter))
                )
            }
            for change in changes:
                if change.kind == "center":
                    centers.add(change.id)
                ticket = tickets.get(change.id) if change.kind == "ticket" else None
                if ticket is not None:
                    centers.add(ticket.center_id)
                    self._emit_ticket(s, ticket, change.action)
            for counter_id in sorted(counter_ids):
                counter = s.get(Counter, counter_id)
                if counter is not None:
                    centers.add(counter.center_id)
                    body = payloads.counter_json(s, counter)
                    self._emit("counter.updated", body, counter_room(counter.id))
        return centers

    def _emit_ticket(self, s, ticket: Ticket, action: str) -> None:
        center, own = center_room(ticket.center_id), ticket_room(ticket.tracking_token)
        if action == "issue":
            self._emit("ticket.issued", payloads.issued_json(ticket), center)
        elif action in payloads.CALL_ACTIONS:
            body = payloads.called_json(ticket)
            self._emit("ticket.called", body, center)
            self._emit("ticket.called", body, own)
        else:
            self._emit("ticket.updated", payloads.updated_json(ticket, action), center)
            self._emit("ticket.updated", payloads.public_ticket_json(s, ticket), own)
            self._sent_positions.pop(ticket.tracking_token, None)

    # Queue figures and positions, coalesced.

    def _stats_due(self, centers: set[int]) -> None:
        if not centers:
            return
        if self.interval <= 0:
            self.emit_stats(centers)
            return
        with self._lock:
            self._dirty_centers |= centers
            if self._wake is None:
                self._wake = threading.Event()
                self.socketio.start_background_task(self._stats_loop, self._wake)
            self._wake.set()

    def _stats_loop(self, wake: threading.Event) -> None:
        while True:
            wake.wait()
            with self._lock:
                wake.clear()
                centers, self._dirty_centers = self._dirty_centers, set()
            try:
                self.emit_stats(centers)
            except Exception:
                log.exception("could not publish queue figures")
            self.socketio.sleep(self.interval)

    def emit_stats(self, center_ids: set[int]) -> None:
        """``queue.stats`` to each center's room, then fresh positions to visitors."""
        with self.db.read() as s:
            for center_id in sorted(center_ids):
                center = s.get(Center, center_id)
                if center is not None:
                    self._emit(
                        "queue.stats", payloads.stats_json(s, center), center_room(center_id)
                    )
            self._emit_positions(s)

    def _emit_positions(self, s) -> None:
        tokens = connected_ticket_tokens()
        places = positions(s, tokens)
        services = s.scalars(
            select(Service).where(Service.id.in_({sid for _, sid in places.values()}))
        ).all()
        loads = service_loads(s, list(services))
        connected = set(tokens)
        for token in list(self._sent_positions):
            if token not in connected:
                del self._sent_positions[token]
        for token, (place, service_id) in places.items():
            wait = loads[service_id].wait_for(place)
            if self._sent_positions.get(token) == (place, wait):
                continue
            self._sent_positions[token] = (place, wait)
            body = {"status": "waiting", "position": place, "estimated_wait_s": wait}
            self._emit("ticket.updated", body, ticket_room(token))
