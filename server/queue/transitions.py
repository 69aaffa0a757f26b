"""What staff do with a called ticket: recall, start, complete, no-show, park, resume,
transfer, cancel. Each checks the ticket's state and writes one audit event.

Allowed transitions (anything else is refused with 409 naming the current state):

    waiting  -> called (call-next / call), cancelled, expired (end of day)
    called   -> called (recall), serving (start), no_show, waiting (transfer)
    serving  -> done (complete), parked (park), waiting (transfer)
    parked   -> waiting (resume, to the front for the same counter), cancelled

Call-next may chain allowed transitions in its one transaction: serving -> done for the
counter's current visitor, then waiting -> called, and with ``start`` called -> serving;
each writes its own audit event, as the separate actions would.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Conflict, InvalidInput
from ..models import (
    LANE_FRONT,
    LANE_NORMAL,
    LANE_PRIORITY,
    Counter,
    Ticket,
    at_counter,
    utcnow,
)
from .actor import Actor
from .audit import record
from .lookup import get_counter, get_service, get_ticket


def current_ticket(session: Session, counter_id: int, *, lock: bool = False) -> Ticket | None:
    """The ticket called to or being served at a counter, if any; ``lock``: held until
    commit (PostgreSQL), so that it can be changed without reading it again."""
    stmt = select(Ticket).where(Ticket.counter_id == counter_id, at_counter())
    return session.scalar(stmt.with_for_update() if lock else stmt)


MAX_REASON_LENGTH = 64  # ticket_events.reason; PostgreSQL refuses longer text


def _check_reason(reason: str | None) -> None:
    if reason is not None and len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(f"reason must be at most {MAX_REASON_LENGTH} characters", field="reason")


def _load(session: Session, ticket_id: int, action: str, allowed: tuple[str, ...]) -> Ticket:
    ticket = get_ticket(session, ticket_id, lock=True)
    if ticket.status not in allowed:
        raise Conflict(
            f"cannot {action} ticket {ticket.display_number}: it is {ticket.status}"
            f" (allowed from {', '.join(allowed)})",
            code="invalid_transition",
            status=ticket.status,
        )
    return ticket


def recall(session: Session, ticket_id: int, actor: Actor, *, now: datetime | None = None):
    now = now or utcnow()
    ticket = _load(session, ticket_id, "recall", ("called",))
    ticket.recall_count += 1
    ticket.last_called_at = now
    record(session, ticket, "recall", "called", actor, now, recall_count=ticket.recall_count)
    return ticket


def start(session: Session, ticket_id: int, actor: Actor, *, now: datetime | None = None):
    now = now or utcnow()
    ticket = _load(session, ticket_id, "start", ("called",))
    begin_service(session, ticket, actor, now)
    return ticket


def begin_service(session: Session, ticket: Ticket, actor: Actor, now: datetime) -> None:
    """called -> serving on a ticket already loaded and locked (start, or call-next's
    one-press ``start``, which calls and starts in one transaction)."""
    assert ticket.status == "called", ticket.status
    ticket.status = "serving"
    ticket.started_at = now
    ticket.staff_id = actor.staff_id or ticket.staff_id
    record(session, ticket, "start", "called", actor, now)


def complete(session: Session, ticket_id: int, actor: Actor, *, now: datetime | None = None):
    now = now or utcnow()
    ticket = _load(session, ticket_id, "complete", ("serving",))
    end_service(session, ticket, actor, now)
    return ticket


def end_service(session: Session, ticket: Ticket, actor: Actor, now: datetime) -> None:
    """serving -> done on a ticket already loaded and locked (complete, or call-next's
    "done, next")."""
    assert ticket.status == "serving", ticket.status
    ticket.status = "done"
    ticket.ended_at = now
    record(session, ticket, "complete", "serving", actor, now)


def no_show(session: Session, ticket_id: int, actor: Actor, *, now: datetime | None = None):
    now = now or utcnow()
    ticket = _load(session, ticket_id, "mark no-show", ("called",))
    needed = ticket.service.center.recalls_before_no_show
    if ticket.recall_count < needed:
        raise Conflict(
            f"recall {ticket.display_number} {needed - ticket.recall_count} more time(s) "
            "before marking it no-show",
            code="recall_first",
            recalls=ticket.recall_count,
            required=needed,
        )
    ticket.status = "no_show"
    ticket.ended_at = now
    record(session, ticket, "no_show", "called", actor, now)
    return ticket


def cancel(
    session: Session,
    ticket_id: int,
    actor: Actor,
    *,
    reason: str | None = None,
    now: datetime | None = None,
):
    now = now or utcnow()
    _check_reason(reason)
    ticket = _load(session, ticket_id, "cancel", ("waiting", "parked"))
    from_status = ticket.status
    ticket.status = "cancelled"
    ticket.ended_at = now
    record(session, ticket, "cancel", from_status, actor, now, reason=reason)
    return ticket


def park(
    session: Session,
    ticket_id: int,
    actor: Actor,
    *,
    reason: str | None = None,
    now: datetime | None = None,
):
    """The visitor steps away (to fetch a document); the counter can serve others."""
    now = now or utcnow()
    _check_reason(reason)
    ticket = _load(session, ticket_id, "park", ("serving",))
    ticket.status = "parked"
    record(session, ticket, "park", "serving", actor, now, reason=reason)
    return ticket


def resume(
    session: Session,
    ticket_id: int,
    actor: Actor,
    *,
    counter_id: int | None = None,
    now: datetime | None = None,
):
    """The visitor is back: they wait at the front, for the counter that parked them."""
    now = now or utcnow()
    ticket = _load(session, ticket_id, "resume", ("parked",))
    counter = get_counter(session, counter_id or ticket.counter_id)
    _same_center(ticket, counter)
    _requeue(ticket, now, lane=LANE_FRONT, due_at=now, target_counter_id=counter.id)
    record(session, ticket, "resume", "parked", actor, now, counter_id=counter.id)
    return ticket


def transfer(
    session: Session,
    ticket_id: int,
    actor: Actor,
    *,
    service_code: str | None = None,
    counter_id: int | None = None,
    front: bool = True,
    now: datetime | None = None,
):
    """Send the visitor to another service or a named counter; the number stays."""
    now = now or utcnow()
    if (service_code is None) == (counter_id is None):
        raise InvalidInput("transfer needs exactly one of 'service' or 'counter'", field="service")
    ticket = _load(session, ticket_id, "transfer", ("called", "serving"))
    from_status = ticket.status
    from_counter = ticket.counter_id
    if service_code is not None:
        service = get_service(session, ticket.service.center, service_code)
        if not service.active:
            raise Conflict(
                f"service '{service.code}' is not available at the moment",
                code="service_inactive",
            )
        from_service = ticket.service.code
        ticket.service_id = service.id
        ticket.service = service
        if front:
            lane, due_at = LANE_FRONT, now
        else:
            lane = LANE_PRIORITY if ticket.priority else LANE_NORMAL
            due_at = now + timedelta(minutes=service.target_wait_min)
        _requeue(ticket, now, lane=lane, due_at=due_at, target_counter_id=None)
        details = {"from_service": from_service, "to_service": service.code, "front": front}
    else:
        counter = get_counter(session, counter_id)
        _same_center(ticket, counter)
        _requeue(ticket, now, lane=LANE_FRONT, due_at=now, target_counter_id=counter.id)
        details = {"to_counter": counter.label}
    ticket.transfer_count += 1
    record(session, ticket, "transfer", from_status, actor, now, counter_id=from_counter, **details)
    return ticket


def _requeue(ticket: Ticket, now, *, lane: int, due_at, target_counter_id: int | None) -> None:
    """Back in a queue after a call: the visitor has been at a counter, so the ticket is
    callable at once, even one called out of order before its check-in or its slot."""
    ticket.status = "waiting"
    ticket.callable_at = None
    ticket.lane = lane
    ticket.waiting_since = now
    ticket.due_at = due_at
    ticket.target_counter_id = target_counter_id
    ticket.counter_id = None
    ticket.started_at = None
    ticket.recall_count = 0


def _same_center(ticket: Ticket, counter: Counter) -> None:
    if counter.center_id != ticket.center_id:
        raise Conflict(f"counter {counter.label} belongs to another center", code="wrong_center")
