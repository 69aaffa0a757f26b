"""The report over a date range: figures per center, per service and per staff member
for the tickets issued on those local days, and the same as CSV rows."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Appointment, Center, Service, StaffUser, Ticket
from ..queue.actor import Actor
from .appointments import appointment_figures, empty_appointment_figures
from .dates import check_range
from .figures import FIGURES, Scope, empty_figures, grouped_figures
from .tickets import rate, staff_rates

CSV_HEADER = ("center", "kind", "code", "name", "target_wait_min", *FIGURES)


def visible_centers(session: Session, actor: Actor | None) -> list[Center]:
    """The centers whose figures ``actor`` may read: all for a network admin (or no
    actor: the CLI), else the actor's own center."""
    query = select(Center).order_by(Center.code)
    if actor is not None and not (actor.role == "admin" and actor.center_id is None):
        query = query.where(Center.id == actor.center_id)
    return list(session.scalars(query))


def report(
    session: Session,
    center: Center | None,
    date_from: date,
    date_to: date,
    *,
    actor: Actor | None = None,
) -> dict:
    """Figures per center, per service and per staff member for the tickets issued on
    the local days ``date_from``..``date_to`` (inclusive). ``center`` None: every
    center ``actor`` may see (see visible_centers)."""
    check_range(date_from, date_to)
    centers = [center] if center is not None else visible_centers(session, actor)
    scope = Scope(tuple(c.id for c in centers), date_from, date_to)
    codes = {c.id: c.code for c in centers}
    by_center = grouped_figures(session, scope, Ticket.center_id) if centers else {}
    by_service = grouped_figures(session, scope, Ticket.service_id) if centers else {}
    by_staff = grouped_figures(session, scope, Ticket.staff_id) if centers else {}
    # Calls are the caller's, whoever served the ticket last (server/reports/tickets.py).
    rates = staff_rates(session, scope.center_ids, date_from, date_to)
    services = session.scalars(
        select(Service)
        .where(Service.center_id.in_(scope.center_ids))
        .order_by(Service.center_id, Service.position, Service.id)
    )
    staff = session.scalars(
        select(StaffUser)
        .where(StaffUser.id.in_([key for key in by_staff if key is not None]))
        .order_by(StaffUser.username)
    )
    services = list(services)
    return {
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "appointments": _appointments(session, scope, codes, services),
        "centers": [
            {"center": c.code, "name": c.name, **by_center.get(c.id, empty_figures())}
            for c in centers
        ],
        "services": [
            _service_row(codes, s, by_service.get(s.id, empty_figures())) for s in services
        ],
        "staff": [
            _staff_row(codes, user, by_staff[user.id], rates.get(user.id, rate())) for user in staff
        ],
    }


def _appointments(session: Session, scope: Scope, codes: dict[int, str], services) -> dict:
    """Booked visits by the slot's day (server/reports/appointments.py): per center, and
    per service that is bookable or had bookings."""
    args = (session, scope.center_ids, scope.date_from, scope.date_to)
    by_center = appointment_figures(*args, Appointment.center_id)
    by_service = appointment_figures(*args, Appointment.service_id)
    return {
        "centers": [
            {"center": code, **by_center.get(center_id, empty_appointment_figures())}
            for center_id, code in codes.items()
        ],
        "services": [
            {
                "center": codes[s.center_id],
                "service": s.code,
                "prefix": s.prefix,
                "name": s.name,
                **by_service.get(s.id, empty_appointment_figures()),
            }
            for s in services
            if s.bookable or s.id in by_service
        ],
    }


def _service_row(codes: dict[int, str], service: Service, figures: dict) -> dict:
    return {
        "center": codes[service.center_id],
        "service": service.code,
        "prefix": service.prefix,
        "name": service.name,
        "target_wait_min": service.target_wait_min,
        **figures,
    }


def _staff_row(codes: dict[int, str], user: StaffUser, figures: dict, out_of_order: dict) -> dict:
    return {
        # A network admin serving at a counter has no center of their own.
        "center": codes.get(user.center_id),
        "staff_id": user.id,
        "username": user.username,
        **figures,
        "out_of_order": out_of_order,
    }


def csv_rows(body: dict, language: str = "en") -> list[list]:
    """The report as CSV rows: a header, then one row per service and per staff member.
    Names are the ``language`` ones; text that a spreadsheet would run as a formula
    is defused with a leading apostrophe."""
    rows = [list(CSV_HEADER)]
    for row in body["services"]:
        head = [row["center"], "service", row["service"], row["name"].get(language, "")]
        rows.append(head + [row["target_wait_min"]] + [row[name] for name in FIGURES])
    for row in body["staff"]:
        head = [row["center"] or "", "staff", row["username"], row["username"], ""]
        rows.append(head + [row[name] for name in FIGURES])
    return [[_cell(value) for value in row] for row in rows]


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
