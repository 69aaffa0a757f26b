"""The figures of a set of tickets (some centers, some local days), grouped by center,
service or staff member: a few grouped SQL queries, whatever the number of tickets.

The SQL is the same on SQLite and PostgreSQL except for one expression, the
milliseconds between two timestamps (``_elapsed_ms``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import BigInteger, and_, case, cast, extract, func, select
from sqlalchemy.orm import Session

from ..models import APPROVING_SCORE, Rating, Service, Ticket

PERCENTILE = 9  # tenths: the 90th percentile

# Counted per ticket; the order of the CSV columns.
FIGURES = (
    "visitors",
    "called",
    "served",
    "no_shows",
    "cancelled",
    "expired",
    "transferred",
    "avg_wait_s",
    "p90_wait_s",
    "called_within_target",
    "service_level",
    "avg_service_s",
    "no_show_rate",
    "ratings",
    "approval_rate",
)


@dataclass(frozen=True)
class Scope:
    """The tickets a set of figures is about: some centers, some local days."""

    center_ids: tuple[int, ...]
    date_from: date
    date_to: date

    def where(self):
        return and_(
            Ticket.center_id.in_(self.center_ids),
            Ticket.business_day.between(self.date_from, self.date_to),
        )


def grouped_figures(session: Session, scope: Scope, group) -> dict:
    """``{group value: figures}`` for the tickets in ``scope``, grouped by the column
    ``group`` (Ticket.service_id, Ticket.staff_id or Ticket.center_id). Three
    grouped queries (four with ratings), whatever the number of tickets."""
    dialect = session.get_bind().dialect.name
    wait = _elapsed_ms(dialect, Ticket.issued_at, Ticket.called_at)
    service_time = case(
        (
            and_(Ticket.status == "done", Ticket.started_at.is_not(None)),
            _elapsed_ms(dialect, Ticket.started_at, Ticket.ended_at),
        )
    )
    rows = session.execute(
        select(
            group,
            func.count(),
            func.count(Ticket.called_at),
            _count_if(Ticket.status == "done"),
            _count_if(Ticket.status == "no_show"),
            _count_if(Ticket.status == "cancelled"),
            _count_if(Ticket.status == "expired"),
            _count_if(Ticket.transfer_count > 0),
            func.avg(wait),
            _count_if(wait <= Service.target_wait_min * 60_000),
            func.avg(service_time),
        )
        .join(Service, Service.id == Ticket.service_id)
        .where(scope.where())
        .group_by(group)
    )
    figures = {}
    for key, visitors, called, served, no_shows, cancelled, expired, moved, *rest in rows:
        avg_wait, within, avg_service = rest
        within = int(within or 0)
        figures[key] = {
            "visitors": visitors,
            "called": called,
            "served": int(served or 0),
            "no_shows": int(no_shows or 0),
            "cancelled": int(cancelled or 0),
            "expired": int(expired or 0),
            "transferred": int(moved or 0),
            "avg_wait_s": _seconds(avg_wait),
            "p90_wait_s": None,
            "called_within_target": within,
            "service_level": _share(within, called),
            "avg_service_s": _seconds(avg_service),
            "no_show_rate": _share(int(no_shows or 0), int(served or 0) + int(no_shows or 0)),
            "ratings": 0,
            "approval_rate": None,
        }
    for key, p90 in _p90_waits(session, scope, group, wait):
        figures[key]["p90_wait_s"] = _seconds(p90)
    for key, count, approving in _ratings(session, scope, group):
        figures[key]["ratings"] = count
        figures[key]["approval_rate"] = _share(int(approving or 0), count)
    return figures


def empty_figures() -> dict:
    """The figures of no tickets: counts 0, averages and rates None."""
    figures = dict.fromkeys(FIGURES, 0)
    figures.update(
        dict.fromkeys(
            (
                "avg_wait_s",
                "p90_wait_s",
                "service_level",
                "avg_service_s",
                "no_show_rate",
                "approval_rate",
            ),
            None,
        )
    )
    return figures


def aware_utc(value):
    """A timestamp aggregate as an aware UTC datetime: SQLite gives them naive (UTC), or
    as text for max() of a text column; None stays None."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _elapsed_ms(dialect: str, start, end):
    """Whole milliseconds from ``start`` to ``end`` (NULL if either is NULL).

    SQLite keeps UTC timestamps as text, which julianday() reads (to the
    millisecond); PostgreSQL subtracts timestamptz. Rounded to whole milliseconds
    so that "exactly 15 minutes" compares equal to 15 minutes on both."""
    if dialect == "postgresql":
        seconds = extract("epoch", end - start)
    else:
        seconds = (func.julianday(end) - func.julianday(start)) * 86400
    return cast(func.round(seconds * 1000), BigInteger)


def _count_if(condition):
    return func.sum(case((condition, 1), else_=0))


def _p90_waits(session: Session, scope: Scope, group, wait):
    """The 90th-percentile wait per group by nearest rank: of the n waits in
    ascending order, the one at rank ceil(0.9 n), i.e. the smallest wait whose
    rank r satisfies r / n >= 0.9 (compared as 10 r >= 9 n, in integers)."""
    ranked = (
        select(
            group.label("key"),
            wait.label("wait_ms"),
            func.row_number().over(partition_by=group, order_by=wait).label("rank"),
            func.count().over(partition_by=group).label("n"),
        )
        .where(scope.where(), Ticket.called_at.is_not(None))
        .subquery()
    )
    return session.execute(
        select(ranked.c.key, func.min(ranked.c.wait_ms))
        .where(ranked.c.rank * 10 >= ranked.c.n * PERCENTILE)
        .group_by(ranked.c.key)
    )


def _ratings(session: Session, scope: Scope, group):
    """(group, ratings, ratings of 4 or 5) for the rated tickets in scope: the ratings
    of the tickets the other figures describe, whenever the visitor gave them."""
    return session.execute(
        select(group, func.count(), _count_if(Rating.score >= APPROVING_SCORE))
        .join(Ticket, Ticket.id == Rating.ticket_id)
        .where(scope.where())
        .group_by(group)
    )


def _seconds(milliseconds) -> int | None:
    return None if milliseconds is None else round(float(milliseconds) / 1000)


def _share(part: int, whole: int) -> float | None:
    return None if not whole else round(part / whole, 4)
