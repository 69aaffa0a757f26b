"""Paper tickets: whether each kiosk ticket was printed, and each kiosk's printer health.

A ticket issued at a kiosk gets a print state (``Ticket.print_state``):

* ``pending``: sent to the kiosk's printer, which has not answered yet. The printer
  is either driven by the kiosk agent (``novbe kiosk-agent`` on the kiosk PC,
  connected to the live channel) or, for a network printer named in the device's
  settings (``printer: tcp://...``), by this server itself;
* ``printed`` or ``failed`` (with ``print_reason``: ``paper_out``, ``offline``, ...),
  as the printer side reports;
* ``e_ticket``: there was nothing to print on (no agent connected, no printer
  configured, or the agent's printer is known to be out of paper or offline), so the
  kiosk screen is the visitor's ticket, with its QR code. Such a ticket is never
  printed later: its visitor has already walked away with the screen's QR code.

Exactly once across drops: every print job has a ``print_id``; the agent journals
the ids it printed. When it reconnects it gets this kiosk's recent ``pending``
tickets (:func:`pending_tickets`), prints those it has no record of and reports the
others from its journal. A reprint is a new job (a new ``print_id``).

This module holds the rules and the database side only; it knows nothing of Flask
requests. The live channel (server/realtime) sends the jobs and relays reports, the
API (server/api/prints.py) takes reprint requests.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import serializers
from .cluster import Cluster, LocalCluster
from .errors import Conflict, Forbidden, InvalidInput
from .models import FINAL_STATUSES, Center, Device, Ticket, TicketEvent, utcnow
from .queue import Actor, estimate
from .queue.audit import note_event
from .queue.changes import Change, ChangeKind, announce
from .serializers import iso

log = logging.getLogger(__name__)

# A pending ticket older than this (or no longer waiting) is not printed when the
# agent comes back: its visitor has gone on with the e-ticket (the kiosk shows it
# after 15 s without an answer), or been called already. Long enough for a server
# restart or a short network drop, short enough that nobody else takes the paper.
RECENT_PRINTS = timedelta(minutes=2)
PAPER_STATES = ("ok", "low", "out", "unknown")
# Reasons travel to public screens: short codes only, never a printer's own message.
_REASON = re.compile(r"[a-z][a-z0-9_]{0,31}")
NO_PRINTER = "no_printer"
AGENT_OFFLINE = "agent_offline"
BAD_PRINTER_URL = "printer_misconfigured"


def clean_reason(value: object, default: str = "error") -> str:
    return value if isinstance(value, str) and _REASON.fullmatch(value) else default


# ---- kiosk agents connected to any server process ----------------------------------


class AgentRegistry:
    """Kiosk agents connected to the installation: whether a kiosk has one, and the
    address it connected to. Kept by the cluster (server/cluster/), so every server
    process knows of an agent connected to any of them; ``create_app`` binds it."""

    def __init__(self) -> None:
        self._cluster: Cluster = LocalCluster()

    def bind(self, cluster: Cluster) -> None:
        self._cluster = cluster

    def add(self, device_id: int, sid: str, base_url: str = "") -> None:
        self._cluster.add_agent(device_id, sid, base_url)

    def remove(self, sid: str) -> int | None:
        """Forget the agent on ``sid``; returns its device id if it was one."""
        return self._cluster.remove_agent(sid)

    def connected(self, device_id: int | None) -> bool:
        return self._cluster.agent_connected(device_id)

    def base_url(self, device_id: int) -> str:
        """The server address the device's agent connected to ("" if none)."""
        return self._cluster.agent_base_url(device_id)

    def clear(self) -> None:
        self._cluster.clear_agents()


agents = AgentRegistry()


# ---- where a kiosk's tickets are printed -----------------------------------------------


def server_printer_url(device: Device) -> str | None:
    """The printer this server prints to for ``device`` (its settings' ``printer``)."""
    url = (device.settings or {}).get("printer")
    return url.strip() if isinstance(url, str) and url.strip() else None


def route(device: Device) -> str | None:
    """Who prints the device's tickets now: "agent", "server" or None (nobody).
    A connected agent wins over the settings' printer: it is on the kiosk itself."""
    if device.kind != "kiosk":
        return None
    if agents.connected(device.id):
        return "agent"
    if server_printer_url(device):
        return "server"
    return None


def status_problem(status: dict | None) -> str | None:
    """Why a printer cannot print, from its last reported status (None: try it)."""
    if not status:
        return None
    if status.get("online") is False:
        return "offline"
    if status.get("paper") == "out":
        return "paper_out"
    if status.get("cover_open") is True:
        return "cover_open"
    return None


def printer_json(device: Device) -> dict | None:
    """A kiosk's printer as the center's screens and the managers see it: who prints
    (``mode``), whether its agent is connected, and its last reported health. Never
    the printer's address."""
    if device.kind != "kiosk":
        return None
    status = device.printer_status or {}
    return {
        "device": device.name,
        "mode": route(device),
        "agent_connected": agents.connected(device.id),
        "online": status.get("online"),
        "paper": status.get("paper", "unknown") if status else None,
        "cover_open": status.get("cover_open"),
        "error": status.get("error"),
        "problem": status_problem(status),
        "at": iso(device.printer_status_at),
    }


