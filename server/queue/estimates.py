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

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, literal, or_, select, tuple_, union_all
from sqlalchemy.orm import Session

from ..models import ACTIVE_STATUSES, Center, Counter, CounterService, Service, Ticket, utcnow

RECENT_SAMPLE = 20
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


def service_loads(
    session: Session, services: list[Service], now: datetime | None = None
) -> dict[int, ServiceLoad]:
    """Average service time and counters for each service, in two queries."""
    now = now or utcnow()
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
    ahead = (
        select(func.count())
        .select_from(Ticket)
        .where(
            Ticket.status == "waiting",
            # bound with the column's type: SQLite compares it as stored (naive UTC)
            tuple_(Ticket.lane, Ticket.due_at, Ticket.id)
            < tuple_(ticket.lane, literal(ticket.due_at, Ticket.due_at.type), ticket.id),
        )
    )
    if ticket.target_counter_id is None:
        ahead = ahead.where(
            Ticket.service_id == ticket.service_id, Ticket.target_counter_id.is_(None)
        )
    else:
        ahead = ahead.where(Ticket.target_counter_id == ticket.target_counter_id)
    return session.scalar(ahead) + 1


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
    Per counter: state and current ticket. Four queries, whatever the queue length."""
    now = now or utcnow()
    services = list(center.services)
    waiting = {
        service_id: (count, oldest, priority)
        for service_id, count, oldest, priority in session.execute(
            select(
                Ticket.service_id,
                func.count(),
                func.min(Ticket.issued_at),
                func.sum(case((Ticket.priority.is_not(None), 1), else_=0)),
            )
            .where(Ticket.center_id == center.id, Ticket.status == "waiting")
            .group_by(Ticket.service_id)
        )
    }
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
            select(Ticket).where(Ticket.center_id == center.id, Ticket.status.in_(ACTIVE_STATUSES))
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


def positions(session: Session, tokens: list[str]) -> dict[str, tuple[int, int]]:
    """Place in line of many waiting tickets at once, by tracking token:
    ``{token: (position, service_id)}``. One query (a window over the queues those
    tickets are in), for pushing positions to visitors' phones."""
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
    # The same queues as position(): a service's shared queue, or a counter's own one.
    queue_key = case(
        (Ticket.target_counter_id.is_(None), Ticket.service_id), else_=-Ticket.target_counter_id
    )
    ranked = (
        select(
            Ticket.tracking_token,
            Ticket.service_id,
            func.row_number()
            .over(partition_by=queue_key, order_by=(Ticket.lane, Ticket.due_at, Ticket.id))
            .label("place"),
        )
        .where(
            Ticket.status == "waiting",
            or_(
                and_(Ticket.target_counter_id.is_(None), Ticket.service_id.in_(services)),
                Ticket.target_counter_id.in_(counters),
            ),
        )
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.tracking_token, ranked.c.place, ranked.c.service_id).where(
            ranked.c.tracking_token.in_(tokens)
        )
    )
    return {token: (int(place), service_id) for token, place, service_id in rows}
