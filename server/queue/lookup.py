"""Loading rows by their public identifiers, with 404s that say what was not found."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import NotFound
from ..models import Center, Counter, Service, Ticket

# session.info key: centers this session has looked up by code. A request resolves its
# center in the view (for the role check) and again in the queue engine.
_CENTERS_BY_CODE = "novbe_centers_by_code"


def get_center(session: Session, code: str) -> Center:
    known = session.info.setdefault(_CENTERS_BY_CODE, {})
    center = known.get(code)
    if center is None:
        center = session.scalar(select(Center).where(Center.code == code))
        if center is None:
            raise NotFound(f"unknown center '{code}'", code="center_not_found")
        known[code] = center
    return center


def get_service(session: Session, center: Center, code: str) -> Service:
    service = session.scalar(
        select(Service).where(Service.center_id == center.id, Service.code == code)
    )
    if service is None:
        raise NotFound(
            f"unknown service '{code}' at center '{center.code}'", code="service_not_found"
        )
    return service


def get_counter(session: Session, counter_id: int, *, lock: bool = False) -> Counter:
    stmt = select(Counter).where(Counter.id == counter_id)
    if lock:
        stmt = stmt.with_for_update()
    counter = session.scalar(stmt)
    if counter is None:
        raise NotFound(f"unknown counter {counter_id}", code="counter_not_found")
    return counter


def get_ticket(session: Session, ticket_id: int, *, lock: bool = False) -> Ticket:
    stmt = select(Ticket).where(Ticket.id == ticket_id)
    if lock:
        stmt = stmt.with_for_update()
    ticket = session.scalar(stmt)
    if ticket is None:
        raise NotFound(f"unknown ticket {ticket_id}", code="ticket_not_found")
    return ticket


def get_ticket_by_token(session: Session, token: str) -> Ticket:
    ticket = session.scalar(select(Ticket).where(Ticket.tracking_token == token))
    if ticket is None:
        raise NotFound("unknown ticket", code="ticket_not_found")
    return ticket
