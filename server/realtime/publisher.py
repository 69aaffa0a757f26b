"""Turning committed changes into live events.

``Database.write()`` hands each committed transaction's changes to
:meth:`Publisher.publish`, in the request that made them, after the commit: a
rolled-back change is never announced, and a call reaches displays before the
counter's HTTP response returns. Ticket, counter and device events go out at once,
through Socket.IO's message queue when there is one, so they reach clients connected
to any server process. Queue figures (``queue.stats``) cost a few queries per center,
so they are coalesced: at most one pass per ``REALTIME_STATS_INTERVAL`` seconds, in a
background task (or inline when the interval is 0, as in the tests).

What depends on who is connected where is done by each process for its own
connections, told by the cluster bus (server/cluster/) that something changed:

* ``changed`` (``{"centers", "forget_loads"}``, after every commit that touches a
  queue): every process recomputes the positions of the visitors' phones connected to
  it, coalesced like the figures, and drops what it cached from before the change;
* ``public`` (``{"center", "figures"}``, from the figures' pass): every process passes
  the public page's figures to its own public connections, paced (public_stats.py).
"""

from __future__ import annotations

import logging
import threading

from flask import Flask, has_request_context, request
from flask_socketio import SocketIO
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from .. import printing
from ..cluster import Cluster
from ..db import Database
from ..models import Center, Counter, Device, Ticket
from ..public import public_center_json
from ..queue import estimates_for
from ..queue.audit import Change
from ..queue.loads import keeps_loads
from . import payloads
from .alerts import AlertState
from .channel import (
    NAMESPACE,
    NETWORK_ROOM,
    center_room,
    connected_ticket_tokens,
    counter_room,
    device_room,
    printer_room,
    ticket_room,
)
from .public_stats import PublicStats

log = logging.getLogger(__name__)


# A network printer's job holds its lock at most this long (then another may print).
PRINT_LOCK_S = 60.0


class Publisher:
    def __init__(self, app: Flask, socketio: SocketIO, db: Database, cluster: Cluster) -> None:
        self.socketio = socketio
        self.db = db
        self.cluster = cluster
        self.interval: float = app.config["REALTIME_STATS_INTERVAL"]
        self._stats = Coalescer(socketio, self.interval, self.emit_stats)
        self._positions = Coalescer(socketio, self.interval, self._positions_pass)
        self._sent_positions: dict[str, tuple[int, int | None]] = {}
        self.public_base_url: str = app.config["PUBLIC_BASE_URL"]
        self._alerts = AlertState(cluster)  # what managers were last told (``alert``)
        self._public_stats = PublicStats(app, socketio)  # the public rooms' own pace
        cluster.subscribe("changed", lambda body, local: self._positions.due({0}))
        cluster.subscribe("public", self._public_figures)

    def publish(self, changes: list[Change]) -> None:
        """Emit the events for one committed transaction. Never raises: the change is
        already committed, and a client that misses an event gets it in its next
        snapshot."""
        try:
            centers = self._emit_changes(changes)
            self._stats.due(centers)
            forget = any(not keeps_loads(change) for change in changes)
            if centers or forget:
                body = {"centers": sorted(centers), "forget_loads": forget}
                self.cluster.publish("changed", body)
        except Exception:
            log.exception("could not publish %d change(s)", len(changes))

    def _emit(self, event: str, data: dict, room: str, local: bool = False) -> None:
        """``local``: only to this process's connections in ``room`` (what every process
        computes for its own, as positions), not through the message queue."""
        self.socketio.emit(event, data, to=room, namespace=NAMESPACE, ignore_queue=local)

    def _emit_changes(self, changes: list[Change]) -> set[int]:
        ticket_ids = {change.id for change in changes if change.kind in ("ticket", "print")}
        counter_ids = {counter_id for change in changes for counter_id in change.counters}
        printers = {change.id for change in changes if change.kind == "printer"}
        devices = {change.id for change in changes if change.kind == "device"}
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
            self._emit_devices(s, devices)
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

    def _emit_devices(self, s, device_ids: set[int]) -> None:
        """A kiosk's or display's settings changed: its screen fetches a fresh snapshot."""
        for device_id in sorted(device_ids):
            device = s.get(Device, device_id)
            if device is not None:
                body = {"device": device.name, "settings": payloads.public_settings(device)}
                self._emit("device.updated", body, device_room(device.id))

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
        try:
            # One job at a time per printer, whichever server process prints it.
            with self.cluster.lock(f"printer:{device_id}", PRINT_LOCK_S):
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
        """``printer.status`` for these kiosks to their centers (an agent came or went,
        or died with its server process)."""
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

    # Queue figures (the process that made the change) and positions (every process,
    # for its own phones), coalesced.

    def emit_stats(self, center_ids: set[int]) -> None:
        """``queue.stats`` to each center's room, its managers' alerts, its row of the
        network view, and the public page's figures to every process."""
        with self.db.read() as s:
            for center_id in sorted(center_ids):
                center = s.get(Center, center_id)
                if center is None:
                    continue
                stats = payloads.stats_json(s, center)
                self._emit("queue.stats", stats, center_room(center_id))
                for alert in self._alerts.waits(center_id, stats):
                    self._emit("alert", alert, center_room(center_id))
                # The public page's share of it, plus today's service level and approval
                # rate (two aggregate queries); the network view's row from both.
                public = public_center_json(s, center, stats=stats)
                self._emit(
                    "network.center", payloads.network_row(center, stats, public), NETWORK_ROOM
                )
                self.cluster.publish("public", {"center": center_id, "figures": public})

    def _public_figures(self, body: dict, local: bool) -> None:
        self._public_stats.offer(body["center"], body["figures"])  # paced, sliced

    def _positions_pass(self, _: set[int]) -> None:
        """Fresh positions to the visitors' phones connected to this process."""
        tokens = connected_ticket_tokens()
        connected = set(tokens)
        for token in list(self._sent_positions):
            if token not in connected:
                del self._sent_positions[token]
        if not tokens:
            return
        with self.db.read() as s:
            estimates = estimates_for(s, tokens)
        for token, estimate in estimates.items():
            place, wait = estimate.position, estimate.estimated_wait_s
            if self._sent_positions.get(token) == (place, wait):
                continue
            self._sent_positions[token] = (place, wait)
            body = {"status": "waiting", "position": place, "estimated_wait_s": wait}
            self._emit("ticket.updated", body, ticket_room(token), local=True)


class Coalescer:
    """Runs ``work(keys)`` for the keys made due, at most once per ``interval`` seconds
    in a background task, with every key made due meanwhile; inline when the interval
    is 0."""

    def __init__(self, socketio: SocketIO, interval: float, work) -> None:
        self.socketio = socketio
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
                self.socketio.start_background_task(self._loop, self._wake)
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
            self.socketio.sleep(self.interval)
