"""The charts' figures: arrivals and waits per service and local hour of one day, and
arrivals per local day and hour of a week, aggregated in the database.

Time zones: a chart's hours are the center's local hours, but tickets keep UTC
instants and SQLite has no time zone database. So the SQL groups tickets by
15-minute slot of UTC time (``epoch // 900``, the same on SQLite and PostgreSQL) and
Python turns each slot into the center's local hour with ``zoneinfo``. Every zone's
UTC offset is a whole number of quarter hours (+04:00 Baku, +05:30 India, +05:45
Nepal), so a slot never straddles a local hour, and a daylight-saving change in the
middle of the range is handled slot by slot. The day itself is the ticket's
``business_day`` (already the center's local day), so a date range is an index scan.
At most 96 rows per service per day come back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from ..models import Center, Service, Ticket

SLOT_S = 900  # 15 minutes: every zone's offset is a multiple of it
WEEK_DAYS = 7


def _epoch(session: Session, column):
    """Seconds since 1970 (UTC) of a timestamp column, as an integer expression."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", column)), Integer)
    # SQLite stores naive UTC text; strftime('%s') reads it as UTC.
    return cast(func.strftime("%s", column), Integer)


def _slot(session: Session, column):
    return _epoch(session, column) // SLOT_S


def _local_hour(slot: int, zone: ZoneInfo) -> int:
    return datetime.fromtimestamp(int(slot) * SLOT_S, UTC).astimezone(zone).hour


@dataclass
class HourFigures:
    arrivals: int = 0
    called: int = 0  # of those, called at least once (their wait is known)
    wait_total_s: float = 0.0

    @property
    def average_wait_s(self) -> int | None:
        return round(self.wait_total_s / self.called) if self.called else None


@dataclass
class DayByHour:
    """One day's figures: ``figures[service_id][hour]``."""

    center: Center
    day: date
    services: list[Service]
    figures: dict[int, dict[int, HourFigures]] = field(default_factory=dict)


def day_by_hour(session: Session, center: Center, day: date) -> DayByHour:
    """Arrivals (tickets issued) and average wait (issue to first call) per service and
    local hour of issue, for the center's ``day``."""
    slot = _slot(session, Ticket.issued_at).label("slot")
    wait_s = _epoch(session, Ticket.called_at) - _epoch(session, Ticket.issued_at)
    rows = session.execute(
        select(
            Ticket.service_id,
            slot,
            func.count(),
            func.count(Ticket.called_at),
            func.sum(wait_s),  # NULL (skipped) for tickets never called
        )
        .where(Ticket.center_id == center.id, Ticket.business_day == day)
        .group_by(Ticket.service_id, slot)
    )
    zone = ZoneInfo(center.timezone)
    result = DayByHour(center, day, list(center.services))
    for service_id, slot_value, arrivals, called, wait_total in rows:
        hour = _local_hour(slot_value, zone)
        cell = result.figures.setdefault(service_id, {}).setdefault(hour, HourFigures())
        cell.arrivals += arrivals
        cell.called += called
        cell.wait_total_s += float(wait_total or 0)
    return result


def week_by_hour(session: Session, center: Center, last_day: date) -> dict[date, dict[int, int]]:
    """Arrivals per local day and hour for the seven days ending with ``last_day``."""
    first_day = last_day - timedelta(days=WEEK_DAYS - 1)
    slot = _slot(session, Ticket.issued_at).label("slot")
    rows = session.execute(
        select(Ticket.business_day, slot, func.count())
        .where(
            Ticket.center_id == center.id,
            Ticket.business_day >= first_day,
            Ticket.business_day <= last_day,
        )
        .group_by(Ticket.business_day, slot)
    )
    zone = ZoneInfo(center.timezone)
    cells: dict[date, dict[int, int]] = {first_day + timedelta(days=i): {} for i in range(7)}
    for day, slot_value, count in rows:
        hour = _local_hour(slot_value, zone)
        cells[day][hour] = cells[day].get(hour, 0) + count
    return cells
