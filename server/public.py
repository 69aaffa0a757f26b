"""The public transparency page's figures (/public/<center>): per service the queue
length and the estimated wait for a newcomer, and today's service level and approval
rate. Only what anyone in the hall could see or count: no ticket numbers, no tracking
tokens, no staff, no counters.

Today's service level = the share of the tickets of the center's current local day
that were called within their service's target wait (first call − issue), among
those called so far. Tickets still waiting are not counted until they are called.

Today's fairness (:func:`fairness`), over the events of the tickets of the center's
current local day: ``calls`` counts the calls of a visitor to a counter, each ``call``
(call-next: the queue's own order, priority lanes and transfers included) and each
``call_out_of_order`` (a staff member chose the visitor, with a reason code); a recall
of a visitor already called is not a call, while a transferred or resumed visitor's
call at the next counter is one, since the next counter again chooses whom to call.
``in_order`` counts the ``call`` events, ``in_order_share`` is their whole percent of
``calls`` rounded down (100 only when every call was in order; None before the first
call), ``out_of_order`` counts the out-of-order calls per reason code (only the codes
that occurred, in the order of OUT_OF_ORDER_REASONS), ``no_shows`` the visitors called
who did not come. Counts only: no ticket, no staff, no counter.

The ledger's proof (``ledger``) is server.ledger.proof's: the chain's head for today,
the last sealed day with its signature, and the installation's public key.

The ordering rules (``rules``, :func:`ordering_rules`) are the center's settings that the
page turns into plain words (docs/queue.md, "Appointments and absent tickets"): the
call policy, whether and how booked visitors are fitted in, whether visitors may join
from home. ``hall`` is the hall's occupancy when the center sets a capacity (a count,
nobody's ticket); ``booking`` links the booking page when a service is bookable.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Float, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from .appointments import APPOINTMENT_LEAD
from .appointments.hall import hall_state
from .appointments.remote import joinable_services
from .ledger.proof import public_proof
from .models import Center, Service, Ticket, TicketEvent, utcnow
from .queue import OUT_OF_ORDER_REASONS, business_day, queue_stats
from .ratings import approval_rate
from .serializers import iso


class seconds_between(FunctionElement):  # noqa: N801 (reads like the SQL function it is)
    """``seconds_between(start, end)``: end − start in seconds, in SQL, on both backends."""

    type = Float()
    name = "seconds_between"
    inherit_cache = True


@compiles(seconds_between)
def _seconds_between_postgresql(element, compiler, **kw):
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element, compiler, **kw):
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    # julianday is a float of days: rounded to the millisecond so that a wait of exactly
    # the target compares equal to it.
    return f"ROUND((julianday({end}) - julianday({start})) * 86400.0, 3)"


def day_bounds(center: Center, day: date) -> tuple[datetime, datetime]:
    """The center's local day as a UTC half-open interval [start, end)."""
    zone = ZoneInfo(center.timezone)
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def service_level(
    session: Session, center_id: int, day: date, service_id: int | None = None
) -> tuple[float | None, int]:
    """(share of the day's called tickets called within their service's target wait,
    number of called tickets); the share is None when nobody was called yet."""
    within = seconds_between(Ticket.issued_at, Ticket.called_at) <= Service.target_wait_min * 60
    query = (
        select(func.count(Ticket.id), func.sum(case((within, 1), else_=0)))
        .select_from(Ticket)
        .join(Service, Service.id == Ticket.service_id)
        .where(
            Ticket.center_id == center_id,
            Ticket.business_day == day,
            Ticket.called_at.is_not(None),
        )
    )
    if service_id is not None:
        query = query.where(Ticket.service_id == service_id)
    count, on_time = session.execute(query).one()
    count = int(count or 0)
    return (int(on_time or 0) / count if count else None), count


# The actions fairness counts (see the module docstring).
IN_ORDER, OUT_OF_ORDER, NO_SHOW = "call", "call_out_of_order", "no_show"


