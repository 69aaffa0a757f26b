"""Writing the append-only ticket log; each entry also announces its ticket's change
(changes.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ..ledger.chain import note
from ..models import Ticket, TicketEvent
from .actor import Actor
from .changes import Change, ChangeKind, announce

__all__ = ["Change", "ChangeKind", "announce", "note_event", "record"]


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
    note_event(session, ticket, event)
    touched = {event.counter_id, ticket.counter_id, ticket.target_counter_id} - {None}
    announce(
        session,
        Change(
            ChangeKind.TICKET,
            action,
            ticket.id,
            tuple(sorted(touched)),
            ticket.center_id,
            ticket.service_id,
        ),
    )
    return event


def note_event(session: Session, ticket: Ticket, event: TicketEvent) -> None:
    """Every ticket event joins the fairness ledger (server/ledger/chain.py)."""
    note(
        session,
        center_id=ticket.center_id,
        day=ticket.business_day,
        ticket_id=ticket.id,
        number=ticket.display_number,
        service_id=ticket.service_id,
        event=event,
    )
