"""Position in line, estimated wait and per-service queue figures.

Estimated wait of a waiting ticket (see docs/queue.md): the work ahead of it on the
open counters that may call it, over the counters that will take it (loads.py,
OpenCounters.wait):

    own = (own service's visitors ahead + 0.5) * average(own service)
    w_c = sum over the other services s that open counter c serves:
          visitors of s ahead * average(s) / open_counters(s)
    estimated_wait = min over the non-empty sets M of the service's open counters
                     of (own + sum of w_c over M) / |M|

* visitors ahead: waiting in a shared queue, in front by (lane, due time, arrival),
  as call-next compares the heads of all the queues a counter takes from. Counters
  are shared, so the other services' visitors are ahead too, not only the ticket's
  own queue (measured on the simulated day of bench/day.py: counting only the own
  queue gave estimates 7 times too short);
* the least over M: a counter busy enough with other services does not help, so
  opening a counter never lengthens a wait (tests/test_estimate_stability.py);
* average(s): mean start-to-end time of the service's last 20 completed tickets of
  the past 14 days, or its configured default until it has any (loads.py);
* 0.5: the visitors at the counters are half-way through on average.

A ticket sent to a named counter, or one whose service no open counter serves, keeps
the first version: (position - 0.5) * average / max(open counters, 1).
"""

from __future__ import annotations

from collections import Counter as Tally
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import and_, bindparam, case, func, or_, select, tuple_, union_all
from sqlalchemy.orm import Session

from ..models import (
    ABSENT,
    LANE_FRONT,
    LANE_NORMAL,
    LANE_PRIORITY,
    WAITING,
    Center,
    Counter,
    Service,
    Ticket,
    at_counter,
    utcnow,
)
from .loads import center_catalog, open_counters, service_loads

LANES = (LANE_FRONT, LANE_PRIORITY, LANE_NORMAL)


def position(session: Session, ticket: Ticket) -> int | None:
    """1-based place in its queue, or None when the ticket is not waiting."""
    if ticket.status != "waiting":
        return None
    targeted = ticket.target_counter_id is not None
    params = {"lane": ticket.lane, "due_at": ticket.due_at, "id": ticket.id}
    params["queue"] = ticket.target_counter_id if targeted else ticket.service_id
    return _core(session).scalar(_ahead_statement(targeted), params) + 1


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


def _core(session: Session):
    """The session's connection, its pending changes flushed: these counts are Core
    statements, and the ORM's execution path costs more than running them (each
    ticket's response counts the visitors ahead)."""
    session.flush()
    return session.connection()


@dataclass(frozen=True)
class TicketEstimate:
    position: int | None
    estimated_wait_s: int | None


def estimate(session: Session, ticket: Ticket, now: datetime | None = None) -> TicketEstimate:
    """The ticket's place and estimated wait. A ticket not callable before a given time
    (an appointment checked in early: its slot's start minus the lead) waits at least
    until then, whatever is ahead of it."""
    if ticket.status != "waiting":
        return TicketEstimate(None, None)
    place, wait = _place_and_wait(session, ticket, now)
    return TicketEstimate(place, _not_before(wait, ticket.callable_at, now or utcnow()))


def _not_before(wait: int | None, callable_at: datetime | None, now: datetime) -> int | None:
    """``wait``, but not shorter than the time until ``callable_at`` (absent tickets
    aside: they are callable once their visitor checks in)."""
    if wait is None or callable_at is None or callable_at == ABSENT:
        return wait
    return max(wait, round((callable_at - now).total_seconds()))


def _place_and_wait(
    session: Session, ticket: Ticket, now: datetime | None
) -> tuple[int, int | None]:
    if ticket.target_counter_id is None:
        counters = open_counters(session, ticket.center_id)
        if counters.serve(ticket.service_id):
            params = {"lane": ticket.lane, "due_at": ticket.due_at, "id": ticket.id}
            params["services"] = counters.pool(ticket.service_id)
            ahead = dict(_core(session).execute(_pool_ahead_statement(), params).all())
            loads = service_loads(session, [*ahead, ticket.service_id], now)
            # The own service's count is the place in its queue: no second count.
            place = ahead.get(ticket.service_id, 0) + 1
            return place, counters.wait(ticket.service_id, ahead, loads)
    place = position(session, ticket)
    load = service_loads(session, [ticket.service_id], now)[ticket.service_id]
    return place, load.wait_for(place)


