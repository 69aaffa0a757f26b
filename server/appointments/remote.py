"""Joining the line from home (the virtual queue).

A remote ticket is an ordinary waiting ticket of kind "remote": numbered, due at joining
+ the service's target wait (so it holds its place from the moment of joining), but not
callable (``callable_at`` = ABSENT) until its visitor checks in at a kiosk with its QR
(checkin.py). Passed over at the head while absent, it keeps its place for the center's
``absent_hold_min`` and is then a no-show (upkeep.py).

Refusals: the center's or the service's switch off (409 ``remote_joining_off``: the
center's switch acts at once; tickets already joined keep their place), the service's
daily cap (409 ``remote_cap_reached``), too many joins from one client address today
(429 ``client_limit``), the center closed now (409 ``center_closed``).
The cap is exact under concurrency: the service row is locked FOR UPDATE on PostgreSQL
(SQLite's write lock serializes).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import Session

from ..errors import Conflict, NotFound
from ..models import ABSENT, Center, Service, Ticket, TicketEvent, utcnow
from ..queue.actor import Actor
from ..queue.issuing import IssueResult, find_place, issue_at
from ..queue.lookup import get_center, get_service
from ..queue.numbering import local_day
from .booking import TooManyBookings, digest, serialize_on
from .calendar import is_open

REMOTE_PER_CLIENT_PER_DAY = 3  # per center and local day
REMOTE = Actor(kind="system", name="remote")


def joinable_services(center: Center) -> list[Service]:
    """The services one may join from home at ``center`` (both switches on), whatever
    the hour: the booking page, the public page and join_from_home all ask this."""
    if not center.remote_joining:
        return []
    return [service for service in center.services if service.active and service.remote_joining]


def join_from_home(
    session: Session,
    center_code: str,
    service_code: str,
    language: str,
    *,
    client: str | None = None,
    now: datetime | None = None,
    secret: str | bytes = "",
    per_client: int = REMOTE_PER_CLIENT_PER_DAY,
) -> IssueResult:
    """A remote ticket for ``service_code``; ``client`` (the caller's address) is kept
    only as a keyed digest in the issue event's private details, for the daily limit."""
    now = now or utcnow()
    center = get_center(session, center_code)
    try:
        service = get_service(session, center, service_code)
    except NotFound as unknown:
        unknown.details["field"] = "service"  # as booking names it
        raise
    if not (center.remote_joining and service.remote_joining):
        raise Conflict(
            f"joining from home is not offered for '{service.code}' at this center now",
            code="remote_joining_off",
        )
    if not is_open(center, now):
        raise Conflict("the center is closed now; join when it is open", code="center_closed")
    client_digest = digest(secret, "client", client) if client else None
    # One client's joins take turns (the daily limit counts over every service), then
    # the service's (its cap); always in this order.
    serialize_on(session, client_digest)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Service.id).where(Service.id == service.id).with_for_update())
    day = local_day(center.timezone, now)
    if service.remote_daily_cap is not None:
        joined = session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(
                Ticket.service_id == service.id,
                Ticket.business_day == day,
                Ticket.kind == "remote",
            )
        )
        if joined >= service.remote_daily_cap:
            raise Conflict(
                f"today's places for joining '{service.code}' from home are taken "
                f"({service.remote_daily_cap}); come to the center instead",
                code="remote_cap_reached",
                cap=service.remote_daily_cap,
            )
    if client_digest is not None:
        joined = session.scalar(
            _client_statement(), {"center": center.id, "day": day, "client": client_digest}
        )
        if joined >= per_client:
            raise TooManyBookings(
                f"too many joins from this address today (at most {per_client})",
                code="client_limit",
                limit=per_client,
            )
    place = find_place(session, center.code, service.code)
    return issue_at(
        session,
        place,
        language,
        None,
        REMOTE,
        now=now,
        kind="remote",
        callable_at=ABSENT,
        details={"client": client_digest} if client_digest else None,
    )


@lru_cache(maxsize=1)
def _client_statement():
    """The day's remote tickets of a center joined from one address (its digest is in
    their issue event's private details): a few rows by ix_tickets_day."""
    return (
        select(func.count())
        .select_from(Ticket)
        .join(TicketEvent, and_(TicketEvent.ticket_id == Ticket.id, TicketEvent.action == "issue"))
        .where(
            Ticket.center_id == bindparam("center"),
            Ticket.business_day == bindparam("day"),
            Ticket.kind == "remote",
            TicketEvent.details["client"].as_string() == bindparam("client"),
        )
    )