def fairness(session: Session, center_id: int, day: date) -> dict:
    """The day's calls in order and out of order (per reason) and no-shows: one
    aggregate over the day's ticket events, a few rows (action, reason) long. It runs in
    the live figures pass, so it reads the day's tickets by ix_tickets_day and their
    events by ticket."""
    count = func.count(TicketEvent.id)
    rows = session.execute(
        select(TicketEvent.action, TicketEvent.reason, count)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(
            Ticket.center_id == center_id,
            Ticket.business_day == day,
            TicketEvent.action.in_((IN_ORDER, OUT_OF_ORDER, NO_SHOW)),
        )
        .group_by(TicketEvent.action, TicketEvent.reason)
    ).all()
    in_order = no_shows = 0
    reasons: dict[str, int] = {}
    for action, reason, n in rows:
        if action == IN_ORDER:
            in_order += n
        elif action == NO_SHOW:
            no_shows += n
        else:
            # A code the engine does not know (older data) counts as "other": whatever
            # it says never reaches the public page.
            key = reason if reason in OUT_OF_ORDER_REASONS else "other"
            reasons[key] = reasons.get(key, 0) + n
    out_of_order = {code: reasons[code] for code in OUT_OF_ORDER_REASONS if code in reasons}
    calls = in_order + sum(out_of_order.values())
    return {
        "calls": calls,
        "in_order": in_order,
        # Rounded down in whole numbers: 99.9% of calls in order is not "100%".
        "in_order_share": in_order * 100 // calls if calls else None,
        "out_of_order": out_of_order,
        "no_shows": no_shows,
    }


def today_figures(session: Session, center: Center, now: datetime | None = None) -> dict:
    """Today's service level, approval rate and fairness so far: aggregates over the
    day's called tickets, ratings and ticket events, which grow through the day (the
    live channel refreshes them less often than the queue figures, figures.py)."""
    now = now or utcnow()
    today = business_day(center, now)
    level, called = service_level(session, center.id, today)
    approval, ratings = approval_rate(session, center.id, *day_bounds(center, today))
    return {
        "day": today.isoformat(),
        "service_level": level,
        "called": called,
        "approval_rate": approval,
        "ratings": ratings,
        "fairness": fairness(session, center.id, today),
    }


def public_center_json(
    session: Session,
    center: Center,
    now: datetime | None = None,
    stats: dict | None = None,
    today: dict | None = None,
) -> dict:
    """The public page's data. ``stats``: queue_stats already computed for this pass
    (the live channel reuses the one it sends to staff screens); ``today``: today's
    figures, if the caller keeps them (:func:`today_figures`). Its ``ledger`` is the
    fairness ledger's public proof (server.ledger.proof)."""
    now = now or utcnow()
    stats = stats if stats is not None else queue_stats(session, center, now)
    return {
        # Its zone: the page writes times of day as the center's clock shows them.
        "center": {"code": center.code, "name": center.name, "timezone": center.timezone},
        "services": [
            {
                "service": row["service"],
                "name": row["name"],
                "prefix": row["prefix"],
                "target_wait_min": row["target_wait_min"],
                "waiting": row["waiting"],
                "estimated_wait_s": row["estimated_wait_s"],
            }
            for row in stats["services"]
            if row["active"]
        ],
        "today": today if today is not None else today_figures(session, center, now),
        # The chain's head moves with every ticket event, like the queue: sent each pass.
        "ledger": public_proof(session, center, now),
        "rules": ordering_rules(center),
        "hall": hall_json(session, center, now),
        "booking": booking_json(center),
        "at": iso(now),
    }


def booking_json(center: Center) -> dict | None:
    """The booking page's link, when the center takes bookings or lets visitors join the
    line from home (``join``: the page offers that too)."""
    join = _joinable(center)
    if not (_bookable(center) or join):
        return None
    return {"url": f"/book/{center.code}", "join": join}


def _joinable(center: Center) -> bool:
    return bool(joinable_services(center))


def _bookable(center: Center) -> list[Service]:
    return [s for s in center.services if s.active and s.bookable]


def _same(values: list) -> int | str | None:
    """The one value all of them share, else None (the page then speaks generally)."""
    return values[0] if values and len(set(values)) == 1 else None


def ordering_rules(center: Center) -> dict:
    """The settings behind the page's "how the line is ordered" in plain words."""
    bookable = _bookable(center)
    remote = _joinable(center)
    return {
        "call_policy": center.call_policy,
        "priority_ratio": center.priority_ratio,
        "appointments": {
            "lead_min": int(APPOINTMENT_LEAD.total_seconds() // 60),
            # Per service in the center file; stated in numbers only when all agree.
            "checkin_early_min": _same([s.checkin_early_min for s in bookable]),
            "late_grace_min": _same([s.late_grace_min for s in bookable]),
            "after_grace": _same([s.after_grace for s in bookable]),
        }
        if bookable
        else None,
        "absent": {"hold_min": center.absent_hold_min}
        if remote or center.hall_capacity is not None
        else None,
    }


def hall_json(session: Session, center: Center, now: datetime) -> dict | None:
    """How many people the hall holds now against its capacity; None without one."""
    if center.hall_capacity is None:
        return None
    hall = hall_state(session, center.id, business_day(center, now), now)
    return {"capacity": hall.capacity, "present": hall.present, "full": hall.full}
