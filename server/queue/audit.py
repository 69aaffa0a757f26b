"""Writing the append-only ticket log, and collecting changes to announce after commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ..models import Ticket, TicketEvent
from .actor import Actor

# Changes made in a session, for the realtime channel to publish once it commits.
PENDING_CHANGES = "novbe_ticket_changes"


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
    session.info.setdefault(PENDING_CHANGES, []).append((action, ticket.id))
    return event