@lru_cache(maxsize=1)
def _pool_ahead_statement():
    """Per service of the pool, the visitors waiting in front of the given ticket (lane,
    due time, id) in the services' shared queues: index ranges of ix_tickets_queue."""
    key = tuple_(bindparam("lane"), bindparam("due_at", type_=Ticket.due_at.type), bindparam("id"))
    return (
        select(Ticket.service_id, func.count())
        .where(
            WAITING,
            Ticket.target_counter_id.is_(None),
            Ticket.service_id.in_(bindparam("services", expanding=True)),
            tuple_(Ticket.lane, Ticket.due_at, Ticket.id) < key,
        )
        .group_by(Ticket.service_id)
    )


def queue_stats(session: Session, center: Center, now: datetime | None = None) -> dict:
    """Per service: waiting, longest current wait, estimated wait for a newcomer.
    Per counter: state and current ticket. A few queries over the waiting and called
    tickets only (partial indexes), never over the center's history; plain rows, not
    ORM objects: the live channel runs it for every center with a change, twice a
    second, and loading the catalog as objects cost most of that pass."""
    given, now = now, now or utcnow()
    catalog = center_catalog(session, center.id)
    services = catalog.services
    counters = session.execute(_counters_statement(), {"center": center.id}).all()
    counter_ids = [counter.id for counter in counters]
    waiting, shared = _waiting_by_service(session, [s.id for s in services], counter_ids, now)
    # The loads of the present come from the process's cache (loads.py); only an
    # explicit instant is computed afresh.
    loads = service_loads(session, [service.id for service in services], given)
    open_now = open_counters(session, center.id)
    service_rows = []
    for service in services:
        count, oldest, priority = waiting.get(service.id, (0, None, 0))
        # A newcomer: behind everyone waiting in the shared queues of its counters.
        newcomer = open_now.wait(service.id, shared, loads)
        if newcomer is None:
            newcomer = loads[service.id].wait_for(count + 1)
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
                "estimated_wait_s": newcomer,
            }
        )
    current = {
        row.counter_id: row
        for row in session.execute(_current_statement(), {"counters": counter_ids})
    }
    counter_rows = []
    for counter in counters:
        ticket = current.get(counter.id)
        mine = catalog.served.get(counter.id, frozenset())
        counter_rows.append(
            {
                "id": counter.id,
                "label": counter.label,
                "state": counter.state,
                "pause_reason": counter.pause_reason,
                "services": [service.code for service in services if service.id in mine],
                "current_ticket": None
                if ticket is None
                else {
                    "number": f"{ticket.prefix}{ticket.number:03d}",  # Ticket.display_number
                    "status": ticket.status,
                    "service": ticket.service,
                },
            }
        )
    return {"center": center.code, "services": service_rows, "counters": counter_rows}


# Counters as queue_stats shows them, in the order of Center.counters.
@lru_cache(maxsize=1)
def _counters_statement():
    return (
        select(Counter.id, Counter.label, Counter.state, Counter.pause_reason)
        .where(Counter.center_id == bindparam("center"))
        .order_by(Counter.id)
    )


@lru_cache(maxsize=1)
def _current_statement():
    """Each counter's visitor (called or being served), with its service's code."""
    return (
        select(
            Ticket.counter_id,
            Ticket.prefix,
            Ticket.number,
            Ticket.status,
            Service.code.label("service"),
        )
        .join(Service, Service.id == Ticket.service_id)
        .where(Ticket.counter_id.in_(bindparam("counters", expanding=True)), at_counter())
    )


