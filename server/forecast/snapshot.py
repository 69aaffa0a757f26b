"""The hall now, from the database, as the forecast's :class:`HallState`.

A few queries, all bounded by the present (the waiting and called tickets' partial
indexes, as server/queue/estimates.py reads them), never by the center's history:

* services: the active ones, with their targets;
* counters with their services in order of preference. An open one is open from now
  on; it is busy until the expected end of the visitor it has (the service's mean time
  minus what has passed, at least a tenth of the mean). A paused or closed one has no
  opening (the forecast does not guess when it comes back);
* waiting tickets in the services' shared queues: the priority lane is ``priority``,
  the front lane (sent back to the front) is due long ago (and has ``lane`` FRONT, for
  a simulation that honours lanes), a booking not yet callable
  keeps its ``callable_at``. A ticket sent to a named counter is that counter's own
  work: it lengthens an open counter's ``busy_until`` by its service's mean (such
  tickets are few, and their counter takes them before anyone else), and is left out
  when its counter is not open;
* each counter's calls since its last priority visitor (the ratio policy counts on);
* the center's call policy and today's closing time (no arrivals after it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import (
    LANE_FRONT,
    LANE_PRIORITY,
    WAITING,
    Center,
    Counter,
    CounterService,
    Service,
    Ticket,
    at_counter,
)
from ..queue.estimates import LANES
from ..queue.numbering import business_day
from .history import absent, center_policy, day_clock, desk_turnaround, local_midnight
from .simulate import FOREVER, Call, SimCounter, SimService
from .state import HallState, ServiceTime, WaitingTicket

FRONT_S = 24 * 3600  # the front lane: due this long before anyone else
MIN_REMAINING = 0.1  # a visitor at a counter has at least this share of the mean to go


def day_start(center: Center, now: datetime) -> datetime:
    """The center's local midnight of ``now``'s business day (aware, UTC): the
    forecast's time zero."""
    return local_midnight(center, business_day(center, now))


def hall_state(
    session: Session,
    center: Center,
    now: datetime,
    service_times: dict[int, ServiceTime] | None = None,
) -> HallState:
    """The hall at ``now``; ``service_times`` as history.service_times gives them (else
    the services' configured defaults)."""
    # The wall clock's seconds, as history.demand counts them (the same on DST days).
    sec = day_clock(center, business_day(center, now))
    now_s = sec(now)
    rows = session.execute(
        select(Service.id, Service.code, Service.target_wait_min, Service.default_service_min)
        .where(Service.center_id == center.id, Service.active)
        .order_by(Service.position, Service.id)
    ).all()
    services = {r.id: SimService(r.id, r.code, r.target_wait_min * 60.0) for r in rows}
    means = {
        r.id: (service_times[r.id].mean_s if service_times and r.id in service_times else None)
        or r.default_service_min * 60.0
        for r in rows
    }
    counters = session.execute(
        select(Counter.id, Counter.label, Counter.state, Counter.calls_since_priority)
        .where(Counter.center_id == center.id)
        .order_by(Counter.id)
    ).all()
    counter_ids = [c.id for c in counters]
    links: dict[int, list[int]] = {c: [] for c in counter_ids}
    for counter_id, service_id in session.execute(
        select(CounterService.counter_id, CounterService.service_id)
        .where(CounterService.counter_id.in_(counter_ids or [0]))
        .order_by(CounterService.counter_id, CounterService.rank)
    ):
        if service_id in services:  # an inactive service is nobody's work any more
            links[counter_id].append(service_id)
    busy = dict.fromkeys(counter_ids, now_s)
    for counter_id, service_id, called_at, started_at in session.execute(
        select(Ticket.counter_id, Ticket.service_id, Ticket.called_at, Ticket.started_at).where(
            Ticket.counter_id.in_(counter_ids or [0]), at_counter()
        )
    ):
        mean = means.get(service_id, 300.0)
        since = sec(started_at or called_at) or now_s
        busy[counter_id] = now_s + max(mean - (now_s - since), MIN_REMAINING * mean)
    open_ids = {c.id for c in counters if c.state == "open"}
    columns = (
        Ticket.id,
        Ticket.service_id,
        Ticket.lane,
        Ticket.due_at,
        Ticket.issued_at,
        Ticket.callable_at,
    )
    waiting = []
    for row in session.execute(
        select(*columns).where(
            WAITING,
            Ticket.target_counter_id.is_(None),
            Ticket.service_id.in_(list(services) or [0]),
            # Always true; makes ix_tickets_queue SQLite's choice (see queue/estimates.py).
            Ticket.lane.in_(LANES),
        )
    ):
        if absent(row.callable_at):
            continue  # joined from home or waiting outside: not in the hall until check-in
        due = sec(row.due_at)
        if row.lane == LANE_FRONT:
            due -= FRONT_S
        callable_s = sec(row.callable_at)
        waiting.append(
            WaitingTicket(
                row.id,
                row.service_id,
                # In the queue from when it may be called (a booking checked in early).
                max(sec(row.issued_at), callable_s or 0.0),
                due,
                row.lane == LANE_PRIORITY,
                callable_s if callable_s is not None and callable_s > now_s else None,
                row.lane,
            )
        )
    for counter_id, service_id in session.execute(
        select(Ticket.target_counter_id, Ticket.service_id).where(
            WAITING, Ticket.target_counter_id.in_(list(open_ids) or [0])
        )
    ):
        busy[counter_id] += means.get(service_id, 300.0)
    sim_counters = [
        SimCounter(
            c.id,
            c.label,
            tuple(links[c.id]),
            [(now_s, FOREVER)] if c.id in open_ids else [],
            busy[c.id],
            c.calls_since_priority or 0,  # the ratio policy counts on from there
        )
        for c in counters
    ]
    close_s = float(center.closes_at.hour * 3600 + center.closes_at.minute * 60)
    if close_s <= 0:  # closing at midnight (00:00)
        close_s += timedelta(days=1).total_seconds()
    return HallState(
        now_s,
        services,
        sim_counters,
        waiting,
        center_policy(center),
        close_s,
        _turnaround(session, center, now, sec),
    )


def _turnaround(session: Session, center: Center, now: datetime, sec) -> float:
    """The desks' own time between a visit's end and the next call today (history's
    desk_turnaround over today's finished visits: today's staff, today's pace)."""
    rows = session.execute(
        select(Ticket.id, Ticket.service_id, Ticket.counter_id, Ticket.issued_at)
        .add_columns(Ticket.called_at, Ticket.ended_at)
        .where(
            Ticket.center_id == center.id,
            Ticket.business_day == business_day(center, now),
            Ticket.status.in_(("done", "no_show")),
            Ticket.counter_id.is_not(None),
        )
    ).all()
    calls = [
        Call(r.id, r.service_id, r.counter_id, sec(r.issued_at), sec(r.called_at), False)
        for r in rows
        if r.called_at is not None and r.ended_at is not None
    ]
    took = {
        r.id: sec(r.ended_at) - sec(r.called_at)
        for r in rows
        if r.called_at is not None and r.ended_at is not None
    }
    return desk_turnaround(calls, took)
