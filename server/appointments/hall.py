"""How many people the waiting hall holds now, against the center's hall capacity.

Present = the center's tickets of the business day that are in the building: waiting
and checked in or never absent (``callable_at`` is not ABSENT: a walk-in, an
appointment's ticket, a remote or outside ticket after its check-in), plus those at a
counter (called, serving). Parked visitors step out and are not counted; nor are remote
and outside tickets before their check-in (they wait elsewhere).

A walk-in issued while present >= capacity gets an "outside" ticket (queue/issuing.py),
unless its estimated wait is COME_IN or less: it would be let in at once.
Its visitor is let in (checked in at a kiosk or by reception) only when the hall has
room again, the ticket's estimated wait is COME_IN or less, or the line has passed over
it (``come_in``); the phone page says "come in now" by the same rule, with COME_IN and
``passed_at`` from the tracking payload.
The limit is soft under concurrency: two kiosks issuing at the same instant on
PostgreSQL may both see one place left (one visitor over, never a stuck queue).
Appointments' check-ins are never refused for a full hall: their visitors were booked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from ..models import ABSENT, Center, Ticket
from ..queue import estimate

# An outside ticket comes in when its estimated wait is this short, full hall or not.
COME_IN = timedelta(minutes=10)
COME_IN_S = int(COME_IN.total_seconds())


@dataclass(frozen=True)
class HallState:
    capacity: int | None  # None: the center sets no limit
    present: int
    full: bool


def hall_state(
    session: Session, center_id: int, day: date, now: datetime | None = None
) -> HallState:
    """The hall of ``center_id`` on its local ``day`` (``now`` is for symmetry with the
    other readers: presence does not depend on the clock)."""
    capacity = session.scalar(select(Center.hall_capacity).where(Center.id == center_id))
    present = present_count(session, center_id, day)
    return HallState(capacity, present, capacity is not None and present >= capacity)


@dataclass(frozen=True)
class ComeIn:
    allowed: bool  # the hall has room, or the estimated wait is COME_IN or less
    hall: HallState
    estimated_wait_s: int | None


def come_in(session: Session, ticket: Ticket, now: datetime | None = None) -> ComeIn:
    """Whether an outside ticket's visitor may come in now: the hall has room, its wait
    is COME_IN or less, or the line has already reached it (``passed_at``: its place is
    held only for the center's hold time). An unknown estimate (no counter open for the
    service) lets nobody else in past a full hall."""
    hall = hall_state(session, ticket.center_id, ticket.business_day, now)
    wait = estimate(session, ticket, now).estimated_wait_s
    soon = wait is not None and wait <= COME_IN_S
    return ComeIn(not hall.full or soon or ticket.passed_at is not None, hall, wait)


def present_count(session: Session, center_id: int, day: date) -> int:
    """One count over ix_tickets_day (center, day, status)."""
    session.flush()
    return session.connection().scalar(_present_statement(), {"center": center_id, "day": day})


@lru_cache(maxsize=1)
def _present_statement():
    absent = bindparam("absent", ABSENT, type_=Ticket.callable_at.type)
    return (
        select(func.count())
        .select_from(Ticket)
        .where(
            Ticket.center_id == bindparam("center"),
            Ticket.business_day == bindparam("day"),
            or_(
                and_(
                    Ticket.status == "waiting",
                    or_(Ticket.callable_at.is_(None), Ticket.callable_at != absent),
                ),
                Ticket.status.in_(("called", "serving")),
            ),
        )
    )
