"""A bookable service's slots on a day and how many places each has left.

The grid: from the start of each opening window (calendar.local_windows: hours minus
breaks) every ``slot_min`` minutes of local wall time, as long as the whole slot fits
in the window. A slot that has started is gone; days from the center's today to
today + ``booking_days_ahead`` are offered. ``free`` is ``bookings_per_slot`` minus the
live bookings and the cancelled ones still within the cancel hold (booking.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

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
    return taken_between(session, service_id, starts[0], starts[-1], now, hold_min)


def taken_between(
    session: Session,
    service_id: int,
    lo: datetime,
    hi: datetime,
    now: datetime,
    hold_min: int = CANCEL_HOLD_MIN,
) -> dict[datetime, int]:
    """Places taken per booked start in [lo, hi]: live bookings, and cancelled ones still
    held (one grouped query)."""
    held_since = now - timedelta(minutes=hold_min)
    rows = session.execute(
        select(Appointment.start, func.count())
        .where(
            Appointment.service_id == service_id,
            Appointment.start >= lo,
            Appointment.start <= hi,
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
    """The days of the booking window with a free place, and how many: the same answer
    as summing ``slots`` per day, without building the window's grid (366 days of
    5-minute slots would take a request a third of a second). A day's places are counted
    from its opening windows; the taken ones come from one grouped query, each booked
    start checked against the grid. Today (slots may have started) and days the clocks
    change on use the grid itself."""
    first, last = booking_days(center, service, now)
    zone = ZoneInfo(center.timezone)
    step = timedelta(minutes=service.slot_min)
    per_slot = service.bookings_per_slot
    plain: dict[date, tuple[timedelta, list[tuple[datetime, datetime]]]] = {}
    gridded: dict[date, set[datetime]] = {}
    free: dict[date, int] = {}
    naive_now = now.astimezone(UTC).replace(tzinfo=None)  # to compare with wall - offset
    day = first
    while day <= last:
        windows = local_windows(center, day)
        if windows:
            offset = _steady_offset(zone, day)
            if offset is not None and windows[0][0] - offset > naive_now:
                plain[day] = (offset, windows)
                free[day] = per_slot * sum((hi - lo) // step for lo, hi in windows)
            else:
                starts = {start for start in grid(center, service, day) if start > now}
                gridded[day] = starts
                free[day] = per_slot * len(starts)
        day += timedelta(days=1)
    if free:
        lo = datetime.combine(first, time(0)) - timedelta(days=1)
        hi = datetime.combine(last, time(0)) + timedelta(days=2)
        counts = taken_between(
            session, service.id, lo.replace(tzinfo=UTC), hi.replace(tzinfo=UTC), now, hold_min
        )
        for start, count in counts.items():
            start = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
            day = start.astimezone(zone).date()
            if day in gridded:
                on_grid = start in gridded[day]
            elif day in plain:
                offset, windows = plain[day]
                wall = start.replace(tzinfo=None) + offset
                on_grid = any(
                    lo <= wall and wall + step <= hi and (wall - lo) % step == timedelta(0)
                    for lo, hi in windows
                )
            else:
                on_grid = False
            if on_grid:
                free[day] -= min(count, per_slot)
    return [(day, places) for day, places in free.items() if places > 0]


def _steady_offset(zone: ZoneInfo, day: date) -> timedelta | None:
    """The zone's UTC offset all through ``day`` (to the next midnight), or None when
    the clocks change that day."""
    offset = zone.utcoffset(datetime.combine(day, time(0)))
    after = zone.utcoffset(datetime.combine(day + timedelta(days=1), time(0)))
    return offset if offset == after and offset is not None else None


def free_days_by_grid(
    session: Session,
    center: Center,
    service: Service,
    now: datetime,
    *,
    hold_min: int = CANCEL_HOLD_MIN,
) -> list[tuple[date, int]]:
    """``free_days`` the slow way, slot by slot (its tests compare the two)."""
    first, last = booking_days(center, service, now)
    days = []
    day = first
    while day <= last:
        places = sum(
            slot.free for slot in slots(session, center, service, day, now, hold_min=hold_min)
        )
        if places:
            days.append((day, places))
        day += timedelta(days=1)
    return days
