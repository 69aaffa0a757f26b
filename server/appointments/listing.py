"""The day's appointments of one center, for the counter screen, the dashboard and
reception: each booking with its state, its ticket once checked in, and how early or
late its visitor came. The codes are the visitors' keys at the kiosk: the API gives
them whole to counter staff and managers, masked (``mask_code``) to reception.

``stage`` is what a screen shows, one word from the booking and its ticket together:
booked (not here yet), checked_in (waiting), called (called, serving or parked),
served, no_show (not checked in by start + grace, or not at the counter when called),
cancelled (by the visitor). ``punctuality_min`` is check-in minus slot start in whole
minutes (negative: early), None until checked in.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from ..models import Appointment, Ticket
from ..reports.figures import aware_utc
from ..serializers import iso

STAGES = ("booked", "checked_in", "called", "served", "no_show", "cancelled")
_TICKET_STAGES = {
    "waiting": "checked_in",
    "called": "called",
    "serving": "called",
    "parked": "called",
    "done": "served",
    "no_show": "no_show",
    "cancelled": "cancelled",
    "expired": "no_show",
}


def day_appointments(session: Session, center_id: int, day: date) -> list[dict]:
    """Every booking of ``center_id`` for the local ``day``, cancelled ones included,
    by slot start then code. One query (booking, service and ticket joined)."""
    rows = session.execute(
        select(Appointment, Ticket)
        .outerjoin(Ticket, Ticket.id == Appointment.ticket_id)
        .options(joinedload(Appointment.service))
        .where(Appointment.center_id == center_id, Appointment.business_day == day)
        .order_by(Appointment.start, Appointment.code)
    ).all()
    return [_row(appointment, ticket) for appointment, ticket in rows]


SHOWN_CODE_CHARS = 2  # reception sees "••••7X": enough to match what the visitor says


def mask_code(code: str) -> str:
    """A code with all but its last SHOWN_CODE_CHARS characters hidden."""
    hidden = max(0, len(code) - SHOWN_CODE_CHARS)
    return "•" * hidden + code[hidden:]


def stage(appointment: Appointment, ticket: Ticket | None) -> str:
    """The one word a screen shows (see the module docstring)."""
    if appointment.state in ("booked", "cancelled"):
        return appointment.state
    if ticket is None or ticket.kind != "appointment":
        # No ticket of its own: a no-show (a late visitor may have taken a walk-in one).
        return "no_show" if appointment.state == "no_show" else "checked_in"
    return _TICKET_STAGES[ticket.status]


def punctuality_min(appointment: Appointment) -> int | None:
    """Check-in minus slot start in whole minutes, rounded toward zero (-119 s is
    1 minute early); None if never checked in."""
    if appointment.checked_in_at is None:
        return None
    seconds = (aware_utc(appointment.checked_in_at) - aware_utc(appointment.start)).total_seconds()
    return int(seconds / 60)


def _row(appointment: Appointment, ticket: Ticket | None) -> dict:
    service = appointment.service
    start: datetime = aware_utc(appointment.start)
    return {
        "code": appointment.code,
        "service": {"code": service.code, "prefix": service.prefix, "name": service.name},
        "start": iso(start),
        "end": iso(start + timedelta(minutes=service.slot_min)),
        "state": appointment.state,
        "stage": stage(appointment, ticket),
        "language": appointment.language,
        "checked_in_at": iso(appointment.checked_in_at),
        "punctuality_min": punctuality_min(appointment),
        "ticket": None
        if ticket is None
        else {
            "number": ticket.display_number,
            "kind": ticket.kind,
            "status": ticket.status,
            "called_at": iso(ticket.called_at),
        },
    }
