"""End of day: tickets still waiting (or parked) when the center closes become expired."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Center, Ticket, utcnow
from .actor import SYSTEM, Actor
from .audit import record
from .numbering import business_day

EXPIRABLE = ("waiting", "parked")


def expire_after_closing(
    session: Session, center: Center, actor: Actor = SYSTEM, *, now: datetime | None = None
) -> int:
    """Expire the center's open tickets from earlier days, and today's once it has closed.

    Safe to run as often as you like (the serve loop runs it every minute)."""
    now = now or utcnow()
    today = business_day(center, now)
    local_time = now.astimezone(ZoneInfo(center.timezone)).time()
    closed_today = local_time >= center.closes_at
    day_clause = Ticket.business_day <= today if closed_today else Ticket.business_day < today
    tickets = session.scalars(
        select(Ticket)
        .where(Ticket.center_id == center.id, Ticket.status.in_(EXPIRABLE), day_clause)
        .with_for_update(skip_locked=True)
    ).all()
    for ticket in tickets:
        from_status = ticket.status
        ticket.status = "expired"
        ticket.ended_at = now
        record(session, ticket, "expire", from_status, actor, now)
    return len(tickets)


def expire_all_centers(session: Session, *, now: datetime | None = None) -> int:
    return sum(
        expire_after_closing(session, center, now=now)
        for center in session.scalars(select(Center)).all()
    )


__all__ = ["expire_after_closing", "expire_all_centers"]
