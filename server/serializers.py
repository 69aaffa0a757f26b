"""JSON shapes of tickets, shared by the API and the live channel. Public shapes carry no
personal data and no internal ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, object_session

from .appointments.hall import COME_IN_S, hall_state
from .models import ABSENT, Ticket
from .queue import estimate


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z`` (a naive value is taken as UTC, as SQLite keeps it)."""
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat().replace("+00:00", "Z")


def phone_url(base_url: str, tracking_token: str) -> str:
    """The visitor's phone page for a ticket, on the server at ``base_url``."""
    return f"{base_url.rstrip('/')}/t/{tracking_token}"


def ticket_json(session: Session, ticket: Ticket, *, with_token: bool = False) -> dict:
    """A ticket as staff and the issuing kiosk see it."""
    est = estimate(session, ticket)
    body = {
        "id": ticket.id,
        "number": ticket.display_number,
        "service": ticket.service.code,
        "status": ticket.status,
        "priority": ticket.priority,
        "language": ticket.language,
        "position": est.position,
        "estimated_wait_s": est.estimated_wait_s,
        "counter": _counter_json(ticket),
        "recall_count": ticket.recall_count,
        "created_at": iso(ticket.issued_at),
        "called_at": iso(ticket.called_at),
        "started_at": iso(ticket.started_at),
        "ended_at": iso(ticket.ended_at),
        "kind": ticket.kind,
    }
    if with_token:
        body["tracking_token"] = ticket.tracking_token
    return body


def public_ticket_json(session: Session, ticket: Ticket) -> dict:
    """What the visitor's phone shows: no id, no priority class, no staff."""
    est = estimate(session, ticket)
    return {
        "number": ticket.display_number,
        "service": {"code": ticket.service.code, "name": ticket.service.name},
        "status": ticket.status,
        "language": ticket.language,
        "position": est.position,
        "estimated_wait_s": est.estimated_wait_s,
        "counter": {"label": ticket.counter.label}
        if ticket.status in ("called", "serving") and ticket.counter
        else None,
        "created_at": iso(ticket.issued_at),
        "called_at": iso(ticket.last_called_at),
        **arrival_json(ticket),
    }


def arrival_json(ticket: Ticket) -> dict:
    """How the visitor came and whether they are in the hall (docs/queue.md,
    "Appointments and absent tickets"): ``absent`` is set while a remote or outside
    ticket waits for its check-in, with ``passed_at`` once the line stepped over it,
    ``hold_until`` when its place will be released, and for an outside ticket the rule
    of its check-in (appointments/hall.py): it may come in when ``hall_room`` (the hall
    has room now) or its ``estimated_wait_s`` <= ``come_in_s``. ``appointment_at``: an
    appointment's slot start (the phone page says it is called from then), and
    ``timezone`` the center's, to show these times as its clocks do."""
    absent = None
    if ticket.status == "waiting" and ticket.callable_at == ABSENT:
        passed = ticket.passed_at
        hold = None
        if passed is not None:
            hold = iso(passed + timedelta(minutes=ticket.service.center.absent_hold_min))
        absent = {"passed_at": iso(passed), "hold_until": hold}
        if ticket.kind == "outside":
            absent.update(come_in_s=COME_IN_S, hall_room=_hall_room(ticket))
    return {
        "kind": ticket.kind,
        "checked_in": ticket.checked_in_at is not None,
        "absent": absent,
        # Its slot's start while it waits for it (a transfer clears callable_at and
        # moves due_at: no longer a slot).
        "appointment_at": iso(ticket.due_at)
        if ticket.kind == "appointment" and ticket.callable_at is not None
        else None,
        "timezone": ticket.service.center.timezone,
    }


def _hall_room(ticket: Ticket) -> bool | None:
    session = object_session(ticket)
    if session is None:
        return None
    return not hall_state(session, ticket.center_id, ticket.business_day).full


def _counter_json(ticket: Ticket) -> dict | None:
    if ticket.counter is None:
        return None
    return {"id": ticket.counter.id, "label": ticket.counter.label}