# ---- print state ------------------------------------------------------------------------


def _set_state(session: Session, ticket: Ticket, state: str, reason: str | None, action: str):
    ticket.print_state = state
    ticket.print_reason = reason
    announce(session, Change(ChangeKind.PRINT, action, ticket.id))


def assign_print_state(session: Session, ticket: Ticket) -> None:
    """Decide, as a kiosk issues ``ticket``, whether it is printed or an e-ticket.
    Tickets issued by staff have no print state."""
    device = session.get(Device, ticket.device_id) if ticket.device_id else None
    decided = initial_print_state(device) if device is not None else None
    if decided is not None:
        state, reason = decided
        _set_state(session, ticket, state, reason, state)


def initial_print_state(device) -> tuple[str, str | None] | None:
    """A new ticket's (print state, reason) at ``device`` (a Device, or anything with its
    id, kind, settings and printer_status: the issuing hot path reads only those);
    None for a device that is not a kiosk."""
    if device.kind != "kiosk":
        return None
    how = route(device)
    if how is None:
        return "e_ticket", NO_PRINTER
    if how == "agent" and (problem := status_problem(device.printer_status)):
        # The agent told us the printer cannot print: do not keep the visitor waiting.
        return "e_ticket", problem
    if how == "server" and not _valid_printer_url(server_printer_url(device)):
        return "e_ticket", BAD_PRINTER_URL
    return "pending", None


def _valid_printer_url(url: str | None) -> bool:
    from hardware.printer import parse_printer_url

    try:
        parse_printer_url(url or "")
    except ValueError as exc:
        log.error("device printer setting %r is not a printer address: %s", url, exc)
        return False
    return True


def print_id(ticket: Ticket) -> str:
    """The current print job of ``ticket``: ``<ticket id>-<8 hex>``, then ``.r1``,
    ``.r2``... for reprints. The hex (from the tracking token) keeps an agent's journal
    from mistaking a ticket of a re-created database for one it printed before."""
    tag = hashlib.sha256(ticket.tracking_token.encode()).hexdigest()[:8]
    job = f"{ticket.id}-{tag}"
    return f"{job}.r{ticket.reprint_count}" if ticket.reprint_count else job


def record_print_result(
    session: Session, device_id: int, report: dict, now: datetime | None = None
) -> Ticket:
    """Apply a printer's answer ``{ticket, print_id, ok, reason}`` for a ticket of
    ``device_id`` (a kiosk reports only its own tickets). An answer about an older job
    (a reprint has been asked for since) is logged but changes nothing."""
    now = now or utcnow()
    ticket_id, job, ok = report.get("ticket"), report.get("print_id"), report.get("ok")
    if not isinstance(ticket_id, int) or isinstance(ticket_id, bool):
        raise InvalidInput("ticket must be a ticket id", field="ticket")
    if not isinstance(ok, bool):
        raise InvalidInput("ok must be true or false", field="ok")
    ticket = session.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update())
    if ticket is None or ticket.device_id != device_id:
        raise Forbidden("not a ticket of this kiosk", code="not_your_ticket")
    if job is None:
        job = print_id(ticket)
    reason = None if ok else clean_reason(report.get("reason"))
    event = TicketEvent(
        ticket_id=ticket.id,
        at=now,
        action="printed" if ok else "print_failed",
        from_status=ticket.status,
        to_status=ticket.status,
        device_id=device_id,
        reason=reason,
        details={"print_id": str(job)},
    )
    session.add(event)
    note_event(session, ticket, event)
    if str(job) != print_id(ticket):
        return ticket  # an earlier job: its outcome no longer decides anything
    if ok:
        if ticket.print_state != "printed":
            ticket.printed_at = now
            _set_state(session, ticket, "printed", None, "printed")
    elif ticket.print_state != "printed":  # a late failure does not undo a print
        _set_state(session, ticket, "failed", reason, "failed")
    return ticket


def request_reprint(session: Session, ticket: Ticket, actor: Actor, now: datetime | None = None):
    """Send ``ticket`` to its kiosk's printer again (a new print job)."""
    now = now or utcnow()
    device = session.get(Device, ticket.device_id) if ticket.device_id else None
    if device is None or device.kind != "kiosk":
        raise Conflict("this ticket was not issued at a kiosk", code="no_printer")
    if ticket.status in FINAL_STATUSES:
        raise Conflict(f"ticket is {ticket.status}; nothing to reprint", code="ticket_closed")
    how = route(device)
    if how is None:
        raise Conflict(
            f"kiosk '{device.name}' has no printer connected at the moment", code="no_printer"
        )
    if how == "server" and not _valid_printer_url(server_printer_url(device)):
        raise Conflict(f"kiosk '{device.name}' has a malformed printer setting", code="no_printer")
    ticket.reprint_count += 1
    event = TicketEvent(
        ticket_id=ticket.id,
        at=now,
        action="reprint",
        from_status=ticket.status,
        to_status=ticket.status,
        staff_id=actor.staff_id,
        device_id=actor.device_id,
        details={"print_id": print_id(ticket)},
    )
    session.add(event)
    note_event(session, ticket, event)
    _set_state(session, ticket, "pending", None, "reprint")


