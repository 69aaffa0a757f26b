"""A bookable service's slots on a day and how many places each has left.

The grid: from the start of each opening window (calendar.local_windows: hours minus
breaks) every ``slot_min`` minutes of local wall time, as long as the whole slot fits
in the window. A slot that has started is gone; days from the center's today to
today + ``booking_days_ahead`` are offered. ``free`` is ``bookings_per_slot`` minus the
live bookings and the cancelled ones still within the cancel hold (booking.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ..models import Appointment, Center, Service
from ..models.appointments import LIVE_APPOINTMENT_STATES
from ..queue.numbering import business_day
from .calendar import local_windows, to_utc

# A cancelled booking keeps its place this long (against slot trading: cancelling to
# hand the place to someone waiting for it).
CANCEL_HOLD_MIN = 30


@dataclass(frozen=True)
class Slot:
    start: datetime  # aware UTC
    free: int


def grid(center: Center, service: Service, day: date) -> list[datetime]:
    """The starts (aware UTC, ascending) of the service's slots on the local ``day``."""
    step = timedelta(minutes=service.slot_min)
    starts: list[datetime] = []
    for lo, hi in local_windows(center, day):
        wall = lo
        while wall + step <= hi:
            instant = to_utc(center, wall)
            if instant is not None:
                starts.append(instant)
            wall += step
    return starts


def booking_days(center: Center, service: Service, now: datetime) -> tuple[date, date]:
    """The first and last local day a booking may be made for."""
    today = business_day(center, now)
    return today, today + timedelta(days=service.booking_days_ahead)


def taken(
    session: Session,
    service_id: int,
    starts: list[datetime],
    now: datetime,
    hold_min: int = CANCEL_HOLD_MIN,
) -> dict[datetime, int]:
    """Places taken per slot start: live bookings, and cancelled ones still held."""
    if not starts:
        return {}
    held_since = now - timedelta(minutes=hold_min)
    rows = session.execute(
        select(Appointment.start, func.count())
        .where(
            Appointment.service_id == service_id,
            Appointment.start >= starts[0],
            Appointment.start <= starts[-1],
            or_(
                Appointment.state.in_(LIVE_APPOINTMENT_STATES),
                and_(Appointment.state == "cancelled", Appointment.cancelled_at > held_since),
            ),
        )
        .group_by(Appointment.start)
    ).all()
    return {start: count for start, count in rows}


def slots(
    session: Session,
    center: Center,
    service: Service,
    day: date,
    now: datetime,
    *,
    hold_min: int = CANCEL_HOLD_MIN,
) -> list[Slot]:
    """The service's slots on ``day`` that have not started, with their free places
    (full ones included, free 0); [] for a day outside the booking window."""
    first, last = booking_days(center, service, now)
    if not first <= day <= last:
        return []
    starts = [start for start in grid(center, service, day) if start > now]
    counts = taken(session, service.id, starts, now, hold_min)
    return [
        Slot(start, max(0, service.bookings_per_slot - counts.get(start, 0))) for start in starts
    ]


def free_days(
    session: Session,
    center: Center,
    service: Service,
    now: datetime,
    *,
    hold_min: int = CANCEL_HOLD_MIN,
) -> list[tuple[date, int]]:
    """The days of the booking window with a free place, and how many (one query)."""
    first, last = booking_days(center, service, now)
    by_day: dict[date, list[datetime]] = {}
    day = first
    while day <= last:
        starts = [start for start in grid(center, service, day) if start > now]
        if starts:
            by_day[day] = starts
        day += timedelta(days=1)
    every = [start for starts in by_day.values() for start in starts]
    counts = taken(session, service.id, every, now, hold_min)
    days = []
    for day, starts in by_day.items():
        free = sum(max(0, service.bookings_per_slot - counts.get(s, 0)) for s in starts)
        if free:
            days.append((day, free))
    return days