def _waiting_by_service(
    session: Session, service_ids: list[int], counter_ids: list[int], now: datetime
) -> tuple[dict[int, tuple], Tally]:
    """``{service_id: (waiting, earliest issued_at, priority waiting)}`` and, apart, how
    many wait in each service's shared queue; from the two partial indexes of waiting
    tickets: the services' shared queues and the tickets sent to a counter by name. (By
    center and status, SQLite would walk every ticket the center ever had.) Priority
    waiting counts those a counter may call at ``now``: a booking before its slot or a
    ticket not yet checked in is stepped over by call-next, and a counter told "priority
    visitors are waiting" found nobody to call."""
    shared, named = _waiting_statements()
    params = {"services": service_ids, "counters": counter_ids, "now": now}
    waiting: dict[int, tuple] = {}
    in_shared: Tally = Tally()
    for query in (shared, named):
        for service_id, count, oldest, priority in session.execute(query, params):
            total, earliest, priorities = waiting.get(service_id, (0, oldest, 0))
            earliest = min(t for t in (earliest, oldest) if t is not None)
            waiting[service_id] = (total + count, earliest, priorities + (priority or 0))
            if query is shared:
                in_shared[service_id] = count
    return waiting, in_shared


@lru_cache(maxsize=1)
def _waiting_statements():
    """:func:`_waiting_by_service`'s two queries, built once."""
    now = bindparam("now", type_=Ticket.callable_at.type)
    callable_now = or_(Ticket.callable_at.is_(None), Ticket.callable_at <= now)
    columns = (
        Ticket.service_id,
        func.count(),
        func.min(Ticket.issued_at),
        func.sum(case((and_(Ticket.priority.is_not(None), callable_now), 1), else_=0)),
    )
    shared = select(*columns).where(
        WAITING,
        Ticket.target_counter_id.is_(None),
        Ticket.service_id.in_(bindparam("services", expanding=True)),
        # Always true, but it makes ix_tickets_queue (service_id, lane, ...) the better
        # match than ix_tickets_service_day (service_id, business_day) for SQLite's planner.
        Ticket.lane.in_(LANES),
    )
    named = select(*columns).where(
        WAITING, Ticket.target_counter_id.in_(bindparam("counters", expanding=True))
    )
    return shared.group_by(Ticket.service_id), named.group_by(Ticket.service_id)


def positions(session: Session, tokens: list[str]) -> dict[str, tuple[int, int]]:
    """Place in line of many waiting tickets at once, by tracking token:
    ``{token: (position, service_id)}``. Two queries (the tickets' queues, then a window
    over those queues), for pushing positions to visitors' phones."""
    return {token: (p.position, p.service_id) for token, p in _places(session, tokens).items()}


class _Place(NamedTuple):
    position: int
    service_id: int
    center_id: int
    shared: bool  # in its service's queue, not sent to a counter by name
    callable_at: datetime | None  # not called before it (an appointment's slot)


def _places(session: Session, tokens: list[str]) -> dict[str, _Place]:
    """:func:`positions`, with what the phones' estimates need besides."""
    if not tokens:
        return {}
    mine_statement, ranked_statement = _places_statements()
    queues = set(session.execute(mine_statement, {"tokens": tokens}).all())
    if not queues:
        return {}
    services = sorted({service_id for service_id, target in queues if target is None})
    counters = sorted({target for _, target in queues if target is not None})
    rows = session.execute(
        ranked_statement, {"services": services, "counters": counters, "tokens": tokens}
    )
    # queue: a service id for a shared queue, minus the counter's id for a named one.
    return {
        token: _Place(int(place), service_id, center_id, queue > 0, callable_at)
        for token, place, service_id, center_id, queue, callable_at in rows
    }


