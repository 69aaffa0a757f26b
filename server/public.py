"""The public transparency page's figures (/public/<center>): per service the queue
length and the estimated wait for a newcomer, and today's service level and approval
rate. Only what anyone in the hall could see or count: no ticket numbers, no tracking
tokens, no staff, no counters.

Today's service level = the share of the tickets of the center's current local day
that were called within their service's target wait (first call − issue), among
those called so far. Tickets still waiting are not counted until they are called.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Float, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from .models import Center, Service, Ticket, utcnow
from .queue import business_day, queue_stats
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


def today_figures(session: Session, center: Center, now: datetime | None = None) -> dict:
    """Today's service level and approval rate so far: aggregates over the day's called
    tickets and ratings, which grow through the day (the live channel refreshes them
    less often than the queue figures, figures.py)."""
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
    figures, if the caller keeps them (:func:`today_figures`)."""
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
        "at": iso(now),
    }
