"""Managers' figures: reports over a date range, and the live dashboard of one center.

Every figure is an SQL aggregate (see docs/reports.md for the definitions): a
report reads a few grouped rows per query, never one row per ticket, so a year of
a 30-center network costs the same Python work as a day. The SQL is the same on
SQLite and PostgreSQL except for one expression, the milliseconds between two
timestamps (``_elapsed_ms``).

Which tickets a report counts: those *issued* on the center's local days
``date_from`` to ``date_to`` (``tickets.business_day``, the day their number
belongs to), whatever happened to them later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import BigInteger, and_, case, cast, extract, func, select
from sqlalchemy.orm import Session

from .errors import InvalidInput
from .models import (
    APPROVING_SCORE,
    Center,
    Rating,
    Service,
    StaffUser,
    Ticket,
    TicketEvent,
    utcnow,
)
from .queue.actor import Actor
from .queue.estimates import queue_stats
from .queue.numbering import business_day
from .serializers import iso

MAX_RANGE_DAYS = 366  # inclusive: a (leap) year
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


# --- dates -------------------------------------------------------------------------


def parse_day(text: str | None, name: str) -> date:
    """A ``YYYY-MM-DD`` query parameter, or 422 naming it."""
    if not text:
        raise InvalidInput(f"'{name}' is required (YYYY-MM-DD)", field=name)
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"'{name}' must be a date as YYYY-MM-DD", field=name) from None


def check_range(date_from: date, date_to: date) -> None:
    if date_from > date_to:
        raise InvalidInput("'from' must not be after 'to'", field="from")
    if (date_to - date_from).days + 1 > MAX_RANGE_DAYS:
        raise InvalidInput(
            f"the range may cover at most {MAX_RANGE_DAYS} days; ask for shorter ranges",
            field="to",
        )


# --- SQL building blocks -------------------------------------------------------------


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


@dataclass(frozen=True)
class _Scope:
    """The tickets a set of figures is about: some centers, some local days."""

    center_ids: tuple[int, ...]
    date_from: date
    date_to: date

    def where(self):
        return and_(
            Ticket.center_id.in_(self.center_ids),
            Ticket.business_day.between(self.date_from, self.date_to),
        )


def _count_if(condition):
    return func.sum(case((condition, 1), else_=0))


def _figures(session: Session, scope: _Scope, group) -> dict:
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


def _p90_waits(session: Session, scope: _Scope, group, wait):
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


def _ratings(session: Session, scope: _Scope, group):
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


def _empty() -> dict:
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


# --- reports -------------------------------------------------------------------------


def visible_centers(session: Session, actor: Actor | None) -> list[Center]:
    """The centers whose figures ``actor`` may read: all for a network admin (or no
    actor: the CLI), else the actor's own center."""
    query = select(Center).order_by(Center.code)
    if actor is not None and not (actor.role == "admin" and actor.center_id is None):
        query = query.where(Center.id == actor.center_id)
    return list(session.scalars(query))


def report(
    session: Session,
    center: Center | None,
    date_from: date,
    date_to: date,
    *,
    actor: Actor | None = None,
) -> dict:
    """Figures per center, per service and per staff member for the tickets issued on
    the local days ``date_from``..``date_to`` (inclusive). ``center`` None: every
    center ``actor`` may see (see visible_centers)."""
    check_range(date_from, date_to)
    centers = [center] if center is not None else visible_centers(session, actor)
    scope = _Scope(tuple(c.id for c in centers), date_from, date_to)
    codes = {c.id: c.code for c in centers}
    by_center = _figures(session, scope, Ticket.center_id) if centers else {}
    by_service = _figures(session, scope, Ticket.service_id) if centers else {}
    by_staff = _figures(session, scope, Ticket.staff_id) if centers else {}
    services = session.scalars(
        select(Service)
        .where(Service.center_id.in_(scope.center_ids))
        .order_by(Service.center_id, Service.position, Service.id)
    )
    staff = session.scalars(
        select(StaffUser)
        .where(StaffUser.id.in_([key for key in by_staff if key is not None]))
        .order_by(StaffUser.username)
    )
    return {
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "centers": [
            {"center": c.code, "name": c.name, **by_center.get(c.id, _empty())} for c in centers
        ],
        "services": [_service_row(codes, s, by_service.get(s.id, _empty())) for s in services],
        "staff": [_staff_row(codes, user, by_staff[user.id]) for user in staff],
    }


def _service_row(codes: dict[int, str], service: Service, figures: dict) -> dict:
    return {
        "center": codes[service.center_id],
        "service": service.code,
        "prefix": service.prefix,
        "name": service.name,
        "target_wait_min": service.target_wait_min,
        **figures,
    }


def _staff_row(codes: dict[int, str], user: StaffUser, figures: dict) -> dict:
    return {
        # A network admin serving at a counter has no center of their own.
        "center": codes.get(user.center_id),
        "staff_id": user.id,
        "username": user.username,
        **figures,
    }


