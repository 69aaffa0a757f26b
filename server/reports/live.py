"""The live dashboard of one center: its queues now, today's figures, and each
counter with its current ticket and how long it has stood idle."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..appointments.hall import hall_state
from ..models import Appointment, Center, StaffUser, Ticket, TicketEvent, utcnow
from ..queue.estimates import queue_stats
from ..queue.numbering import business_day
from ..serializers import iso
from .appointments import appointment_figures, empty_appointment_figures
from .figures import Scope, aware_utc, empty_figures, grouped_figures

# Taken from queue_stats by name, so that a field added there for the live screens
# does not change this document unnoticed.
_LIVE_SERVICE_FIELDS = (
    "service",
    "name",
    "prefix",
    "active",
    "target_wait_min",
    "waiting",
    "priority_waiting",
    "longest_wait_s",
    "estimated_wait_s",
)
_LIVE_COUNTER_FIELDS = ("id", "label", "state", "pause_reason", "services", "current_ticket")
# Actions after which the counter has nobody at it any more.
_FREEING_ACTIONS = ("complete", "no_show", "transfer", "park")


def dashboard(session: Session, center: Center, now: datetime | None = None) -> dict:
    """One center right now: the queues, today's figures per service and staff member,
    and each counter with its current ticket and idle time. JSON-ready."""
    now = now or utcnow()
    today = business_day(center, now)
    scope = Scope((center.id,), today, today)
    live = queue_stats(session, center, now)
    totals = grouped_figures(session, scope, Ticket.center_id).get(center.id, empty_figures())
    by_service = grouped_figures(session, scope, Ticket.service_id)
    by_staff = grouped_figures(session, scope, Ticket.staff_id)
    services = {s.code: s for s in center.services}
    service_rows = []
    for row in live["services"]:
        service = services[row["service"]]
        today_figures = by_service.get(service.id, empty_figures())
        service_rows.append(
            {
                **{name: row[name] for name in _LIVE_SERVICE_FIELDS},
                # The alert: someone has waited longer than the service promises.
                "over_target": row["longest_wait_s"] > service.target_wait_min * 60,
                "today": today_figures,
            }
        )
    staff = session.scalars(
        select(StaffUser)
        .where(StaffUser.id.in_([key for key in by_staff if key is not None]))
        .order_by(StaffUser.username)
    )
    return {
        "center": center.code,
        "name": center.name,
        "timezone": center.timezone,  # the dashboard writes times in it
        "at": iso(now),
        "day": today.isoformat(),
        "waiting": sum(row["waiting"] for row in live["services"]),
        "longest_wait_s": max((row["longest_wait_s"] for row in live["services"]), default=0),
        "today": totals,
        "services": service_rows,
        "counters": _counter_rows(session, center, live["counters"], today, now),
        "staff": [
            {"staff_id": user.id, "username": user.username, **by_staff[user.id]} for user in staff
        ],
        # Today's bookings (by their slot's day) and how full the hall is now.
        "appointments": appointment_figures(
            session, (center.id,), today, today, Appointment.center_id
        ).get(center.id, empty_appointment_figures()),
        "hall": _hall(session, center, today, now),
    }


def _hall(session: Session, center: Center, today: date, now: datetime) -> dict:
    hall = hall_state(session, center.id, today, now)
    return {"capacity": hall.capacity, "present": hall.present, "full": hall.full}


def _counter_rows(
    session: Session, center: Center, rows: list[dict], today: date, now: datetime
) -> list[dict]:
    """Adds ``state_since`` and ``idle_s``: for an open counter with nobody at it, the
    time since its last visitor left (completed, no-show, transferred, parked) or
    since it opened, whichever is later; None when busy, paused or closed."""
    last_freed = dict(
        session.execute(
            select(TicketEvent.counter_id, func.max(TicketEvent.at))
            .join(Ticket, Ticket.id == TicketEvent.ticket_id)
            .where(
                Ticket.center_id == center.id,
                # yesterday too: a counter open across midnight
                Ticket.business_day.between(today - timedelta(days=1), today),
                TicketEvent.action.in_(_FREEING_ACTIONS),
                TicketEvent.counter_id.is_not(None),
            )
            .group_by(TicketEvent.counter_id)
        ).all()
    )
    counters = {counter.id: counter for counter in center.counters}
    result = []
    for row in rows:
        counter = counters[row["id"]]
        idle = None
        if counter.state == "open" and row["current_ticket"] is None:
            since = max(
                aware_utc(counter.state_since), aware_utc(last_freed.get(counter.id)) or _MIN
            )
            idle = max(0, round((now - since).total_seconds()))
        result.append(
            {
                **{name: row[name] for name in _LIVE_COUNTER_FIELDS},
                "state_since": iso(counter.state_since),
                "idle_s": idle,
            }
        )
    return result


_MIN = datetime.min.replace(tzinfo=UTC)
