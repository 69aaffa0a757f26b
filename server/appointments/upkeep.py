"""Each minute (server/maintenance.py, one process per installation):

* ``mark_no_show_bookings``: a booking not checked in by its start + the service's
  late grace becomes no_show, releasing its place (a late visitor may still get a
  walk-in ticket where the service says so: checkin.py);
* ``release_absent``: an absent ticket (remote or outside, not checked in) that
  call-next passed over (``passed_at``: the call that stepped over it, see
  queue/calling.py) keeps its place until ``passed_at`` + the center's
  ``absent_hold_min``, then becomes no_show (reason "not_checked_in", an audit event
  like any other, so the ledger sees it).

Both are idempotent: a second run, or two processes at once, change nothing more.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..models import ABSENT, Appointment, Center, Service, Ticket, utcnow
from ..queue.actor import SYSTEM
from ..queue.audit import record

# Rendered into the SQL, not bound: the partial index ix_appointments_booked (state =
# 'booked') then serves the scan also in PostgreSQL's generic plans of prepared statements.
BOOKED = bindparam("booked", "booked", literal_execute=True)


def mark_no_show_bookings(session: Session, now: datetime | None = None) -> int:
    """Bookings past start + grace and never checked in -> no_show. Returns how many."""
    now = now or utcnow()
    rows = session.execute(
        select(Appointment, Service.late_grace_min)
        .join(Service, Service.id == Appointment.service_id)
        .where(Appointment.state == BOOKED, Appointment.start < now)
        .with_for_update(of=Appointment)
    ).all()
    changed = 0
    for appointment, grace in rows:
        if appointment.start + timedelta(minutes=grace) < now:
            appointment.state = "no_show"
            changed += 1
    return changed


def release_absent(session: Session, now: datetime | None = None) -> int:
    """Release the absent tickets passed over whose hold is over. Returns the tickets
    released (made no_show)."""
    now = now or utcnow()
    absent = select(Ticket).where(
        Ticket.status == "waiting", Ticket.callable_at == ABSENT, Ticket.target_counter_id.is_(None)
    )
    released = 0
    rows = session.execute(
        absent.add_columns(Center.absent_hold_min)
        .join(Center, Center.id == Ticket.center_id)
        .where(Ticket.passed_at.is_not(None))
        .with_for_update(of=Ticket)
    ).all()
    for ticket, hold_min in rows:
        if ticket.passed_at + timedelta(minutes=hold_min) <= now:
            ticket.status = "no_show"
            ticket.ended_at = now
            record(session, ticket, "no_show", "waiting", SYSTEM, now, reason="not_checked_in")
            released += 1
    return released
