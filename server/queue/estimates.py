"""Position in line, estimated wait and per-service queue figures.

Estimated wait (first version, see docs/queue.md):

    estimated_wait = (position - 0.5) * average_service_time / open_counters

* position: 1 for the next visitor of that queue;
* average_service_time: mean start-to-end time of the service's last 20
  completed tickets in the past 14 days, or the service's configured default
  until it has any;
* open_counters: open counters that serve the service (at least 1 while any
  counter serves it at all). The "- 0.5" stands for the visitor already at the
  counter being half-way through on average.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import bindparam, case, func, select, tuple_, union_all
from sqlalchemy.orm import Session

from ..models import (
    LANE_FRONT,
    LANE_NORMAL,
    LANE_PRIORITY,
    WAITING,
    Center,
    Counter,
    CounterService,
    Service,
    Ticket,
    at_counter,
    utcnow,
)

RECENT_SAMPLE = 20
LANES = (LANE_FRONT, LANE_PRIORITY, LANE_NORMAL)
RECENT_WINDOW = timedelta(days=14)


@dataclass(frozen=True)
class ServiceLoad:
    average_service_s: float
    open_counters: int
    serving_counters: int  # open or not

    def wait_for(self, position: int) -> int | None:
        if self.serving_counters == 0:
            return None  # no counter serves it: nobody can say
        counters = max(self.open_counters, 1)
        return round(max(position - 0.5, 0) * self.average_service_s / counters)


# session.info key of the LoadCache shared by one Database's sessions (see LoadCache).
LOAD_CACHE = "novbe_load_cache"


class LoadCache:
    """Service loads computed recently, shared by the sessions of one database.

    Every ticket shown (the kiosk's answer, the print job, the phone page) needs its
    service's load, which changes only when a visitor is served (the average) or a
    counter opens, pauses or changes services (the count). :func:`forget_on` drops
    the loads after such a commit in this process; ``max_age`` bounds what another
    process's changes can leave stale."""

    def __init__(self, max_age: float) -> None:
        self.max_age = max_age
        self._loads: dict[int, tuple[float, ServiceLoad]] = {}

    def get(self, service_id: int) -> ServiceLoad | None:
        entry = self._loads.get(service_id)
        if entry is None or time.monotonic() - entry[0] > self.max_age:
            return None
        return entry[1]

    def put(self, loads: dict[int, ServiceLoad]) -> None:
        at = time.monotonic()
        self._loads.update((service_id, (at, load)) for service_id, load in loads.items())

    def forget(self) -> None:
        self._loads.clear()

    def forget_on(self, changes: Iterable) -> None:
        """A commit listener: forget everything unless the transaction only issued
        tickets or touched printing (``changes``: ``audit.Change`` tuples)."""
        if any(not _keeps_loads(change) for change in changes):
            self.forget()


def share_load_cache(db, max_age: float) -> LoadCache | None:
    """Give ``db``'s sessions a :class:`LoadCache` (none when ``max_age`` is 0). Call it
    before anything else listens to commits: listeners run in order, and the live
    channel's figures must not see loads from before the commit."""
    if max_age <= 0:
        return None
    cache = LoadCache(max_age)
    db.session_info[LOAD_CACHE] = cache
    db.on_commit(cache.forget_on)
    return cache


def _keeps_loads(change) -> bool:
    return change.kind in ("print", "printer") or (change.kind, change.action) == (
        "ticket",
        "issue",
    )


def service_loads(
    session: Session, services: list[Service], now: datetime | None = None
) -> dict[int, ServiceLoad]:
    """Average service time and counters for each service, in two queries, or from the
    session's :class:`LoadCache` (only for the present: ``now`` not given)."""
    cache: LoadCache | None = session.info.get(LOAD_CACHE) if now is None else None
    if cache is None:
        return _service_loads(session, services, now or utcnow())
    loads = {service.id: cache.get(service.id) for service in services}
    missing = [service for service in services if loads[service.id] is None]
    if missing:
        fresh = _service_loads(session, missing, utcnow())
        cache.put(fresh)
        loads.update(fresh)
    return loads


def _service_loads(
    session: Session, services: list[Service], now: datetime
) -> dict[int, ServiceLoad]:
    if not services:
        return {}
    ids = [service.id for service in services]
    durations: dict[int, list[float]] = {service_id: [] for service_id in ids}
    recent = [
        select(Ticket.service_id, Ticket.started_at, Ticket.ended_at)
        .where(
            Ticket.status == "done",
            Ticket.service_id == service_id,
            Ticket.ended_at >= now - RECENT_WINDOW,
            Ticket.started_at.is_not(None),
        )
        .order_by(Ticket.ended_at.desc())
        .limit(RECENT_SAMPLE)
        .subquery()
        for service_id in ids
    ]
    for service_id, started, ended in session.execute(union_all(*(select(s) for s in recent))):
        durations[service_id].append((ended - started).total_seconds())

    counters: dict[int, tuple[int, int]] = {}
    rows = session.execute(
        select(
            CounterService.service_id,
            func.count(),
            func.sum(case((Counter.state == "open", 1), else_=0)),
        )
        .join(Counter, Counter.id == CounterService.counter_id)
        .where(CounterService.service_id.in_(ids))
        .group_by(CounterService.service_id)
    )
    for service_id, total, open_count in rows:
        counters[service_id] = (int(total), int(open_count or 0))

    loads = {}
    for service in services:
        sample = durations[service.id]
        average = sum(sample) / len(sample) if sample else service.default_service_min * 60.0
        total, open_count = counters.get(service.id, (0, 0))
        loads[service.id] = ServiceLoad(average, open_count, total)
    return loads


def position(session: Session, ticket: Ticket) -> int | None:
    """1-based place in its queue, or None when the ticket is not waiting."""
    if ticket.status != "waiting":
        return None
    targeted = ticket.target_counter_id is not None
    params = {"lane": ticket.lane, "due_at": ticket.due_at, "id": ticket.id}
    params["queue"] = ticket.target_counter_id if targeted else ticket.service_id
    return session.scalar(_ahead_statement(targeted), params) + 1


@lru_cache(maxsize=2)
def _ahead_statement(targeted: bool):
    """Tickets ahead in the same queue (a service's shared one, or a counter's own), an
    index range of ix_tickets_queue or ix_tickets_targeted. Built once: building the
    expression costs more than running it."""
    # due_at bound with the column's type: SQLite compares it as stored (naive UTC).
    key = tuple_(bindparam("lane"), bindparam("due_at", type_=Ticket.due_at.type), bindparam("id"))
    ahead = (
        select(func.count())
        .select_from(Ticket)
        .where(WAITING, tuple_(Ticket.lane, Ticket.due_at, Ticket.id) < key)
    )
    if targeted:
        return ahead.where(Ticket.target_counter_id == bindparam("queue"))
    return ahead.where(Ticket.service_id == bindparam("queue"), Ticket.target_counter_id.is_(None))


@dataclass(frozen=True)
class TicketEstimate:
    position: int | None
    estimated_wait_s: int | None


def estimate(session: Session, ticket: Ticket, now: datetime | None = None) -> TicketEstimate:
    place = position(session, ticket)
    if place is None:
        return TicketEstimate(None, None)
    load = service_loads(session, [ticket.service], now)[ticket.service_id]
    return TicketEstimate(place, load.wait_for(place))


def queue_stats(session: Session, center: Center, now: datetime | None = None) -> dict:
    """Per service: waiting, longest current wait, estimated wait for a newcomer.
    Per counter: state and current ticket. A few queries over the waiting and called
    tickets only (partial indexes), never over the center's history."""
    now = now or utcnow()
    services = list(center.services)
    waiting = _waiting_by_service(session, center)
    loads = service_loads(session, services, now)
    service_rows = []
    for service in services:
        count, oldest, priority = waiting.get(service.id, (0, None, 0))
        if oldest is not None and oldest.tzinfo is None:  # aggregates skip the column type
            oldest = oldest.replace(tzinfo=now.tzinfo)
        service_rows.append(
            {
                "service": service.code,
                "name": service.name,
                "prefix": service.prefix,
                "active": service.active,
                "target_wait_min": service.target_wait_min,
                "waiting": count,
                "priority_waiting": int(priority or 0),
                "longest_wait_s": round((now - oldest).total_seconds()) if oldest else 0,
                "estimated_wait_s": loads[service.id].wait_for(count + 1),
            }
        )
    current = {
        ticket.counter_id: ticket
        for ticket in session.scalars(
            select(Ticket).where(
                Ticket.counter_id.in_([counter.id for counter in center.counters]), at_counter()
            )
        )
    }
    counter_rows = []
    for counter in center.counters:
        ticket = current.get(counter.id)
        counter_rows.append(
            {
                "id": counter.id,
                "label": counter.label,
                "state": counter.state,
                "pause_reason": counter.pause_reason,
                "services": [s.code for s in services if s.id in set(counter.service_ids)],
                "current_ticket": None
                if ticket is None
                else {
                    "number": ticket.display_number,
                    "status": ticket.status,
                    "service": ticket.service.code,
                },
            }
        )
    return {"center": center.code, "services": service_rows, "counters": counter_rows}


def _waiting_by_service(session: Session, center: Center) -> dict[int, tuple]:
    """``{service_id: (waiting, earliest issued_at, priority waiting)}``, from the two
    partial indexes of waiting tickets: each service's shared queue and the tickets sent
    to a counter by name. (By center and status, SQLite would walk every ticket the
    center ever had.)"""
    columns = (
        Ticket.service_id,
        func.count(),
        func.min(Ticket.issued_at),
        func.sum(case((Ticket.priority.is_not(None), 1), else_=0)),
    )
    shared = select(*columns).where(
        WAITING,
        Ticket.target_counter_id.is_(None),
        Ticket.service_id.in_([service.id for service in center.services]),
        # Always true, but it makes ix_tickets_queue (service_id, lane, ...) the better
        # match than ix_tickets_service_day (service_id, business_day) for SQLite's planner.
        Ticket.lane.in_(LANES),
    )
    named = select(*columns).where(
        WAITING, Ticket.target_counter_id.in_([counter.id for counter in center.counters])
    )
    waiting: dict[int, tuple] = {}
    for query in (shared, named):
        for service_id, count, oldest, priority in session.execute(
            query.group_by(Ticket.service_id)
        ):
            total, earliest, priorities = waiting.get(service_id, (0, oldest, 0))
            earliest = min(t for t in (earliest, oldest) if t is not None)
            waiting[service_id] = (total + count, earliest, priorities + (priority or 0))
    return waiting


def positions(session: Session, tokens: list[str]) -> dict[str, tuple[int, int]]:
    """Place in line of many waiting tickets at once, by tracking token:
    ``{token: (position, service_id)}``. Two queries (the tickets' queues, then a window
    over those queues), for pushing positions to visitors' phones."""
    if not tokens:
        return {}
    mine = select(Ticket.service_id, Ticket.target_counter_id).where(
        Ticket.tracking_token.in_(tokens), Ticket.status == "waiting"
    )
    queues = {(service_id, target) for service_id, target in session.execute(mine)}
    if not queues:
        return {}
    services = {service_id for service_id, target in queues if target is None}
    counters = {target for _, target in queues if target is not None}
    # The same queues as position(): a service's shared queue, or a counter's own one,
    # each read from its partial index (an OR of the two would scan the whole table).
    columns = (Ticket.tracking_token, Ticket.service_id, Ticket.lane, Ticket.due_at, Ticket.id)
    shared = select(*columns, Ticket.service_id.label("queue")).where(
        WAITING,
        Ticket.target_counter_id.is_(None),
        Ticket.service_id.in_(services),
        Ticket.lane.in_(LANES),  # see _waiting_by_service
    )
    named = select(*columns, (-Ticket.target_counter_id).label("queue")).where(
        WAITING, Ticket.target_counter_id.in_(counters)
    )
    waiting = union_all(shared, named).subquery()
    ranked = select(
        waiting.c.tracking_token,
        waiting.c.service_id,
        func.row_number()
        .over(
            partition_by=waiting.c.queue,
            order_by=(waiting.c.lane, waiting.c.due_at, waiting.c.id),
        )
        .label("place"),
    ).subquery()
    rows = session.execute(
        select(ranked.c.tracking_token, ranked.c.place, ranked.c.service_id).where(
            ranked.c.tracking_token.in_(tokens)
        )
    )
    return {token: (int(place), service_id) for token, place, service_id in rows}
