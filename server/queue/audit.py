"""Writing the append-only ticket log, and collecting changes to announce after commit."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy.orm import Session

from ..db import PENDING_CHANGES
from ..models import Ticket, TicketEvent
from .actor import Actor


class Change(NamedTuple):
    kind: str  # "ticket", "counter" or "center" (its catalog or policy changed)
    action: str  # the audit action ("call", "recall", ...) or the counter's new state
    id: int
    counters: tuple[int, ...] = ()  # counters whose current ticket this may have changed


def record(
    session: Session,
    ticket: Ticket,
    action: str,
    from_status: str | None,
    actor: Actor,
    now: datetime,
    *,
    counter_id: int | None = None,
    reason: str | None = None,
    **details,
) -> TicketEvent:
    event = TicketEvent(
        ticket_id=ticket.id,
        at=now,
        action=action,
        from_status=from_status,
        to_status=ticket.status,
        counter_id=counter_id if counter_id is not None else ticket.counter_id,
        staff_id=actor.staff_id,
        device_id=actor.device_id,
        reason=reason,
        details=details,
    )
    session.add(event)
    touched = {event.counter_id, ticket.counter_id, ticket.target_counter_id} - {None}
    announce(session, Change("ticket", action, ticket.id, tuple(sorted(touched))))
    return event


def announce(session: Session, change: Change) -> None:
    """Note a change for the realtime channel, which publishes it once the session commits."""
    session.info.setdefault(PENDING_CHANGES, []).append(change)
