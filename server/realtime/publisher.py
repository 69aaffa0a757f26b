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

from flask import Flask, has_request_context, request
from flask_socketio import SocketIO
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from .. import printing
from ..db import Database
from ..models import Center, Counter, Device, Ticket
from ..public import public_center_json
from ..queue import estimates_for
from ..queue.audit import Change
from . import payloads
from .alerts import AlertState
from .channel import (
    NAMESPACE,
    center_room,
    connected_ticket_tokens,
    counter_room,
    device_room,
    printer_room,
    ticket_room,
)
from .public_stats import PublicStats

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
        self.public_base_url: str = app.config["PUBLIC_BASE_URL"]
        self._printer_locks: dict[int, threading.Lock] = {}
        self._alerts = AlertState()  # what managers were last told (``alert``)
        self._public_stats = PublicStats(app, socketio)  # the public rooms' own pace

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
        ticket_ids = {change.id for change in changes if change.kind in ("ticket", "print")}
        counter_ids = {counter_id for change in changes for counter_id in change.counters}
        printers = {change.id for change in changes if change.kind == "printer"}
        centers: set[int] = set()
        with self.db.read() as s:
            tickets = {
                ticket.id: ticket
                for ticket in s.scalars(
                    select(Ticket)
                    .where(Ticket.id.in_(ticket_ids))
                    # one query: both are many-to-one
                    .options(joinedload(Ticket.service), joinedload(Ticket.counter))
                )
            }
            for change in changes:
                if change.kind == "center":
                    centers.add(change.id)
                ticket = tickets.get(change.id) if change.kind in ("ticket", "print") else None
                if ticket is None:
                    continue
                if change.kind == "print":
                    self._emit_print(s, ticket, change.action)
                else:
                    centers.add(ticket.center_id)
                    self._emit_ticket(s, ticket, change.action)
            self._emit_printers(s, printers)
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

    # Printing: jobs to the kiosk's agent (or this server's own printing), the print
    # state to the kiosk's screen, printer health to the center. See server/printing.py.

    def _emit_print(self, s, ticket: Ticket, action: str) -> None:
        if ticket.device_id is None:
            return
        self._emit(
            "ticket.print_state", printing.print_state_json(ticket), device_room(ticket.device_id)
        )
        if action in ("pending", "reprint"):
            self._send_job(s, ticket)

    def _send_job(self, s, ticket: Ticket) -> None:
        device = s.get(Device, ticket.device_id)
        how = printing.route(device)
        job = printing.print_job(s, ticket, self.base_url(device.id))
        if how == "agent":
            self._emit("ticket.print", job, printer_room(device.id))
        elif how == "server":
            url = printing.server_printer_url(device)
            self.socketio.start_background_task(self._print_from_server, device.id, url, job)
        else:
            # The agent left since the ticket was issued: it gets the job in its
            # snapshot when it is back (if still recent), as pending tickets go.
            log.info("no printer for %s at device %s now; left pending", job["number"], device.id)

    def base_url(self, device_id: int) -> str:
        """The server's address for the ticket's QR code: NOVBE_PUBLIC_BASE_URL, else the
        address the kiosk's agent connected to, else the one this request came to."""
        if self.public_base_url:
            return self.public_base_url
        if agent_url := printing.agents.base_url(device_id):
            return agent_url
        if has_request_context():
            return request.host_url
        return "http://localhost/"

    def _print_from_server(self, device_id: int, url: str, job: dict) -> None:
        """Print on the device's network printer (a background task: never in a request),
        one job at a time per printer, and record the outcome as an agent would."""
        lock = self._printer_locks.setdefault(device_id, threading.Lock())
        try:
            with lock:
                ok, reason, status = printing.print_from_server(url, job)
            log.info("server printed %s on device %s: %s", job["number"], device_id, reason or "ok")
            report = {"ticket": job["ticket"], "print_id": job["print_id"], "ok": ok}
            with self.db.write() as s:
                printing.record_print_result(s, device_id, {**report, "reason": reason})
                if status is not None:
                    printing.update_printer_status(s, s.get(Device, device_id), status)
        except Exception:
            log.exception("printing %s from the server failed", job.get("number"))

    def printers_changed(self, device_ids: set[int]) -> None:
        """``printer.status`` for these kiosks to their centers (an agent came or went)."""
        try:
            with self.db.read() as s:
                self._emit_printers(s, device_ids)
        except Exception:
            log.exception("could not publish printer status")

    def _emit_printers(self, s, device_ids: set[int]) -> None:
        for device_id in sorted(device_ids):
            device = s.get(Device, device_id)
            body = printing.printer_json(device) if device is not None else None
            if body is not None:
                self._emit("printer.status", body, center_room(device.center_id))
                if alert := self._alerts.printer(device.id, body):
                    self._emit("alert", alert, center_room(device.center_id))

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
                    stats = payloads.stats_json(s, center)
                    self._emit("queue.stats", stats, center_room(center_id))
                    for alert in self._alerts.waits(center_id, stats):
                        self._emit("alert", alert, center_room(center_id))
                    # The public page's share of it, plus today's service level and
                    # approval rate (two aggregate queries).
                    public = public_center_json(s, center, stats=stats)
                    self._public_stats.offer(center_id, public)  # paced, sliced
            self._emit_positions(s)

    def _emit_positions(self, s) -> None:
        tokens = connected_ticket_tokens()
        estimates = estimates_for(s, tokens)
        connected = set(tokens)
        for token in list(self._sent_positions):
            if token not in connected:
                del self._sent_positions[token]
        for token, estimate in estimates.items():
            place, wait = estimate.position, estimate.estimated_wait_s
            if self._sent_positions.get(token) == (place, wait):
                continue
            self._sent_positions[token] = (place, wait)
            body = {"status": "waiting", "position": place, "estimated_wait_s": wait}
            self._emit("ticket.updated", body, ticket_room(token))