def pending_tickets(session: Session, device: Device, now: datetime | None = None) -> list[Ticket]:
    """The device's tickets to print now that its agent is back: the recent ``pending``
    ones still waiting. Older pending ones become e-tickets (never printed late)."""
    now = now or utcnow()
    rows = session.scalars(
        select(Ticket)
        .where(Ticket.device_id == device.id, Ticket.print_state == "pending")
        .order_by(Ticket.issued_at, Ticket.id)
        .with_for_update()
    ).all()
    due = []
    for ticket in rows:
        if ticket.issued_at >= now - RECENT_PRINTS and ticket.status == "waiting":
            due.append(ticket)
        else:
            _set_state(session, ticket, "e_ticket", AGENT_OFFLINE, "e_ticket")
    return due


def update_printer_status(
    session: Session, device: Device, report: dict, now: datetime | None = None
) -> bool:
    """Store a printer's health ``{online, paper, cover_open, error}`` if it changed;
    True when it did (and then ``printer.status`` goes out)."""
    if not isinstance(report, dict) or not isinstance(report.get("online"), bool):
        raise InvalidInput("printer status needs online: true or false", field="online")
    cover = report.get("cover_open")
    # hardware.printer.PrinterStatus.as_dict(): "reason" is a code, "error" a message
    # that may name the printer's address; only a code is kept.
    problem = report.get("reason") or report.get("error")
    status = {
        "online": report["online"],
        "paper": report.get("paper") if report.get("paper") in PAPER_STATES else "unknown",
        "cover_open": cover if isinstance(cover, bool) else None,
        "error": clean_reason(problem) if problem else None,
    }
    if status == device.printer_status:
        return False
    device.printer_status = status
    device.printer_status_at = now or utcnow()
    announce(session, Change(ChangeKind.PRINTER, "status", device.id))
    return True


# ---- the print job ----------------------------------------------------------------------


def _named(names: dict, language: str) -> str:
    return names.get(language) or names.get("az") or next(iter(names.values()), "")


def phone_url(ticket: Ticket, base_url: str) -> str:
    return serializers.phone_url(base_url, ticket.tracking_token)


def print_job(session: Session, ticket: Ticket, base_url: str) -> dict:
    """``ticket.print``: everything a printer needs, in the visitor's language."""
    center = session.get(Center, ticket.center_id)
    est = estimate(session, ticket)
    return {
        "print_id": print_id(ticket),
        "ticket": ticket.id,
        "reprint": ticket.reprint_count > 0,
        "center_name": _named(center.name, ticket.language),
        "number": ticket.display_number,
        "service_name": _named(ticket.service.name, ticket.language),
        "language": ticket.language,
        "issued_at": iso(ticket.issued_at),
        "timezone": center.timezone,
        "position": est.position,
        "estimated_wait_s": est.estimated_wait_s,
        "phone_url": phone_url(ticket, base_url),
        # An outside ticket prints "wait outside"; an appointment's, its slot's start.
        "kind": ticket.kind,
        "appointment_at": iso(ticket.due_at) if ticket.kind == "appointment" else None,
    }


def print_state_json(ticket: Ticket) -> dict:
    """``ticket.print_state``, for the kiosk screen: public (a number, no ids)."""
    return {
        "number": ticket.display_number,
        "state": ticket.print_state,
        "reason": ticket.print_reason,
    }


# ---- printing from the server ----------------------------------------------------------


def print_from_server(url: str, job: dict) -> tuple[bool, str | None, dict | None]:
    """Print ``job`` on the network printer at ``url`` from this process (blocking: run
    it in a background task). Returns (ok, reason, printer status or None)."""
    from hardware.kiosk_agent import ticket_from_job
    from hardware.printer import PrintError, TicketPrinter

    try:
        printer = TicketPrinter(url)
    except PrintError as exc:  # a usb/serial/cups printer without its pip extra
        log.error("cannot print to %s: %s", url, exc)
        return False, clean_reason(exc.reason), None
    try:
        printer.print_ticket(ticket_from_job(job))
    except PrintError as exc:
        log.warning("could not print %s: %s", job.get("number"), exc)
        return False, clean_reason(exc.reason), _status(printer)
    except OSError as exc:
        log.warning("could not print %s: %s", job.get("number"), exc)
        return False, "offline", _status(printer)
    return True, None, _status(printer)


def _status(printer) -> dict | None:
    try:
        return printer.status().as_dict()
    except Exception:  # health is a bonus; the print outcome is what counts
        log.exception("could not read the status of %s", printer)
        return None