@lru_cache(maxsize=1)
def _places_statements():
    """:func:`_places`'s two queries, built once (the phones' places are recomputed for
    every change of their center): the followed tickets' queues, then a window over
    those queues, a service's shared one or a counter's own one, each read from its
    partial index (an OR of the two would scan the whole table)."""
    mine = select(Ticket.service_id, Ticket.target_counter_id).where(
        Ticket.tracking_token.in_(bindparam("tokens", expanding=True)),
        Ticket.status == "waiting",
    )
    columns = (
        Ticket.tracking_token,
        Ticket.service_id,
        Ticket.center_id,
        Ticket.lane,
        Ticket.due_at,
        Ticket.id,
        Ticket.callable_at,
    )
    shared = select(*columns, Ticket.service_id.label("queue")).where(
        WAITING,
        Ticket.target_counter_id.is_(None),
        Ticket.service_id.in_(bindparam("services", expanding=True)),
        Ticket.lane.in_(LANES),  # see _waiting_by_service
    )
    named = select(*columns, (-Ticket.target_counter_id).label("queue")).where(
        WAITING, Ticket.target_counter_id.in_(bindparam("counters", expanding=True))
    )
    waiting = union_all(shared, named).subquery()
    ranked = select(
        waiting.c.tracking_token,
        waiting.c.service_id,
        waiting.c.center_id,
        waiting.c.queue,
        waiting.c.callable_at,
        func.row_number()
        .over(
            partition_by=waiting.c.queue,
            order_by=(waiting.c.lane, waiting.c.due_at, waiting.c.id),
        )
        .label("place"),
    ).subquery()
    return mine, select(
        ranked.c.tracking_token,
        ranked.c.place,
        ranked.c.service_id,
        ranked.c.center_id,
        ranked.c.queue,
        ranked.c.callable_at,
    ).where(ranked.c.tracking_token.in_(bindparam("tokens", expanding=True)))


def estimates_for(
    session: Session, tokens: list[str], now: datetime | None = None
) -> dict[str, TicketEstimate]:
    """:func:`estimate` of many waiting tickets at once, by tracking token, for pushing
    them to visitors' phones. One walk, in call order, over the shared queues of the
    services that share open counters with theirs (the waiting visitors only)."""
    places = _places(session, tokens)
    by_center: dict[int, dict[str, int]] = {}  # center -> {token: service} in shared queues
    for token, place in places.items():
        if place.shared:
            by_center.setdefault(place.center_id, {})[token] = place.service_id
    waits: dict[str, int | None] = {}
    for center_id, services_of in by_center.items():
        waits.update(_pooled_waits(session, center_id, services_of, now))
    loads = service_loads(session, {place.service_id for place in places.values()}, now)
    now = now or utcnow()
    estimates = {}
    for token, place in places.items():
        wait = waits[token] if token in waits else loads[place.service_id].wait_for(place.position)
        estimates[token] = TicketEstimate(place.position, _not_before(wait, place.callable_at, now))
    return estimates


def _pooled_waits(
    session: Session,
    center_id: int,
    services_of: dict[str, int],
    now: datetime | None,
) -> dict[str, int | None]:
    """Pooled waits of one center's tickets in shared queues (``{token: service_id}``)
    whose service an open counter serves (the others keep the first version)."""
    counters = open_counters(session, center_id)
    served = {token for token, service_id in services_of.items() if counters.serve(service_id)}
    if not served:
        return {}
    pool = {s for token in served for s in counters.pool(services_of[token])}
    loads = service_loads(session, pool, now)
    ahead: Tally = Tally()
    waits: dict[str, int | None] = {}
    queue = session.execute(_pool_queue_statement(), {"pool": sorted(pool)})
    for token, service_id in queue:
        if token in served:
            waits[token] = counters.wait(service_id, ahead, loads)
            if len(waits) == len(served):
                break
        ahead[service_id] += 1
    queue.close()
    return waits


@lru_cache(maxsize=1)
def _pool_queue_statement():
    """The waiting visitors of a pool of services' shared queues, in call order."""
    return (
        select(Ticket.tracking_token, Ticket.service_id)
        .where(
            WAITING,
            Ticket.target_counter_id.is_(None),
            Ticket.service_id.in_(bindparam("pool", expanding=True)),
            Ticket.lane.in_(LANES),  # see _waiting_by_service
        )
        .order_by(Ticket.lane, Ticket.due_at, Ticket.id)
    )
