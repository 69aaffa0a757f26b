"""Booked visits' figures over some centers and local days (the slot's day,
``appointments.business_day``), grouped by center or service: a few grouped SQL
queries, like figures.py. Definitions in docs/reports.md, "Appointments".

* ``booked``: bookings not cancelled; ``cancelled`` apart;
* ``checked_in``, ``no_shows`` (not checked in by start + grace), ``late_walk_ins`` (of
  those no-shows, the ones who came after the grace and took a walk-in ticket);
* ``no_show_rate``: no_shows / (checked_in + no_shows), the bookings whose outcome is
  known (a booking still ahead counts in neither);
* ``punctuality``: check-ins per bucket of (check-in - slot start), late walk-ins
  included (their ``checked_in_at`` is when they came: "late 10+");
* wait after slot start: first call - the later of slot start and check-in (a visitor
  who came late waits from their check-in), 0 when called in the lead before the start;
  ``avg_wait_after_start_s`` and ``p90_wait_after_start_s`` (nearest rank, as figures.py).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from ..models import Appointment, Ticket
from .figures import PERCENTILE, _count_if, _elapsed_ms, _seconds, _share

# (name, lower bound in minutes, upper bound in minutes): check-in - slot start in
# [lower, upper). ASAN's day had 43 % of bookings two hours early, hence the first.
PUNCTUALITY_BUCKETS = (
    ("early_60_plus", None, -60),
    ("early_30_60", -60, -30),
    ("early_10_30", -30, -10),
    ("early_0_10", -10, 0),
    ("late_0_5", 0, 5),
    ("late_5_10", 5, 10),
    ("late_10_plus", 10, None),
)
APPOINTMENT_FIGURES = (
    "booked",
    "cancelled",
    "checked_in",
    "no_shows",
    "late_walk_ins",
    "no_show_rate",
    "called",
    "avg_wait_after_start_s",
    "p90_wait_after_start_s",
)


def empty_appointment_figures() -> dict:
    figures = dict.fromkeys(APPOINTMENT_FIGURES, 0)
    figures.update(no_show_rate=None, avg_wait_after_start_s=None, p90_wait_after_start_s=None)
    figures["punctuality"] = {name: 0 for name, _, _ in PUNCTUALITY_BUCKETS}
    return figures


def appointment_figures(
    session: Session, center_ids: tuple[int, ...], date_from: date, date_to: date, group
) -> dict:
    """``{group value: figures}`` for the bookings of ``center_ids`` whose slot is on
    the local days ``date_from``..``date_to``, grouped by ``group``
    (Appointment.center_id or Appointment.service_id). Two grouped queries."""
    if not center_ids:
        return {}
    dialect = session.get_bind().dialect.name
    scope = and_(
        Appointment.center_id.in_(center_ids),
        Appointment.business_day.between(date_from, date_to),
    )
    early_ms = _elapsed_ms(dialect, Appointment.start, Appointment.checked_in_at)
    wait = _wait_after_start_ms(dialect)
    called = and_(Ticket.kind == "appointment", Ticket.called_at.is_not(None))
    buckets = [
        _count_if(_in_bucket(early_ms, lower, upper)) for _, lower, upper in PUNCTUALITY_BUCKETS
    ]
    rows = session.execute(
        select(
            group,
            _count_if(Appointment.state != "cancelled"),
            _count_if(Appointment.state == "cancelled"),
            _count_if(Appointment.state == "checked_in"),
            _count_if(Appointment.state == "no_show"),
            _count_if(and_(Appointment.state == "no_show", Ticket.id.is_not(None))),
            _count_if(called),
            func.avg(case((called, wait))),
            *buckets,
        )
        .outerjoin(Ticket, Ticket.id == Appointment.ticket_id)
        .where(scope)
        .group_by(group)
    )
    figures = {}
    for key, booked, cancelled, checked_in, no_shows, walk_ins, n_called, avg, *counts in rows:
        checked_in, no_shows = int(checked_in or 0), int(no_shows or 0)
        figures[key] = {
            "booked": int(booked or 0),
            "cancelled": int(cancelled or 0),
            "checked_in": checked_in,
            "no_shows": no_shows,
            "late_walk_ins": int(walk_ins or 0),
            "no_show_rate": _share(no_shows, checked_in + no_shows),
            "called": int(n_called or 0),
            "avg_wait_after_start_s": _seconds(avg),
            "p90_wait_after_start_s": None,
            "punctuality": {
                name: int(count or 0)
                for (name, _, _), count in zip(PUNCTUALITY_BUCKETS, counts, strict=True)
            },
        }
    ranked = (
        select(
            group.label("key"),
            wait.label("wait_ms"),
            func.row_number().over(partition_by=group, order_by=wait).label("rank"),
            func.count().over(partition_by=group).label("n"),
        )
        .join(Ticket, Ticket.id == Appointment.ticket_id)
        .where(scope, called)
        .subquery()
    )
    p90s = session.execute(
        select(ranked.c.key, func.min(ranked.c.wait_ms))
        .where(ranked.c.rank * 10 >= ranked.c.n * PERCENTILE)
        .group_by(ranked.c.key)
    )
    for key, p90 in p90s:
        figures[key]["p90_wait_after_start_s"] = _seconds(p90)
    return figures


def _wait_after_start_ms(dialect: str):
    """First call - the later of slot start and check-in, at least 0 (milliseconds)."""
    from_start = _elapsed_ms(dialect, Appointment.start, Ticket.called_at)
    from_check_in = _elapsed_ms(dialect, Appointment.checked_in_at, Ticket.called_at)
    shorter = case((from_check_in < from_start, from_check_in), else_=from_start)
    return case((shorter < 0, 0), else_=shorter)


def _in_bucket(early_ms, lower: int | None, upper: int | None):
    conditions = [Appointment.checked_in_at.is_not(None)]
    if lower is not None:
        conditions.append(early_ms >= lower * 60_000)
    if upper is not None:
        conditions.append(early_ms < upper * 60_000)
    return and_(*conditions)
