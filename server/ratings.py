"""Visitor approval: a 1 to 5 rating of a completed ticket, and the approval rate.

Policy: one rating per ticket, and it is final. The phone page asks once the ticket
is done; a second rating of the same ticket is refused (409 ``already_rated``,
naming the score given), so one visit counts once and nobody can "improve" a
counter's figures by re-rating. The tracking token (unguessable, on the visitor's
ticket) is the only credential: whoever holds the ticket may rate it.

The approval rate is the share of 4 and 5 among the ratings, computed in SQL.
Center, service and staff member are read through the ticket (a join on the
unique ``ratings.ticket_id``), so a rating always agrees with its ticket.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from .errors import Conflict, InvalidInput, NotFound
from .models import APPROVING_SCORE, SCORES, Rating, Ticket, TicketEvent, utcnow
from .queue.audit import note_event
from .queue.changes import Change, ChangeKind, announce


def check_score(score: object) -> int:
    # bool is an int in Python: true must not become a 1.
    if isinstance(score, bool) or not isinstance(score, int) or score not in SCORES:
        raise InvalidInput("'score' must be a whole number from 1 to 5", field="score")
    return score


def rate_ticket(
    session: Session, tracking_token: str, score: object, *, now: datetime | None = None
) -> Rating:
    """Store the visitor's rating of a done ticket. Never commits (the caller does)."""
    score = check_score(score)
    # Locked, so two taps racing on PostgreSQL queue here and the second sees the first.
    ticket = session.scalar(
        select(Ticket).where(Ticket.tracking_token == tracking_token).with_for_update()
    )
    if ticket is None:
        raise NotFound("unknown ticket", code="ticket_not_found")
    if ticket.status != "done":
        raise Conflict(
            f"only a completed ticket can be rated; this one is {ticket.status}",
            code="ticket_not_done",
            status=ticket.status,
        )
    existing = rating_of(session, ticket)
    if existing is not None:
        raise Conflict(
            f"this ticket was already rated ({existing.score} of 5); a rating is final",
            code="already_rated",
            score=existing.score,
        )
    now = now or utcnow()
    rating = Rating(ticket_id=ticket.id, score=score, created_at=now)
    session.add(rating)
    # A ticket event too, so the rating joins the fairness ledger with the day's calls.
    event = TicketEvent(
        ticket_id=ticket.id,
        at=now,
        action="rate",
        from_status="done",
        to_status="done",
        details={"score": score},
    )
    session.add(event)
    note_event(session, ticket, event)
    session.flush()
    # The center's figures (the public page's approval rate) are due for a refresh.
    announce(
        session, Change(ChangeKind.CENTER, "rating", ticket.center_id, center=ticket.center_id)
    )
    return rating


def rating_of(session: Session, ticket: Ticket) -> Rating | None:
    return session.scalar(select(Rating).where(Rating.ticket_id == ticket.id))


def approval_rate(
    session: Session,
    center_id: int | None,
    since: datetime,
    until: datetime,
    service_id: int | None = None,
    staff_id: int | None = None,
) -> tuple[float | None, int]:
    """(share of 4 and 5 among the ratings given in [since, until), number of ratings).

    The rate is None when there is no rating. ``center_id`` None means every center;
    ``service_id`` / ``staff_id`` narrow to the ticket's service / the staff member
    who served it (the ticket's ``staff_id``: the last one, after a transfer)."""
    query = (
        select(
            func.count(Rating.id),
            func.sum(case((Rating.score >= APPROVING_SCORE, 1), else_=0)),
        )
        .select_from(Rating)
        .join(Ticket, Ticket.id == Rating.ticket_id)
        .where(Rating.created_at >= since, Rating.created_at < until)
    )
    if center_id is not None:
        query = query.where(Ticket.center_id == center_id)
    if service_id is not None:
        query = query.where(Ticket.service_id == service_id)
    if staff_id is not None:
        query = query.where(Ticket.staff_id == staff_id)
    count, approving = session.execute(query).one()
    count = int(count or 0)
    return (int(approving or 0) / count if count else None), count
