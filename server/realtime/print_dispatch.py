"""Printing, after a commit: a ticket's print state to the kiosk's screen, its job to the
kiosk's print agent (on any server process: the job goes to the agent's room) or to
the kiosk's network printer from this server, and a kiosk's printer health, with its
managers' ``alert``, to the center. The rules live in server/printing.py.

Printing on a network printer happens in a background task with its own transaction,
one job at a time per printer across every server process (the cluster's lock), and
its outcome is recorded as an agent's report would be.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from .. import printing
from ..cluster import Cluster
from ..db import Database
from ..models import Device, Ticket
from ..notify import webhooks
from ..queue.changes import ChangeKind
from .alerts import AlertState
from .emitter import Emitter
from .rooms import center_room, device_room, printer_room

log = logging.getLogger(__name__)

# A network printer's job holds its lock at most this long (then another may print).
PRINT_LOCK_S = 60.0


class PrintDispatch:
    def __init__(
        self, emitter: Emitter, db: Database, cluster: Cluster, alerts: AlertState, base_url: str
    ) -> None:
        self.emitter = emitter
        self.db = db
        self.cluster = cluster
        self.alerts = alerts
        self.public_base_url = base_url  # NOVBE_PUBLIC_BASE_URL, or ""

    def handle(self, s: Session, committed) -> None:
        for change in committed.changes:
            if change.kind == ChangeKind.PRINT:
                ticket = committed.tickets.get(change.id)
                if ticket is not None:
                    self._print_state(s, ticket, change.action, committed.origin)
        self.emit_printers(
            s, {change.id for change in committed.changes if change.kind == ChangeKind.PRINTER}
        )

    def _print_state(self, s: Session, ticket: Ticket, action: str, origin: str | None) -> None:
        if ticket.device_id is None:
            return
        state = printing.print_state_json(ticket)
        self.emitter.emit("ticket.print_state", state, device_room(ticket.device_id))
        if action in ("pending", "reprint"):
            self._send_job(s, ticket, origin)

    def _send_job(self, s: Session, ticket: Ticket, origin: str | None) -> None:
        device = s.get(Device, ticket.device_id)
        how = printing.route(device)
        job = printing.print_job(s, ticket, self.base_url(device.id, origin))
        if how == "agent":
            self.emitter.emit("ticket.print", job, printer_room(device.id))
        elif how == "server":
            url = printing.server_printer_url(device)
            self.emitter.background(self._print_from_server, device.id, url, job)
        else:
            # The agent left since the ticket was issued: it gets the job in its
            # snapshot when it is back (if still recent), as pending tickets go.
            log.info("no printer for %s at device %s now; left pending", job["number"], device.id)

    def base_url(self, device_id: int, origin: str | None = None) -> str:
        """The server's address for the ticket's QR code: NOVBE_PUBLIC_BASE_URL, else the
        address the kiosk's agent connected to, else ``origin`` (the address the change's
        request came to)."""
        if self.public_base_url:
            return self.public_base_url
        if agent_url := printing.agents.base_url(device_id):
            return agent_url
        return origin or "http://localhost/"

    def _print_from_server(self, device_id: int, url: str, job: dict) -> None:
        try:
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
                self.emit_printers(s, device_ids)
        except Exception:
            log.exception("could not publish printer status")

    def emit_printers(self, s: Session, device_ids: set[int]) -> None:
        for device_id in sorted(device_ids):
            device = s.get(Device, device_id)
            body = printing.printer_json(device) if device is not None else None
            if body is not None:
                room = center_room(device.center_id)
                self.emitter.emit("printer.status", body, room)
                if alert := self.alerts.printer(device.id, body):
                    self.emitter.emit("alert", alert, room)
                    webhooks.produce_alert(self.db, device.center_id, alert)