CSV_HEADER = ("center", "kind", "code", "name", "target_wait_min", *FIGURES)


def csv_rows(body: dict, language: str = "en") -> list[list]:
    """The report as CSV rows: a header, then one row per service and per staff member.
    Names are the ``language`` ones; text that a spreadsheet would run as a formula
    is defused with a leading apostrophe."""
    rows = [list(CSV_HEADER)]
    for row in body["services"]:
        head = [row["center"], "service", row["service"], row["name"].get(language, "")]
        rows.append(head + [row["target_wait_min"]] + [row[name] for name in FIGURES])
    for row in body["staff"]:
        head = [row["center"] or "", "staff", row["username"], row["username"], ""]
        rows.append(head + [row[name] for name in FIGURES])
    return [[_cell(value) for value in row] for row in rows]


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# --- the live dashboard ---------------------------------------------------------------

# Taken from queue_stats by name, so that a field added there for the live screens
# does not change this document unnoticed.
_LIVE_SERVICE_FIELDS = (
    "service",
    "name",
    "prefix",
    "active",
    "target_wait_min",
    "waiting",
    "priority_waiting",
    "longest_wait_s",
    "estimated_wait_s",
)
_LIVE_COUNTER_FIELDS = ("id", "label", "state", "pause_reason", "services", "current_ticket")
# Actions after which the counter has nobody at it any more.
_FREEING_ACTIONS = ("complete", "no_show", "transfer", "park")


def dashboard(session: Session, center: Center, now: datetime | None = None) -> dict:
    """One center right now: the queues, today's figures per service and staff member,
    and each counter with its current ticket and idle time. JSON-ready."""
    now = now or utcnow()
    today = business_day(center, now)
    scope = _Scope((center.id,), today, today)
    live = queue_stats(session, center, now)
    totals = _figures(session, scope, Ticket.center_id).get(center.id, _empty())
    by_service = _figures(session, scope, Ticket.service_id)
    by_staff = _figures(session, scope, Ticket.staff_id)
    services = {s.code: s for s in center.services}
    service_rows = []
    for row in live["services"]:
        service = services[row["service"]]
        today_figures = by_service.get(service.id, _empty())
        service_rows.append(
            {
                **{name: row[name] for name in _LIVE_SERVICE_FIELDS},
                # The alert: someone has waited longer than the service promises.
                "over_target": row["longest_wait_s"] > service.target_wait_min * 60,
                "today": today_figures,
            }
        )
    staff = session.scalars(
        select(StaffUser)
        .where(StaffUser.id.in_([key for key in by_staff if key is not None]))
        .order_by(StaffUser.username)
    )
    return {
        "center": center.code,
        "name": center.name,
        "at": iso(now),
        "day": today.isoformat(),
        "waiting": sum(row["waiting"] for row in live["services"]),
        "longest_wait_s": max((row["longest_wait_s"] for row in live["services"]), default=0),
        "today": totals,
        "services": service_rows,
        "counters": _counter_rows(session, center, live["counters"], today, now),
        "staff": [
            {"staff_id": user.id, "username": user.username, **by_staff[user.id]} for user in staff
        ],
    }


def _counter_rows(
    session: Session, center: Center, rows: list[dict], today: date, now: datetime
) -> list[dict]:
    """Adds ``state_since`` and ``idle_s``: for an open counter with nobody at it, the
    time since its last visitor left (completed, no-show, transferred, parked) or
    since it opened, whichever is later; None when busy, paused or closed."""
    last_freed = dict(
        session.execute(
            select(TicketEvent.counter_id, func.max(TicketEvent.at))
            .join(Ticket, Ticket.id == TicketEvent.ticket_id)
            .where(
                Ticket.center_id == center.id,
                # yesterday too: a counter open across midnight
                Ticket.business_day.between(today - timedelta(days=1), today),
                TicketEvent.action.in_(_FREEING_ACTIONS),
                TicketEvent.counter_id.is_not(None),
            )
            .group_by(TicketEvent.counter_id)
        ).all()
    )
    counters = {counter.id: counter for counter in center.counters}
    result = []
    for row in rows:
        counter = counters[row["id"]]
        idle = None
        if counter.state == "open" and row["current_ticket"] is None:
            since = max(_aware(counter.state_since), _aware(last_freed.get(counter.id)) or _MIN)
            idle = max(0, round((now - since).total_seconds()))
        result.append(
            {
                **{name: row[name] for name in _LIVE_COUNTER_FIELDS},
                "state_since": iso(counter.state_since),
                "idle_s": idle,
            }
        )
    return result


_MIN = datetime.min.replace(tzinfo=UTC)


def _aware(value):
    """Aggregates may come back naive (UTC) on SQLite; make them comparable."""
    if isinstance(value, str):  # SQLite returns max() of a text column as text
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value
